#include "wire/seal.h"

#include <sodium.h>

#include <cctype>
#include <cstdio>
#include <cstring>

#include "base/check.h"

namespace cohort::wire {
namespace {

struct SodiumInit {
  SodiumInit() { CHECK(sodium_init() >= 0); }
};

void EnsureSodium() { static SodiumInit init; }

// The 96-bit AEAD nonce: four zero bytes and the sequence (little-endian). For ChaCha20 this
// is what XChaCha20 builds from the last 8 bytes of its 24-byte nonce; AES-256-GCM uses the
// same bytes, 96 bits being GCM's one nonce size without a GHASH of the nonce.
void IetfNonce(uint64_t sequence, uint8_t* nonce) {
  std::memset(nonce, 0, kAeadNonceSize);
  for (int i = 0; i < 8; ++i) nonce[4 + i] = static_cast<uint8_t>(sequence >> (8 * i));
}

void WriteHeader(const SealHeader& h, Bytes* out) {
  Writer w(out);
  w.U8('C');
  w.U8('H');
  w.U8(kWireVersion);
  w.U8(static_cast<uint8_t>(h.cipher));
  w.U32(h.key_id);
  w.U16(h.sender);
  w.U64(h.incarnation);
  w.U64(h.sequence);
}

}  // namespace

const char* RejectLabel(Reject r) {
  switch (r) {
    case Reject::kMalformed:
      return "malformed";
    case Reject::kUnknownKey:
      return "unknown_key";
    case Reject::kBadTag:
      return "bad_tag";
    case Reject::kReplay:
      return "replay";
    case Reject::kTooLarge:
      return "too_large";
  }
  return "malformed";
}

std::string RandomHex(size_t bytes) {
  EnsureSodium();
  std::vector<uint8_t> random(bytes);
  randombytes_buf(random.data(), random.size());
  static const char* kHex = "0123456789abcdef";
  std::string s;
  for (uint8_t b : random) {
    s += kHex[b >> 4];
    s += kHex[b & 15];
  }
  return s;
}

Key GenerateKey() {
  EnsureSodium();
  Key k;
  randombytes_buf(k.data(), k.size());
  return k;
}

KeyId KeyIdOf(const Key& key) {
  EnsureSodium();
  uint8_t hash[16];
  crypto_generichash(hash, sizeof hash, key.data(), key.size(), nullptr, 0);
  return static_cast<KeyId>(hash[0]) | static_cast<KeyId>(hash[1]) << 8 |
         static_cast<KeyId>(hash[2]) << 16 | static_cast<KeyId>(hash[3]) << 24;
}

std::string KeyToText(const Key& key) {
  EnsureSodium();
  const int variant = sodium_base64_VARIANT_ORIGINAL;
  std::string out(sodium_base64_ENCODED_LEN(kKeySize, variant), '\0');
  sodium_bin2base64(out.data(), out.size(), key.data(), key.size(), variant);
  out.resize(std::strlen(out.c_str()));
  return out;
}

Result<Key> KeyFromText(std::string_view text) {
  EnsureSodium();
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  Key k;
  size_t len = 0;
  const std::string copy(text);
  if (sodium_base642bin(k.data(), k.size(), copy.data(), copy.size(), nullptr, &len, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      len != kKeySize) {
    return Error(Errc::kInvalidArgument,
                 "not a cluster key: expected the base64 text of 32 bytes, as `cohort keygen` "
                 "prints");
  }
  return k;
}

std::string KeyIdToText(KeyId id) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", id);
  return buf;
}

KeyId Keyring::Install(const Key& key) {
  const KeyId id = KeyIdOf(key);
  keys_.emplace(id, key);
  if (keys_.size() == 1) in_use_ = id;
  return id;
}

Status Keyring::Use(KeyId id) {
  if (!keys_.count(id)) {
    return Error(Errc::kNotFound, "key " + KeyIdToText(id) + " is not installed");
  }
  in_use_ = id;
  return OkStatus();
}

Status Keyring::Remove(KeyId id) {
  if (!keys_.count(id)) {
    return Error(Errc::kNotFound, "key " + KeyIdToText(id) + " is not installed");
  }
  if (id == in_use_) {
    return Error(Errc::kInvalidArgument,
                 "key " + KeyIdToText(id) + " is in use: `use` another key first");
  }
  keys_.erase(id);
  std::erase_if(subkeys_, [id](const auto& kv) { return std::get<0>(kv.first) == id; });
  return OkStatus();
}

const Key& Keyring::Subkey(KeyId id, NodeId sender, Incarnation incarnation, Cipher cipher) const {
  const auto index = std::make_tuple(id, sender, incarnation, cipher);
  auto it = subkeys_.find(index);
  if (it != subkeys_.end()) return it->second;
  // Bounded: forged headers (which fail the tag afterwards) must not grow this without end.
  if (subkeys_.size() >= kMaxSubkeys) subkeys_.clear();
  const Key* key = Find(id);
  CHECK(key != nullptr);
  uint8_t prefix[crypto_core_hchacha20_INPUTBYTES] = {};
  Bytes tmp;
  Writer w(&tmp);
  w.U16(sender);
  w.U64(incarnation);
  std::memcpy(prefix, tmp.data(), tmp.size());
  // Domain separation: byte 15 is 0 in every XChaCha20 subkey cohort derives (its nonces
  // have zeros there), so an AES-256-GCM subkey is a PRF output no ChaCha20 key ever equals.
  prefix[sizeof prefix - 1] = static_cast<uint8_t>(cipher);
  Key subkey;
  crypto_core_hchacha20(subkey.data(), prefix, key->data(), nullptr);
  return subkeys_.emplace(index, subkey).first->second;
}

const Key* Keyring::Find(KeyId id) const {
  auto it = keys_.find(id);
  return it == keys_.end() ? nullptr : &it->second;
}

std::vector<KeyId> Keyring::Ids() const {
  std::vector<KeyId> ids;
  for (const auto& [id, key] : keys_) ids.push_back(id);
  return ids;
}

void SealAppend(const Keyring& keyring, const SealHeader& header, ByteView payload, Bytes* out) {
  EnsureSodium();
  CHECK(!keyring.empty());
  SealHeader h = header;
  h.key_id = keyring.in_use();
  h.cipher = keyring.seal_cipher();
  CHECK(static_cast<uint8_t>(h.cipher) < kCipherCount);
  const size_t at = out->size();
  out->reserve(at + kSealOverhead + payload.size());
  WriteHeader(h, out);
  out->resize(at + kSealHeaderSize + payload.size() + kSealTagSize);
  uint8_t* sealed = out->data() + at;
  uint8_t nonce[kAeadNonceSize];
  IetfNonce(h.sequence, nonce);
  const Key& subkey = keyring.Subkey(h.key_id, h.sender, h.incarnation, h.cipher);
  AeadSeal(h.cipher, subkey.data(), nonce, ByteView(sealed, kSealHeaderSize), payload.data(),
           payload.size(), sealed + kSealHeaderSize);
}

Bytes Seal(const Keyring& keyring, const SealHeader& header, ByteView payload) {
  Bytes out;
  SealAppend(keyring, header, payload, &out);
  return out;
}

std::variant<Opened, Reject> Open(const Keyring& keyring, ByteView datagram) {
  EnsureSodium();
  if (datagram.size() < kSealOverhead) return Reject::kMalformed;
  Reader r(datagram);
  uint8_t c = 0, h = 0, version = 0, cipher = 0;
  Opened opened;
  SealHeader& hdr = opened.header;
  r.U8(&c);
  r.U8(&h);
  r.U8(&version);
  r.U8(&cipher);
  r.U32(&hdr.key_id);
  r.U16(&hdr.sender);
  r.U64(&hdr.incarnation);
  r.U64(&hdr.sequence);
  if (!r.ok() || c != 'C' || h != 'H' || version != kWireVersion || cipher >= kCipherCount) {
    return Reject::kMalformed;
  }
  hdr.cipher = static_cast<Cipher>(cipher);
  if (keyring.Find(hdr.key_id) == nullptr) return Reject::kUnknownKey;
  uint8_t nonce[kAeadNonceSize];
  IetfNonce(hdr.sequence, nonce);
  const Key& subkey = keyring.Subkey(hdr.key_id, hdr.sender, hdr.incarnation, hdr.cipher);
  const size_t size = datagram.size() - kSealOverhead;
  opened.payload.resize(size);
  if (!AeadOpen(hdr.cipher, subkey.data(), nonce, ByteView(datagram.data(), kSealHeaderSize),
                datagram.data() + kSealHeaderSize, size, opened.payload.data())) {
    return Reject::kBadTag;
  }
  return opened;
}

bool ReplayWindow::Accept(NodeId sender, Incarnation incarnation, uint64_t sequence) {
  PerSender& s = senders_[sender];
  if (incarnation < s.incarnation) return false;  // an older life of the sender
  if (incarnation > s.incarnation) {
    s = PerSender{};
    s.incarnation = incarnation;
    s.highest = sequence;
    s.seen[0] = 1;
    return true;
  }
  if (sequence > s.highest) {
    const uint64_t shift = sequence - s.highest;
    if (shift >= kWindow) {
      s.seen.fill(0);
    } else {
      // Shift the whole bitmap left by `shift` bits (bit i moves to bit i + shift).
      const size_t words = shift / 64, bits = shift % 64;
      for (size_t i = s.seen.size(); i-- > 0;) {
        uint64_t v = i >= words ? s.seen[i - words] << bits : 0;
        if (bits != 0 && i >= words + 1) v |= s.seen[i - words - 1] >> (64 - bits);
        s.seen[i] = v;
      }
    }
    s.highest = sequence;
    s.seen[0] |= 1;
    return true;
  }
  const uint64_t age = s.highest - sequence;
  if (age >= kWindow) return false;  // too old to tell: refuse
  uint64_t& word = s.seen[age / 64];
  const uint64_t bit = uint64_t{1} << (age % 64);
  if (word & bit) return false;
  word |= bit;
  return true;
}

}  // namespace cohort::wire
