#include "wire/seal.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <cstring>

namespace cohort::wire {
namespace {

SealHeader Header(uint64_t seq) { return SealHeader{0, 3, 1000, seq}; }

TEST(KeyTest, TextRoundTripAndStableId) {
  const Key k = GenerateKey();
  auto back = KeyFromText(" " + KeyToText(k) + "\n");
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, k);
  EXPECT_EQ(KeyIdOf(k), KeyIdOf(*back));
  EXPECT_NE(KeyIdOf(k), KeyIdOf(GenerateKey()));
  EXPECT_FALSE(KeyFromText("not base64!"));
  EXPECT_FALSE(KeyFromText("AAAA"));  // too short
}

TEST(SealTest, SealOpenRoundTrip) {
  Keyring ring;
  ring.Install(GenerateKey());
  const Bytes payload = {10, 20, 30, 40};
  const Bytes d = Seal(ring, Header(5), payload);
  EXPECT_EQ(d.size(), payload.size() + kSealOverhead);
  auto r = Open(ring, d);
  ASSERT_TRUE(std::holds_alternative<Opened>(r));
  const Opened& o = std::get<Opened>(r);
  EXPECT_EQ(o.payload, payload);
  EXPECT_EQ(o.header.sender, 3);
  EXPECT_EQ(o.header.incarnation, 1000u);
  EXPECT_EQ(o.header.sequence, 5u);
  EXPECT_EQ(o.header.key_id, ring.in_use());
}

// The cached-subkey construction must be exactly XChaCha20-Poly1305 with the documented
// nonce (sender ‖ incarnation ‖ 6 zero bytes ‖ sequence), so any implementation of the
// standard construction interoperates.
TEST(SealTest, IsXChaCha20Poly1305WithTheDocumentedNonce) {
  Keyring ring;
  const Key key = GenerateKey();
  ring.Install(key);
  const SealHeader h{0, 0x0203, 0x1122334455667788ULL, 0x0a0b0c0d0e0f1011ULL};
  uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES] = {};
  Bytes tmp;
  Writer w(&tmp);
  w.U16(h.sender);
  w.U64(h.incarnation);
  std::memcpy(nonce, tmp.data(), tmp.size());
  tmp.clear();
  w.U64(h.sequence);
  std::memcpy(nonce + 16, tmp.data(), 8);
  // Empty, short, and long enough for the vectorised code paths (the data plane's frames).
  for (size_t size : {size_t{0}, size_t{5}, size_t{70001}}) {
    Bytes payload(size);
    for (size_t i = 0; i < size; ++i) payload[i] = static_cast<uint8_t>(i * 7);
    const Bytes d = Seal(ring, h, payload);
    Bytes expect(payload.size() + kSealTagSize);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(expect.data(), &clen, payload.data(), payload.size(),
                                               d.data(), kSealHeaderSize, nullptr, nonce,
                                               key.data());
    EXPECT_EQ(Bytes(d.begin() + kSealHeaderSize, d.end()), expect) << size;
    auto opened = Open(ring, d);
    ASSERT_TRUE(std::holds_alternative<Opened>(opened)) << size;
    EXPECT_EQ(std::get<Opened>(opened).payload, payload) << size;
  }
}

TEST(SealTest, RejectsByReason) {
  Keyring ring;
  ring.Install(GenerateKey());
  const Bytes d = Seal(ring, Header(1), Bytes{1, 2, 3});

  auto reason = [&](const Keyring& k, const Bytes& b) {
    auto r = Open(k, b);
    return std::holds_alternative<Reject>(r) ? std::get<Reject>(r) : Reject::kTooLarge;
  };
  EXPECT_EQ(reason(ring, Bytes{}), Reject::kMalformed);
  EXPECT_EQ(reason(ring, Bytes(d.begin(), d.begin() + 30)), Reject::kMalformed);
  Bytes bad_magic = d;
  bad_magic[0] = 'X';
  EXPECT_EQ(reason(ring, bad_magic), Reject::kMalformed);
  Bytes flipped = d;
  flipped.back() ^= 1;
  EXPECT_EQ(reason(ring, flipped), Reject::kBadTag);
  Bytes header_changed = d;
  header_changed[20] ^= 1;  // sequence is authenticated
  EXPECT_EQ(reason(ring, header_changed), Reject::kBadTag);
  Keyring other;
  other.Install(GenerateKey());
  EXPECT_EQ(reason(other, d), Reject::kUnknownKey);
}

TEST(KeyringTest, RotationWithoutDowntime) {
  Keyring a, b;
  const Key k1 = GenerateKey(), k2 = GenerateKey();
  a.Install(k1);
  b.Install(k1);
  // Install k2 everywhere first: both still seal with k1, both accept k2.
  const KeyId id2 = a.Install(k2);
  b.Install(k2);
  EXPECT_EQ(a.in_use(), KeyIdOf(k1));
  ASSERT_TRUE(a.Use(id2));
  const Bytes d = Seal(a, Header(1), Bytes{1});
  EXPECT_TRUE(std::holds_alternative<Opened>(Open(b, d)));  // b accepts k2 before using it
  EXPECT_FALSE(a.Remove(id2));                              // in use
  EXPECT_TRUE(a.Remove(KeyIdOf(k1)));
  EXPECT_FALSE(a.Remove(KeyIdOf(k1)));  // already gone
  EXPECT_FALSE(a.Use(KeyIdOf(k1)));
  EXPECT_EQ(a.Ids().size(), 1u);
}

TEST(ReplayWindowTest, AcceptsEachOnceAndRefusesOld) {
  ReplayWindow w;
  EXPECT_TRUE(w.Accept(1, 100, 10));
  EXPECT_FALSE(w.Accept(1, 100, 10));
  EXPECT_TRUE(w.Accept(1, 100, 12));
  EXPECT_TRUE(w.Accept(1, 100, 11));  // reordered, still new
  EXPECT_FALSE(w.Accept(1, 100, 11));
  EXPECT_TRUE(w.Accept(1, 100, 500));
  EXPECT_FALSE(w.Accept(1, 100, 12));   // fell out of the window
  EXPECT_TRUE(w.Accept(1, 100, 400));   // inside the window, unseen
  EXPECT_FALSE(w.Accept(1, 99, 1000));  // older incarnation
  EXPECT_TRUE(w.Accept(1, 101, 1));     // restarted sender
  EXPECT_TRUE(w.Accept(2, 5, 1));       // other senders are independent
}

TEST(ReplayWindowTest, ShiftAcrossWordBoundaries) {
  ReplayWindow w;
  for (uint64_t s = 1; s <= 300; s += 7) EXPECT_TRUE(w.Accept(9, 1, s));
  // Highest is 295. Seen ones are refused, inside the window or out of it.
  for (uint64_t s = 1; s <= 295; s += 7) EXPECT_FALSE(w.Accept(9, 1, s)) << s;
  // Every unseen sequence inside the window is accepted exactly once.
  for (uint64_t s = 295 - ReplayWindow::kWindow + 1; s < 295; ++s) {
    if ((s - 1) % 7 == 0) continue;
    EXPECT_TRUE(w.Accept(9, 1, s)) << s;
    EXPECT_FALSE(w.Accept(9, 1, s)) << s;
  }
}

}  // namespace
}  // namespace cohort::wire
