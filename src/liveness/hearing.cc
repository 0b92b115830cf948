// LivenessCore's hearing: what this node tells its transport of each remote address (heard,
// or not: AddressHeard), and the silence of a network at this node, which says "not heard"
// for all of its addresses before any path is judged. The intuition is in core.h.
#include <algorithm>
#include <utility>

#include "liveness/core.h"

namespace cohort::liveness {

void LivenessCore::ReportHeard(const Endpoint& remote, Outputs& out) {
  const Adapter* a = Find(remote);
  if (a == nullptr) return;
  const PathState h = HeardFrom(remote);
  const bool silenced = h != PathState::kDown && Silent(a->network);
  bool heard = h == PathState::kUp && !silenced;
  if (!silenced && h == PathState::kUnknown) {
    // Not judged yet: the transport keeps its own view, unless a silence took it away.
    if (!silenced_.count(remote)) return;
    heard = true;
  }
  if (silenced) {
    silenced_.insert(remote);
  } else {
    silenced_.erase(remote);
  }
  auto [it, fresh] = heard_.try_emplace(remote, heard);
  if (!fresh && it->second == heard) return;
  it->second = heard;
  out.push_back(AddressHeard{*a, heard});
}

PathState LivenessCore::HeardFrom(const Endpoint& remote) const {
  size_t down = 0, paths = 0;
  auto it = std::lower_bound(incoming_.begin(), incoming_.end(), remote,
                             [](const auto& in, const Endpoint& e) { return in.first.first < e; });
  for (; it != incoming_.end() && it->first.first == remote; ++it) {
    ++paths;
    if (it->second.state == PathState::kUp) return PathState::kUp;
    down += it->second.state == PathState::kDown;
  }
  return paths > 0 && down == paths ? PathState::kDown : PathState::kUnknown;
}

void LivenessCore::ReportNetworkHeard(const std::string& network, Outputs& out) {
  auto range = networks_.find(network);
  if (range == networks_.end()) return;
  for (size_t i = range->second.first; i < range->second.second; ++i) {
    if (adapters_[i].node != options_.self) ReportHeard(adapters_[i].address, out);
  }
}

void LivenessCore::RebuildHearing(Instant now, Outputs& out) {
  std::map<std::string, Hearing> hearing;
  for (const Sender& s : senders_) {
    const std::string& network = Find(s.address)->network;
    auto kept = hearing_.find(network);
    hearing[network] = kept != hearing_.end() ? kept->second : Hearing{now, now, false};
  }
  hearing_ = std::move(hearing);
  // What a silence said of an address is said again: its network may be gone from here.
  std::erase_if(silenced_, [&](const Endpoint& e) { return !index_.count(e); });
  const std::set<Endpoint> silenced = silenced_;
  for (const Endpoint& remote : silenced) ReportHeard(remote, out);
}

void LivenessCore::HeardOn(Instant now, const std::string& network, Outputs& out) {
  auto it = hearing_.find(network);
  if (it == hearing_.end()) return;
  it->second.last = now;
  it->second.check = Instant();
  if (!it->second.silent) return;
  it->second.silent = false;
  ReportNetworkHeard(network, out);
}

void LivenessCore::CheckSilence(Instant now, Outputs& out) {
  for (auto& [network, h] : hearing_) {
    if (h.silent || now < h.last + Quiet() || now < h.check) continue;
    Instant next = Instant::Max();
    if (!OverdueOn(network, h.last, now, &next)) {
      // Looked at again when the next heartbeat due is late, and at least every half period
      // (an alert may pull a heartbeat in meanwhile).
      h.check = next == Instant::Max() ? next : std::min(next, now + options_.period / 2);
      continue;
    }
    h.silent = true;
    ++metrics_.silences;
    ExpectAllOn(network, now);
    ReportNetworkHeard(network, out);
  }
}

// Only a heartbeat due after the last one heard counts: a path overdue from before (a
// predecessor that just died, not judged yet) says nothing of what was heard since.
bool LivenessCore::OverdueOn(const std::string& network, Instant last, Instant now,
                             Instant* next) const {
  bool overdue = false;
  for (const auto& [key, in] : incoming_) {
    if (in.state != PathState::kUp || in.due <= last || Find(key.second)->network != network) {
      continue;
    }
    const Instant late = in.due + options_.period / 2;
    overdue = overdue || late <= now;
    *next = std::min(*next, late);
  }
  return overdue;
}

// Probing every path into the adapter at once is a burst as large as the network: done where
// alerts are (on a large network a quiet 1.5 periods is also common under loss, a lost
// predecessor's heartbeat and no rotation's then).
void LivenessCore::ExpectAllOn(const std::string& network, Instant now) {
  auto range = networks_.find(network);
  if (range == networks_.end() ||
      range->second.second - range->second.first > kMaxAlertFanout + 1) {
    return;
  }
  for (auto& [key, in] : incoming_) {
    if (in.state == PathState::kUp && in.due > now && Find(key.second)->network == network) {
      Expect(in, now);  // probed at once, judged miss_limit periods from now
    }
  }
}

bool LivenessCore::Silent(const std::string& network) const {
  auto it = hearing_.find(network);
  return it != hearing_.end() && it->second.silent;
}

Instant LivenessCore::SilenceDeadline() const {
  Instant next = Instant::Max();
  for (const auto& [network, h] : hearing_) {
    if (!h.silent && h.check != Instant::Max()) {
      next = std::min(next, std::max(h.last + Quiet(), h.check));
    }
  }
  return next;
}

}  // namespace cohort::liveness
