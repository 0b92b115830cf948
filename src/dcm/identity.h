// A node's identity in a cluster (SPEC C4, C8), free of I/O: the checks of a unique id (UID)
// read from the OS, and the decision taken at every join from the three copies of it — the
// original (from the OS now), the local (this node's last definition, dcm/configuration)
// and the global (the node definition in the registry) — plus the claim every UID holds in
// the registry, which tells a cloned image from the machine it was cloned from.
#pragma once

#include <optional>
#include <string>

#include "base/ids.h"
#include "base/result.h"

namespace cohort::dcm {

// A UID's text: the file's first line, 1 to 128 letters, digits, '-', '_' or '.'.
Result<std::string> ParseUid(const std::string& file_text, const std::string& file);

// What the registry and local storage say about this node's identity.
struct IdentityFacts {
  std::string original;               // from the OS now
  std::string local;                  // "" when this node keeps no definition in the cluster
  std::optional<std::string> global;  // the node definition's uid; nothing: not defined
  NodeId self = kNoNode;
  // The node number whose claim holds `original` in the registry; nothing: unclaimed.
  std::optional<NodeId> claimed_by;
  // False for a node defined at run time (C7): it never defines itself; with no definition
  // it leaves and waits to be defined again.
  bool may_define = true;
};

enum class IdentityAction {
  kJoin,               // scenario 1: original = local = global
  kDefine,             // no definition, local or global: write both
  kAdopt,              // no local copy, the global one is this machine's: keep it locally
  kCleanUpLocal,       // scenarios 2 and 4: deleted while away; the local definition goes
  kCorrectUid,         // scenario 3: the hardware was replaced; local and global follow it
  kRefuseClone,        // another node number holds this UID: a cloned image
  kRefuseNumberTaken,  // the node number is defined to another machine
  kRefuseUndefined,    // not defined, and may not define itself: waits to be defined again
};

const char* IdentityActionName(IdentityAction a);

// The action for these facts. After kCleanUpLocal the facts are read again with no local
// copy, which then leads to kDefine (the configuration still names the cluster) or to a
// refusal.
IdentityAction DecideIdentity(const IdentityFacts& f);

}  // namespace cohort::dcm
