// GroupsClient: a process's membership in Group Services (SPEC G1–G3), through its node's
// daemon (the API's group session, docs/design/groups.md). One client is one member
// process: it joins groups, proposes changes, votes when asked and hears every committed
// change of its groups (and of the groups they depend on) in version order.
//
//   cohort::client::GroupsClient c({.api = "127.0.0.1:7201", .token = token});
//   c.on_change = [](const GroupChange& ch) { ... };
//   c.on_vote = [](const VoteRequest& v) { return v.value != "bad"; };
//   c.Connect(); c.Join("video", {}); c.Propose("video", "cfg-2"); c.Run(-1);
//
// Callbacks run on the caller's thread, inside Join, Leave, Propose and Run, and must not
// call the client (an outcome a nested call reads would be lost to its caller). When the
// daemon restarts (or the session's stream breaks), the daemon fails the member out of its
// groups; the client connects again (for up to `reconnect_ms`), joins the same groups again
// and calls on_reconnect. Not thread-safe: one thread drives a client.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/result.h"

namespace cohort::io {
class HttpConnection;
class HttpLineStream;
}  // namespace cohort::io

namespace cohort::client {

struct MemberRef {
  uint16_t node = 0;
  uint64_t incarnation = 0;  // of the node's daemon
  uint32_t local = 0;        // the daemon's number for the process (its session)
  std::string role;          // "provider" or "subscriber" (in member lists)
  bool operator==(const MemberRef& o) const {
    return node == o.node && incarnation == o.incarnation && local == o.local;
  }
};

// A committed change, or (kind "resync") the group as it is now after changes the member
// could not be told one by one.
struct GroupChange {
  std::string group;
  // Set: the member's own group that depends on `group`, through which it hears this (G3).
  std::string for_group;
  std::string kind;  // join, leave, process-died, node-died, state, resync
  uint64_t version = 0;
  int64_t token = 0;               // the fencing token: grows with every change of every group
  MemberRef member;                // join, leave, process-died, node-died
  std::string value;               // state: the new state; resync: the state
  std::vector<MemberRef> members;  // resync
};

struct VoteRequest {
  std::string group;
  uint64_t version = 0;  // the version the change would get
  int phase = 1;
  std::string value;  // the proposed state
  uint16_t node = 0;  // the request's identity, to vote on it
  uint64_t incarnation = 0;
  uint64_t seq = 0;
};

struct Outcome {
  bool committed = false;
  uint64_t version = 0;  // committed: the change's version (0: a leave of a session that ended)
  std::string reason;    // not committed: rejected, not-provider, no-group, ...
};

struct JoinOptions {
  bool provider = true;
  bool default_approve = true;       // a new group's vote for a silent provider
  std::vector<std::string> depends;  // a new group's dependencies
};

// A value as the API carries it: {"<key>": text} when it is UTF-8, else {"<key>_hex": hex}.
void PutValue(nlohmann::json& doc, const std::string& key, const std::string& bytes);
std::string ValueOf(const nlohmann::json& doc, const std::string& key);  // "" if absent
// Group names: 1–128 bytes of [A-Za-z0-9._-].
bool ValidGroupName(const std::string& name);

class GroupsClient {
 public:
  struct Options {
    std::string api = "127.0.0.1:7201";
    std::string token;         // the daemon's API token
    int reconnect_ms = 60000;  // 0: a broken session is an error, not retried
    int outcome_timeout_ms = 30000;
    bool rejoin = true;  // a member failed out of a group joins it again (after on_lost)
  };
  explicit GroupsClient(Options options);
  ~GroupsClient();

  std::function<void(const GroupChange&)> on_change;
  // Whether to approve; unset: approve everything.
  std::function<bool(const VoteRequest&)> on_vote;
  // The member is out of `group` though it did not leave: its node was declared dead or
  // its stream broke ("node-died", "process-died"). With Options::rejoin, Run joins again.
  std::function<void(const std::string& group, const std::string& why)> on_lost;
  // Connected again after a break; every group is joined again.
  std::function<void()> on_reconnect;

  Status Connect();
  Result<Outcome> Join(const std::string& group, const JoinOptions& options = {});
  Result<Outcome> Leave(const std::string& group);
  Result<Outcome> Propose(const std::string& group, const std::string& value, int phases = 1);
  // Serves the session (callbacks) for `timeout_ms` (-1: until Stop() or an error).
  Status Run(int timeout_ms);
  void Stop() { stop_ = true; }  // from a callback or a signal handler: Run returns
  uint32_t session() const { return session_; }
  MemberRef self() const { return self_; }

 private:
  Status Open();
  Status Reconnect();
  Status Rejoin();
  static bool Joined(const Result<Outcome>& outcome);
  Result<Outcome> Submit(const std::string& group, const std::string& verb,
                         const std::string& body);
  // Handles one line of the feed; sets `outcome` if it answers `want`.
  void Handle(const std::string& line, const std::string* want, std::optional<Outcome>* outcome);
  void Dispatch(const nlohmann::json& event, const std::string* want,
                std::optional<Outcome>* outcome);
  Status Next(int timeout_ms, const std::string* want, std::optional<Outcome>* outcome);

  Options options_;
  std::unique_ptr<io::HttpLineStream> stream_;
  std::unique_ptr<io::HttpConnection> calls_;  // proposals, joins and votes: kept alive
  uint32_t session_ = 0;
  MemberRef self_;
  std::map<std::string, JoinOptions> joined_;  // the groups the member wants to be in
  std::set<std::string> lost_;                 // of those, failed out: to join again
  std::atomic<bool> stop_{false};
};

}  // namespace cohort::client
