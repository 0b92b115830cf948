// C9 on this node: discovers its own resources of the built-in classes (resources/
// inventory.h) — itself, its adapters and disks from the running node, and the files under
// its content root by a bounded walk meant to run off the loop.
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "resources/inventory.h"

namespace cohort::node {

class Node;

// The node, its adapters and its disks (content empty). On the loop thread.
resources::Inventory DiscoverOwn(const Node& node, const std::string& name);

struct ContentScan {
  std::map<std::string, resources::ContentItem> items;
  bool truncated = false;  // more files than the inventory holds
  size_t skipped = 0;      // names that are not valid content paths (not UTF-8, …)
  std::string error;       // the root could not be read
};
// Regular files under `root` (symlinks not followed, the daemon's temporary files and its
// reserved folder left out); the first kMaxInventoryContent in path order; none if the
// root does not exist. Visits at most
// `max_entries` entries. Any thread; never throws.
// Gives up (`error` set) as soon as `cancel` is set.

// A file a walk found: its path relative to the root, size, modification time and inode.
struct FoundFile {
  std::string path;
  uint64_t bytes = 0;
  int64_t mtime_ns = 0;
  uint64_t inode = 0;
};
struct ContentWalk {
  bool truncated = false;  // stopped after `max_entries` entries
  size_t skipped = 0;      // names that are not valid content paths
  std::string error;       // the root could not be read, or the walk was cancelled
};
// The walk ScanContent makes, for any caller: `found` gets every regular file under `root`
// (symlinks not followed, the daemon's temporary files and reserved folder left out) whose
// path is a valid content path, in no particular order. No root: nothing found.
ContentWalk WalkContent(const std::string& root, const std::atomic<bool>& cancel,
                        size_t max_entries, const std::function<void(FoundFile)>& found);
ContentScan ScanContent(const std::string& root, const std::atomic<bool>& cancel,
                        size_t max_entries = 200'000);

}  // namespace cohort::node
