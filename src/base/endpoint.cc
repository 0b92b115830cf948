#include "base/endpoint.h"

#include <charconv>

namespace cohort {
namespace {

bool ParseUnsigned(std::string_view text, uint32_t max, uint32_t* out) {
  if (text.empty() || text.size() > 10) return false;
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || v > max) return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

}  // namespace

Result<uint32_t> ParseIpv4(std::string_view text) {
  uint32_t ip = 0;
  size_t start = 0;
  for (int i = 0; i < 4; ++i) {
    size_t dot = i < 3 ? text.find('.', start) : text.size();
    if (dot == std::string_view::npos) break;
    uint32_t octet;
    if (!ParseUnsigned(text.substr(start, dot - start), 255, &octet)) break;
    ip = (ip << 8) | octet;
    start = dot + 1;
    if (i == 3) return ip;
  }
  return Error(Errc::kInvalidArgument,
               "'" + std::string(text) + "' is not an IPv4 address (expected a.b.c.d)");
}

std::string Ipv4ToString(uint32_t ip) {
  return std::to_string(ip >> 24) + "." + std::to_string((ip >> 16) & 255) + "." +
         std::to_string((ip >> 8) & 255) + "." + std::to_string(ip & 255);
}

Result<Endpoint> Endpoint::Parse(std::string_view text) {
  const size_t colon = text.rfind(':');
  uint32_t port = 0;
  if (colon == std::string_view::npos || !ParseUnsigned(text.substr(colon + 1), 65535, &port)) {
    return Error(Errc::kInvalidArgument,
                 "'" + std::string(text) + "' is not an address (expected a.b.c.d:port)");
  }
  auto ip = ParseIpv4(text.substr(0, colon));
  if (!ip) return ip.error();
  return Endpoint{*ip, static_cast<uint16_t>(port)};
}

std::string Endpoint::IpString() const { return Ipv4ToString(ip); }
std::string Endpoint::ToString() const { return IpString() + ":" + std::to_string(port); }

Result<Subnet> Subnet::Parse(std::string_view text) {
  const size_t slash = text.find('/');
  uint32_t length = 0;
  if (slash == std::string_view::npos || !ParseUnsigned(text.substr(slash + 1), 32, &length)) {
    return Error(Errc::kInvalidArgument,
                 "'" + std::string(text) + "' is not a subnet (expected a.b.c.d/len)");
  }
  auto ip = ParseIpv4(text.substr(0, slash));
  if (!ip) return ip.error();
  Subnet s{*ip, static_cast<uint8_t>(length)};
  if ((*ip & s.Mask()) != *ip) {
    return Error(Errc::kInvalidArgument, "subnet '" + std::string(text) + "' has host bits set");
  }
  return s;
}

Subnet Subnet::FromAddressMask(uint32_t ip, uint32_t mask) {
  int len = MaskLength(mask);
  if (len < 0) len = 32;
  Subnet s{0, static_cast<uint8_t>(len)};
  s.prefix = ip & s.Mask();
  return s;
}

std::string Subnet::ToString() const { return Ipv4ToString(prefix) + "/" + std::to_string(length); }

int MaskLength(uint32_t mask) {
  int len = 0;
  while (len < 32 && (mask & (uint32_t{1} << (31 - len)))) ++len;
  const uint32_t expect = len == 0 ? 0 : ~uint32_t{0} << (32 - len);
  return mask == expect ? len : -1;
}

}  // namespace cohort
