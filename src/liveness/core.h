// LivenessCore: every adapter's heartbeat and the whole cluster's path matrix (SPEC L1).
//
// Intuition. Adapters are grouped by network; on each network they stand in a ring ordered
// by (node, address). Every period each local adapter sends a heartbeat to its ring
// successor, and one more to the next adapter of a rotation through the rest of its
// network, so a heartbeat is two datagrams per adapter per period whatever the cluster's
// size, and every directed path is tried once per rotation. A heartbeat says when the next
// one on the same path is due; a receiver that hears nothing by then asks the sender, by any
// path, for a heartbeat on that one (a probe, each period), and marks the path down after
// miss_limit periods: a lost heartbeat is made up in a round trip, a broken path stays
// silent. So each node knows, first hand, every path into its own adapters — in each
// direction separately, since a path is judged by its receiver.
//
// A rotation is slow on a large network, so a change speeds up what follows it: when a
// path to or from adapter X goes down or comes back (first hand, or read in a row), every
// node alerts X for a while: its adapters on X's network heartbeat X every period and
// expect X's heartbeats within a few periods, and X (alerted too, by the same row or first
// hand) heartbeats every adapter of its network every period. So after a switch fails, an
// adapter is cut or a node crashes, the rest of the affected paths are judged in periods,
// not a rotation. Alerts end by themselves; on networks of more than kMaxAlertFanout + 1
// adapters they are not used (the burst would not stay small).
//
// A network falls silent at a node when nothing arrives on its adapters there for 1.5
// periods while a heartbeat due since the last one heard is half a period late (its ring
// predecessor's comes every period): the adapter, its cable or the switch is likely gone.
// The node then reports that network's addresses unheard at once, so traffic leaves them
// (RM3) before any path is judged, and — on networks alerts reach — expects every path into
// those adapters now (probing each), so the whole failure is judged miss_limit periods
// later, not when each rotation's heartbeat was next due. The next heartbeat there ends it;
// silence marks no path down by itself.
//
// Each node publishes what it knows as its row: the paths into its adapters that are not
// up (a healthy node's row is empty). A heartbeat names its sender's newest row, so a
// neighbour holding an older one asks for it. Rows are broadcast when they change and again
// every refresh — on large networks only for news (a path down, or back from down): there,
// a path first heard (learning, a rotation's worth of changes at start) is left for the
// others to ask for when the node next heartbeats them — but the last one, which makes the
// row whole, is news — and the refresh is at least a rotation, so what each node sends and receives
// stays flat as the cluster grows. The matrix any node shows is assembled from the rows; a node all
// of whose adapters went unheard is silent, and the paths into it are down, not its stale row.
//
// Contract: no sockets, clocks, threads or globals. Inputs take `now`; outputs are appended
// to a caller-owned Outputs; NextDeadline() says when Tick() must run next. One instance per
// node, driven by one thread at a time: cohortd's node runtime, or sim/ for many nodes.
#pragma once

#include <array>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "liveness/messages.h"
#include "liveness/types.h"

namespace cohort::liveness {

// An alerted adapter heartbeats at most this many others per period.
inline constexpr size_t kMaxAlertFanout = 64;
// On a large network, the rows a node receives per period on average, however many nodes
// broadcast news: each broadcasts at most once per (adapters / this) periods.
inline constexpr int64_t kRowBroadcastsPerPeriod = 16;

struct LivenessOptions {
  NodeId self = kNoNode;
  Incarnation incarnation = 1;
  Duration period = Duration::Millis(100);
  int miss_limit = 3;                       // periods of grace after a heartbeat was due
  Duration refresh = Duration::Seconds(5);  // the row is broadcast again this often
};

// One network as this node sees it: its adapters in ring order, their states, and the
// matrix of paths between them: paths[i][j] is the path from adapters[i] to adapters[j].
struct NetworkView {
  std::string name;
  std::vector<Adapter> adapters;
  std::vector<AdapterState> states;
  std::vector<std::vector<PathState>> paths;
};

class LivenessCore {
 public:
  explicit LivenessCore(LivenessOptions options);

