#include "wire/sha256.h"

#include <openssl/evp.h>
#include <sodium.h>

#include "base/check.h"

namespace cohort::wire {
namespace {
EVP_MD_CTX* Ctx(void* p) { return static_cast<EVP_MD_CTX*>(p); }
}  // namespace

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  CHECK(ctx_ != nullptr);
  Reset();
}

Sha256::~Sha256() { EVP_MD_CTX_free(Ctx(ctx_)); }

Sha256::Sha256(const Sha256& other) : ctx_(EVP_MD_CTX_new()) {
  CHECK(ctx_ != nullptr);
  CHECK(EVP_MD_CTX_copy_ex(Ctx(ctx_), Ctx(other.ctx_)) == 1);
}

Sha256& Sha256::operator=(const Sha256& other) {
  if (this != &other) CHECK(EVP_MD_CTX_copy_ex(Ctx(ctx_), Ctx(other.ctx_)) == 1);
  return *this;
}

void Sha256::Reset() { CHECK(EVP_DigestInit_ex(Ctx(ctx_), EVP_sha256(), nullptr) == 1); }

void Sha256::Update(const uint8_t* data, size_t size) {
  if (size > 0) CHECK(EVP_DigestUpdate(Ctx(ctx_), data, size) == 1);
}

Sha256Digest Sha256::Digest() const {
  Sha256 copy(*this);
  Sha256Digest out{};
  unsigned int n = 0;
  CHECK(EVP_DigestFinal_ex(Ctx(copy.ctx_), out.data(), &n) == 1 && n == out.size());
  return out;
}

std::string DigestToHex(const Sha256Digest& d) {
  char hex[2 * sizeof(Sha256Digest) + 1];
  sodium_bin2hex(hex, sizeof hex, d.data(), d.size());
  return hex;
}

std::optional<Sha256Digest> DigestFromHex(const std::string& hex) {
  Sha256Digest d{};
  size_t n = 0;
  if (hex.size() != 2 * d.size() ||
      sodium_hex2bin(d.data(), d.size(), hex.data(), hex.size(), nullptr, &n, nullptr) != 0 ||
      n != d.size()) {
    return std::nullopt;
  }
  return d;
}

}  // namespace cohort::wire
