// TransportCore: the sans-I/O heart of cohort's control plane (SPEC T1–T8).
//
// Intuition. Every node knows every other node by an ordered list of addresses, primary
// first (the cluster destination address table). A request goes to the address that last
// answered; if no reply comes within the request timeout it is re-sent to the next address,
// and the silent address is marked unreachable and probed until it answers again. When a
// higher-ranked address answers a probe it becomes preferred again, so traffic returns to
// the primary once it heals. The table itself is built by gossip: each node owns its entry,
// and a periodic push-pull exchange with a random peer (and with seed addresses until they
// are known) spreads the newest version of every entry until all tables are identical.
//
// Every datagram is sealed (wire/seal.h), checked against a replay window, and cut to the
// MTU of the path (fragment.h). Bad datagrams are counted by reason and dropped.
//
// Contract: no sockets, clocks, threads or globals. Inputs take `now`; outputs are appended
// to a caller-owned Outputs; NextDeadline() says when Tick() must run next. Randomness comes
// from the Prng seeded at construction. One instance per node, driven by one thread at a
// time: the io/ runtime in cohortd, or sim/ for many nodes in one process.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/prng.h"
#include "transport/fragment.h"
#include "transport/messages.h"
#include "transport/table.h"
#include "transport/types.h"
#include "wire/seal.h"

namespace cohort::transport {

struct LocalAdapter {
  AddressInfo info;
  bool enabled = true;  // an operator may take an adapter down (`cohort adapter down`)
};

// Per-destination-subnet route entry (T4): reach `subnet` from local adapter `adapter`.
struct RouteEntry {
  Subnet subnet;
  uint8_t adapter = 0;
};

struct TransportOptions {
  NodeId self = kNoNode;
  Incarnation incarnation = 1;
  uint32_t revision = 1;               // of this node's own entry; the daemon persists it
  std::vector<LocalAdapter> adapters;  // primary first; REQUIRES: 1..kMaxAddressesPerNode
  std::vector<RouteEntry> routes;
  std::vector<Endpoint> seeds;
  Duration request_timeout = Duration::Millis(100);
  Duration probe_interval = Duration::Millis(500);
  Duration exchange_interval = Duration::Millis(250);
  // Once the table has not changed for quiet_after, the exchange slows to quiet_interval.
  Duration quiet_after = Duration::Seconds(5);
  Duration quiet_interval = Duration::Seconds(1);
  Duration reassembly_timeout = Duration::Seconds(2);
  size_t max_datagram = 9216;
  // M2 multicast mode: broadcasts go to this group (224.0.0.0/4) instead of one unicast per
  // node. Unset: unicast fan-out, which works across routers.
  std::optional<Endpoint> group;
};

// The local view of one address of a node: table data plus what this node observed.
struct AddressView {
  AddressInfo info;
  bool reachable = true;
  bool preferred = false;
  Instant last_heard;           // Instant() when never heard
  std::optional<uint8_t> hops;  // routers crossed by its latest datagram, when measured
};

struct NodeView {
  NodeId id = kNoNode;
  Incarnation incarnation = 0;
  uint32_t revision = 0;
  std::vector<AddressView> addresses;
};

class TransportCore {
 public:
  TransportCore(TransportOptions options, wire::Keyring keyring, uint64_t seed);

  // Arms the first exchange. Call once before anything else.
  void Start(Instant now, Outputs& out);
  // A datagram arrived on local adapter `adapter` from `from`, having crossed `hops` routers
  // (C13: measured from its IP TTL by the driver; nullopt when unknown).
  void OnDatagram(Instant now, uint8_t adapter, const Endpoint& from, ByteView datagram,
                  Outputs& out, std::optional<uint8_t> hops = std::nullopt);
  // A datagram that arrived through the multicast group; this node's own copies (multicast
  // loops back) are dropped without counting them as rejected.
  void OnGroupDatagram(Instant now, const Endpoint& from, ByteView datagram, Outputs& out);
  // Runs due timers. Call when now >= NextDeadline(); calling earlier is harmless.
  void Tick(Instant now, Outputs& out);
  Instant NextDeadline() const;

  // Sends an echo request to `node` with failover through its addresses. Returns the request
  // id that the RequestDone output will carry, or an error if the node is not in the table.
  Result<uint64_t> Echo(Instant now, NodeId node, ByteView payload, Outputs& out);
  // One-way message to `node` on `channel` (for upper layers), via its preferred address.
  Status SendData(Instant now, NodeId node, uint8_t channel, ByteView payload, Outputs& out);
  // One-way message on `channel` from local adapter `local` to address `to`, on that path
  // only: no failover (liveness heartbeats judge the path). Nothing is sent while the
  // adapter is out of service; an unknown local adapter is an error.
  Status SendDataVia(const Endpoint& local, const Endpoint& to, uint8_t channel, ByteView payload,
                     Outputs& out);
  // The bus (M2): `payload` on `channel` to every other node of the table. In multicast mode
  // one datagram goes to the group, plus a unicast copy to each node with no address on a
  // local adapter's subnet (multicast seldom crosses routers); otherwise one unicast per node.
  void Broadcast(Instant now, uint8_t channel, ByteView payload, Outputs& out);