  // Every adapter of every node, this node's among them (the address table, each address
  // with its network). Paths to adapters that appear are expected within one rotation.
  void SetAdapters(Instant now, std::vector<Adapter> adapters, Outputs& out);
  // A liveness message from `from_node`; a heartbeat also names the path it took: it arrived
  // on local adapter `local` from remote address `remote`.
  void OnMessage(Instant now, NodeId from_node, const Endpoint& local, const Endpoint& remote,
                 ByteView bytes, Outputs& out);
  // Runs due timers. Call when now >= NextDeadline(); calling earlier is harmless.
  void Tick(Instant now, Outputs& out);
  Instant NextDeadline() const;

  // The matrix of every network, assembled from the rows (O(adapters²) per network).
  std::vector<NetworkView> View() const;
  // The state of one path as this node knows it.
  PathState PathStateOf(const Endpoint& from, const Endpoint& to) const;
  AdapterState AdapterStateOf(const Endpoint& address) const;
  // Whether this node hears `remote` on any of its adapters: up if on one at least, down if
  // on none (every path from it into this node is down), unknown otherwise.
  PathState HeardFrom(const Endpoint& remote) const;
  const std::vector<Adapter>& adapters() const { return adapters_; }
  const LivenessMetrics& metrics() const { return metrics_; }
  // (incarnation, version) of the newest row held from `node`, if any.
  std::optional<std::pair<Incarnation, uint32_t>> RowVersion(NodeId node) const;
  const LivenessOptions& options() const { return options_; }

 private:
  using PathKey = std::pair<Endpoint, Endpoint>;  // (from, to)
  struct Incoming {
    PathState state = PathState::kUnknown;
    Instant due;       // when the sender's next heartbeat on it should arrive
    Instant deadline;  // silence until then keeps the state; after it, down
    Instant probed;    // the last probe sent for it
  };
  struct Sender {
    Endpoint address;
    Instant next_send;
    size_t cursor = 0;    // rotation position among the network's other adapters
    Instant burst_until;  // alerted: heartbeats every other adapter each period until then
    std::vector<const Adapter*> others;  // Others(address), kept until the adapters change
  };
  // What a row says of the paths into one of its sender's adapters: the state most are in,
  // and, when some path is in another, the state of every path into it, indexed by the
  // sending adapter's position in its network (dense: a byte per path, so a node holding
  // every other node's row of a 1,000-node network holds a few MB, not a map entry per path).
  struct Into {
    Endpoint to;
    PathState usual = PathState::kUp;
    std::vector<PathState> states;  // empty: every path is in `usual`
  };
  struct Row {
    Incarnation incarnation = 0;
    uint32_t version = 0;
    std::vector<Into> into;  // one per adapter of the sender, in adapters_ order
    // Read while adapters it names were unknown (their entries dropped): taken again even
    // at the same version, kept meanwhile.
    bool stale = false;
  };

  using IncomingTable = std::vector<std::pair<PathKey, Incoming>>;
  // Held rows written out across a change of the adapter table, with their stale flag.
  using WrittenRows = std::map<NodeId, std::pair<RowMsg, bool>>;

  // The parts of SetAdapters: the table and what derives from it alone; the senders; the
  // paths into this node (`gaps`: each old path's ExpectedGap before the change, parallel
  // to incoming_); the held rows in the new positions (`appeared`: parallel to adapters_).
  void BuildTable(std::vector<Adapter> sorted);
  void RebuildSenders(Instant now);
  void RebuildIncoming(Instant now, const std::vector<Duration>& gaps);
  void ReReadRows(const WrittenRows& written, const std::vector<bool>& appeared);

