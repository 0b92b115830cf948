// AddressTable: the cluster destination address table (T1) as replicated by the exchange
// (T5). Every node holds one; when the exchange has converged they are byte-identical, which
// version() and digest() let an operator check at a glance.
//
// version() is the sum of every entry's revision, so it only grows as entries change;
// digest() is a 64-bit FNV-1a over the per-entry digests (of each entry's canonical
// encoding) in id order. Both are computed lazily: a merge burst costs one recomputation.
// Single owner (the TransportCore); not thread-safe.
#pragma once

#include <map>
#include <vector>

#include "transport/types.h"

namespace cohort::transport {

class AddressTable {
 public:
  // Adds or replaces the entry if it is newer than the one held. Returns true if it changed.
  bool Merge(const NodeEntry& entry);

  const NodeEntry* Find(NodeId id) const;
  const std::map<NodeId, NodeEntry>& entries() const { return entries_; }
  size_t size() const { return entries_.size(); }

  std::vector<EntryVersion> Summary() const;
  // Entries held here that are missing from `summary` or newer than it says.
  std::vector<NodeEntry> NewerThan(const std::vector<EntryVersion>& summary) const;
  // True if `summary` names an entry newer than, or absent from, this table.
  bool Lacks(const std::vector<EntryVersion>& summary) const;
  // The node owning `address`, or kNoNode.
  NodeId OwnerOf(const Endpoint& address) const;

  uint64_t version() const;
  uint64_t digest() const;

 private:
  void Recompute() const;
  std::map<NodeId, NodeEntry> entries_;
  std::map<NodeId, uint64_t> entry_digests_;
  mutable bool dirty_ = false;
  mutable uint64_t version_ = 0;
  mutable uint64_t digest_ = 0;
};

}  // namespace cohort::transport
