#include "transport/table.h"

#include "base/digest.h"
#include "transport/messages.h"

namespace cohort::transport {

bool AddressTable::Merge(const NodeEntry& entry) {
  auto it = entries_.find(entry.id);
  if (it != entries_.end() && !entry.NewerThan(it->second.incarnation, it->second.revision)) {
    return false;
  }
  entries_[entry.id] = entry;
  entry_digests_[entry.id] = Digest64(Encode(TablePushMsg{{entry}}));
  dirty_ = true;
  return true;
}

const NodeEntry* AddressTable::Find(NodeId id) const {
  auto it = entries_.find(id);
  return it == entries_.end() ? nullptr : &it->second;
}

std::vector<EntryVersion> AddressTable::Summary() const {
  std::vector<EntryVersion> s;
  s.reserve(entries_.size());
  for (const auto& [id, e] : entries_) s.push_back({id, e.incarnation, e.revision});
  return s;
}

std::vector<NodeEntry> AddressTable::NewerThan(const std::vector<EntryVersion>& summary) const {
  std::map<NodeId, EntryVersion> theirs;
  for (const EntryVersion& v : summary) theirs[v.id] = v;
  std::vector<NodeEntry> out;
  for (const auto& [id, e] : entries_) {
    auto it = theirs.find(id);
    if (it == theirs.end() || e.NewerThan(it->second.incarnation, it->second.revision)) {
      out.push_back(e);
    }
  }
  return out;
}

bool AddressTable::Lacks(const std::vector<EntryVersion>& summary) const {
  for (const EntryVersion& v : summary) {
    const NodeEntry* mine = Find(v.id);
    if (mine == nullptr) return true;
    NodeEntry theirs{v.id, v.incarnation, v.revision, {}};
    if (theirs.NewerThan(mine->incarnation, mine->revision)) return true;
  }
  return false;
}

NodeId AddressTable::OwnerOf(const Endpoint& address) const {
  for (const auto& [id, e] : entries_) {
    for (const AddressInfo& a : e.addresses) {
      if (a.address == address) return id;
    }
  }
  return kNoNode;
}

uint64_t AddressTable::version() const {
  Recompute();
  return version_;
}

uint64_t AddressTable::digest() const {
  Recompute();
  return digest_;
}

void AddressTable::Recompute() const {
  if (!dirty_) return;
  dirty_ = false;
  version_ = 0;
  for (const auto& [id, e] : entries_) version_ += e.revision;
  std::vector<uint8_t> all;
  wire::Writer w(&all);
  for (const auto& [id, d] : entry_digests_) w.U64(d);
  digest_ = Digest64(all);
}

}  // namespace cohort::transport
