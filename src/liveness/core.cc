#include "liveness/core.h"

#include <algorithm>
#include <array>
#include <tuple>

namespace cohort::liveness {
namespace {

// A heartbeat may not push its path's deadline further than this (a hostile next_ms).
constexpr uint32_t kMaxNextMs = 3600 * 1000;

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

std::vector<const Adapter*> LivenessCore::Others(const Endpoint& address) const {
  std::vector<const Adapter*> others;
  const Adapter* self = Find(address);
  if (self == nullptr) return others;
  const auto [first, last] = networks_.at(self->network);
  const size_t at = index_.at(address);
  for (size_t k = 1; k < last - first; ++k) {
    const Adapter& a = adapters_[first + (at - first + k) % (last - first)];
    if (a.node != self->node) others.push_back(&a);
  }
  return others;
}

Duration LivenessCore::ExpectedGap(const Endpoint& from, const Endpoint& to) const {
  const auto others = Others(from);
  if (others.empty()) return Duration::Max();
  if (others.front()->address == to) return options_.period;
  return options_.period * static_cast<int64_t>(std::max<size_t>(1, others.size() - 1));
}

// miss_limit periods of grace after the next heartbeat is due — and at least one more
// heartbeat's gap, so that one lost heartbeat of a rotation does not mark its path down.
Instant LivenessCore::Deadline(Instant now, Duration gap) const {
  if (gap == Duration::Max()) return Instant::Max();
  return now + gap + std::max(options_.period * options_.miss_limit, gap);
}

void LivenessCore::SetAdapters(Instant now, std::vector<Adapter> adapters, Outputs& out) {
  std::sort(adapters.begin(), adapters.end(), RingLess);
  const bool grew = std::any_of(adapters.begin(), adapters.end(),
                                [&](const Adapter& a) { return !index_.count(a.address); });
  adapters_.clear();
  index_.clear();
  networks_.clear();
  for (Adapter& a : adapters) {
    if (a.node == kNoNode || index_.count(a.address)) continue;  // an address has one owner
    index_[a.address] = adapters_.size();
    auto [it, fresh] = networks_.try_emplace(a.network, adapters_.size(), adapters_.size());
    it->second.second = adapters_.size() + 1;
    adapters_.push_back(std::move(a));
  }
  size_t largest = 0;
  for (const auto& [name, range] : networks_)
    largest = std::max(largest, range.second - range.first);
  large_ = largest > kMaxAlertFanout + 1;
  refresh_ = large_ ? std::max(options_.refresh, options_.period * static_cast<int64_t>(largest))
                    : options_.refresh;
  news_gap_ = large_ ? options_.period * static_cast<int64_t>(largest) / kRowBroadcastsPerPeriod
                     : options_.period / 4;
  std::vector<Sender> senders;
  for (const Adapter& a : adapters_) {
    if (a.node != options_.self) continue;
    auto kept = std::find_if(senders_.begin(), senders_.end(),
                             [&](const Sender& s) { return s.address == a.address; });
    senders.push_back(kept != senders_.end() ? *kept : Sender{a.address, now, 0, {}, {}});
    senders.back().others = Others(a.address);
  }
  senders_ = std::move(senders);
  // The paths into this node's adapters: kept, new ones expected within their gap.
  std::map<PathKey, Incoming> incoming;
  for (const Sender& s : senders_) {
    for (const Adapter* from : Others(s.address)) {
      const PathKey key{from->address, s.address};
      auto kept = incoming_.find(key);
      // The ring may have changed: a kept path may now be a rotation's, due later.
      const Instant due = Deadline(now, ExpectedGap(key.first, key.second));
      Incoming in = kept != incoming_.end() ? kept->second : Incoming{PathState::kUnknown, due};
      if (in.state != PathState::kDown) in.deadline = std::max(in.deadline, due);
      incoming[key] = in;
    }
  }
  if (incoming.size() != incoming_.size() ||
      !std::equal(incoming.begin(), incoming.end(), incoming_.begin(),
                  [](const auto& a, const auto& b) { return a.first == b.first; })) {
    dirty_ = true;
  }
  incoming_ = std::move(incoming);
  for (const auto& [key, in] : incoming_) {
    if (in.state != PathState::kDown) next_expiry_ = std::min(next_expiry_, in.deadline);
  }
  // Rows were read with the adapters known then: entries about adapters that were unknown
  // were dropped. Take each node's row again (its next refresh, or at a neighbour's ask).
  if (grew) {
    for (auto& [node, row] : rows_) row.stale = true;
  }
  node_adapters_.clear();
  for (const Adapter& a : adapters_) node_adapters_[a.node].push_back(a.address);
  std::erase_if(rows_, [&](const auto& r) { return !node_adapters_.count(r.first); });
  Recount();
  std::erase_if(adapter_states_, [&](const auto& s) { return !index_.count(s.first); });
  std::erase_if(heard_, [&](const auto& h) { return !index_.count(h.first); });
  for (const Adapter& a : adapters_) Reassess(a.address, out);
  if (next_refresh_ == Instant::Max()) next_refresh_ = now + refresh_;
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
  for (const auto& [i, next] : targets) {
    const Bytes bytes =
        Encode(HeartbeatMsg{s.address, others[i]->address, static_cast<uint32_t>(next.millis()),
                            options_.incarnation, version_});
    ++metrics_.heartbeats_sent;
    metrics_.heartbeat_bytes_sent += bytes.size();
    out.push_back(SendVia{s.address, others[i]->address, bytes});
  }
}

Instant LivenessCore::AlertedUntil(const Sender& s, const Endpoint& to) const {
  auto watched = watched_until_.find(to);
  return std::max(s.burst_until, watched == watched_until_.end() ? Instant() : watched->second);
}

void LivenessCore::Alert(Instant now, const Endpoint& address) {
  const Adapter* x = Find(address);
  if (x == nullptr) return;
  const auto [first, last] = networks_.at(x->network);
  if (last - first - 1 > kMaxAlertFanout && Others(address).size() > kMaxAlertFanout) return;
  // Long enough for the other end to learn of the change too (a row, rate-limited to
  // period/4) and for miss_limit heartbeats to be missed on the way.
  const Instant until = now + options_.period * static_cast<int64_t>(2 * (options_.miss_limit + 2));
  // The other end starts within about a period of this node: its first heartbeat is due
  // within two, then the usual grace.
  const Instant expect = Deadline(now, options_.period * 2);
  auto expect_from = [&](const PathKey& key) {
    auto it = incoming_.find(key);
    if (it == incoming_.end() || it->second.state == PathState::kDown) return;
    it->second.deadline = std::min(it->second.deadline, expect);
    next_expiry_ = std::min(next_expiry_, it->second.deadline);
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
  auto it = incoming_.find({remote, local});
  if (it == incoming_.end()) return;  // not (yet) a path of this node's networks
  ++metrics_.heartbeats_received;
  it->second.deadline = Deadline(now, Duration::Millis(std::min(m.next_ms, kMaxNextMs)));
  next_expiry_ = std::min(next_expiry_, it->second.deadline);
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

void LivenessCore::OnRow(Instant now, NodeId from_node, RowMsg m, Outputs& out) {
  if (from_node == options_.self) return;
  auto have = rows_.find(from_node);
  const bool first = have == rows_.end();
  if (!first && !have->second.stale &&
      std::pair(m.incarnation, m.version) <=
          std::pair(have->second.incarnation, have->second.version)) {
    return;
  }
  if (!node_adapters_.count(from_node)) {
    return;  // a node this one does not know yet: its row comes again
  }
  ++metrics_.rows_received;
  Row row{m.incarnation, m.version, {}};
  for (const RowEntry& e : m.entries) {
    const Adapter* from = Find(e.from);
    const Adapter* to = Find(e.to);
    // Only paths into the sender's own adapters, from another node on the same network.
    if (from == nullptr || to == nullptr || to->node != from_node || from->node == from_node ||
        from->network != to->network) {
      continue;
    }
    row.entries[{e.from, e.to}] = e.state;
  }
  for (const RowDefault& d : m.defaults) {
    const Adapter* a = Find(d.adapter);
    if (a != nullptr && a->node == from_node) row.defaults[d.adapter] = d.state;
  }
  std::set<Endpoint> touched;
  if (first) {  // from unknown: what it shows down is a change; the rest is up, not news
    for (const Endpoint& to : node_adapters_.at(from_node)) {
      for (const Adapter* from : Others(to)) {
        const PathState s = Listed(row, {from->address, to});
        if (s == PathState::kUnknown) continue;
        Count({from->address, to}, PathState::kUnknown, s);
        touched.insert(from->address);
      }
    }
    std::set<PathKey> keys = DefaultedPaths(row);
    for (const auto& [k, s] : row.entries) keys.insert(k);
    for (const PathKey& k : keys) {
      if (Listed(row, k) == PathState::kDown) EmitPath(now, k, PathState::kDown, true, out);
    }
  } else {
    // The paths listed in either, and every path into an adapter whose default changed.
    std::set<PathKey> keys;
    for (const auto& [k, s] : have->second.entries) keys.insert(k);
    for (const auto& [k, s] : row.entries) keys.insert(k);
    for (const Endpoint& to : node_adapters_.at(from_node)) {
      if (DefaultOf(have->second, to) == DefaultOf(row, to)) continue;
      for (const Adapter* from : Others(to)) keys.insert({from->address, to});
    }
    for (const PathKey& k : keys) {
      const PathState now_state = Listed(row, k);
      const PathState before = Listed(have->second, k);
      if (now_state == before) continue;
      Count(k, before, now_state);
      EmitPath(now, k, now_state, before != PathState::kUnknown && now_state != PathState::kUnknown,
               out);
      touched.insert(k.first);
    }
  }
  rows_[from_node] = std::move(row);
  for (const Endpoint& a : touched) Reassess(a, out);
}

void LivenessCore::SetIncoming(Instant now, const PathKey& key, PathState state, Outputs& out) {
  Incoming& in = incoming_.at(key);
  if (in.state == state) return;
  const bool judged = in.state != PathState::kUnknown && state != PathState::kUnknown;
  news_ = news_ || in.state == PathState::kDown || state == PathState::kDown;
  Count(key, in.state, state);
  in.state = state;
  dirty_ = true;
  EmitPath(now, key, state, judged, out);
  Reassess(key.first, out);
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
      } else {
        next_expiry_ = std::min(next_expiry_, in.deadline);
      }
    }
  }
  if (PublishDue(now)) Publish(now, out);
}

Instant LivenessCore::NextDeadline() const {
  Instant next = std::min(next_refresh_, next_expiry_);
  if (dirty_) next = std::min(next, next_publish_);
  if (news_) next = std::min(next, next_broadcast_);
  for (const Sender& s : senders_) next = std::min(next, s.next_send);
  return next;
}

bool LivenessCore::PublishDue(Instant now) const {
  return (dirty_ && now >= next_publish_) || (news_ && now >= next_broadcast_) ||
         now >= next_refresh_;
}

// A change makes a new version at once (period/4 after the last): the next heartbeats name
// it, and those they reach ask for it. It is broadcast too when it is news (on a small
// network every change is), no sooner than news_gap_ after the last broadcast.
void LivenessCore::Publish(Instant now, Outputs& out) {
  if (dirty_) {
    ++version_;
    news_ = news_ || !large_;
  }
  dirty_ = false;
  next_publish_ = now + options_.period / 4;
  if (!(news_ && now >= next_broadcast_) && now < next_refresh_) return;
  news_ = false;
  next_broadcast_ = now + news_gap_;
  next_refresh_ = now + refresh_;
  if (adapters_.empty()) return;
  Broadcast row{Encode(OwnRow())};
  ++metrics_.rows_sent;
  metrics_.row_bytes_sent += row.bytes.size();
  out.emplace_back(std::move(row));
}

RowMsg LivenessCore::OwnRow() const {
  RowMsg row{options_.incarnation, version_, {}, {}};
  // Per local adapter, how many paths into it are in each state; the most common is its
  // default (up on a tie), and only the others are listed.
  std::map<Endpoint, std::array<size_t, kPathStateMax + 1>> counts;
  for (const auto& [key, in] : incoming_) ++counts[key.second][static_cast<size_t>(in.state)];
  std::map<Endpoint, PathState> defaults;
  for (const auto& [to, n] : counts) {
    PathState d = PathState::kUp;
    for (PathState s : {PathState::kDown, PathState::kUnknown}) {
      if (n[static_cast<size_t>(s)] > n[static_cast<size_t>(d)]) d = s;
    }
    defaults[to] = d;
    if (d != PathState::kUp) row.defaults.push_back({to, d});
  }
  for (const auto& [key, in] : incoming_) {
    if (in.state == defaults[key.second]) continue;
    if (row.entries.size() == kMaxRowEntries) break;
    row.entries.push_back({key.first, key.second, in.state});
  }
  return row;
}

PathState LivenessCore::Listed(const Row& row, const PathKey& key) {
  auto it = row.entries.find(key);
  return it != row.entries.end() ? it->second : DefaultOf(row, key.second);
}

PathState LivenessCore::DefaultOf(const Row& row, const Endpoint& to) {
  auto d = row.defaults.find(to);
  return d == row.defaults.end() ? PathState::kUp : d->second;
}

std::set<LivenessCore::PathKey> LivenessCore::DefaultedPaths(const Row& row) const {
  std::set<PathKey> paths;
  for (const auto& [to, state] : row.defaults) {
    for (const Adapter* from : Others(to)) paths.insert({from->address, to});
  }
  return paths;
}

PathState LivenessCore::RowState(const Adapter& from, const Adapter& to) const {
  if (from.node == to.node) return PathState::kNone;
  if (to.node == options_.self) {
    auto it = incoming_.find({from.address, to.address});
    return it == incoming_.end() ? PathState::kUnknown : it->second.state;
  }
  auto row = rows_.find(to.node);
  if (row == rows_.end()) return PathState::kUnknown;
  return Listed(row->second, {from.address, to.address});
}

AdapterState LivenessCore::OutgoingState(const Adapter& a) const {
  auto it = out_counts_.find(a.address);
  if (it == out_counts_.end()) return AdapterState::kUnknown;
  const auto& n = it->second;
  if (n[static_cast<size_t>(PathState::kUp)] > 0) return AdapterState::kUp;
  const uint32_t judged = n[0] + n[1] + n[2];
  return judged > 0 && n[static_cast<size_t>(PathState::kDown)] == judged ? AdapterState::kDown
                                                                          : AdapterState::kUnknown;
}

void LivenessCore::Recount() {
  out_counts_.clear();
  for (const auto& [name, range] : networks_) {
    for (size_t i = range.first; i < range.second; ++i) {
      auto& n = out_counts_[adapters_[i].address];
      for (size_t j = range.first; j < range.second; ++j) {
        if (adapters_[i].node == adapters_[j].node) continue;
        ++n[static_cast<size_t>(RowState(adapters_[i], adapters_[j]))];
      }
    }
  }
}

void LivenessCore::Count(const PathKey& key, PathState before, PathState after) {
  auto it = out_counts_.find(key.first);
  if (it == out_counts_.end() || before == after) return;
  auto& n = it->second;
  if (n[static_cast<size_t>(before)] > 0) --n[static_cast<size_t>(before)];
  ++n[static_cast<size_t>(after)];
}

void LivenessCore::Reassess(const Endpoint& address, Outputs& out) {
  const Adapter* a = Find(address);
  if (a == nullptr) return;
  const AdapterState s = OutgoingState(*a);
  auto [it, fresh] = adapter_states_.try_emplace(address, s);
  if (!fresh && it->second == s) return;
  it->second = s;
  if (!fresh || s != AdapterState::kUnknown) out.push_back(AdapterChanged{*a, s});
}

void LivenessCore::ReportHeard(const Endpoint& remote, Outputs& out) {
  const PathState h = HeardFrom(remote);
  const Adapter* a = Find(remote);
  if (h == PathState::kUnknown || a == nullptr) return;
  const bool heard = h == PathState::kUp;
  auto [it, fresh] = heard_.try_emplace(remote, heard);
  if (!fresh && it->second == heard) return;
  it->second = heard;
  out.push_back(AddressHeard{*a, heard});
}

PathState LivenessCore::HeardFrom(const Endpoint& remote) const {
  size_t down = 0, paths = 0;
  for (auto it = incoming_.lower_bound({remote, Endpoint{}});
       it != incoming_.end() && it->first.first == remote; ++it) {
    ++paths;
    if (it->second.state == PathState::kUp) return PathState::kUp;
    down += it->second.state == PathState::kDown;
  }
  return paths > 0 && down == paths ? PathState::kDown : PathState::kUnknown;
}

AdapterState LivenessCore::AdapterStateOf(const Endpoint& address) const {
  const Adapter* a = Find(address);
  return a == nullptr ? AdapterState::kUnknown : OutgoingState(*a);
}

PathState LivenessCore::PathStateOf(const Endpoint& from, const Endpoint& to) const {
  const Adapter* f = Find(from);
  const Adapter* t = Find(to);
  if (f == nullptr || t == nullptr || f->network != t->network) return PathState::kUnknown;
  if (f->node == t->node) return PathState::kNone;
  if (t->node != options_.self) {
    // A node none of whose adapters is heard is silent: its row is stale, its paths down.
    const auto& own = node_adapters_.at(t->node);
    const bool silent = std::all_of(own.begin(), own.end(), [&](const Endpoint& a) {
      return OutgoingState(*Find(a)) == AdapterState::kDown;
    });
    if (silent) return PathState::kDown;
  }
  return RowState(*f, *t);
}

std::vector<NetworkView> LivenessCore::View() const {
  std::map<Endpoint, AdapterState> states;
  std::map<NodeId, bool> silent;
  for (const Adapter& a : adapters_) {
    const AdapterState s = states[a.address] = OutgoingState(a);
    auto [it, fresh] = silent.try_emplace(a.node, true);
    it->second = it->second && s == AdapterState::kDown && a.node != options_.self;
  }
  std::vector<NetworkView> views;
  for (const auto& [name, range] : networks_) {
    NetworkView v;
    v.name = name;
    v.adapters.assign(adapters_.begin() + static_cast<std::ptrdiff_t>(range.first),
                      adapters_.begin() + static_cast<std::ptrdiff_t>(range.second));
    for (const Adapter& a : v.adapters) v.states.push_back(states[a.address]);
    for (const Adapter& from : v.adapters) {
      auto& row = v.paths.emplace_back();
      for (const Adapter& to : v.adapters) {
        row.push_back(from.node != to.node && silent[to.node] ? PathState::kDown
                                                              : RowState(from, to));
      }
    }
    views.push_back(std::move(v));
  }
  return views;
}

std::optional<std::pair<Incarnation, uint32_t>> LivenessCore::RowVersion(NodeId node) const {
  auto it = rows_.find(node);
  if (it == rows_.end()) return std::nullopt;
  return std::pair(it->second.incarnation, it->second.version);
}

}  // namespace cohort::liveness
