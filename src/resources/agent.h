// LocalAgent: the resource manager's decisions on one node (RM1, M13), sans I/O. The
// driver tells it what the registry holds (definitions, placement, owners, fail counts) and
// how its own actions ended; Decide() answers what to do next. Level-triggered: the same
// view always leads to the same actions, whatever order the news came in.
//
// Safety — one resource never runs on two nodes — rests on ownership: a node starts a
// resource only while it holds the resource's owner key, a registry key put with the node's
// lease. The key goes when the lease ends, and only then can another node take it. So the
// node stops what it runs before its lease can have ended: the lease is surely alive until
// `send time of the last renewal that succeeded + TTL`, and from `fence_margin` before that
// moment the agent stops everything and starts nothing (docs/design/resources.md).
//
// Fast takeover (optional, `alive_ttl` > 0): etcd ends a lease in whole seconds, so a dead
// node's keys would stay for over a second. Each node also renews an alive key by
// compare-and-swap every fraction of the alive TTL; its lease is then surely alive only until
// `send time of the last alive renewal that succeeded + alive TTL`, and the fence comes
// `fence_margin` before that too. A node placed to run a resource whose owner's alive key it
// has seen at one revision for the alive TTL (on its own clock) takes the owner key in a
// transaction on that revision, marking the alive key taken: the owner's renewals then fail,
// so it had stopped everything by then. Keys of a node whose alive key is marked taken are
// taken at once; a node that finds its alive key taken acts as if its lease were lost.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/ids.h"
#include "base/time.h"
#include "resources/spec.h"

namespace cohort::resources {

// A node's alive key as this node has seen it.
struct AliveView {
  int64_t lease = 0;     // the lease it was put with: the owner keys it stands for
  int64_t revision = 0;  // its mod revision
  bool taken = false;    // marked taken by another node: its owner's renewals have ended
  Instant seen_since;    // when this node first saw `revision` (its own clock)
  Duration ttl;          // the owner's alive TTL as its key states it (zero: unstated)
  bool operator==(const AliveView&) const = default;
};

// What the registry holds, as the node's watch last saw it.
struct RegistryView {
  std::map<std::string, ResourceSpec> specs;
  std::map<std::string, NodeId> placed;                      // the supervisor's placement
  std::map<std::string, std::pair<NodeId, int64_t>> owners;  // owner node and its lease
  std::map<std::string, std::map<NodeId, uint32_t>> fail_counts;
  std::set<std::string> running;  // resources whose owner reports them running
  std::map<NodeId, AliveView> alive;
};

// A resource's state on this node.
enum class LocalState {
  kIdle,       // not running here
  kAcquiring,  // taking the owner key
  kStarting,
  kRunning,
  kMonitoring,  // running; a monitor is under way
  kPromoting,   // running; its promote is under way (promotable resources)
  kDemoting,    // its demote is under way, on the way to its stop
  kStopping,
  kReleasing,  // stopped; giving the owner key back
  kBlocked,    // its stop failed: it may still run, so the key is kept until `clear`
};
const char* StateName(LocalState s);

enum class ActionKind {
  kAcquire,   // put the owner key with this node's lease, if there is none
  kTakeOver,  // put the owner key held by a node whose alive key stood still (or is taken),
              // on the alive key's seen revision, and mark that alive key taken
  kStart,
  kPromote,  // a promotable resource, once started
  kMonitor,
  kDemote,  // a promotable resource that may be promoted, before its stop
  kStop,
  kRelease,        // delete the owner key (only this node's)
  kRecordFailure,  // add one to the resource's fail count on this node
  kReport,         // write the resource's state on this node to the registry
  kCancel,         // end the start, monitor or promote under way at once (the node is fenced: the
                   // margin covers its stop, not the rest of an action that may hang)
};
struct Action {
  ActionKind kind;
  std::string resource;
  bool operator==(const Action&) const = default;
};

// How a monitor found the resource.
enum class MonitorResult {
  kRunning,
  kRunningPromoted,  // OCF_RUNNING_MASTER: what a promotable resource's monitor must say
  kNotRunning,
  kFailed,
};

class LocalAgent {
 public:
  // `alive_ttl` zero: no fast takeover, the registry's lease alone.
  LocalAgent(NodeId self, Duration fence_margin, Duration alive_ttl = Duration::Nanos(0));

