// A resource as the operator defines it (SPEC RM1, M13): what runs it (its class and agent),
// with which parameters, and where it may run. Definitions live in the registry as JSON
// (records.h); this is the checked, typed form every decision works on.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/ids.h"
#include "base/result.h"
#include "base/time.h"

namespace cohort::resources {

// Who runs a resource's actions on its node.
enum class ResourceClass {
  kOcf,      // an OCF resource agent, run unchanged: /usr/lib/ocf/resource.d/<provider>/<type>
  kProcess,  // a command kept running: started, watched, stopped with SIGTERM then SIGKILL
};
const char* ClassName(ResourceClass c);
std::optional<ResourceClass> ParseClass(const std::string& s);

// Whether the operator wants the resource running.
enum class TargetRole { kStarted, kStopped };

// Per-action limits, as Pacemaker's op timeouts.
struct Timeouts {
  Duration start = Duration::Seconds(20);
  Duration stop = Duration::Seconds(20);
  Duration monitor = Duration::Seconds(20);
};

struct ResourceSpec {
  std::string name;
  ResourceClass cls = ResourceClass::kOcf;
  // kOcf: "<provider>:<type>", e.g. "heartbeat:Dummy". kProcess: the command, run by /bin/sh.
  std::string agent;
  std::map<std::string, std::string> params;  // kOcf: passed as OCF_RESKEY_<name>
  TargetRole target = TargetRole::kStarted;

  // Placement (M13).
  std::vector<NodeId> allowed;       // empty: every node
  std::map<NodeId, int32_t> prefer;  // score added on that node (negative: avoid)
  std::vector<std::string> disks;    // disks (by name) the node must have healthy
  // Content (paths under the content root) the node must hold, as its inventory says.
  std::vector<std::string> content;
  // Streaming capacity it uses (Mbit/s): placed only where the node's capacity, less what
  // the resources placed there already use, covers it. 0: none.
  uint32_t needs_mbps = 0;
  std::vector<std::string> with;   // must run on the same node as these resources
  std::vector<std::string> after;  // starts only once these run (anywhere)
  NodeId moved_to = kNoNode;       // `cohort resource move`: until `clear`
  uint32_t cleared = 0;            // counts `cohort resource clear`s: each unblocks it
  Duration monitor_interval = Duration::Seconds(10);
  Timeouts timeouts;
  uint32_t migration_threshold = 3;  // failures on a node before it moves away (0: never)
  // kOcf whose agent offers promote and demote: promoted once started, demoted before it
  // stops; its monitor must find it promoted (OCF_RUNNING_MASTER). Promote runs within the
  // start timeout, demote within the stop timeout.
  bool promotable = false;
};

// Limits every definition is checked against.
inline constexpr size_t kMaxResources = 1000;
inline constexpr size_t kMaxParams = 64;
inline constexpr size_t kMaxListed = 64;  // allowed nodes, preferences, disks, with, after
inline constexpr int32_t kMaxScore = 1'000'000;

// A name for a resource or a parameter: [A-Za-z0-9][A-Za-z0-9_.-]{0,62}.
bool ValidName(const std::string& name);
// A path under the content root: relative, '/'-separated, no empty, "." or ".." part, no
// control characters, at most 1024 bytes.
bool ValidContentPath(const std::string& path);
inline constexpr uint32_t kMaxMbps = 100'000'000;
// Everything a definition must satisfy, stated as one line about the first thing wrong.
Status Validate(const ResourceSpec& spec);

}  // namespace cohort::resources
