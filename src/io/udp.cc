#include "io/udp.h"

#include <netinet/in.h>

#include <array>

#include "base/log.h"
#include "io/asio.h"

namespace cohort::io {
namespace {

namespace asio = boost::asio;
using asio::ip::udp;

udp::endpoint ToAsio(const Endpoint& e) {
  return udp::endpoint(asio::ip::address_v4(e.ip), e.port);
}

}  // namespace

struct UdpAdapters::Impl {
  struct Socket {
    explicit Socket(asio::io_context& io) : socket(io) {}
    udp::socket socket;
    std::array<uint8_t, 65536> buffer;  // larger than any UDP datagram: oversize is seen
    udp::endpoint sender;
    int tos = -1;
  };
  Impl(asio::io_context& ctx, OnDatagram cb) : io(ctx), on_datagram(std::move(cb)) {}
  asio::io_context& io;
  OnDatagram on_datagram;
  OnDatagram on_group;
  std::vector<std::unique_ptr<Socket>> sockets;
  size_t adapters = 0;  // sockets[adapters], if present, is the multicast group's
  bool closed = false;

  void Receive(size_t i) {
    Socket& s = *sockets[i];
    s.socket.async_receive_from(
        asio::buffer(s.buffer), s.sender, [this, i](boost::system::error_code ec, size_t n) {
          if (closed) return;
          Socket& sock = *sockets[i];
          if (!ec && sock.sender.address().is_v4()) {
            const Endpoint from{sock.sender.address().to_v4().to_uint(), sock.sender.port()};
            const std::span<const uint8_t> bytes(sock.buffer.data(), n);
            if (i < adapters) {
              on_datagram(static_cast<uint8_t>(i), from, bytes);
            } else {
              on_group(0, from, bytes);
            }
          }
          Receive(i);
        });
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
    if (ec) {
      return Error(Errc::kUnavailable, "cannot listen on " + e.ToString() + ": " + ec.message());
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