  const Adapter* Find(const Endpoint& address) const;
  // The path's entry in incoming_, or incoming_.end().
  IncomingTable::iterator FindIncoming(const PathKey& key);
  IncomingTable::const_iterator FindIncoming(const PathKey& key) const;
  // Calls visit(adapter) for the adapters of other nodes on `address`'s network, in ring
  // order after it, while it returns true.
  template <typename Visit>
  void ForEachOther(const Endpoint& address, Visit visit) const;
  // The adapters of other nodes on `address`'s network, in ring order after it.
  std::vector<const Adapter*> Others(const Endpoint& address) const;
  // How many adapters of other nodes share `a`'s network (Others(a).size(), without a walk);
  // `a` is an element of adapters_.
  size_t OthersCount(const Adapter& a) const {
    return others_count_[static_cast<size_t>(&a - adapters_.data())];
  }
  // When `to` should hear from `from` again after a heartbeat: the rotation's schedule.
  Duration ExpectedGap(const Endpoint& from, const Endpoint& to) const;
  // The next heartbeat on `in` is due at `due`: its deadline and probes follow.
  void Expect(Incoming& in, Instant due);
  // When Tick must look at `in` next: its deadline or its next probe (Max once down).
  Instant NextAction(const Incoming& in) const;
  static Instant Due(Instant now, Duration gap);
  void SendHeartbeats(Instant now, Sender& s, Outputs& out);
  // One heartbeat from local `from` to `to`, promising the next within `next`.
  void EmitHeartbeat(const Endpoint& from, const Endpoint& to, Duration next, Outputs& out);
  void OnHeartbeat(Instant now, NodeId from_node, const Endpoint& local, const Endpoint& remote,
                   const HeartbeatMsg& m, Outputs& out);
  void OnProbe(NodeId from_node, const ProbeMsg& m, Outputs& out);
  // Asks the sender of `key` for a heartbeat on it (by any path).
  void SendProbe(const PathKey& key, Outputs& out);
  void OnRow(Instant now, NodeId from_node, RowMsg m, Outputs& out);
  void SetIncoming(Instant now, const PathKey& key, PathState state, Outputs& out);
  // A path to or from `address` changed between up and down (see the intuition above).
  void Alert(Instant now, const Endpoint& address);
  // Until when this node's adapters heartbeat `to` every period (Instant() when not).
  Instant AlertedUntil(const Sender& s, const Endpoint& to) const;
  bool PublishDue(Instant now) const;
  void Publish(Instant now, Outputs& out);
  RowMsg OwnRow() const;
  // A path's state from the rows alone (no silence rule).
  PathState RowState(const Adapter& from, const Adapter& to) const;
  // The row `m` of `node` in the adapters known now: what names unknown adapters, or paths
  // that are not into the sender's adapters from another node of the same network, is left out.
  Row ReadRow(NodeId node, const RowMsg& m) const;
  // The inverse, for rows kept across a change of the adapters (their positions move).
  RowMsg WriteRow(const Row& row) const;
  static const Into* IntoOf(const Row& row, const Endpoint& to);
  static Into* IntoOf(Row& row, const Endpoint& to);
  // What a held row says of the path from the adapter at `position` into `into`'s adapter
  // (nullptr: the row does not speak of it).
  static PathState InRow(const Into* into, size_t position);
  // The state of the path from the adapter at `position` of the network into `into.to`.
  static PathState StateIn(const Into& into, size_t position);
  // Sets that state (a byte per path of a network of `network_size` adapters, made only
  // when some path differs from `usual`).
  static void SetIn(Into& into, size_t position, size_t network_size, PathState state);
  // The position of adapters_[i] in its network.
  size_t Position(size_t i) const { return i - network_first_[i]; }
  // From the rows: whether some other node hears `a`.
  AdapterState OutgoingState(const Adapter& a) const;  // `a`: an element of adapters_
  // Emits AdapterChanged when adapters_[i]'s state is not the one last reported.
  void Reassess(size_t i, Outputs& out);
  void Recount();
  // A path from adapters_[from] went from `before` to `after`.
  void Count(size_t from, PathState before, PathState after);
  // hearing.cc. Emits AddressHeard when the transport's view of `remote` changed: heard
  // while HeardFrom(remote) is up and its network is not silent here; unheard once every
  // path from it is down, or its network silent; back to heard when a silence that said
  // unheard ends before its paths were judged.
  void ReportHeard(const Endpoint& remote, Outputs& out);
  // ReportHeard for every other node's address on `network`.
  void ReportNetworkHeard(const std::string& network, Outputs& out);
  // hearing_ for the networks of this node's adapters (SetAdapters).
  void RebuildHearing(Instant now, Outputs& out);
  // A heartbeat arrived on this node's adapter on `network` (see the intuition above).
  void HeardOn(Instant now, const std::string& network, Outputs& out);
  void CheckSilence(Instant now, Outputs& out);
  // Whether an up path into this node's adapters on `network` had a heartbeat due after
  // `last` and half a period before `now`; lowers `next` to when the next one would be.
  bool OverdueOn(const std::string& network, Instant last, Instant now, Instant* next) const;
  // Every up path into this node's adapters on `network` due now (small networks only).
  void ExpectAllOn(const std::string& network, Instant now);
  bool Silent(const std::string& network) const;
  Instant SilenceDeadline() const;
  Duration Quiet() const { return options_.period * 3 / 2; }
  // `judged`: the path went between up and down (not from unknown): an alert's cause.
  void EmitPath(Instant now, const PathKey& key, PathState state, bool judged, Outputs& out);

