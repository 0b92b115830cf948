#include "io/udp.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <optional>

#include "base/log.h"
#include "io/asio.h"

namespace cohort::io {
namespace {

namespace asio = boost::asio;
using asio::ip::udp;

udp::endpoint ToAsio(const Endpoint& e) {
  return udp::endpoint(asio::ip::address_v4(e.ip), e.port);
}

constexpr int kSocketBuffer = 4 << 20;

boost::system::error_code SetIntOption(udp::socket& socket, int option, int value) {
  if (::setsockopt(socket.native_handle(), IPPROTO_IP, option, &value, sizeof value) == 0) {
    return {};
  }
  return boost::system::error_code(errno, boost::system::system_category());
}

}  // namespace

struct UdpAdapters::Impl {
  struct Socket {
    explicit Socket(asio::io_context& io) : socket(io) {}
    udp::socket socket;
    std::array<uint8_t, 65536> buffer;  // larger than any UDP datagram: oversize is seen
    int tos = -1;
  };
  Impl(asio::io_context& ctx, OnDatagram cb) : io(ctx), on_datagram(std::move(cb)) {}
  asio::io_context& io;
  OnDatagram on_datagram;
  OnDatagram on_group;
  std::vector<std::unique_ptr<Socket>> sockets;
  size_t adapters = 0;  // sockets[adapters], if present, is the multicast group's
  bool closed = false;

  // Waits for readability, then drains with recvmsg so each datagram's IP TTL (a control
  // message) comes with it: asio's receive_from cannot return ancillary data.
  void Receive(size_t i) {
    sockets[i]->socket.async_wait(udp::socket::wait_read, [this, i](boost::system::error_code ec) {
      // The error first: after Close() and the owner's end, `this` may be gone.
      if (ec == asio::error::operation_aborted || closed) return;
      if (!ec) Drain(i);
      if (!closed) Receive(i);
    });
  }

  // At most a bounded batch per wake-up, so one busy socket cannot starve the loop.
  void Drain(size_t i) {
    Socket& sock = *sockets[i];
    for (int batch = 0; batch < 64 && !closed; ++batch) {
      sockaddr_in from{};
      iovec iov{sock.buffer.data(), sock.buffer.size()};
      alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int))> control{};
      msghdr msg{};
      msg.msg_name = &from;
      msg.msg_namelen = sizeof from;
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control.data();
      msg.msg_controllen = control.size();
      const ssize_t n = ::recvmsg(sock.socket.native_handle(), &msg, MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        return;  // EAGAIN: drained; anything else (ICMP errors on UDP) is not a datagram
      }
      if (from.sin_family != AF_INET) continue;
      const Endpoint sender{ntohl(from.sin_addr.s_addr), ntohs(from.sin_port)};
      const std::span<const uint8_t> bytes(sock.buffer.data(), static_cast<size_t>(n));
      if (i < adapters) {
        on_datagram(static_cast<uint8_t>(i), sender, bytes, HopsOf(msg));
      } else {
        on_group(0, sender, bytes, std::nullopt);
      }
    }
  }

  // Routers each take one off the TTL that cohortd sends with (kSendTtl).
  static std::optional<uint8_t> HopsOf(msghdr& msg) {
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != IPPROTO_IP || c->cmsg_type != IP_TTL) continue;
      int ttl = 0;
      std::memcpy(&ttl, CMSG_DATA(c), sizeof ttl);
      if (ttl <= 0 || ttl > kSendTtl) return std::nullopt;  // a sender with another TTL
      return static_cast<uint8_t>(kSendTtl - ttl);
    }
    return std::nullopt;
  }
};

UdpAdapters::UdpAdapters(asio::io_context& io, OnDatagram on_datagram)
    : impl_(std::make_unique<Impl>(io, std::move(on_datagram))) {}
UdpAdapters::~UdpAdapters() = default;