  void SetView(RegistryView view) { view_ = std::move(view); }
  const RegistryView& view() const { return view_; }

  // The lease: granted (or renewed) and surely alive until `valid_until`; or lost (ended at
  // the registry: every key it held is gone).
  void LeaseValid(int64_t lease, Instant valid_until);
  void LeaseLost();
  // This node's alive key was renewed (or created) for `lease` by a request sent at `sent`.
  void AliveRenewed(int64_t lease, Instant sent);
  int64_t lease() const { return lease_; }
  // Until when the lease is surely alive (0 without one): the registry's lease and, with fast
  // takeover, the alive key.
  Instant lease_valid_until() const;
  // Whether the owner key of `name`, held by another node, may be taken over now.
  bool Takeable(const std::string& name, Instant now) const;
  // How long a holder's alive key must stand still: this node's TTL or the holder's, the
  // longer (a holder fences on its own).
  Duration AliveWait(const AliveView& holder) const {
    return holder.ttl > alive_ttl_ ? holder.ttl : alive_ttl_;
  }

  // How this node's actions ended.
  void Acquired(const std::string& name, bool ok);
  void Started(const std::string& name, bool ok, Instant now);
  void Monitored(const std::string& name, MonitorResult result, Instant now);
  void Promoted(const std::string& name, bool ok, Instant now);
  // Demoted or not, it is stopped next: a failed demote leaves its stop to judge.
  void Demoted(const std::string& name, bool ok);
  void Stopped(const std::string& name, bool ok);
  // The give-back ended, done or not: a key still there shows in the view as this node's
  // unknown key, and is given back again.
  void Released(const std::string& name);
  // `cohort resource clear`: a blocked resource may be released again.
  void Clear(const std::string& name);

  // The daemon is stopping: nothing is wanted here any more, so all is stopped and given back.
  void SetStopping() { stopping_ = true; }

  std::vector<Action> Decide(Instant now);
  // When Decide must run again even if nothing is heard (a monitor, the fence ahead of
  // `now`), or Max.
  Instant NextWakeup(Instant now) const;

  LocalState state(const std::string& name) const;
  // Whether a promotable resource is (or may be, its promote under way or failed) promoted.
  bool promoted(const std::string& name) const;
  // Whether this node must not run anything now (its lease may be about to end).
  bool Fenced(Instant now) const;
  std::map<std::string, LocalState> states() const;

 private:
  struct Local {
    LocalState state = LocalState::kIdle;
    bool owned = false;     // this node holds the owner key with its current lease
    bool restart = false;   // stopping to start again in place
    bool promoted = false;  // a promote was asked and no demote or stop has ended since
    Instant next_monitor = Instant::Max();
    uint32_t failures = 0;   // failures here not yet seen in the view's fail counts
    bool cancelled = false;  // its action under way was cancelled at the fence
  };
  bool WantHere(const std::string& name, Instant now) const;
  uint32_t FailCount(const std::string& name, const Local& l) const;
  void Step(const std::string& name, Local& l, Instant now, std::vector<Action>& out);
  Local& At(const std::string& name) { return local_[name]; }
  void Set(const std::string& name, Local& l, LocalState s);
  void Failed(const std::string& name, Local& l);
  // An action that did not succeed: after a cancel, stopped without counting a failure.
  void Unsuccessful(const std::string& name, Local& l);
  void Running(const std::string& name, Local& l, Instant now);
  // Off this node, or to start again: demoted first if it may be promoted, then stopped.
  void Leave(const std::string& name, Local& l, std::vector<Action>& out);
  bool Promotable(const std::string& name) const;

  NodeId self_;
  Duration fence_margin_;
  Duration alive_ttl_;
  Instant alive_valid_until_ = Instant::FromNanos(0);
  RegistryView view_;
  int64_t lease_ = 0;
  bool stopping_ = false;
  Instant lease_valid_until_ = Instant::FromNanos(0);
  std::map<std::string, Local> local_;
  std::set<std::string> report_;  // state changed: to be written to the registry
  std::vector<Action> pending_;   // asked by an action's end, given out by the next Decide
};

}  // namespace cohort::resources
