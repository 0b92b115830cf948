// The two AEADs a sealed datagram can use, and the CPU test that picks one for sealing.
//
// Both are OpenSSL's EVP code (its AES-GCM uses AES-NI and carry-less multiplication, its
// ChaCha20-Poly1305 AVX2), with 32-byte keys, 12-byte nonces and 16-byte tags, so a sealed
// datagram has the same size whichever seals it. Internal to wire/: seal.h is the interface.
// Thread-safe: each thread keeps its own OpenSSL contexts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "wire/codec.h"

namespace cohort::wire {

// The cipher id carried in byte 3 of a sealed datagram's header. 0 is the one every version
// of cohort speaks, so datagrams sealed with it open on nodes that predate AES-256-GCM.
enum class Cipher : uint8_t { kXChaCha20Poly1305 = 0, kAes256Gcm = 1 };
inline constexpr uint8_t kCipherCount = 2;
inline constexpr size_t kAeadKeySize = 32;
inline constexpr size_t kAeadNonceSize = 12;
inline constexpr size_t kAeadTagSize = 16;

const char* CipherName(Cipher c);  // "xchacha20-poly1305" or "aes-256-gcm"
// The inverse of CipherName, for a configuration setting; nullopt for any other text.
std::optional<Cipher> CipherFromName(std::string_view name);

// AES-256-GCM when this CPU has AES-NI and PCLMULQDQ (as libsodium detects them), else
// XChaCha20-Poly1305. Without those instructions AES is slower than ChaCha20 and its table
// lookups leak timing, so such a node seals with ChaCha20 and still opens both.
Cipher PreferredCipher();

// Encrypts `size` bytes from `in` and writes size + 16 bytes (ciphertext, then tag) to `out`,
// which may equal `in`. `key` is 32 bytes, `nonce` 12. REQUIRES: c is a known Cipher.
void AeadSeal(Cipher c, const uint8_t* key, const uint8_t* nonce, ByteView ad, const uint8_t* in,
              size_t size, uint8_t* out);
// Reads `size` bytes of ciphertext and the 16-byte tag after them, writes `size` bytes of
// plaintext to `out`. False if the tag does not verify: `out` then holds unauthenticated
// bytes and must be discarded.
bool AeadOpen(Cipher c, const uint8_t* key, const uint8_t* nonce, ByteView ad, const uint8_t* in,
              size_t size, uint8_t* out);

}  // namespace cohort::wire
