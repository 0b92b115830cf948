// UdpAdapters: one UDP socket per local adapter address, on an Asio io_context.
//
// Receives call `on_datagram(adapter index, from, bytes, hops)` on the loop thread; Send() applies
// the DSCP (T7) to the adapter's socket, then sends without blocking (a full socket buffer
// drops the datagram, as the network would). Lifecycle: Bind() once, then Close() to stop;
// all calls on the loop thread. Asio stays inside udp.cc.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "base/endpoint.h"
#include "base/result.h"

namespace boost::asio {
class io_context;
}

namespace cohort::io {

// The IP TTL of every unicast datagram cohortd sends, so a receiver can count routers.
inline constexpr int kSendTtl = 64;

class UdpAdapters {
 public:
  // `hops`: routers the datagram crossed, from its IP TTL (C13); nullopt when the sender
  // did not send with kSendTtl (not a cohortd) or for multicast.
  using OnDatagram = std::function<void(uint8_t adapter, const Endpoint& from,
                                        std::span<const uint8_t>, std::optional<uint8_t> hops)>;

  UdpAdapters(boost::asio::io_context& io, OnDatagram on_datagram);
  ~UdpAdapters();

  // Binds a socket to each address, in order (index = adapter). Fails naming the address.
  Status Bind(const std::vector<Endpoint>& addresses);
  // M2 multicast mode, after Bind: one more socket bound to `group` (shared with other
  // daemons on the host), joined on every adapter's interface; its datagrams go to
  // `on_group` (adapter argument 0). Adapter sockets send to the group through their own
  // interface, with loopback on (daemons on one host hear each other) and TTL 1.
  Status JoinGroup(const Endpoint& group, OnDatagram on_group);
  void Send(uint8_t adapter, const Endpoint& to, uint8_t dscp, std::span<const uint8_t> bytes);
  void Close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cohort::io
