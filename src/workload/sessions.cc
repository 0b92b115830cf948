#include "workload/sessions.h"

#include <algorithm>

namespace cohort::workload {

const char* SessionStateName(SessionState state) {
  switch (state) {
    case SessionState::kReserved:
      return "reserved";
    case SessionState::kOpen:
      return "open";
    case SessionState::kUnplaced:
      return "unplaced";
  }
  return "unknown";
}

void StreamTable::Count(const NodeStreams& n, int sign) {
  if (!n.up) return;
  const auto add = [sign](auto& total, uint64_t v) { total = sign > 0 ? total + v : total - v; };
  add(totals_.load_kbps, n.load_kbps);
  add(totals_.capacity_kbps, n.capacity_kbps);
  add(totals_.nodes, 1);
  add(totals_.nodes_with_capacity, n.capacity_kbps > 0 ? 1 : 0);
}

bool StreamTable::Up(NodeId node) const {
  auto it = nodes_.find(node);
  return it != nodes_.end() && it->second.up;
}

void StreamTable::SetNode(NodeId node, bool up, uint64_t capacity_kbps) {
  NodeStreams& n = nodes_[node];
  Count(n, -1);
  n.up = up;
  n.capacity_kbps = capacity_kbps;
  Count(n, 1);
}

void StreamTable::RemoveNode(NodeId node) {
  auto it = nodes_.find(node);
  if (it == nodes_.end()) return;
  SetNode(node, false, 0);
  // Its sessions stay, unattached, for Reassign to place.
  for (SessionId id : std::set<SessionId>(it->second.ids)) Detach(sessions_.at(id));
  nodes_.erase(it);
}

void StreamTable::Attach(Session& s, NodeId node, std::string disk) {
  NodeStreams& n = nodes_[node];
  Count(n, -1);
  n.load_kbps += s.bitrate_kbps;
  n.ids.insert(s.id);
  Count(n, 1);
  s.node = node;
  s.disk = std::move(disk);
}

void StreamTable::Detach(Session& s) {
  if (s.node == kNoNode) return;
  NodeStreams& n = nodes_[s.node];
  Count(n, -1);
  n.load_kbps -= std::min(n.load_kbps, s.bitrate_kbps);
  n.ids.erase(s.id);
  Count(n, 1);
  s.node = kNoNode;
}

SessionId StreamTable::NewId() {
  for (;;) {
    const SessionId id = Mix64(options_.id_seed ^ Mix64(++counter_)) & kMaxSessionId;
    if (id != kNoSession && !sessions_.contains(id)) return id;
  }
}

Placement StreamTable::PlaceFor(const Catalog& catalog, const Session& s, NodeId avoid,
                                std::vector<Holder>* holders, std::string* disk) const {
  const auto servable = catalog.Servable(s.path);
  holders->clear();
  for (const auto& [node, unused] : servable) {
    auto it = nodes_.find(node);
    if (it == nodes_.end() || !it->second.up) continue;
    holders->push_back(Holder{node, it->second.load_kbps, it->second.capacity_kbps});
  }
  PlaceInput in;
  in.content = ContentHash(s.path);
  in.bitrate_kbps = s.bitrate_kbps;
  in.holders = *holders;
  const NodeId avoided[] = {avoid};
  if (avoid != kNoNode) in.avoid = avoided;
  in.cluster = totals_;
  in.balance = options_.balance;
  in.balance_floor = options_.balance_floor;
  const Placement p = Place(in);
  for (const auto& [node, copy_disk] : servable) {
    if (node == p.node) *disk = copy_disk;
  }
  return p;
}

OpenResult StreamTable::Open(int64_t now_ms, const Catalog& catalog, const OpenRequest& request) {
  OpenResult r;
  auto found = sessions_.find(request.session);
  Session* known =
      found != sessions_.end() && found->second.path == request.path ? &found->second : nullptr;
  // A client coming back to a session still placed well keeps it (after a move, this is
  // how it learns its new node).
  if (known != nullptr && known->node != kNoNode && known->node != request.avoid &&
      Up(known->node) &&
      catalog.StateOf(known->path, known->node, known->disk) == HoldingState::kAvailable) {
    known->offset = std::max(known->offset, request.offset);
    return OpenResult{PlaceOutcome::kPlaced, known->id, known->node, known->disk, known->rank, {}};
  }
  Session fresh;
  if (known == nullptr) {
    const bool free_id = request.session != kNoSession && found == sessions_.end();
    fresh.id = free_id ? request.session : NewId();
    fresh.path = request.path;
    fresh.bitrate_kbps = request.bitrate_kbps;
  }
  Session& s = known != nullptr ? *known : fresh;
  Detach(s);
  s.offset = std::max(s.offset, request.offset);
  s.since_ms = now_ms;
  const NodeId avoid = request.avoid;
  const Placement p = PlaceFor(catalog, s, avoid, &r.holders, &r.disk);
  r.outcome = p.outcome;
  if (p.outcome == PlaceOutcome::kPlaced || p.outcome == PlaceOutcome::kPlacedOverBound) {
    s.state = SessionState::kReserved;
    s.rank = p.rank;
    Attach(s, p.node, r.disk);
    r.session = s.id;
    r.node = p.node;
    r.rank = p.rank;
    if (known == nullptr) sessions_.emplace(s.id, std::move(fresh));
    return r;
  }
  if (p.outcome == PlaceOutcome::kNoCapacity) {
    ++refused_;
    for (const Holder& h : r.holders) {
      if (h.node != avoid) ++nodes_[h.node].refused;
    }
  }
  if (known != nullptr) {
    known->state = SessionState::kUnplaced;
    r.session = known->id;
  }
  return r;
}

void StreamTable::Close(SessionId id) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  Detach(it->second);
  sessions_.erase(it);
}

