#include "wire/seal.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <cstring>

namespace cohort::wire {
namespace {

SealHeader Header(uint64_t seq) { return SealHeader{0, 3, 1000, seq}; }

constexpr Cipher kCiphers[] = {Cipher::kXChaCha20Poly1305, Cipher::kAes256Gcm};

Reject ReasonOf(const Keyring& k, const Bytes& b) {
  auto r = Open(k, b);
  return std::holds_alternative<Reject>(r) ? std::get<Reject>(r) : Reject::kTooLarge;
}

Bytes Pattern(size_t size) {
  Bytes payload(size);
  for (size_t i = 0; i < size; ++i) payload[i] = static_cast<uint8_t>(i * 7);
  return payload;
}

// The 16-byte HChaCha20 input for a subkey: sender ‖ incarnation ‖ 00×5 ‖ cipher id.
std::array<uint8_t, 16> SubkeyInput(const SealHeader& h, Cipher c) {
  std::array<uint8_t, 16> in{};
  Bytes tmp;
  Writer w(&tmp);
  w.U16(h.sender);
  w.U64(h.incarnation);
  std::memcpy(in.data(), tmp.data(), tmp.size());
  in[15] = static_cast<uint8_t>(c);
  return in;
}

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
  Keyring ring(Cipher::kXChaCha20Poly1305);
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
    const Bytes payload = Pattern(size);
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
  for (Cipher c : kCiphers) {
    SCOPED_TRACE(CipherName(c));
    Keyring ring(c);
    ring.Install(GenerateKey());
    const Bytes d = Seal(ring, Header(1), Bytes{1, 2, 3});
    EXPECT_EQ(ReasonOf(ring, Bytes{}), Reject::kMalformed);
    EXPECT_EQ(ReasonOf(ring, Bytes(d.begin(), d.begin() + 30)), Reject::kMalformed);
    Bytes bad_magic = d;
    bad_magic[0] = 'X';
    EXPECT_EQ(ReasonOf(ring, bad_magic), Reject::kMalformed);
    Bytes flipped = d;
    flipped.back() ^= 1;
    EXPECT_EQ(ReasonOf(ring, flipped), Reject::kBadTag);
    Bytes header_changed = d;
    header_changed[20] ^= 1;  // sequence is authenticated
    EXPECT_EQ(ReasonOf(ring, header_changed), Reject::kBadTag);
    Keyring other;
    other.Install(GenerateKey());
    EXPECT_EQ(ReasonOf(other, d), Reject::kUnknownKey);
  }
}

TEST(SealTest, BothCiphersRoundTrip) {
  for (Cipher c : kCiphers) {
    Keyring ring(c);
    ring.Install(GenerateKey());
    for (size_t size : {size_t{0}, size_t{5}, size_t{1024}, size_t{70001}}) {
      const Bytes payload = Pattern(size);
      const Bytes d = Seal(ring, Header(size + 1), payload);
      ASSERT_EQ(d.size(), size + kSealOverhead);
      EXPECT_EQ(d[3], static_cast<uint8_t>(c)) << CipherName(c);  // the cipher byte
      auto r = Open(ring, d);
      ASSERT_TRUE(std::holds_alternative<Opened>(r)) << CipherName(c) << " " << size;
      EXPECT_EQ(std::get<Opened>(r).payload, payload);
      EXPECT_EQ(std::get<Opened>(r).header.cipher, c);
    }
  }
}

// AES-256-GCM under the subkey HChaCha20(key, sender ‖ incarnation ‖ 00×5 ‖ 01) with nonce
// 00×4 ‖ sequence, checked against libsodium's independent AES-256-GCM.
TEST(SealTest, IsAes256GcmWithTheDocumentedSubkeyAndNonce) {
  if (sodium_init() < 0 || !crypto_aead_aes256gcm_is_available()) {
    GTEST_SKIP() << "libsodium has no AES-256-GCM on this CPU";
  }
  Keyring ring(Cipher::kAes256Gcm);
  const Key key = GenerateKey();
  ring.Install(key);
  const SealHeader h{0, 0x0203, 0x1122334455667788ULL, 0x0a0b0c0d0e0f1011ULL};
  Key subkey;
  crypto_core_hchacha20(subkey.data(), SubkeyInput(h, Cipher::kAes256Gcm).data(), key.data(),
                        nullptr);
  EXPECT_EQ(ring.Subkey(ring.in_use(), h.sender, h.incarnation, Cipher::kAes256Gcm), subkey);
  EXPECT_NE(ring.Subkey(ring.in_use(), h.sender, h.incarnation, Cipher::kXChaCha20Poly1305),
            subkey);  // domain separation: the two AEADs never share a key
  uint8_t nonce[crypto_aead_aes256gcm_NPUBBYTES] = {};
  for (int i = 0; i < 8; ++i) nonce[4 + i] = static_cast<uint8_t>(h.sequence >> (8 * i));
  for (size_t size : {size_t{0}, size_t{5}, size_t{1024}, size_t{70001}}) {
    const Bytes payload = Pattern(size);
    const Bytes d = Seal(ring, h, payload);
    Bytes expect(payload.size() + kSealTagSize);
    unsigned long long clen = 0;
    crypto_aead_aes256gcm_encrypt(expect.data(), &clen, payload.data(), payload.size(), d.data(),
                                  kSealHeaderSize, nullptr, nonce, subkey.data());
    EXPECT_EQ(Bytes(d.begin() + kSealHeaderSize, d.end()), expect) << size;
  }
}

// Each node seals with its own cipher and opens both: an AES-NI node and one without.
TEST(SealTest, MixedClusterOpensEitherCipher) {
  const Key key = GenerateKey();
  Keyring aes(Cipher::kAes256Gcm), chacha(Cipher::kXChaCha20Poly1305);
  aes.Install(key);
  chacha.Install(key);
  const Bytes payload = Pattern(1024);
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    auto at_chacha = Open(chacha, Seal(aes, Header(seq), payload));
    ASSERT_TRUE(std::holds_alternative<Opened>(at_chacha));
    EXPECT_EQ(std::get<Opened>(at_chacha).payload, payload);
    EXPECT_EQ(std::get<Opened>(at_chacha).header.cipher, Cipher::kAes256Gcm);
    auto at_aes = Open(aes, Seal(chacha, SealHeader{0, 4, 77, seq}, payload));
    ASSERT_TRUE(std::holds_alternative<Opened>(at_aes));
    EXPECT_EQ(std::get<Opened>(at_aes).payload, payload);
    EXPECT_EQ(std::get<Opened>(at_aes).header.cipher, Cipher::kXChaCha20Poly1305);
  }
  // A node may switch what it seals with (e.g. after an upgrade); receivers follow per datagram.
  aes.set_seal_cipher(Cipher::kXChaCha20Poly1305);
  EXPECT_EQ(Seal(aes, Header(9), payload)[3], 0);
  EXPECT_TRUE(std::holds_alternative<Opened>(Open(chacha, Seal(aes, Header(10), payload))));
}

