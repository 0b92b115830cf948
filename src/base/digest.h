// Digest64: a stable, non-cryptographic 64-bit digest (FNV-1a) for comparing replicated
// state, e.g. the address table digest that every node shows (T5). Plain function.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace cohort {

inline uint64_t Digest64(std::span<const uint8_t> bytes, uint64_t h = 0xcbf29ce484222325ULL) {
  for (uint8_t b : bytes) {
    h ^= b;
    h *= 0x100000001b3ULL;
  }
  return h;
}

// Sixteen lower-case hex digits, the form shown to operators.
std::string HexDigest(uint64_t digest);

}  // namespace cohort