Status UdpAdapters::Bind(const std::vector<Endpoint>& addresses) {
  for (const Endpoint& e : addresses) {
    auto s = std::make_unique<Impl::Socket>(impl_->io);
    boost::system::error_code ec;
    s->socket.open(udp::v4(), ec);
    if (!ec) s->socket.bind(ToAsio(e), ec);
    if (!ec) s->socket.non_blocking(true, ec);
    if (!ec) ec = SetIntOption(s->socket, IP_TTL, kSendTtl);
    if (!ec) ec = SetIntOption(s->socket, IP_RECVTTL, 1);
    if (ec) {
      return Error(Errc::kUnavailable, "cannot listen on " + e.ToString() + ": " + ec.message());
    }
    // Buffers that hold a burst of large messages (a catalog listing, a session report in
    // pages: megabytes at once), where the default (about 200 KiB) lost half of the
    // fragments of 5 MB sent in a second on loopback. Best effort: the kernel caps both at
    // net.core.rmem_max and wmem_max.
    for (const int option : {SO_RCVBUF, SO_SNDBUF}) {
      (void)::setsockopt(s->socket.native_handle(), SOL_SOCKET, option, &kSocketBuffer,
                         sizeof kSocketBuffer);
    }
    impl_->sockets.push_back(std::move(s));
  }
  impl_->adapters = impl_->sockets.size();
  for (size_t i = 0; i < impl_->sockets.size(); ++i) impl_->Receive(i);
  return OkStatus();
}

Status UdpAdapters::JoinGroup(const Endpoint& group, OnDatagram on_group) {
  impl_->on_group = std::move(on_group);
  auto fail = [&](const std::string& what, const boost::system::error_code& ec) {
    return Error(Errc::kUnavailable,
                 "multicast group " + group.ToString() + ": " + what + ": " + ec.message());
  };
  boost::system::error_code ec;
  for (size_t i = 0; i < impl_->adapters; ++i) {
    udp::socket& a = impl_->sockets[i]->socket;
    const auto local = a.local_endpoint(ec).address().to_v4();
    if (!ec) a.set_option(asio::ip::multicast::outbound_interface(local), ec);
    if (!ec) a.set_option(asio::ip::multicast::enable_loopback(true), ec);
    if (!ec) a.set_option(asio::ip::multicast::hops(1), ec);
    if (ec) return fail("cannot send through adapter " + std::to_string(i), ec);
  }
  auto s = std::make_unique<Impl::Socket>(impl_->io);
  s->socket.open(udp::v4(), ec);
  if (!ec) s->socket.set_option(udp::socket::reuse_address(true), ec);
  if (!ec) s->socket.bind(ToAsio(group), ec);
  if (ec) return fail("cannot listen", ec);
  for (size_t i = 0; i < impl_->adapters; ++i) {
    const auto local = impl_->sockets[i]->socket.local_endpoint(ec).address().to_v4();
    if (!ec) {
      s->socket.set_option(asio::ip::multicast::join_group(asio::ip::address_v4(group.ip), local),
                           ec);
    }
    // Two adapters on one interface (127.0.0.1 and 127.0.0.2 on lo) share a membership.
    if (ec == asio::error::address_in_use) ec.clear();
    if (ec) return fail("cannot join on adapter " + std::to_string(i), ec);
  }
  s->socket.non_blocking(true, ec);
  impl_->sockets.push_back(std::move(s));
  impl_->Receive(impl_->sockets.size() - 1);
  return OkStatus();
}

void UdpAdapters::Send(uint8_t adapter, const Endpoint& to, uint8_t dscp,
                       std::span<const uint8_t> bytes) {
  if (impl_->closed || adapter >= impl_->sockets.size()) return;
  Impl::Socket& s = *impl_->sockets[adapter];
  const int tos = dscp << 2;  // DSCP is the upper six bits of the IPv4 TOS byte
  if (s.tos != tos &&
      ::setsockopt(s.socket.native_handle(), IPPROTO_IP, IP_TOS, &tos, sizeof tos) == 0) {
    s.tos = tos;
  }
  boost::system::error_code ec;
  s.socket.send_to(asio::buffer(bytes.data(), bytes.size()), ToAsio(to), 0, ec);
  if (ec && ec != asio::error::would_block) {
    Log(LogLevel::kDebug, "transport", "send failed",
        {{"to", to.ToString()}, {"error", ec.message()}});
  }
}

void UdpAdapters::Close() {
  impl_->closed = true;
  for (auto& s : impl_->sockets) {
    boost::system::error_code ec;
    s->socket.close(ec);
  }
}

}  // namespace cohort::io
