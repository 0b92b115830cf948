// The stream session table (W2, M13): on the supervisor, every session the cluster serves,
// the node it is placed on and the load that puts on each node. Sans-I/O: times are
// milliseconds given by the caller, the catalog says who holds what, and placement chooses.
//
// A session is reserved on a node when placed, open once the node reports a client reading
// it, and ends when the node stops reporting it (the client left) or when a reservation
// nobody used expires. The serving nodes' reports are the truth: a new supervisor rebuilds
// the table from them.
//
// Reassignment. When a node goes down or the copy a session reads fails, the session is
// placed again at once, in bulk, largest bitrate first, each placement counting the ones
// before it, so no surviving node goes over its capacity; what fits nowhere waits unplaced
// and is retried. The client that reconnects with its session id is sent to the new node
// and resumes from its offset.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/ids.h"
#include "workload/catalog.h"
#include "workload/placement.h"

namespace cohort::workload {

// Session ids are below 2^53, so a JavaScript player reads them exactly as numbers too.
using SessionId = uint64_t;
inline constexpr SessionId kNoSession = 0;
inline constexpr SessionId kMaxSessionId = (SessionId{1} << 53) - 1;

enum class SessionState : uint8_t {
  kReserved,  // placed; no report from the node yet
  kOpen,      // the node reports a client reading it
  kUnplaced,  // displaced and no holder has room: retried
};
const char* SessionStateName(SessionState state);

struct Session {
  SessionId id = kNoSession;
  std::string path;
  uint64_t bitrate_kbps = 0;
  NodeId node = kNoNode;  // kNoNode while unplaced
  std::string disk;       // the copy it reads ("" the content root)
  uint64_t offset = 0;    // bytes the client has, as last known
  uint64_t bytes_sent = 0;
  SessionState state = SessionState::kReserved;
  uint32_t rank = 0;     // the node's place in the content's order
  uint32_t moves = 0;    // reassignments so far
  int64_t since_ms = 0;  // placed, displaced or last reported
};

struct NodeStreams {
  bool up = false;
  uint64_t capacity_kbps = 0;  // 0: not stated
  uint64_t load_kbps = 0;      // reserved and open sessions
  uint64_t refused = 0;        // placements refused for capacity while it held the content
  int64_t reported_ms = -1;
  std::set<SessionId> ids;  // its sessions
};

struct OpenRequest {
  std::string path;
  uint64_t bitrate_kbps = 0;
  SessionId session = kNoSession;  // a reconnecting client's session
  uint64_t offset = 0;
  NodeId avoid = kNoNode;  // the node it left
  bool operator==(const OpenRequest&) const = default;
};

struct OpenResult {
  PlaceOutcome outcome = PlaceOutcome::kNoHolder;
  SessionId session = kNoSession;
  NodeId node = kNoNode;
  std::string disk;
  uint32_t rank = 0;
  std::vector<Holder> holders;  // the loads placement saw, for a refusal's message
};

// A node's account of one session it serves.
struct ReportedSession {
  SessionId id = kNoSession;
  std::string path;
  uint64_t bitrate_kbps = 0;
  uint64_t offset = 0;
  uint64_t bytes_sent = 0;
  std::string disk;
  bool operator==(const ReportedSession&) const = default;
};

struct Moved {
  SessionId session = kNoSession;
  NodeId from = kNoNode;
  NodeId to = kNoNode;  // kNoNode: unplaced for now
};

struct StreamOptions {
  double balance = 0.25;
  int64_t reserve_ms = 5000;    // a placement nobody opened is dropped after this
  int64_t unplaced_ms = 30000;  // a displaced session nobody could take, likewise
  uint64_t id_seed = 1;         // session ids are a mix of this and a counter
  double balance_floor = 0.1;   // PlaceInput::balance_floor
};

class StreamTable {
 public:
  explicit StreamTable(StreamOptions options) : options_(options) {}

  // From the cluster map and the usage table.
  void SetNode(NodeId node, bool up, uint64_t capacity_kbps);
  void RemoveNode(NodeId node);

  OpenResult Open(int64_t now_ms, const Catalog& catalog, const OpenRequest& request);
  void Close(SessionId id);
  // The node's full list of the sessions it serves now.
  void OnReport(int64_t now_ms, NodeId node, std::span<const ReportedSession> sessions);
  // Moves the sessions on nodes that are down or copies no longer available, and retries
  // the unplaced. Call after the map or the catalog changed, and now and then.
  std::vector<Moved> Reassign(int64_t now_ms, const Catalog& catalog);
  // Drops expired reservations and unplaced sessions.
  void Tick(int64_t now_ms);

  const Session* Find(SessionId id) const;
  const std::map<SessionId, Session>& sessions() const { return sessions_; }
  const std::map<NodeId, NodeStreams>& nodes() const { return nodes_; }
  // Over the nodes that are up.
  const ClusterLoad& totals() const { return totals_; }
  uint64_t reassigned() const { return reassigned_; }
  uint64_t refused() const { return refused_; }

 private:
  void Attach(Session& s, NodeId node, std::string disk);
  void Detach(Session& s);
  SessionId NewId();
  Placement PlaceFor(const Catalog& catalog, const Session& s, NodeId avoid,
                     std::vector<Holder>* holders, std::string* disk) const;

  // Adds (sign 1) or takes away (-1) the node's part in the totals.
  void Count(const NodeStreams& n, int sign);
  bool Up(NodeId node) const;

  StreamOptions options_;
  std::map<SessionId, Session> sessions_;
  std::map<NodeId, NodeStreams> nodes_;
  ClusterLoad totals_;
  uint64_t counter_ = 0;
  uint64_t reassigned_ = 0;
  uint64_t refused_ = 0;
};

}  // namespace cohort::workload
