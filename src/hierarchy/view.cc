#include "hierarchy/view.h"

#include <algorithm>
#include <utility>

namespace cohort::hierarchy {

ViewCore::ViewCore(ViewOptions options) : options_(std::move(options)) {}

void ViewCore::SetMap(Instant now, const membership::ClusterMap& map, membership::Outputs& out) {
  supervisor_ = map.supervisor;
  std::map<NodeId, Target> targets;
  if (supervisor_ == options_.self) {
    for (const auto& [id, m] : map.members) {
      const bool reachable =
          m.state == membership::MemberState::kUp || m.state == membership::MemberState::kJoining;
      if (id == options_.self || !reachable) continue;
      // A member restarted (a new incarnation) holds nothing yet.
      auto it = targets_.find(id);
      const bool same = it != targets_.end() && it->second.incarnation == m.incarnation;
      targets[id] = Target{m.incarnation, same ? it->second.acked : 0};
    }
  }
  targets_ = std::move(targets);
  Flush(now, out);
}

void ViewCore::SetDown(Instant now, std::vector<LevelView> levels, membership::Outputs& out) {
  if (down_ && *down_ == levels) return;
  down_ = std::move(levels);
  ++seq_;
  Flush(now, out);
}

bool ViewCore::Pending() const {
  return down_ && std::any_of(targets_.begin(), targets_.end(),
                              [&](const auto& t) { return t.second.acked < seq_; });
}

// Sends the current view to every target that has not acknowledged it, at most once per
// min_interval (a burst of changes goes out as its last), and again every resend.
void ViewCore::Flush(Instant now, membership::Outputs& out) {
  next_send_ = Instant::Max();
  if (!down_) return;
  if (!Pending()) return;
  const Instant allowed = last_sent_ + options_.min_interval;
  if (now < allowed) {
    next_send_ = allowed;
    return;
  }
  last_sent_ = now;
  next_send_ = now + options_.resend;
  const wire::Bytes bytes = EncodeView(ViewMsg{options_.incarnation, seq_, *down_});
  for (const auto& [to, target] : targets_) {
    if (target.acked >= seq_) continue;
    out.emplace_back(std::in_place_type<membership::SendTo>, membership::SendTo{to, bytes});
    ++metrics_.sent;
  }
}

void ViewCore::OnMessage(Instant now, NodeId from, wire::ByteView bytes, membership::Outputs& out) {
  auto decoded = DecodeView(bytes);
  if (!decoded || from == options_.self) {
    ++metrics_.ignored;
    return;
  }
  if (const auto* ack = std::get_if<ViewAckMsg>(&*decoded)) {
    auto it = targets_.find(from);
    if (it == targets_.end() || ack->incarnation != options_.incarnation || ack->seq > seq_) {
      ++metrics_.ignored;
      return;
    }
    it->second.acked = std::max(it->second.acked, ack->seq);
    if (!Pending()) next_send_ = Instant::Max();  // nothing left to resend
    return;
  }
  auto& m = std::get<ViewMsg>(*decoded);
  if (from != supervisor_) {
    ++metrics_.ignored;
    return;
  }
  // Every copy is acknowledged, a late one too, so the sender stops resending.
  const auto ack = EncodeView(ViewAckMsg{m.incarnation, m.seq});
  out.emplace_back(std::in_place_type<membership::SendTo>, membership::SendTo{from, ack});
  if (received_ && received_->from == from &&
      std::pair(m.incarnation, m.seq) <= std::pair(received_->incarnation, received_->seq)) {
    ++metrics_.stale;
    return;
  }
  received_ = Received{from, m.incarnation, m.seq, std::move(m.levels), now};
  ++metrics_.accepted;
}

void ViewCore::Tick(Instant now, membership::Outputs& out) {
  if (next_send_ <= now) Flush(now, out);
}

Instant ViewCore::NextDeadline() const { return next_send_; }

LevelView ViewOf(const membership::ClusterMap& map, const std::map<NodeId, Aggregate>& aggregates,
                 const std::optional<Aggregate>& level) {
  LevelView v;
  v.supervisor = map.supervisor;
  v.version = map.version;
  for (const auto& [id, m] : map.members) {
    auto a = aggregates.find(id);
    v.members.push_back({id, m.state, m.incarnation,
                         a == aggregates.end() ? std::nullopt : std::optional(Counted(a->second))});
  }
  if (level) v.aggregate = Counted(*level);
  return v;
}

}  // namespace cohort::hierarchy