void StreamTable::OnReport(int64_t now_ms, NodeId node, std::span<const ReportedSession> reported) {
  nodes_[node].reported_ms = now_ms;
  std::set<SessionId> seen;
  for (const ReportedSession& r : reported) {
    if (r.id == kNoSession || !seen.insert(r.id).second) continue;
    Session& s = sessions_[r.id];
    if (s.id == kNoSession) {  // a session this table did not know: the node's word counts
      s.id = r.id;
      s.path = r.path;
      s.bitrate_kbps = r.bitrate_kbps;
    }
    if (s.node != node || s.disk != r.disk) {
      Detach(s);
      Attach(s, node, r.disk);
    }
    s.state = SessionState::kOpen;
    s.offset = r.offset;
    s.bytes_sent = r.bytes_sent;
    s.since_ms = now_ms;
  }
  // The node's open sessions it no longer reports have ended; reservations wait for Tick.
  std::vector<SessionId> ended;
  for (SessionId id : nodes_[node].ids) {
    if (!seen.contains(id) && sessions_.at(id).state == SessionState::kOpen) ended.push_back(id);
  }
  for (SessionId id : ended) Close(id);
}

std::vector<Moved> StreamTable::Reassign(int64_t now_ms, const Catalog& catalog) {
  std::vector<Moved> displaced;  // `to` filled in below
  for (auto& [id, s] : sessions_) {
    const bool placed_well = s.node != kNoNode && Up(s.node) &&
                             catalog.StateOf(s.path, s.node, s.disk) == HoldingState::kAvailable;
    if (placed_well) continue;
    if (s.state != SessionState::kUnplaced) {
      s.state = SessionState::kUnplaced;
      s.since_ms = now_ms;
    }
    displaced.push_back(Moved{id, s.node, kNoNode});
    Detach(s);
  }
  // Largest first, so the big ones find room before the small fill it.
  std::sort(displaced.begin(), displaced.end(), [&](const Moved& a, const Moved& b) {
    const uint64_t ra = sessions_.at(a.session).bitrate_kbps;
    const uint64_t rb = sessions_.at(b.session).bitrate_kbps;
    return ra != rb ? ra > rb : a.session < b.session;
  });
  std::vector<Moved> moved;
  std::vector<Holder> holders;
  for (Moved& m : displaced) {
    Session& s = sessions_.at(m.session);
    std::string disk;
    const Placement p = PlaceFor(catalog, s, m.from, &holders, &disk);
    if (p.outcome == PlaceOutcome::kPlaced || p.outcome == PlaceOutcome::kPlacedOverBound) {
      Attach(s, p.node, std::move(disk));
      s.state = SessionState::kReserved;
      s.rank = p.rank;
      s.since_ms = now_ms;
      ++s.moves;
      ++reassigned_;
      m.to = p.node;
    }
    // A retry that still fits nowhere is no news.
    if (m.from != kNoNode || m.to != kNoNode) moved.push_back(m);
  }
  return moved;
}

void StreamTable::Tick(int64_t now_ms) {
  std::vector<SessionId> expired;
  for (const auto& [id, s] : sessions_) {
    const int64_t limit = s.state == SessionState::kReserved   ? options_.reserve_ms
                          : s.state == SessionState::kUnplaced ? options_.unplaced_ms
                                                               : -1;
    if (limit >= 0 && now_ms - s.since_ms > limit) expired.push_back(id);
  }
  for (SessionId id : expired) Close(id);
}

const Session* StreamTable::Find(SessionId id) const {
  auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : &it->second;
}

}  // namespace cohort::workload
