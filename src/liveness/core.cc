#include "liveness/core.h"

#include <algorithm>
#include <array>
#include <tuple>
#include <utility>

namespace cohort::liveness {
namespace {

// A heartbeat may not push its path's deadline further than this (a hostile next_ms).
constexpr uint32_t kMaxNextMs = 3600 * 1000;

// The entry for `key` in a table of (key, value) sorted by key, or its end.
template <typename Table, typename Key>
auto FindIn(Table& table, const Key& key) {
  auto it = std::lower_bound(table.begin(), table.end(), key,
                             [](const auto& entry, const Key& k) { return entry.first < k; });
  return it != table.end() && it->first == key ? it : table.end();
}

bool RingLess(const Adapter& a, const Adapter& b) {
  return std::tie(a.network, a.node, a.address) < std::tie(b.network, b.node, b.address);
}

}  // namespace

const char* PathStateName(PathState s) {
  switch (s) {
    case PathState::kUnknown:
      return "unknown";
    case PathState::kUp:
      return "up";
    case PathState::kDown:
      return "down";
    case PathState::kNone:
      return "none";
  }
  return "?";
}

const char* AdapterStateName(AdapterState s) {
  switch (s) {
    case AdapterState::kUnknown:
      return "unknown";
    case AdapterState::kUp:
      return "up";
    case AdapterState::kDown:
      return "down";
  }
  return "?";
}

LivenessCore::LivenessCore(LivenessOptions options) : options_(std::move(options)) {}

const Adapter* LivenessCore::Find(const Endpoint& address) const {
  auto it = index_.find(address);
  return it == index_.end() ? nullptr : &adapters_[it->second];
}

template <typename Visit>
void LivenessCore::ForEachOther(const Endpoint& address, Visit visit) const {
  const Adapter* self = Find(address);
  if (self == nullptr) return;
  const auto [first, last] = networks_.at(self->network);
  const size_t at = index_.at(address);
  for (size_t k = 1; k < last - first; ++k) {
    const Adapter& a = adapters_[first + (at - first + k) % (last - first)];
    if (a.node != self->node && !visit(a)) return;
  }
}

std::vector<const Adapter*> LivenessCore::Others(const Endpoint& address) const {
  std::vector<const Adapter*> others;
  ForEachOther(address, [&](const Adapter& a) {
    others.push_back(&a);
    return true;
  });
  return others;
}

// Others(from) without building it: the ring successor and the count decide the gap.
Duration LivenessCore::ExpectedGap(const Endpoint& from, const Endpoint& to) const {
  const Adapter* self = Find(from);
  if (self == nullptr || OthersCount(*self) == 0) return Duration::Max();
  bool successor = false;
  ForEachOther(from, [&](const Adapter& a) {
    successor = a.address == to;
    return false;
  });
  if (successor) return options_.period;
  return options_.period * static_cast<int64_t>(std::max<size_t>(1, OthersCount(*self) - 1));
}

void LivenessCore::Expect(Incoming& in, Instant due) {
  in.due = due;
  // miss_limit periods of grace after the heartbeat is due, each with a probe: a lost
  // heartbeat is made up in a round trip, even on a rotation's path.
  in.deadline = due == Instant::Max() ? due : due + options_.period * options_.miss_limit;
  next_expiry_ = std::min(next_expiry_, NextAction(in));
}

Instant LivenessCore::NextAction(const Incoming& in) const {
  if (in.state == PathState::kDown || in.due == Instant::Max()) return Instant::Max();
  // The first probe half a period after the heartbeat was due (a late send, the latency);
  // then one a period.
  const Instant probe =
      in.probed < in.due ? in.due + options_.period / 2 : in.probed + options_.period;
  return std::min(in.deadline, probe);
}

Instant LivenessCore::Due(Instant now, Duration gap) {
  return gap == Duration::Max() ? Instant::Max() : now + gap;
}

LivenessCore::IncomingTable::iterator LivenessCore::FindIncoming(const PathKey& key) {
  return FindIn(incoming_, key);
}

LivenessCore::IncomingTable::const_iterator LivenessCore::FindIncoming(const PathKey& key) const {
  return FindIn(incoming_, key);
}

void LivenessCore::SetAdapters(Instant now, std::vector<Adapter> adapters, Outputs& out) {
  std::sort(adapters.begin(), adapters.end(), RingLess);
  // What outlives the change is kept by address, since positions move: rows (written out in
  // the old positions, read back in the new), reported adapter states, each path's gap.
  WrittenRows written;
  if (adapters != adapters_) {
    for (const auto& [node, row] : rows_) written[node] = {WriteRow(row), row.stale};
  }
  std::map<Endpoint, AdapterState> reported;
  for (size_t i = 0; i < adapter_states_.size(); ++i) {
    if (adapter_states_[i]) reported[adapters_[i].address] = *adapter_states_[i];
  }
  std::vector<Duration> gaps;  // parallel to incoming_
  for (const auto& [key, in] : incoming_) gaps.push_back(ExpectedGap(key.first, key.second));
  const auto known = std::move(index_);
  BuildTable(std::move(adapters));
  std::vector<bool> appeared(adapters_.size());
  for (size_t i = 0; i < adapters_.size(); ++i) appeared[i] = !known.count(adapters_[i].address);
  RebuildSenders(now);
  RebuildIncoming(now, gaps);
  ReReadRows(written, appeared);
  std::erase_if(requested_, [&](const auto& r) { return !node_adapters_.count(r.first); });
  Recount();
  adapter_states_.assign(adapters_.size(), std::nullopt);
  for (size_t i = 0; i < adapters_.size(); ++i) {
    auto r = reported.find(adapters_[i].address);
    if (r != reported.end()) adapter_states_[i] = r->second;
  }
  std::erase_if(heard_, [&](const auto& h) { return !index_.count(h.first); });
  RebuildHearing(now, out);
  for (size_t i = 0; i < adapters_.size(); ++i) Reassess(i, out);
  if (next_refresh_ == Instant::Max()) next_refresh_ = now + refresh_;
}

void LivenessCore::BuildTable(std::vector<Adapter> sorted) {
  adapters_.clear();
  index_.clear();
  networks_.clear();
  network_first_.clear();
  for (Adapter& a : sorted) {
    if (a.node == kNoNode || index_.count(a.address)) continue;  // an address has one owner
    index_[a.address] = adapters_.size();
    auto [it, fresh] = networks_.try_emplace(a.network, adapters_.size(), adapters_.size());
    it->second.second = adapters_.size() + 1;
    network_first_.push_back(it->second.first);
    adapters_.push_back(std::move(a));
  }
  node_adapters_.clear();
  for (const Adapter& a : adapters_) node_adapters_[a.node].push_back(a.address);
  // adapters_ is sorted by (network, node): a node's adapters on a network are one run.
  others_count_.assign(adapters_.size(), 0);
  for (size_t run = 0; run < adapters_.size();) {
    size_t end = run;
    while (end < adapters_.size() && adapters_[end].node == adapters_[run].node &&
           network_first_[end] == network_first_[run]) {
      ++end;
    }
    const auto [first, last] = networks_.at(adapters_[run].network);
    for (size_t i = run; i < end; ++i) others_count_[i] = (last - first) - (end - run);
    run = end;
  }
  size_t largest = 0;
  for (const auto& [name, range] : networks_)
    largest = std::max(largest, range.second - range.first);
  large_ = largest > kMaxAlertFanout + 1;
  refresh_ = large_ ? std::max(options_.refresh, options_.period * static_cast<int64_t>(largest))
                    : options_.refresh;
  news_gap_ = large_ ? options_.period * static_cast<int64_t>(largest) / kRowBroadcastsPerPeriod
                     : options_.period / 4;
}

void LivenessCore::RebuildSenders(Instant now) {
  std::vector<Sender> senders;
  for (const Adapter& a : adapters_) {
    if (a.node != options_.self) continue;
    auto kept = std::find_if(senders_.begin(), senders_.end(),
                             [&](const Sender& s) { return s.address == a.address; });
    senders.push_back(kept != senders_.end() ? *kept : Sender{a.address, now, 0, {}, {}});
    senders.back().others = Others(a.address);
  }
  senders_ = std::move(senders);
}

void LivenessCore::RebuildIncoming(Instant now, const std::vector<Duration>& gaps) {
  // The paths into this node's adapters: kept, new ones expected within their gap.
  std::map<PathKey, Incoming> incoming;
  for (const Sender& s : senders_) {
    for (const Adapter* from : s.others) {
      const PathKey key{from->address, s.address};
      const Duration gap = ExpectedGap(key.first, key.second);
      auto kept = FindIncoming(key);
      Incoming in = kept != incoming_.end() ? kept->second : Incoming{};
      // The ring changed so that this path's heartbeats come less often (a successor's
      // path became a rotation's, or the rotation grew): the next may come a new gap later.
      const bool slower =
          kept != incoming_.end() && gap > gaps[static_cast<size_t>(kept - incoming_.begin())];
      if (kept == incoming_.end() ||
          (slower && in.state != PathState::kDown && Due(now, gap) > in.due)) {
        Expect(in, Due(now, gap));
      }
      incoming[key] = in;
    }
  }
  if (incoming.size() != incoming_.size() ||
      !std::equal(incoming.begin(), incoming.end(), incoming_.begin(),
                  [](const auto& a, const auto& b) { return a.first == b.first; })) {
    dirty_ = true;
  }
  incoming_.assign(incoming.begin(), incoming.end());
  unknown_incoming_ =
      static_cast<size_t>(std::count_if(incoming_.begin(), incoming_.end(), [](const auto& in) {
        return in.second.state == PathState::kUnknown;
      }));
  for (const auto& [key, in] : incoming_) next_expiry_ = std::min(next_expiry_, NextAction(in));
}

void LivenessCore::SendHeartbeats(Instant now, Sender& s, Outputs& out) {
  s.next_send = s.next_send + options_.period;
  if (s.next_send <= now) s.next_send = now + options_.period;  // after a stall: one round
  const auto& others = s.others;
  if (others.empty()) return;
  // This period's targets (indexes into `others`), each with when it hears from s next.
  std::map<size_t, Duration> targets{{0, options_.period}};
  const size_t rotation = others.size() - 1;
  if (rotation > 0) {
    s.cursor %= rotation;
    targets[1 + s.cursor] = options_.period * static_cast<int64_t>(rotation);
    s.cursor = (s.cursor + 1) % rotation;
  }
  for (size_t i = 1; i < others.size() && others.size() <= kMaxAlertFanout; ++i) {
    const Instant until = AlertedUntil(s, others[i]->address);
    if (until <= now) continue;
    // The last heartbeat of an alert promises only what the rotation keeps.
    const Duration gap = until > now + options_.period ? options_.period
                                                       : ExpectedGap(s.address, others[i]->address);
    auto [it, fresh] = targets.try_emplace(i, gap);
    if (!fresh) it->second = std::min(it->second, gap);
  }
  for (const auto& [i, next] : targets) EmitHeartbeat(s.address, others[i]->address, next, out);
}

void LivenessCore::EmitHeartbeat(const Endpoint& from, const Endpoint& to, Duration next,
                                 Outputs& out) {
  const Bytes bytes = Encode(
      HeartbeatMsg{from, to, static_cast<uint32_t>(next.millis()), options_.incarnation, version_});
  ++metrics_.heartbeats_sent;
  metrics_.heartbeat_bytes_sent += bytes.size();
  out.push_back(SendVia{from, to, bytes});
}

Instant LivenessCore::AlertedUntil(const Sender& s, const Endpoint& to) const {
  auto watched = watched_until_.find(to);
  return std::max(s.burst_until, watched == watched_until_.end() ? Instant() : watched->second);
}

void LivenessCore::Alert(Instant now, const Endpoint& address) {
  const Adapter* x = Find(address);
  if (x == nullptr) return;
  if (OthersCount(*x) > kMaxAlertFanout) return;
  // Long enough for the other end to learn of the change too (a row, rate-limited to
  // period/4) and for miss_limit heartbeats to be missed on the way.
  const Instant until = now + options_.period * static_cast<int64_t>(2 * (options_.miss_limit + 2));
  // The other end starts within about a period of this node: its first heartbeat is due
  // within two, then the usual grace.
  const Instant expect = now + options_.period * 2;
  auto expect_from = [&](const PathKey& key) {
    auto it = FindIncoming(key);
    if (it == incoming_.end() || it->second.state == PathState::kDown) return;
    if (expect < it->second.due) Expect(it->second, expect);
  };
  for (Sender& s : senders_) {
    const Adapter* own = Find(s.address);
    if (own == nullptr || own->network != x->network) continue;
    if (s.address == address) {
      s.burst_until = std::max(s.burst_until, until);
      for (const Adapter* from : Others(address)) expect_from({from->address, address});
    } else if (x->node != options_.self) {
      expect_from({address, s.address});
    }
  }
  if (x->node != options_.self) {
    Instant& w = watched_until_[address];
    w = std::max(w, until);
  }
}

void LivenessCore::OnMessage(Instant now, NodeId from_node, const Endpoint& local,
                             const Endpoint& remote, ByteView bytes, Outputs& out) {
  auto msg = Decode(bytes);
  if (!msg) {
    ++metrics_.rejected;
    return;
  }
  if (auto* h = std::get_if<HeartbeatMsg>(&*msg)) {
    OnHeartbeat(now, from_node, local, remote, *h, out);
  } else if (auto* r = std::get_if<RowMsg>(&*msg)) {
    metrics_.row_bytes_received += bytes.size();
    OnRow(now, from_node, std::move(*r), out);
  } else if (auto* p = std::get_if<ProbeMsg>(&*msg)) {
    OnProbe(from_node, *p, out);
  } else {  // a row request
    const Bytes row = Encode(OwnRow());
    ++metrics_.rows_sent;
    metrics_.row_bytes_sent += row.size();
    out.push_back(SendTo{from_node, row});
  }
  if (PublishDue(now)) Publish(now, out);
}

void LivenessCore::OnHeartbeat(Instant now, NodeId from_node, const Endpoint& local,
                               const Endpoint& remote, const HeartbeatMsg& m, Outputs& out) {
  const Adapter* from = Find(remote);
  // A heartbeat is evidence only for the path it took.
  if (m.from != remote || m.to != local || from == nullptr || from->node != from_node) {
    ++metrics_.rejected;
    return;
  }
  auto it = FindIncoming({remote, local});
  if (it == incoming_.end()) return;  // not (yet) a path of this node's networks
  ++metrics_.heartbeats_received;
  HeardOn(now, from->network, out);
  Expect(it->second, now + Duration::Millis(std::min(m.next_ms, kMaxNextMs)));
  if (it->second.state != PathState::kUp) SetIncoming(now, it->first, PathState::kUp, out);
  auto row = rows_.find(from_node);
  const bool stale = row == rows_.end() || row->second.stale ||
                     std::pair(row->second.incarnation, row->second.version) <
                         std::pair(m.row_incarnation, m.row_version);
  auto asked = requested_.find(from_node);
  // On a large network a node's row is asked for no more often than it may broadcast news.
  const Duration ask_gap = large_ ? news_gap_ : options_.period;
  if (stale && (asked == requested_.end() || now - asked->second >= ask_gap)) {
    requested_[from_node] = now;
    out.push_back(SendTo{from_node, Encode(RowRequestMsg{})});
  }
}

// Answered with a heartbeat on the path named, promising the rotation's gap (the regular
// heartbeats on it come at least that often). Only for a path from this node's adapter to one
// of the asker's on the same network: a probe is evidence of nothing, and costs one datagram.
void LivenessCore::OnProbe(NodeId from_node, const ProbeMsg& m, Outputs& out) {
  const Adapter* from = Find(m.from);
  const Adapter* to = Find(m.to);
  if (from == nullptr || to == nullptr || from->node != options_.self || to->node != from_node ||
      from->network != to->network) {
    ++metrics_.rejected;
    return;
  }
  EmitHeartbeat(m.from, m.to, ExpectedGap(m.from, m.to), out);
}

void LivenessCore::SetIncoming(Instant now, const PathKey& key, PathState state, Outputs& out) {
  Incoming& in = FindIncoming(key)->second;  // REQUIRES: a path of this node
  if (in.state == state) return;
  const bool judged = in.state != PathState::kUnknown && state != PathState::kUnknown;
  news_ = news_ || in.state == PathState::kDown || state == PathState::kDown;
  unknown_incoming_ += static_cast<size_t>(state == PathState::kUnknown);
  if (in.state == PathState::kUnknown && --unknown_incoming_ == 0) {
    news_ = true;  // the last path into this node first heard: the row is whole, say so
  }
  Count(index_.at(key.first), in.state, state);
  in.state = state;
  // A down path needs no timer (NextAction); back from down, it does again.
  next_expiry_ = std::min(next_expiry_, NextAction(in));
  dirty_ = true;
  EmitPath(now, key, state, judged, out);
  Reassess(index_.at(key.first), out);
  ReportHeard(key.first, out);
}

void LivenessCore::EmitPath(Instant now, const PathKey& key, PathState state, bool judged,
                            Outputs& out) {
  const Adapter* from = Find(key.first);
  const Adapter* to = Find(key.second);
  if (from == nullptr || to == nullptr) return;
  out.push_back(PathChanged{*from, *to, state});
  if (judged) {
    Alert(now, key.first);
    Alert(now, key.second);
  }
}

void LivenessCore::Tick(Instant now, Outputs& out) {
  std::erase_if(watched_until_, [&](const auto& w) { return w.second <= now; });
  for (Sender& s : senders_) {
    if (s.next_send <= now) SendHeartbeats(now, s, out);
  }
  if (next_expiry_ <= now) {
    next_expiry_ = Instant::Max();
    for (auto& [key, in] : incoming_) {
      if (in.state == PathState::kDown) continue;
      if (in.deadline <= now) {
        SetIncoming(now, key, PathState::kDown, out);
        continue;
      }
      if (NextAction(in) <= now) {  // overdue: ask the sender for a heartbeat on this path
        in.probed = now;
        SendProbe(key, out);
      }
      next_expiry_ = std::min(next_expiry_, NextAction(in));
    }
  }
  CheckSilence(now, out);
  if (PublishDue(now)) Publish(now, out);
}

void LivenessCore::SendProbe(const PathKey& key, Outputs& out) {
  ++metrics_.probes_sent;
  SendTo probe{Find(key.first)->node, Encode(ProbeMsg{key.first, key.second})};
  out.emplace_back(std::move(probe));
}

Instant LivenessCore::NextDeadline() const {
  Instant next = std::min(next_refresh_, next_expiry_);
  if (dirty_) next = std::min(next, next_publish_);
  if (news_) next = std::min(next, next_broadcast_);
  for (const Sender& s : senders_) next = std::min(next, s.next_send);
  return std::min(next, SilenceDeadline());
}

}  // namespace cohort::liveness
