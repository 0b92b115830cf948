// The content catalog (W1): which node holds which content, at which version, and whether
// that copy can be served now. Sans-I/O: the runtime feeds it each node's listing (a full
// listing at start or after a gap, then numbered changes) and the state of nodes and disks
// from the cluster map; placement reads it.
//
// Versions. A copy is named by its path, the disk it lives on ("" for the node's content
// root) and its version (size, modification time, SHA-256). The newest copy the catalog
// knows of a path, by modification time and then digest, holds its current content; a copy
// with other bytes is stale and never served, so a viewer resuming on another node gets the
// same bytes.
//
// States are worked out when asked, not stored, so a node going down or a disk failing is
// one assignment whatever the node holds.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/ids.h"
#include "wire/sha256.h"

namespace cohort::workload {

struct Version {
  uint64_t bytes = 0;
  int64_t mtime_ns = 0;
  wire::Sha256Digest sha256{};
  bool operator==(const Version&) const = default;
};
// True if `a` is older than `b` (by modification time, then digest as a tie-break).
bool OlderThan(const Version& a, const Version& b);
// The same bytes (size and digest), whenever each copy was written: copies installed on
// several nodes have as many modification times.
bool SameContent(const Version& a, const Version& b);

// One copy as its node reports it.
struct Item {
  std::string path;  // relative to the content root or the disk's mount, as distribution names it
  std::string disk;  // "" for the node's content root
  Version version;
  bool operator==(const Item&) const = default;
};

enum class HoldingState : uint8_t {
  kAvailable,   // current version, node up, disk and path working
  kStale,       // an older version than the path's current one
  kNodeDown,    // the node is not up in the cluster map
  kDiskFailed,  // the disk it lives on was declared failed
  kPathFailed,  // the node's access path to that (shared) disk failed
};
const char* HoldingStateName(HoldingState state);

struct Holding {
  NodeId node = kNoNode;
  std::string disk;
  Version version;
  HoldingState state = HoldingState::kAvailable;
};

enum class DiskHealth : uint8_t { kWorking, kFailed, kPathFailed };

// What a node's numbered change did to the catalog.
enum class FeedResult : uint8_t {
  kApplied,
  kIgnored,   // an older epoch, or a number already applied
  kNeedFull,  // a gap or an unknown epoch: ask the node for its full listing
};

struct Change {
  enum class Kind : uint8_t { kPut, kRemove };
  Kind kind = Kind::kPut;
  Item item;  // for a removal only path and disk count
  bool operator==(const Change&) const = default;
};

class Catalog {
 public:
  // The node's whole listing, replacing what it held before; `epoch` names the listing's
  // source (the node's feed incarnation), `seq` the last change it includes.
  void ReplaceNode(NodeId node, uint64_t epoch, uint64_t seq, const std::vector<Item>& items);
  // One numbered change after the listing (seq = previous + 1).
  FeedResult Apply(NodeId node, uint64_t epoch, uint64_t seq, const Change& change);
  // The node left the cluster: forget what it holds.
  void RemoveNode(NodeId node);

  void SetNodeUp(NodeId node, bool up);
  void SetDisk(NodeId node, std::string_view disk, DiskHealth health);

  // Every copy of `path` with its state, current version first; empty if unknown.
  std::vector<Holding> Lookup(std::string_view path) const;
  // The path's current version, if any copy of it is known.
  std::optional<Version> Current(std::string_view path) const;
  // The nodes holding an available copy of `path`, with the disk of that copy.
  std::vector<std::pair<NodeId, std::string>> Servable(std::string_view path) const;
  HoldingState StateOf(std::string_view path, NodeId node, std::string_view disk) const;

  // Paths in order, starting after `after`, with `prefix`, held by `node` (kNoNode: any);
  // at most `limit`. Sets `*more` if further paths match.
  std::vector<std::string> Page(std::string_view prefix, std::string_view after, NodeId node,
                                size_t limit, bool* more) const;

  // An order-free sum over the node's copies: a node's summary carries its own, and a
  // difference means the catalog missed a change (ask for the full listing).
  uint64_t DigestOf(NodeId node) const;
  static uint64_t ItemDigest(const Item& item);
  std::optional<uint64_t> EpochOf(NodeId node) const;
  std::optional<uint64_t> SeqOf(NodeId node) const;  // the last change applied
  size_t paths() const { return paths_.size(); }
  size_t copies() const { return copies_; }
  size_t CopiesOf(NodeId node) const;

 private:
  struct Copy {
    NodeId node = kNoNode;
    std::string disk;
    Version version;
  };
  struct NodeFeed {
    uint64_t epoch = 0;
    uint64_t seq = 0;
    uint64_t digest = 0;
    bool up = true;
    std::map<std::string, DiskHealth, std::less<>> disks;  // only those not working
    std::set<std::string, std::less<>> paths;              // paths it holds a copy of
  };

  void Put(NodeId node, const Item& item);
  void Remove(NodeId node, std::string_view path, std::string_view disk);
  const Version* CurrentOf(const std::vector<Copy>& copies) const;
  HoldingState StateOfCopy(const Copy& copy, const Version& current) const;

  std::map<std::string, std::vector<Copy>, std::less<>> paths_;
  std::unordered_map<NodeId, NodeFeed> nodes_;
  size_t copies_ = 0;
};

}  // namespace cohort::workload
