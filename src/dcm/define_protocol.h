// The node definition protocol (SPEC C7; the seed's steps 1–14) as the member DCM runs it,
// free of I/O: each call takes what the last action brought and returns the next action
// for the driver (a message to the node being defined, a registry read or transaction).
//
// All or nothing: the global definition is written *pending* (with a deadline) before the
// node commits its local copy, and confirmed after; any failure removes the global one and
// asks the node to erase its local one. What a crash leaves behind is undone without the
// crashed party: a pending definition past its deadline is swept (SweepablePending), and a
// local copy with no global one is cleaned up by the node's reconciliation at join (C8).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/ids.h"
#include "base/result.h"

namespace cohort::dcm {

// Step 3: what the node being defined answers — its UID, and the definition it keeps of
// this cluster from an earlier time, if any.
struct TargetAnswer {
  std::string uid;
  std::optional<NodeId> kept_number;
  std::string kept_uid;
};

// A node definition as read from the registry.
struct DefinedNode {
  NodeId number = kNoNode;
  std::string uid;
  std::string name;
  int64_t revision = 0;          // mod revision of its definition
  int64_t pending_until_ms = 0;  // 0: confirmed; else the wall-clock deadline (ms)
  bool registry_server = false;
  std::string api;  // its API address, once it has run in the cluster (node online|offline)
  bool up = false;  // its node is up or joining now (filled by the driver)
};

struct NodeDefineRequest {
  std::string cluster_name;
  std::optional<NodeId> number;  // nothing: the lowest free number
  std::string name;              // "": "n<number>"
};

class NodeDefine {
 public:
  enum class Kind {
    kAskTarget,      // step 2: send the define request; answer with OnTargetAnswer
    kReadNodes,      // step 5: read every definition; OnNodesRead
    kWriteGlobal,    // step 8: write `number` pending, replacing `stale`; OnGlobalWritten
    kCommitTarget,   // step 11: the node writes its local definition; OnTargetCommitted
    kConfirmGlobal,  // the pending definition at `revision` made final; OnGlobalConfirmed
    kRemoveGlobal,   // roll back: remove the definition at `revision`; OnGlobalRemoved
    kAbortTarget,    // roll back: the node erases what it committed; OnTargetAborted
    kFinish,         // step 14: answer the requester with `ok` and `message`
  };
  struct Action {
    Kind kind = Kind::kFinish;
    NodeId number = kNoNode;
    std::string uid;
    std::string name;
    int64_t revision = 0;              // kConfirmGlobal, kRemoveGlobal
    std::optional<DefinedNode> stale;  // kWriteGlobal: a definition of this UID to replace
    bool erase_previous = false;       // kCommitTarget: the node keeps an old definition
    bool ok = false;                   // kFinish
    Errc code = Errc::kOk;             // kFinish, when not ok
    std::string message;               // kFinish
  };

  // Compare-and-swap losses (another define raced this one) before it gives up.
  static constexpr int kMaxWriteAttempts = 3;

  explicit NodeDefine(NodeDefineRequest request) : request_(std::move(request)) {}

  Action Start();
  Action OnTargetAnswer(Result<TargetAnswer> answer);
  Action OnNodesRead(Result<std::vector<DefinedNode>> nodes);
  // The new definition's revision; nothing when the transaction's compares failed.
  Action OnGlobalWritten(Result<std::optional<int64_t>> revision);
  Action OnTargetCommitted(Status committed);
  Action OnGlobalConfirmed(Result<bool> confirmed);
  Action OnGlobalRemoved(Result<bool> removed);
  Action OnTargetAborted(Status aborted);

  bool finished() const { return finished_; }

 private:
  Action Finish(bool ok, Errc code, std::string message);
  Action RollBack(std::string why);
  // An action about the definition under way: its number, UID, name and revision.
  Action About(Kind kind) const;

  NodeDefineRequest request_;
  TargetAnswer target_;
  NodeId number_ = kNoNode;
  std::string name_;
  int64_t revision_ = 0;
  int write_attempts_ = 0;
  std::string failure_;     // why it is rolling back
  bool committed_ = false;  // the target may hold a local copy to erase
  bool finished_ = false;
};

// The lowest number from 1 not in `taken`.
NodeId LowestFreeNumber(const std::vector<NodeId>& taken);

// Pending definitions past their deadline at `now_ms` whose node is not `up`: what a
// member that crashed mid-definition left, removed by the supervisor's sweep.
std::vector<DefinedNode> SweepablePending(const std::vector<DefinedNode>& nodes, int64_t now_ms,
                                          const std::vector<NodeId>& up);

}  // namespace cohort::dcm
