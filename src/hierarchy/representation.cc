#include "hierarchy/representation.h"

#include <algorithm>
#include <utility>

namespace cohort::hierarchy {

namespace {

void SendTo(NodeId to, const Message& m, Outputs& out) {
  // In place: moving a temporary variant trips GCC 12's -Wmaybe-uninitialized at -O2.
  out.emplace_back(std::in_place_type<membership::SendTo>,
                   membership::SendTo{to, EncodeMessage(m)});
}

}  // namespace

RepresentationCore::RepresentationCore(RepresentationOptions options)
    : options_(std::move(options)) {}

void RepresentationCore::SetOwn(Instant now, const Aggregate& aggregate, Outputs& out) {
  if (own_ && *own_ == aggregate) return;
  own_ = aggregate;
  ++seq_;
  KeepOwn(now);
  if (!Pending()) return;
  // At most one aggregate per min_interval: a burst of changes goes out as its last.
  next_send_ = std::min(next_send_, std::max(now, last_sent_ + options_.min_interval));
  if (next_send_ <= now) Send(now, false, out);
}

void RepresentationCore::SetKeepers(Instant now, Keeper supervisor, Keeper deputy, Outputs& out) {
  std::map<NodeId, Acked> keepers;
  for (const Keeper& k : {supervisor, deputy}) {
    if (k.id == kNoNode) continue;
    auto it = acked_.find(k.id);
    const bool same = it != acked_.end() && it->second.incarnation == k.incarnation;
    keepers[k.id] = Acked{k.incarnation, same ? it->second.seq : 0};
  }
  if (keepers == acked_) return;
  acked_ = std::move(keepers);
  // A node that stops being a keeper keeps its table (it stops acknowledging): its view may
  // flicker, and the members that sent it their aggregates would not send them again.
  KeepOwn(now);
  if (Pending()) {
    Send(now, false, out);
    return;
  }
  const bool others = std::any_of(acked_.begin(), acked_.end(),
                                  [&](const auto& k) { return k.first != options_.self; });
  if (!others) {
    next_send_ = Instant::Max();  // no other keeper to refresh
  } else if (next_send_ == Instant::Max()) {
    next_send_ = last_sent_ + options_.refresh;
  }
}

// A keeper holds its own aggregate in its table as if sent and acknowledged.
void RepresentationCore::KeepOwn(Instant now) {
  if (!own_ || !Keeps()) return;
  Accept(now, options_.self, AggregateMsg{options_.incarnation, seq_, *own_});
  acked_[options_.self].seq = seq_;
}

bool RepresentationCore::Pending() const {
  if (!own_) return false;
  for (const auto& [keeper, acked] : acked_) {
    if (acked.seq < seq_) return true;
  }
  return false;
}

void RepresentationCore::Send(Instant now, bool refresh, Outputs& out) {
  next_send_ = Instant::Max();
  if (!own_) return;
  bool sent = false;
  for (const auto& [keeper, acked] : acked_) {
    if (keeper == options_.self || (!refresh && acked.seq >= seq_)) continue;
    SendTo(keeper, AggregateMsg{options_.incarnation, seq_, *own_}, out);
    ++metrics_.sent;
    sent = true;
  }
  if (!sent) return;
  last_sent_ = now;
  next_send_ = now + (Pending() ? options_.resend : options_.refresh);
}

bool RepresentationCore::Accept(Instant now, NodeId from, const AggregateMsg& m) {
  auto it = received_.find(from);
  if (it != received_.end() &&
      std::pair{m.incarnation, m.seq} <= std::pair{it->second.incarnation, it->second.seq}) {
    metrics_.stale +=
        std::pair{m.incarnation, m.seq} < std::pair{it->second.incarnation, it->second.seq};
    return false;
  }
  const bool differs = it == received_.end() || !(it->second.aggregate == m.aggregate);
  received_[from] = Received{m.incarnation, m.seq, m.aggregate, now};
  ++metrics_.accepted;
  changed_ = changed_ || differs;
  return true;
}

void RepresentationCore::OnMessage(Instant now, NodeId from, wire::ByteView bytes, Outputs& out) {
  auto m = DecodeMessage(bytes);
  if (!m || from == options_.self) return;
  if (auto* a = std::get_if<AggregateMsg>(&*m)) {
    // Only keepers hold the table; an aggregate sent to a former one is dropped unanswered,
    // and its sender resends to the keepers its membership names.
    if (!Keeps()) return;
    Accept(now, from, *a);
    SendTo(from, AggregateAckMsg{a->incarnation, a->seq}, out);
    return;
  }
  const auto& ack = std::get<AggregateAckMsg>(*m);
  auto it = acked_.find(from);
  if (it == acked_.end() || ack.incarnation != options_.incarnation || ack.seq > seq_ ||
      ack.seq <= it->second.seq) {
    return;
  }
  it->second.seq = ack.seq;
  if (!Pending()) next_send_ = last_sent_ + options_.refresh;
}

void RepresentationCore::Tick(Instant now, Outputs& out) {
  if (next_send_ <= now) Send(now, !Pending(), out);
}

Instant RepresentationCore::NextDeadline() const { return next_send_; }

std::map<NodeId, Aggregate> RepresentationCore::Aggregates() const {
  std::map<NodeId, Aggregate> out;
  for (const auto& [id, r] : received_) out.emplace(id, r.aggregate);
  return out;
}

void RepresentationCore::Forget(const membership::ClusterMap& map) {
  const size_t before = received_.size();
  std::erase_if(received_, [&](const auto& kv) { return map.Find(kv.first) == nullptr; });
  changed_ = changed_ || received_.size() != before;
}

bool RepresentationCore::TakeChanged() { return std::exchange(changed_, false); }

std::pair<RepresentationCore::Keeper, RepresentationCore::Keeper> KeepersOf(
    const membership::MembershipCore& core) {
  const membership::ClusterMap& map = core.map();
  auto keeper = [&](NodeId id) {
    const membership::Member* m = map.Find(id);
    return RepresentationCore::Keeper{id, m == nullptr ? 0 : m->incarnation};
  };
  NodeId deputy = kNoNode;
  for (const auto& [id, m] : map.members) {
    if (m.state != membership::MemberState::kUp || id == core.supervisor()) continue;
    if (deputy == kNoNode || core.Outranks(id, deputy)) deputy = id;
  }
  return {keeper(core.supervisor()), keeper(deputy)};
}

}  // namespace cohort::hierarchy
