#include "dcm/define_protocol.h"

#include <algorithm>

namespace cohort::dcm {

using Kind = NodeDefine::Kind;

NodeDefine::Action NodeDefine::Start() { return Action{Kind::kAskTarget}; }

NodeDefine::Action NodeDefine::OnTargetAnswer(Result<TargetAnswer> answer) {
  if (!answer) {
    return Finish(false, answer.error().code(),
                  "the node to define did not answer: " + answer.error().message() +
                      " (nothing was changed)");
  }
  target_ = std::move(*answer);
  return Action{Kind::kReadNodes};
}

NodeDefine::Action NodeDefine::OnNodesRead(Result<std::vector<DefinedNode>> nodes) {
  if (!nodes) {
    return Finish(false, nodes.error().code(),
                  "cannot read the cluster's definitions: " + nodes.error().message() +
                      " (nothing was changed)");
  }
  // Step 7: a definition of this UID already — the same the node keeps: nothing to do;
  // another: stale (the node was undefined, or defined elsewhere, while away) and replaced.
  std::optional<DefinedNode> stale;
  std::vector<NodeId> taken;
  for (const DefinedNode& n : *nodes) {
    if (n.uid == target_.uid) {
      if (n.pending_until_ms == 0 && target_.kept_number == n.number && target_.kept_uid == n.uid) {
        return Finish(false, Errc::kAlreadyExists,
                      "that machine (uid " + n.uid + ") is already node " +
                          std::to_string(n.number) + " of cluster " + request_.cluster_name);
      }
      // Not stale after all: the machine runs as that node, or another member is defining
      // it right now. Replacing either would take a live definition away.
      if (n.up) {
        return Finish(false, Errc::kAlreadyExists,
                      "that machine (uid " + n.uid + ") runs as node " + std::to_string(n.number) +
                          ": a clone? (nothing was changed)");
      }
      if (n.pending_until_ms != 0) {
        return Finish(false, Errc::kUnavailable,
                      "another definition of that machine is under way (nothing was changed)");
      }
      stale = n;
      continue;
    }
    taken.push_back(n.number);
  }
  if (request_.number) {
    if (std::find(taken.begin(), taken.end(), *request_.number) != taken.end()) {
      return Finish(false, Errc::kAlreadyExists,
                    "node number " + std::to_string(*request_.number) +
                        " is defined to another machine in cluster " + request_.cluster_name +
                        " (nothing was changed)");
    }
    number_ = *request_.number;
  } else {
    number_ = LowestFreeNumber(taken);
    if (number_ == kNoNode) {
      return Finish(false, Errc::kInvalidArgument, "no free node number left");
    }
  }
  name_ = request_.name.empty() ? "n" + std::to_string(number_) : request_.name;
  Action a = About(Kind::kWriteGlobal);
  a.stale = stale;
  return a;
}

NodeDefine::Action NodeDefine::OnGlobalWritten(Result<std::optional<int64_t>> revision) {
  if (!revision) {
    return Finish(false, revision.error().code(),
                  "the registry refused the definition: " + revision.error().message() +
                      " (nothing was changed)");
  }
  if (!*revision) {  // someone changed the definitions since they were read
    if (++write_attempts_ >= kMaxWriteAttempts) {
      return Finish(false, Errc::kUnavailable,
                    "the cluster's definitions kept changing (another definition at the same "
                    "time?): nothing was changed, try again");
    }
    return Action{Kind::kReadNodes};
  }
  revision_ = **revision;
  Action a = About(Kind::kCommitTarget);
  a.erase_previous = target_.kept_number.has_value();
  return a;
}

NodeDefine::Action NodeDefine::OnTargetCommitted(Status committed) {
  // A failure may still have committed (a reply lost): the node is asked to erase it too.
  committed_ = true;
  if (!committed) {
    return RollBack("the node did not commit its local definition: " + committed.error().message());
  }
  return About(Kind::kConfirmGlobal);
}

NodeDefine::Action NodeDefine::OnGlobalConfirmed(Result<bool> confirmed) {
  if (!confirmed) {
    return RollBack("the registry did not confirm the definition: " + confirmed.error().message());
  }
  if (!*confirmed) return RollBack("the pending definition changed before it was confirmed");
  return Finish(true, Errc::kOk,
                "node " + std::to_string(number_) + " (" + name_ + ", uid " + target_.uid +
                    ") defined to cluster " + request_.cluster_name);
}

NodeDefine::Action NodeDefine::RollBack(std::string why) {
  failure_ = std::move(why);
  return About(Kind::kRemoveGlobal);
}

NodeDefine::Action NodeDefine::OnGlobalRemoved(Result<bool> removed) {
  // Not removed (the registry is away): the pending definition is swept after its deadline.
  if (!removed || !*removed) {
    failure_ +=
        removed ? "; its pending definition changed meanwhile"
                : "; its pending definition expires by itself (" + removed.error().message() + ")";
  }
  if (committed_) return Action{Kind::kAbortTarget};
  return Finish(false, Errc::kUnavailable, failure_ + "; rolled back");
}

NodeDefine::Action NodeDefine::OnTargetAborted(Status aborted) {
  if (!aborted) {
    failure_ +=
        "; the node did not confirm erasing its local copy (it cleans it up when it "
        "joins: " +
        aborted.error().message() + ")";
  }
  return Finish(false, Errc::kUnavailable, failure_ + "; rolled back");
}

NodeDefine::Action NodeDefine::About(Kind kind) const {
  Action a{kind};
  a.number = number_;
  a.uid = target_.uid;
  a.name = name_;
  a.revision = revision_;
  return a;
}

NodeDefine::Action NodeDefine::Finish(bool ok, Errc code, std::string message) {
  finished_ = true;
  Action a{Kind::kFinish};
  a.ok = ok;
  a.code = code;
  a.number = number_;
  a.message = std::move(message);
  return a;
}

NodeId LowestFreeNumber(const std::vector<NodeId>& taken) {
  for (uint32_t n = 1; n <= 65535; ++n) {
    if (std::find(taken.begin(), taken.end(), static_cast<NodeId>(n)) == taken.end()) {
      return static_cast<NodeId>(n);
    }
  }
  return kNoNode;
}

std::vector<DefinedNode> SweepablePending(const std::vector<DefinedNode>& nodes, int64_t now_ms,
                                          const std::vector<NodeId>& up) {
  std::vector<DefinedNode> out;
  for (const DefinedNode& n : nodes) {
    if (n.pending_until_ms == 0 || n.pending_until_ms > now_ms) continue;
    if (std::find(up.begin(), up.end(), n.number) != up.end()) continue;
    out.push_back(n);
  }
  return out;
}

}  // namespace cohort::dcm
