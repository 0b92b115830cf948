// Node: one cohortd — the transport core bound to real UDP sockets, a timer and the node's
// data directory. It owns the event loop thread's state; every public method must be called
// on that thread (the API server runs on the same io_context).
//
// Lifecycle: Create() validates the config, reads or creates the node's files (keyring,
// API token, entry revision) and binds one UDP socket per configured adapter; Run() drives
// the loop until Stop() (or SIGTERM via the daemon main).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/config.h"
#include "base/result.h"
#include "dcm/networks.h"
#include "io/disk_probe.h"
#include "liveness/core.h"
#include "membership/core.h"
#include "node/liveness_log.h"
#include "transport/core.h"

namespace boost::asio {
class io_context;
}

namespace cohort::node {

struct PingResult {
  std::vector<transport::RequestDone> replies;
};

class Node {
 public:
  static Result<std::unique_ptr<Node>> Create(const Config& config, boost::asio::io_context& io);
  ~Node();

  // Binds sockets and starts the protocol. Fails with a message naming the address.
  Status Start();
  void Stop();

  const Config& config() const;
  const transport::TransportCore& transport() const;
  const membership::MembershipCore& membership() const;
  const liveness::LivenessCore& liveness() const;
  // L1: every path and adapter change, numbered: read by long poll, or followed.
  LivenessLog& liveness_log();
  // C11/RM3: the network objects as the registry holds them: adapters heartbeat on their
  // subnet's network, and this node's traffic prefers the networks membership names.
  void SetNetworkMap(dcm::NetworkMap map);
  const dcm::NetworkMap& network_map() const;
  // Graceful leave (M8): posts leave requests until the supervisor unlists this node, then
  // calls `done`; calls it anyway after `limit`.
  void LeaveGracefully(Duration limit, std::function<void()> done);
  const std::string& api_token() const;
  std::vector<std::string> adapter_interfaces() const;  // OS interface name per adapter
  Instant started() const;
  Instant Now() const;
  // M11: the latest check of each configured disk (absent until its first check).
  const std::map<std::string, io::DiskCheck>& disk_checks() const;
  uint64_t disk_check_failures() const;  // checks that failed since start
  // M12: the streaming capacity the usage row reports (configured, else the adapters' link
  // speed); 0 before the first usage sample.
  uint32_t capacity_mbps() const;

  // M12: the supervisor's usage tables; `done` gets nothing if the supervisor does not
  // answer within `timeout`.
  void FetchUsage(Duration timeout,
                  std::function<void(std::optional<membership::UsageReply>)> done);

  // Another component's protocol on transport `channel` (Group Services): `handler` gets
  // every message delivered on it. One handler per channel; not for channels Node runs.
  using ChannelHandler = std::function<void(NodeId from, std::span<const uint8_t> bytes)>;
  void OnChannel(uint8_t channel, ChannelHandler handler);
  // Sends `bytes` sealed to `node` on `channel`; fails if `node` is not in the address table.
  Status SendData(NodeId node, uint8_t channel, std::span<const uint8_t> bytes);
  // `fn` runs after each change of the cluster map or of the supervisor.
  void OnMembershipChanged(std::function<void()> fn);

  // ---- commands (API) ----
  // Sends `count` echo requests to `node`, `interval` apart, and calls `done` with every
  // outcome once the last one finished.
  Status Ping(NodeId node, int count, Duration interval, size_t payload_size,
              std::function<void(PingResult)> done);
  Result<wire::KeyId> InstallKey(const std::string& key_text);
  Status UseKey(wire::KeyId id);
  Status RemoveKey(wire::KeyId id);
  Status SetAdapterEnabled(const Endpoint& address, bool enabled);

 private:
  struct Impl;
  explicit Node(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cohort::node
