// RelayCore: API requests addressed to a node anywhere in the tree (M14), sans-I/O.
//
// Intuition. A daemon reaches only the levels it holds: its own cluster always, and each
// level above while it holds its cluster's node there (as supervisor). A node anywhere in
// the tree is named by its path of node ids from the root level down: in a tree of
// sub-clusters under one parent, `2/3` is node 3 of the sub-cluster that is node 2 of the
// parent. A request climbs to the lowest level that holds both the sender's and the
// target's branches (to the supervisor of the highest level the sender holds, which holds
// the one above), crosses that level to the target's branch, and descends through its
// holders to the target, where the node's API answers it as if asked locally (the token
// checked there). Every receiver notes who passed the request to it on which level; the
// answer retraces those hops, so relays keep nothing. Only the origin waits, with a
// deadline.
//
// Contract as for every core: inputs take `now` and the node's Position, outputs go to a
// caller-owned RelayOutputs, NextDeadline() says when Tick() is due. Single-threaded.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "base/ids.h"
#include "base/result.h"
#include "base/time.h"
#include "wire/codec.h"

namespace cohort::hierarchy {

inline constexpr uint8_t kRelayChannel = 7;

// Node ids from the root level down to a leaf. A flat cluster's are one id long.
using NodePath = std::vector<NodeId>;
inline constexpr size_t kMaxPathIds = 5;  // a cluster and up to four levels above it
// "2/3" → {2, 3}; every id 1–65535.
Result<NodePath> ParsePath(const std::string& text);
std::string PathText(const NodePath& path);

// Where this node stands: its path, and for each level it holds (0: its cluster; k: the
// level k above while this node holds its branch there) the level's supervisor and the
// members it may send to. Lower levels first; level 0 always.
struct Position {
  NodePath path;
  struct Level {
    NodeId supervisor = kNoNode;
    std::vector<NodeId> up;  // members up, ascending
  };
  std::vector<Level> levels;
  // This node's id on `level`.
  NodeId IdAt(size_t level) const { return path[path.size() - 1 - level]; }
};

// What to do with a request for `target`.
struct Deliver {};  // this node is the target
struct Forward {
  uint8_t level = 0;
  NodeId to = kNoNode;
};
struct Unroutable {
  int status = 404;  // HTTP status of the answer
  std::string why;
};
using RouteStep = std::variant<Deliver, Forward, Unroutable>;
RouteStep Route(const Position& self, const NodePath& target);

// A hop a request took: the node that passed it on, and the level it was sent on.
struct Hop {
  uint8_t level = 0;
  NodeId from = kNoNode;
  bool operator==(const Hop&) const = default;
};
inline constexpr size_t kMaxHops = 16;

struct RelayedRequest {
  std::string method;  // GET, POST, PUT, DELETE
  std::string target;  // path and query
  std::string authorization;
  std::string body;
  bool operator==(const RelayedRequest&) const = default;
};
struct RelayedResponse {
  uint16_t status = 200;
  std::string content_type;
  std::string body;
  bool operator==(const RelayedResponse&) const = default;
};

struct RequestMsg {
  uint64_t id = 0;  // chosen by the origin
  NodePath origin;  // for the target's audit log
  NodePath target;
  std::vector<Hop> hops;  // as the receivers noted them, oldest first
  RelayedRequest request;
  bool operator==(const RequestMsg&) const = default;
};
struct ResponseMsg {
  uint64_t id = 0;
  std::vector<Hop> hops;  // still to retrace; empty: the receiver is the origin
  RelayedResponse response;
  bool operator==(const ResponseMsg&) const = default;
};
using RelayMessage = std::variant<RequestMsg, ResponseMsg>;

// A relay message stays within this many bytes, so every path carries it (the transport's
// kMaxMessageOnAnyPath, checked in relay_test). Bodies are limited to what fits.
inline constexpr size_t kMaxRelayBytes = 480 * 1024;
inline constexpr size_t kMaxRelayTargetBytes = 8 * 1024;
inline constexpr size_t kMaxRelayFieldBytes = 1024;  // method, authorization, content type

// Why `r` cannot be relayed (what it would need), or nothing: the decoder's rules, so an
// origin refuses at once what the first relay would drop.
std::optional<std::string> RequestProblem(const RelayedRequest& r);

wire::Bytes EncodeRelay(const RelayMessage& m);
std::optional<RelayMessage> DecodeRelay(wire::ByteView bytes);

// Outputs.
struct RelaySend {
  uint8_t level = 0;
  NodeId to = kNoNode;
  wire::Bytes bytes;
};
// This node is the target: answer by Answer(id, hops, …).
struct RelayExecute {
  uint64_t id = 0;
  NodePath origin;
  std::vector<Hop> hops;
  RelayedRequest request;
};
// The answer to this node's request `id` (from the target, a relay that could not pass it
// on, or this node when the deadline passed).
struct RelayAnswered {
  uint64_t id = 0;
  RelayedResponse response;
};
using RelayOutput = std::variant<RelaySend, RelayExecute, RelayAnswered>;
using RelayOutputs = std::vector<RelayOutput>;

struct RelayOptions {
  Duration deadline = Duration::Seconds(9);  // before the CLI's 10 s give up
  uint64_t first_id = 1;
};

class RelayCore {
 public:
  explicit RelayCore(RelayOptions options) : options_(options), next_id_(options.first_id) {}

  // Sends `request` towards `target`; its answer comes as RelayAnswered with the id
  // returned. A target that is this node, or cannot be reached from here, is answered at
  // once (Deliver: RelayExecute with no hops).
  uint64_t Originate(Instant now, const Position& self, const NodePath& target,
                     RelayedRequest request, RelayOutputs& out);
  void OnMessage(Instant now, const Position& self, uint8_t level, NodeId from,
                 wire::ByteView bytes, RelayOutputs& out);
  // The target's answer to RelayExecute, sent back along its hops.
  void Answer(uint64_t id, std::vector<Hop> hops, RelayedResponse response, RelayOutputs& out);
  void Tick(Instant now, RelayOutputs& out);
  Instant NextDeadline() const;

  struct Metrics {
    uint64_t originated = 0;
    uint64_t forwarded = 0;  // requests passed on
    uint64_t executed = 0;   // requests this node was the target of
    uint64_t unroutable = 0;
    uint64_t timed_out = 0;
    uint64_t malformed = 0;  // messages that did not decode, or came back to no request
  };
  const Metrics& metrics() const { return metrics_; }

 private:
  void Pass(const Position& self, RequestMsg m, RelayOutputs& out);

  RelayOptions options_;
  uint64_t next_id_;
  struct Pending {
    Instant deadline;
    NodePath target;
  };
  std::map<uint64_t, Pending> pending_;  // this node's requests, by id
  Metrics metrics_;
};

// An answer made by the relay itself: {"error": why}.
RelayedResponse RelayError(int status, const std::string& why);

}  // namespace cohort::hierarchy
