#include "io/adapters.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

namespace cohort::io {
namespace {

transport::AdapterType TypeOf(const std::string& ifname, unsigned flags) {
  if (flags & IFF_LOOPBACK) return transport::AdapterType::kLoopback;
  if (std::ifstream("/sys/class/net/" + ifname + "/wireless").good() ||
      std::ifstream("/sys/class/net/" + ifname + "/phy80211/name").good()) {
    return transport::AdapterType::kWireless;
  }
  std::ifstream type_file("/sys/class/net/" + ifname + "/type");
  int arphrd = -1;
  if (type_file >> arphrd) {
    switch (arphrd) {
      case ARPHRD_ETHER:
        return transport::AdapterType::kEthernet;
      case ARPHRD_LOOPBACK:
        return transport::AdapterType::kLoopback;
      case ARPHRD_TUNNEL:
      case ARPHRD_NONE:
      case ARPHRD_IPGRE:
        return transport::AdapterType::kTunnel;
      default:
        return transport::AdapterType::kOther;
    }
  }
  return transport::AdapterType::kUnknown;
}

uint16_t MtuOf(const std::string& ifname) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 1500;
  ifreq req{};
  std::strncpy(req.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  int mtu = 1500;
  if (::ioctl(fd, SIOCGIFMTU, &req) == 0) mtu = req.ifr_mtu;
  ::close(fd);
  return static_cast<uint16_t>(mtu > 65535 ? 65535 : mtu);
}

}  // namespace

Result<DiscoveredAdapter> DiscoverAdapter(uint32_t ip) {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) {
    return Error(Errc::kIo, std::string("getifaddrs: ") + std::strerror(errno));
  }
  std::optional<DiscoveredAdapter> found;
  for (ifaddrs* it = list; it != nullptr && !found; it = it->ifa_next) {
    if (it->ifa_addr == nullptr || it->ifa_addr->sa_family != AF_INET) continue;
    const auto* sin = reinterpret_cast<const sockaddr_in*>(it->ifa_addr);
    if (ntohl(sin->sin_addr.s_addr) != ip) continue;
    DiscoveredAdapter d;
    d.interface = it->ifa_name;
    if (it->ifa_netmask != nullptr) {
      d.mask = ntohl(reinterpret_cast<const sockaddr_in*>(it->ifa_netmask)->sin_addr.s_addr);
    }
    d.mtu = MtuOf(d.interface);
    d.type = TypeOf(d.interface, it->ifa_flags);
    found = d;
  }
  // On Linux every 127.0.0.0/8 address is local through `lo` even though only 127.0.0.1 is
  // listed, which is how several local daemons get several "adapters" each.
  if (!found && (ip >> 24) == 127) {
    for (ifaddrs* it = list; it != nullptr && !found; it = it->ifa_next) {
      if (it->ifa_addr == nullptr || it->ifa_addr->sa_family != AF_INET) continue;
      if (!(it->ifa_flags & IFF_LOOPBACK)) continue;
      found = DiscoveredAdapter{it->ifa_name, 0xff000000u, MtuOf(it->ifa_name),
                                transport::AdapterType::kLoopback};
    }
  }
  ::freeifaddrs(list);
  if (!found) {
    return Error(Errc::kNotFound,
                 Ipv4ToString(ip) + " is not an address of any interface on this machine");
  }
  return *found;
}

}  // namespace cohort::io