  LivenessOptions options_;
  std::vector<Adapter> adapters_;  // sorted by (network, node, address)
  struct EndpointHash {
    size_t operator()(const Endpoint& e) const {
      return std::hash<uint64_t>()((uint64_t{e.ip} << 16) | e.port);
    }
  };
  std::unordered_map<Endpoint, size_t, EndpointHash> index_;
  std::vector<size_t> network_first_;  // per adapter, the index of its network's first
  std::vector<size_t> others_count_;   // per adapter, OthersCount
  std::map<std::string, std::pair<size_t, size_t>> networks_;  // [first, last) in adapters_
  std::vector<Sender> senders_;
  // The paths into this node's adapters, sorted by key: walked by every Tick that judges,
  // so contiguous; built only by SetAdapters.
  IncomingTable incoming_;
  size_t unknown_incoming_ = 0;          // of incoming_, the paths not heard nor judged yet
  std::map<NodeId, Row> rows_;           // other nodes'
  std::map<NodeId, Instant> requested_;  // last row request per node
  std::vector<std::optional<AdapterState>> adapter_states_;  // reported; parallel to adapters_
  // Per adapter, how many paths from it are unknown, up and down as this node knows them
  // (RowState), kept as rows and judgements change: an adapter's state is then O(1), not a
  // walk over its network for every path that changes.
  std::vector<std::array<uint32_t, kPathStateMax + 1>> out_counts_;  // parallel to adapters_
  std::map<NodeId, std::vector<Endpoint>> node_adapters_;
  std::map<Endpoint, Instant> watched_until_;  // other nodes' adapters under an alert
  std::map<Endpoint, bool> heard_;             // the last AddressHeard per remote address
  // Per network this node has adapters on: when a heartbeat last arrived on one of them, no
  // sooner than when silence is looked for again, and whether it is silent.
  struct Hearing {
    Instant last;
    Instant check;
    bool silent = false;
  };
  std::map<std::string, Hearing> hearing_;
  std::set<Endpoint> silenced_;  // reported unheard only because their network is silent
  uint32_t version_ = 0;
  bool dirty_ = false;
  bool news_ = false;   // the unpublished change includes a path going down or coming back
  bool large_ = false;  // a network has more adapters than an alert reaches: changes pulled
  Duration refresh_;    // the row's broadcast again this often (at least a rotation if large_)
  Duration news_gap_;   // between two broadcasts of news
  Instant next_broadcast_;
  Instant next_publish_;  // a change is published no sooner (period/4 after the last)
  Instant next_refresh_ = Instant::Max();
  Instant next_expiry_ = Instant::Max();  // the earliest NextAction of the paths
  LivenessMetrics metrics_;
};

}  // namespace cohort::liveness