// The cipher byte is associated data: naming the other cipher fails the tag, and an id no
// version defines is malformed before any key is touched.
TEST(SealTest, CipherIdIsAuthenticatedAndUnknownIdsRejected) {
  for (Cipher c : kCiphers) {
    SCOPED_TRACE(CipherName(c));
    Keyring ring(c);
    ring.Install(GenerateKey());
    const Bytes d = Seal(ring, Header(1), Pattern(100));
    Bytes other = d;
    other[3] = static_cast<uint8_t>(c) ^ 1;
    EXPECT_EQ(ReasonOf(ring, other), Reject::kBadTag);
    for (uint8_t id : {uint8_t{2}, uint8_t{0x80}, uint8_t{0xff}}) {
      Bytes unknown = d;
      unknown[3] = id;
      EXPECT_EQ(ReasonOf(ring, unknown), Reject::kMalformed) << int{id};
    }
  }
}

// The per-thread OpenSSL contexts keep their key between calls: changing subkeys, switching
// between sealing and opening, and failed opens must not leave stale state behind.
TEST(SealTest, InterleavedSubkeysAndFailuresStayCorrect) {
  Keyring ring(Cipher::kAes256Gcm);
  ring.Install(GenerateKey());
  const Bytes payload = Pattern(300);
  for (uint64_t i = 1; i <= 40; ++i) {
    ring.set_seal_cipher(kCiphers[i % 2]);
    const SealHeader h{0, static_cast<NodeId>(1 + i % 3), 500 + i % 5, i};
    const Bytes d = Seal(ring, h, payload);
    Bytes forged = d;
    forged[kSealHeaderSize + i % payload.size()] ^= 0x10;
    if (i % 4 == 0) {
      EXPECT_EQ(ReasonOf(ring, forged), Reject::kBadTag) << i;
    }
    auto r = Open(ring, d);
    ASSERT_TRUE(std::holds_alternative<Opened>(r)) << i;
    EXPECT_EQ(std::get<Opened>(r).payload, payload) << i;
  }
}

TEST(SealTest, CipherNamesRoundTrip) {
  for (Cipher c : kCiphers) EXPECT_EQ(CipherFromName(CipherName(c)), c);
  EXPECT_EQ(CipherFromName("aes"), std::nullopt);
  EXPECT_EQ(CipherFromName("unknown"), std::nullopt);
}

TEST(SealTest, DefaultKeyringSealsWithThePreferredCipher) {
  EXPECT_EQ(Keyring().seal_cipher(), PreferredCipher());
  const bool fast_aes =
      sodium_init() >= 0 && sodium_runtime_has_aesni() && sodium_runtime_has_pclmul();
  EXPECT_EQ(PreferredCipher(), fast_aes ? Cipher::kAes256Gcm : Cipher::kXChaCha20Poly1305);
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
