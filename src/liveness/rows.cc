// LivenessCore's rows: what this node publishes of the paths into its adapters, the rows it
// holds from the others (read into the adapter table, kept across its changes) and the
// matrix and adapter states assembled from them. The intuition is in core.h.
#include <algorithm>
#include <array>
#include <utility>

#include "liveness/core.h"

namespace cohort::liveness {

void LivenessCore::ReReadRows(const WrittenRows& written, const std::vector<bool>& appeared) {
  std::erase_if(rows_, [&](const auto& r) { return !node_adapters_.count(r.first); });
  for (auto& [node, row] : rows_) {
    auto k = written.find(node);
    if (k == written.end()) continue;
    row = ReadRow(node, k->second.first);
    row.stale = k->second.second;
  }
  if (std::none_of(appeared.begin(), appeared.end(), [](bool b) { return b; })) return;
  // A row read before an adapter appeared says nothing of the paths from it (its sender may
  // not have known it either): they are unknown until the row is taken again (its next
  // refresh, or at the next heartbeat from its sender).
  for (auto& [node, row] : rows_) {
    row.stale = true;
    for (Into& into : row.into) {
      const size_t begin = network_first_[index_.at(into.to)];
      const size_t end = networks_.at(adapters_[begin].network).second;
      for (size_t i = begin; i < end; ++i) {
        if (appeared[i] && adapters_[i].node != node) {
          SetIn(into, i - begin, end - begin, PathState::kUnknown);
        }
      }
    }
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
  Row row = ReadRow(from_node, m);
  std::vector<size_t> touched;  // adapters a path from which changed
  for (const Into& into : row.into) {
    const Into* was = first ? nullptr : IntoOf(have->second, into.to);
    if (was != nullptr && was->usual == into.usual && was->states.empty() && into.states.empty()) {
      continue;  // the common case on a large network: nothing into this adapter changed
    }
    const size_t to = index_.at(into.to);
    const size_t begin = network_first_[to];
    for (size_t i = begin; i < adapters_.size() && network_first_[i] == begin; ++i) {
      if (adapters_[i].node == from_node) continue;
      const PathState now_state = StateIn(into, i - begin);
      // From no row at all, every path was unknown; a row without this adapter said up.
      const PathState before = first            ? PathState::kUnknown
                               : was == nullptr ? PathState::kUp
                                                : StateIn(*was, i - begin);
      if (now_state == before) continue;
      const PathKey key{adapters_[i].address, into.to};
      Count(i, before, now_state);
      touched.push_back(i);
      // A first row's ups are not news (they were unknown here); its downs are changes.
      if (!first) {
        EmitPath(now, key, now_state,
                 before != PathState::kUnknown && now_state != PathState::kUnknown, out);
      } else if (now_state == PathState::kDown) {
        EmitPath(now, key, PathState::kDown, true, out);
      }
    }
  }
  rows_[from_node] = std::move(row);
  std::sort(touched.begin(), touched.end());
  touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
  for (size_t i : touched) Reassess(i, out);
}

LivenessCore::Row LivenessCore::ReadRow(NodeId node, const RowMsg& m) const {
  Row row{m.incarnation, m.version, {}, false};
  for (const Endpoint& a : node_adapters_.at(node)) row.into.push_back({a, PathState::kUp, {}});
  for (const RowDefault& d : m.defaults) {
    if (Into* into = IntoOf(row, d.adapter)) into->usual = d.state;
  }
  for (const RowEntry& e : m.entries) {
    auto from = index_.find(e.from);
    Into* into = IntoOf(row, e.to);
    // Only paths into the sender's own adapters, from another node on the same network.
    if (from == index_.end() || into == nullptr) continue;
    const size_t to = index_.at(e.to);
    if (adapters_[from->second].node == node || network_first_[from->second] != network_first_[to])
      continue;
    const auto [begin, end] = networks_.at(adapters_[to].network);
    SetIn(*into, Position(from->second), end - begin, e.state);
  }
  return row;
}

RowMsg LivenessCore::WriteRow(const Row& row) const {
  RowMsg m{row.incarnation, row.version, {}, {}};
  for (const Into& into : row.into) {
    if (into.usual != PathState::kUp) m.defaults.push_back({into.to, into.usual});
    const size_t begin = network_first_[index_.at(into.to)];
    for (size_t p = 0; p < into.states.size(); ++p) {
      if (into.states[p] != into.usual)
        m.entries.push_back({adapters_[begin + p].address, into.to, into.states[p]});
    }
  }
  return m;
}

const LivenessCore::Into* LivenessCore::IntoOf(const Row& row, const Endpoint& to) {
  for (const Into& into : row.into) {
    if (into.to == to) return &into;
  }
  return nullptr;
}

LivenessCore::Into* LivenessCore::IntoOf(Row& row, const Endpoint& to) {
  return const_cast<Into*>(IntoOf(std::as_const(row), to));
}

void LivenessCore::SetIn(Into& into, size_t position, size_t network_size, PathState state) {
  if (into.states.empty()) {
    if (state == into.usual) return;
    into.states.assign(network_size, into.usual);
  }
  into.states[position] = state;
}

PathState LivenessCore::StateIn(const Into& into, size_t position) {
  return position < into.states.size() ? into.states[position] : into.usual;
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

PathState LivenessCore::RowState(const Adapter& from, const Adapter& to) const {
  if (from.node == to.node) return PathState::kNone;
  if (to.node == options_.self) {
    auto it = FindIncoming({from.address, to.address});
    return it == incoming_.end() ? PathState::kUnknown : it->second.state;
  }
  auto row = rows_.find(to.node);
  if (row == rows_.end()) return PathState::kUnknown;
  return InRow(IntoOf(row->second, to.address), Position(index_.at(from.address)));
}

PathState LivenessCore::InRow(const Into* into, size_t position) {
  // An adapter the row does not speak of: it had none then (kept rows are re-read).
  return into == nullptr ? PathState::kUp : StateIn(*into, position);
}

AdapterState LivenessCore::OutgoingState(const Adapter& a) const {
  const auto& n = out_counts_[static_cast<size_t>(&a - adapters_.data())];
  if (n[static_cast<size_t>(PathState::kUp)] > 0) return AdapterState::kUp;
  const uint32_t judged = n[0] + n[1] + n[2];
  return judged > 0 && n[static_cast<size_t>(PathState::kDown)] == judged ? AdapterState::kDown
                                                                          : AdapterState::kUnknown;
}

// A walk of every network's matrix, so each path's state is read by position, not looked up.
void LivenessCore::Recount() {
  out_counts_.assign(adapters_.size(), {});
  for (const auto& [name, range] : networks_) {
    std::vector<std::array<uint32_t, kPathStateMax + 1>> counts(range.second - range.first);
    for (size_t j = range.first; j < range.second; ++j) {  // the paths into adapters_[j]
      const Adapter& to = adapters_[j];
      auto row = rows_.find(to.node);
      const Into* into = row == rows_.end() ? nullptr : IntoOf(row->second, to.address);
      for (size_t i = range.first; i < range.second; ++i) {
        const Adapter& from = adapters_[i];
        if (from.node == to.node) continue;
        PathState s = PathState::kUnknown;
        if (to.node == options_.self) {
          s = RowState(from, to);
        } else if (row != rows_.end()) {
          s = InRow(into, i - range.first);
        }
        ++counts[i - range.first][static_cast<size_t>(s)];
      }
    }
    for (size_t i = range.first; i < range.second; ++i) out_counts_[i] = counts[i - range.first];
  }
}

void LivenessCore::Count(size_t from, PathState before, PathState after) {
  if (before == after) return;
  auto& n = out_counts_[from];
  if (n[static_cast<size_t>(before)] > 0) --n[static_cast<size_t>(before)];
  ++n[static_cast<size_t>(after)];
}

void LivenessCore::Reassess(size_t i, Outputs& out) {
  const AdapterState s = OutgoingState(adapters_[i]);
  std::optional<AdapterState>& reported = adapter_states_[i];
  if (reported == s) return;
  // The first judgement is news only when it is one: unknown was the state all along.
  if (reported || s != AdapterState::kUnknown) out.push_back(AdapterChanged{adapters_[i], s});
  reported = s;
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
