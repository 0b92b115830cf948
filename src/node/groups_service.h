// GroupsService: Group Services (SPEC G1–G3) in the daemon. It drives the sans-I/O
// GroupsCore (groups/core.h) on the node's loop:
//
// - its messages go over the sealed transport, channel groups::kChannel;
// - its records are registry keys, one per group under <cluster prefix>groups/, each written
//   by compare-and-swap on the key's mod revision (the fencing of groups/core.h);
// - its view is the cluster map: the supervisor coordinates, and the nodes up (with their
//   incarnations) are the ones whose members live;
// - its local clients are sessions. A session is one client process: it holds a stream of
//   events (the API's session feed) and makes requests; the stream's end is the process's
//   death, which fails it out of its groups.
//
// Runs on the node's loop thread; every call must be made there.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/time.h"
#include "groups/core.h"
#include "node/registry_records.h"

namespace boost::asio {
class io_context;
}
namespace cohort::registry {
class RegistryBackend;
}

namespace cohort::node {

class Node;

// One request of a session, as a client asks it.
struct GroupRequest {
  enum class Kind { kJoin, kLeave, kPropose };
  Kind kind = Kind::kJoin;
  std::string group;
  groups::Role role = groups::Role::kProvider;  // kJoin
  bool default_approve = true;                  // kJoin that creates the group
  std::vector<std::string> depends;             // kJoin that creates the group
  groups::Bytes value;                          // kPropose
  uint8_t phases = 1;                           // kPropose
};

// A group as the registry holds it, for listing.
struct StoredGroup {
  std::string name;
  int64_t revision = 0;                       // the record's: the fencing token of its last change
  std::optional<groups::GroupRecord> record;  // nullopt: the stored bytes do not decode
};

struct GroupsRead {
  std::vector<StoredGroup> groups;
  bool stale = false;  // the registry was read-only: a server's copy, which may be behind
};

struct GroupsServiceMetrics {
  uint64_t sessions_opened = 0;
  uint64_t sessions_closed = 0;
  uint64_t requests = 0;
  uint64_t messages_sent = 0;
  uint64_t messages_received = 0;
  uint64_t record_reads = 0;
  uint64_t record_writes = 0;
  uint64_t write_conflicts = 0;
  uint64_t registry_errors = 0;
};

class GroupsService {
 public:
  // Nothing is decided without the registry: requests wait until it answers.
  using Records = RegistryRecords;
  using RecordsSource = node::RecordsSource;
  GroupsService(Node& node, RecordsSource records, boost::asio::io_context& io);
  ~GroupsService();
  GroupsService(const GroupsService&) = delete;
  GroupsService& operator=(const GroupsService&) = delete;

  void Start();
  void Stop();

  // ---- sessions ----
  using EventSink = std::function<void(const groups::Output&)>;
  static constexpr size_t kMaxSessions = 1024;
  // A new session; `sink` gets every event for it (changes, vote asks, outcomes, lost).
  Result<uint32_t> OpenSession(EventSink sink);
  // The session's process is gone: it fails out of every group it is in.
  void CloseSession(uint32_t session);
  bool HasSession(uint32_t session) const;
  size_t sessions() const;

  using OutcomeDone = std::function<void(std::optional<groups::Outcome>)>;
  // Submits `r`; the outcome goes to the session's sink and, when `done` is set, to `done`
  // (nullopt if not known within `wait`).
  Result<groups::RequestId> Submit(uint32_t session, const GroupRequest& r, Duration wait = {},
                                   OutcomeDone done = nullptr);
  Status Vote(uint32_t session, const std::string& group, groups::RequestId request, uint8_t phase,
              bool approve);

  // ---- reading ----
  // Every group's record as the registry holds it now.
  void ReadGroups(std::function<void(Result<GroupsRead>)> done);
  const groups::GroupsCore& core() const;
  const GroupsServiceMetrics& metrics() const;
  NodeId coordinator() const;
  // Who this node's members are: MemberId{self, incarnation, session}.
  groups::MemberId MemberOf(uint32_t session) const;

 private:
  Status Usable(uint32_t session) const;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cohort::node