  // What another layer learned of `node`'s `address` (liveness: none of this node's adapters
  // hears it any more, or one does again): marked as a request's timeout or answer would mark
  // it, so traffic moves to the next address at once and returns when it heals (probes go
  // on as for any unreachable address). Unknown addresses are ignored.
  void SetAddressReachable(NodeId node, const Endpoint& address, bool reachable, Outputs& out);
  // RM3: this node's traffic (membership, liveness rows, table exchange) tries each node's
  // addresses by the priority of their subnet (most specific first; absent: 0), highest
  // first, then in the owner's order. Replaces the previous priorities.
  void SetPriorities(std::vector<std::pair<Subnet, int>> priorities, Outputs& out);
  // Takes a local adapter out of service (no send, no receive) or back in. Returns an error
  // for an unknown adapter, or when taking down the last adapter in service.
  Status SetAdapterEnabled(const Endpoint& address, bool enabled);

  wire::Keyring& keyring() { return keyring_; }
  const wire::Keyring& keyring() const { return keyring_; }
  const AddressTable& table() const { return table_; }
  const TransportMetrics& metrics() const { return metrics_; }
  const TransportOptions& options() const { return options_; }
  std::vector<NodeView> View() const;
  NodeId self() const { return options_.self; }

 private:
  struct AddrState {
    Endpoint address;  // which table address these observations are about
    bool reachable = true;
    Instant last_heard;
    std::optional<uint8_t> hops;
    bool probe_in_flight = false;
  };
  struct Peer {
    std::vector<AddrState> addrs;
    std::vector<size_t> order;  // indexes into addrs, in the order they are tried (RM3)
    // The address that answered last; used only while no address is known reachable.
    size_t last_answered = 0;
  };
  struct Pending {
    RequestKind kind;
    NodeId node = kNoNode;  // kNoNode: sent to a raw endpoint (seed, probe)
    Endpoint raw;           // destination when node == kNoNode
    size_t addr_index = 0;  // which of node's addresses the last attempt went to
    uint32_t live = 0;      // bit i: node's address i was marked reachable at the start
    uint32_t tried = 0;     // bit i: node's address i got an attempt
    Bytes message;          // encoded request, re-sent on failover
    int attempts = 0;
    int max_attempts = 1;
    Instant first_sent;
    Instant last_sent;
    Instant deadline;
  };

  void Receive(Instant now, uint8_t adapter, const Endpoint& from, ByteView datagram,
               bool via_group, Outputs& out, std::optional<uint8_t> hops = std::nullopt);
  // True if one of `node`'s addresses is on the subnet of a local adapter in service.
  bool OnLocalSubnet(const NodeEntry& node) const;
  // REQUIRES: `node` is in the table.
  Endpoint PreferredAddress(NodeId node);
  void HandleMessage(Instant now, NodeId sender, uint8_t adapter, const Endpoint& from, Message msg,
                     Outputs& out);
  void HandleReply(Instant now, uint64_t req, const Endpoint& from, Bytes reply,
                   const TableSyncReplyMsg* sync, Outputs& out);
  void HandleTableSync(Instant now, uint8_t adapter, const Endpoint& from, TableSyncMsg& msg,
                       Outputs& out);
  void MergeEntries(Instant now, const std::vector<NodeEntry>& entries, Outputs& out);
  void StartSync(Instant now, NodeId node, const Endpoint& raw, bool full, Outputs& out);
  void SyncPeer(NodeId node);

  uint64_t StartRequest(Instant now, RequestKind kind, NodeId node, const Endpoint& raw,
                        const std::function<Bytes(uint64_t)>& encode, int max_attempts,
                        Outputs& out);
  void SendAttempt(Instant now, Pending& p, Outputs& out);
  void OnRequestTimeout(Instant now, uint64_t id, Outputs& out);
  void RunExchange(Instant now, Outputs& out);
  void RunProbes(Instant now, Outputs& out);

  // Seals and sends `message` to `to`, fragmenting to the path MTU. `adapter` forces the
  // local adapter (replies leave by the adapter the request came in on).
  // `channel` names the upper layer for the per-adapter counters (0: the transport's own).
  void Emit(const Endpoint& to, ByteView message, Outputs& out,
            std::optional<uint8_t> adapter = std::nullopt, uint8_t channel = 0);
  std::optional<uint8_t> ChooseAdapter(const Endpoint& to) const;
  size_t PathMtu(uint8_t adapter, const Endpoint& to) const;
  // The preferred address: the highest-ranked one known reachable. Deriving it from the
  // reachability marks (instead of remembering "the last one that answered") means a late
  // reply through an alternate cannot pin traffic there once the primary is back.
  size_t ChooseAddress(const Peer& peer) const;
  void MarkReachable(NodeId node, size_t index, bool answered_request, Outputs& out);
  void MarkUnreachable(NodeId node, size_t index, Outputs& out);
  // The address for a request's next attempt after a timeout (see transport.md, T3).
  size_t RetryAddress(const Pending& p);
  // Bit i: the peer's address i is marked reachable.
  static uint32_t ReachableMask(const Peer& peer);
  void EmitIfPreferredChanged(NodeId node, size_t before, Outputs& out);
  int AddressIndex(NodeId node, const Endpoint& address) const;

  TransportOptions options_;
  wire::Keyring keyring_;
  wire::ReplayWindow replay_;
  Prng prng_;
  AddressTable table_;
  std::map<NodeId, Peer> peers_;
  std::vector<std::pair<Subnet, int>> priorities_;  // most specific subnet first
  std::map<uint64_t, Pending> pending_;
  Reassembler reassembler_;
  TransportMetrics metrics_;
  uint64_t next_request_id_ = 1;
  uint64_t next_sequence_ = 1;
  uint32_t next_message_id_ = 1;
  Instant next_exchange_ = Instant::Max();
  Instant last_table_change_;
  Instant next_probe_ = Instant::Max();
};

}  // namespace cohort::transport
