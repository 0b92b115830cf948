// Sealed datagrams (T8): every cluster datagram is encrypted and authenticated with the
// cluster key, and carries the sender's node id, incarnation and sequence number.
//
// Byte layout (little-endian), documented in docs/design/wire.md:
//   0  magic "CH"      2  version (1)     3  cipher (0 XChaCha20-Poly1305, 1 AES-256-GCM)
//   4  key id (u32)    8  sender (u16)   10  incarnation (u64)   18  sequence (u64)
//   26 ciphertext of the payload, 16-byte tag last
// The 26-byte header, cipher byte included, is the associated data, so a changed cipher id
// fails the tag (or, if unknown, is malformed). The AEAD key is a subkey of the cluster key per
// (sender, incarnation, cipher) and the nonce is the sequence: see Keyring::Subkey for why no (key,
// nonce) pair ever seals two messages.
//
// Each node seals with one cipher (AES-256-GCM when its CPU has AES-NI, see
// PreferredCipher) and opens both, so a cluster of mixed CPUs works and each sender picks
// its fastest safe cipher without negotiation.
//
// Keyring holds the installed keys (install / use / remove) so keys rotate without
// downtime: install the new key everywhere, `use` it everywhere, then remove the old one.
// Receivers accept any installed key; senders seal with the key in use.
// ReplayWindow remembers, per sender, the newest incarnation and a window of sequence
// numbers, and refuses anything older or seen. All classes: single owner, not thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <variant>
#include <vector>

#include "base/ids.h"
#include "base/result.h"
#include "wire/aead.h"
#include "wire/codec.h"

namespace cohort::wire {

inline constexpr size_t kSealHeaderSize = 26;
inline constexpr size_t kSealTagSize = 16;
inline constexpr size_t kSealOverhead = kSealHeaderSize + kSealTagSize;
inline constexpr uint8_t kWireVersion = 1;
inline constexpr size_t kKeySize = 32;
static_assert(kSealTagSize == kAeadTagSize && kKeySize == kAeadKeySize,
              "both ciphers seal to the same size with subkeys of the cluster key's size");

using Key = std::array<uint8_t, kKeySize>;
using KeyId = uint32_t;

// Why a received datagram was dropped; each has a metric label (INTERFACE.md).
enum class Reject { kMalformed = 0, kUnknownKey, kBadTag, kReplay, kTooLarge };
inline constexpr int kRejectCount = 5;
const char* RejectLabel(Reject r);

// Random 32-byte key from the OS (libsodium randombytes).
Key GenerateKey();
// `bytes` random bytes from the OS as 2*bytes lowercase hex digits (tokens, ids).
std::string RandomHex(size_t bytes);
// Stable id of a key: the first 4 bytes of its BLAKE2b hash; every node derives the same.
KeyId KeyIdOf(const Key& key);
// Text form, as written by `cohort keygen`: base64 of the 32 bytes.
std::string KeyToText(const Key& key);
// Accepts the text form with surrounding whitespace.
Result<Key> KeyFromText(std::string_view text);
std::string KeyIdToText(KeyId id);  // 8 hex digits

class Keyring {
 public:
  // Seals with PreferredCipher().
  Keyring() : seal_cipher_(PreferredCipher()) {}
  // Seals with `seal_with` whatever the CPU (tests, benchmarks). Opens both ciphers either way.
  explicit Keyring(Cipher seal_with) : seal_cipher_(seal_with) {}

  // Adds a key (no-op if present). The first key installed becomes the one in use.
  KeyId Install(const Key& key);
  // Seals with `id` from now on. Fails if the key is not installed.
  Status Use(KeyId id);
  // Fails for the key in use: switch first, so no node is left unable to send.
  Status Remove(KeyId id);

  bool empty() const { return keys_.empty(); }
  KeyId in_use() const { return in_use_; }
  Cipher seal_cipher() const { return seal_cipher_; }
  void set_seal_cipher(Cipher c) { seal_cipher_ = c; }
  const Key* Find(KeyId id) const;
  std::vector<KeyId> Ids() const;

  // The AEAD key for datagrams from (sender, incarnation) sealed with `cipher` under key
  // `id`: HChaCha20(key, sender ‖ incarnation ‖ 00×5 ‖ cipher id), cached. For cipher 0 this
  // is XChaCha20's own subkey for the header's nonce, so those datagrams are standard
  // XChaCha20-Poly1305. Why a nonce never repeats under a key: HChaCha20 is a PRF, so
  // distinct inputs give independent subkeys, and the input differs per (sender,
  // incarnation, cipher) — the two AEADs never share key material; under one subkey the
  // 96-bit nonce is 00×4 ‖ sequence, and a sender never reuses a sequence within an
  // incarnation (it counts up from 1; data connections draw a fresh random incarnation
  // each). So each (subkey, nonce) seals at most one message, which GCM requires.
  // REQUIRES: Find(id) != nullptr.
  const Key& Subkey(KeyId id, NodeId sender, Incarnation incarnation,
                    Cipher cipher = Cipher::kXChaCha20Poly1305) const;

 private:
  static constexpr size_t kMaxSubkeys = 4096;
  std::map<KeyId, Key> keys_;
  KeyId in_use_ = 0;
  Cipher seal_cipher_;
  mutable std::map<std::tuple<KeyId, NodeId, Incarnation, Cipher>, Key> subkeys_;
};

struct SealHeader {
  KeyId key_id = 0;
  NodeId sender = 0;
  Incarnation incarnation = 0;
  uint64_t sequence = 0;
  // Set by Open to the cipher the sender used; Seal uses the keyring's, as with key_id.
  Cipher cipher = Cipher::kXChaCha20Poly1305;
};

struct Opened {
  SealHeader header;
  Bytes payload;
};

// Seals `payload` with the key in use and the keyring's seal_cipher(). REQUIRES:
// !keyring.empty(), and the caller never seals two payloads with the same (sender,
// incarnation, sequence) under one key.
Bytes Seal(const Keyring& keyring, const SealHeader& header, ByteView payload);
// The same, appended to `out` (e.g. after a stream's length prefix), saving a copy.
void SealAppend(const Keyring& keyring, const SealHeader& header, ByteView payload, Bytes* out);
// Authenticates and decrypts with the cipher the header names, whichever this keyring seals
// with. On failure returns the reason (never kReplay or kTooLarge); an unknown cipher id is
// kMalformed.
std::variant<Opened, Reject> Open(const Keyring& keyring, ByteView datagram);

class ReplayWindow {
 public:
  static constexpr uint64_t kWindow = 256;
  // True if (incarnation, sequence) is new for `sender`, and records it. Call only after
  // the datagram authenticated, so forgeries cannot move the window.
  bool Accept(NodeId sender, Incarnation incarnation, uint64_t sequence);

 private:
  struct PerSender {
    Incarnation incarnation = 0;
    uint64_t highest = 0;
    std::array<uint64_t, kWindow / 64> seen{};  // bit i: highest - i was seen
  };
  std::map<NodeId, PerSender> senders_;
};

}  // namespace cohort::wire
