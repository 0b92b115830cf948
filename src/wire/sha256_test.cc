#include "wire/sha256.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <string>

namespace cohort::wire {
namespace {

const uint8_t* Bytes(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

TEST(Sha256Test, KnownVectors) {
  Sha256 h;
  EXPECT_EQ(DigestToHex(h.Digest()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  h.Update(Bytes("abc"), 3);
  EXPECT_EQ(DigestToHex(h.Digest()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256Test, DigestMidStreamThenContinueMatchesOneShot) {
  const std::string text(100000, 'x');
  Sha256 split;
  split.Update(Bytes(text), 40000);
  (void)split.Digest();  // reading does not disturb the running hash
  Sha256 copy = split;
  split.Update(Bytes(text) + 40000, text.size() - 40000);
  Sha256 whole;
  whole.Update(Bytes(text), text.size());
  EXPECT_EQ(split.Digest(), whole.Digest());
  Sha256Digest ref{};
  crypto_hash_sha256(ref.data(), Bytes(text), text.size());  // libsodium's, as before
  EXPECT_EQ(whole.Digest(), ref);
  EXPECT_EQ(DigestFromHex(DigestToHex(ref)), ref);
  EXPECT_EQ(DigestFromHex("abc"), std::nullopt);
  EXPECT_EQ(DigestFromHex(std::string(64, 'g')), std::nullopt);
  copy.Reset();
  EXPECT_EQ(DigestToHex(copy.Digest()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

}  // namespace
}  // namespace cohort::wire
