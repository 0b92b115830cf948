// Endpoint (IPv4 address + UDP/TCP port) and Subnet (prefix/length): the addressing values
// of the cluster destination address table (T1) and route entries (T4). Plain values.
//
// IPv4 only for now: the address table, routes and the wire encoding all carry 4-byte
// addresses; IPv6 needs a wider encoding and is tracked in docs/design/transport.md.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"

namespace cohort {

struct Endpoint {
  uint32_t ip = 0;  // host byte order
  uint16_t port = 0;

  // "a.b.c.d:port"
  static Result<Endpoint> Parse(std::string_view text);
  std::string ToString() const;
  std::string IpString() const;
  auto operator<=>(const Endpoint&) const = default;
};

// Parses a dotted IPv4 address to host byte order.
Result<uint32_t> ParseIpv4(std::string_view text);
std::string Ipv4ToString(uint32_t ip);

struct Subnet {
  uint32_t prefix = 0;  // host byte order, host bits zero
  uint8_t length = 0;   // 0..32

  // "a.b.c.d/len"; host bits must be zero.
  static Result<Subnet> Parse(std::string_view text);
  static Subnet FromAddressMask(uint32_t ip, uint32_t mask);
  uint32_t Mask() const { return length == 0 ? 0 : ~uint32_t{0} << (32 - length); }
  bool Contains(uint32_t ip) const { return (ip & Mask()) == prefix; }
  std::string ToString() const;
  auto operator<=>(const Subnet&) const = default;
};

// Number of leading one bits of a contiguous netmask; -1 if the mask is not contiguous.
int MaskLength(uint32_t mask);

}  // namespace cohort
