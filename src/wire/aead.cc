#include "wire/aead.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sodium.h>

#include <cstring>

#include "base/check.h"

namespace cohort::wire {
namespace {

// One OpenSSL context for one cipher, reused for every datagram that thread seals or opens.
// Re-keying is skipped while the key stays the same: OpenSSL then keeps its key schedule
// (for AES-GCM the round keys and the table of powers of H, which cost about as much as
// sealing a 1 KB datagram), and consecutive datagrams to or from one peer share a subkey.
class Aead {
 public:
  explicit Aead(const char* name)
      : cipher_(EVP_CIPHER_fetch(nullptr, name, nullptr)), ctx_(EVP_CIPHER_CTX_new()) {
    CHECK(cipher_ != nullptr && ctx_ != nullptr);
  }
  ~Aead() {
    OPENSSL_cleanse(key_, sizeof key_);
    EVP_CIPHER_CTX_free(ctx_);
    EVP_CIPHER_free(cipher_);
  }
  Aead(const Aead&) = delete;
  Aead& operator=(const Aead&) = delete;

  void Seal(const uint8_t* key, const uint8_t* nonce, ByteView ad, const uint8_t* in, size_t size,
            uint8_t* out) {
    int n = 0;
    Init(true, key, nonce);
    CHECK(EVP_EncryptUpdate(ctx_, nullptr, &n, ad.data(), static_cast<int>(ad.size())) == 1);
    if (size > 0) CHECK(EVP_EncryptUpdate(ctx_, out, &n, in, static_cast<int>(size)) == 1);
    CHECK(EVP_EncryptFinal_ex(ctx_, out + size, &n) == 1);
    CHECK(EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_AEAD_GET_TAG, kAeadTagSize, out + size) == 1);
  }

  bool Open(const uint8_t* key, const uint8_t* nonce, ByteView ad, const uint8_t* in, size_t size,
            uint8_t* out) {
    int n = 0;
    uint8_t tag[kAeadTagSize];
    std::memcpy(tag, in + size, kAeadTagSize);  // `out` may overlap `in`
    Init(false, key, nonce);
    CHECK(EVP_DecryptUpdate(ctx_, nullptr, &n, ad.data(), static_cast<int>(ad.size())) == 1);
    if (size > 0) CHECK(EVP_DecryptUpdate(ctx_, out, &n, in, static_cast<int>(size)) == 1);
    CHECK(EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_AEAD_SET_TAG, kAeadTagSize, tag) == 1);
    return EVP_DecryptFinal_ex(ctx_, out + size, &n) == 1;
  }

 private:
  // Passing the cipher again would make OpenSSL free and rebuild its provider context, and
  // passing the key again would redo the key schedule; the nonce alone resets the AEAD state.
  void Init(bool encrypt, const uint8_t* key, const uint8_t* nonce) {
    const bool same_key = keyed_ && CRYPTO_memcmp(key_, key, kAeadKeySize) == 0;
    const EVP_CIPHER* cipher = keyed_ ? nullptr : cipher_;
    const uint8_t* new_key = same_key ? nullptr : key;
    const int ok = encrypt ? EVP_EncryptInit_ex2(ctx_, cipher, new_key, nonce, nullptr)
                           : EVP_DecryptInit_ex2(ctx_, cipher, new_key, nonce, nullptr);
    CHECK(ok == 1);
    if (!same_key) {
      std::memcpy(key_, key, kAeadKeySize);
      keyed_ = true;
    }
  }

  EVP_CIPHER* cipher_;
  EVP_CIPHER_CTX* ctx_;
  uint8_t key_[kAeadKeySize] = {};
  bool keyed_ = false;
};

// One per thread, cipher and direction: a context is not shareable, and making one per call
// costs more than sealing a datagram. Sealing and opening keep separate contexts because
// their keys differ (a relay opens with its upstream's subkey and seals with its own), so
// each keeps its key schedule across calls.
Aead& ThreadAead(Cipher c, bool seal) {
  thread_local Aead aes_seal("AES-256-GCM"), aes_open("AES-256-GCM");
  thread_local Aead chacha_seal("ChaCha20-Poly1305"), chacha_open("ChaCha20-Poly1305");
  switch (c) {
    case Cipher::kAes256Gcm:
      return seal ? aes_seal : aes_open;
    case Cipher::kXChaCha20Poly1305:
      return seal ? chacha_seal : chacha_open;
  }
  CHECK(false && "unknown cipher");
  return chacha_open;
}

bool DetectFastAes() {
  CHECK(sodium_init() >= 0);  // sodium_init runs the CPU feature detection
  return sodium_runtime_has_aesni() && sodium_runtime_has_pclmul();
}

}  // namespace

const char* CipherName(Cipher c) {
  switch (c) {
    case Cipher::kXChaCha20Poly1305:
      return "xchacha20-poly1305";
    case Cipher::kAes256Gcm:
      return "aes-256-gcm";
  }
  return "unknown";
}

std::optional<Cipher> CipherFromName(std::string_view name) {
  for (uint8_t id = 0; id < kCipherCount; ++id) {
    if (name == CipherName(static_cast<Cipher>(id))) return static_cast<Cipher>(id);
  }
  return std::nullopt;
}

Cipher PreferredCipher() {
  static const bool fast_aes = DetectFastAes();  // a property of the CPU, fixed for the run
  return fast_aes ? Cipher::kAes256Gcm : Cipher::kXChaCha20Poly1305;
}

void AeadSeal(Cipher c, const uint8_t* key, const uint8_t* nonce, ByteView ad, const uint8_t* in,
              size_t size, uint8_t* out) {
  ThreadAead(c, true).Seal(key, nonce, ad, in, size, out);
}

bool AeadOpen(Cipher c, const uint8_t* key, const uint8_t* nonce, ByteView ad, const uint8_t* in,
              size_t size, uint8_t* out) {
  return ThreadAead(c, false).Open(key, nonce, ad, in, size, out);
}

}  // namespace cohort::wire
