#include "sim/streams_sim.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "base/digest.h"

namespace cohort::sim {

using workload::HoldingState;
using workload::PlaceOutcome;

namespace {

constexpr const char* kDisk = "d1";

std::string TitlePath(uint64_t title) { return "titles/" + std::to_string(title) + ".mp4"; }

}  // namespace

StreamsSim::StreamsSim(const StreamsSimOptions& options)
    : options_(options),
      prng_(options.seed ^ 0x57eea5),
      table_(workload::StreamOptions{options.balance, 5000, 30000, options.seed,
                                     options.balance_floor}),
      up_(static_cast<size_t>(options.nodes) + 1, true) {
  for (int n = 1; n <= options_.nodes; ++n) {
    table_.SetNode(static_cast<NodeId>(n), true, options_.capacity_kbps);
  }
  Fill();
}

// Every title on `min_copies` nodes; a title expected to draw the load of x nodes on 2x of
// them (a fill by popularity, as a content delivery network does). Of `fill_choices` random
// sets of holders, the fill takes the one whose first choice for the title has the least
// expected load so far (the load of the titles ranking it first, and its part of the
// load the titles' first choices cannot take) (1: the first set, a fill blind to placement).
void StreamsSim::Fill() {
  const uint64_t titles =
      static_cast<uint64_t>(options_.titles_per_node) * static_cast<uint64_t>(options_.nodes);
  cdf_.resize(titles);
  double sum = 0;
  for (uint64_t k = 0; k < titles; ++k) {
    sum += std::pow(static_cast<double>(k + 1), -options_.zipf);
    cdf_[k] = sum;
  }
  for (double& c : cdf_) c /= sum;
  std::vector<std::vector<workload::Item>> listings(static_cast<size_t>(options_.nodes) + 1);
  std::vector<double> first_load(static_cast<size_t>(options_.nodes) + 1, 0.0);
  const auto nodes = static_cast<uint64_t>(options_.nodes);
  for (uint64_t k = 0; k < titles; ++k) {
    const double share = cdf_[k] - (k > 0 ? cdf_[k - 1] : 0.0);
    const auto wanted = static_cast<uint64_t>(std::ceil(2.0 * share * static_cast<double>(nodes)));
    const uint64_t copies =
        std::min(nodes, std::max(wanted, static_cast<uint64_t>(options_.min_copies)));
    const std::string path = TitlePath(k);
    std::vector<workload::Holder> best;
    NodeId best_first = kNoNode;
    for (int choice = 0; choice < std::max(options_.fill_choices, 1); ++choice) {
      std::vector<workload::Holder> set = RandomHolders(copies);
      const NodeId first = workload::RankHolders(workload::ContentHash(path), set)[0];
      if (best_first == kNoNode || first_load[first] < first_load[best_first]) {
        best = std::move(set);
        best_first = first;
      }
      if (copies == nodes) break;
    }
    // The first choice takes up to the bound; its other holders share the rest.
    const double first = std::min(share, (1.0 + options_.balance) / static_cast<double>(nodes));
    first_load[best_first] += first;
    for (const workload::Holder& h : best) {
      if (h.node != best_first) {
        first_load[h.node] += (share - first) / static_cast<double>(best.size() - 1);
      }
    }
    workload::Version v;
    v.bytes = 1'000'000 + k;
    v.mtime_ns = 1;
    v.sha256.fill(static_cast<uint8_t>(k));
    for (const workload::Holder& h : best) {
      const bool on_disk = prng_.Chance(options_.disk_share);
      listings[h.node].push_back(workload::Item{path, on_disk ? kDisk : "", v});
    }
  }
  for (uint64_t n = 1; n <= nodes; ++n) {
    catalog_.ReplaceNode(static_cast<NodeId>(n), 1, 0, listings[n]);
  }
}

std::vector<workload::Holder> StreamsSim::RandomHolders(uint64_t copies) {
  const auto nodes = static_cast<uint64_t>(options_.nodes);
  std::vector<bool> chosen(nodes + 1, false);
  std::vector<workload::Holder> set;
  for (uint64_t tries = 0; set.size() < copies && tries < 64 * nodes; ++tries) {
    const uint64_t n = copies == nodes ? set.size() + 1 : 1 + prng_.Below(nodes);
    if (chosen[n]) continue;
    chosen[n] = true;
    set.push_back(workload::Holder{static_cast<NodeId>(n)});
  }
  return set;
}

uint64_t StreamsSim::DrawTitle() {
  const double u = prng_.Unit();
  return static_cast<uint64_t>(std::lower_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin());
}

uint64_t StreamsSim::DrawBitrate() {
  static constexpr uint64_t kRates[] = {1500, 3000, 6000};
  return kRates[prng_.Below(3)];
}

void StreamsSim::Trace(uint64_t a, uint64_t b) {
  const uint64_t v[] = {trace_, a, b};
  trace_ = Digest64(std::span(reinterpret_cast<const uint8_t*>(v), sizeof v));
}

NodeId StreamsSim::RandomNode() {
  return static_cast<NodeId>(1 + prng_.Below(static_cast<uint64_t>(options_.nodes)));
}

void StreamsSim::Arrive(int count) {
  for (int i = 0; i < count; ++i) {
    ++now_ms_;
    const std::string path = TitlePath(std::min<uint64_t>(DrawTitle(), cdf_.size() - 1));
    const workload::OpenResult r =
        table_.Open(now_ms_, catalog_, workload::OpenRequest{path, DrawBitrate(), 0, 0, 0});
    Trace(r.session, r.node);
    switch (r.outcome) {
      case PlaceOutcome::kPlaced:
      case PlaceOutcome::kPlacedOverBound:
        ++tally_.opened;
        tally_.first_choice += r.rank == 0 ? 1 : 0;
        tally_.over_bound += r.outcome == PlaceOutcome::kPlacedOverBound ? 1 : 0;
        break;
      case PlaceOutcome::kNoCapacity:
        ++tally_.refused;
        break;
      case PlaceOutcome::kNoHolder:
      case PlaceOutcome::kNotReady:
        ++tally_.not_found;
        break;
    }
  }
}

void StreamsSim::Report() {
  std::map<NodeId, std::vector<workload::ReportedSession>> reports;
  for (const auto& [id, s] : table_.sessions()) {
    if (s.node != kNoNode) {
      reports[s.node].push_back({id, s.path, s.bitrate_kbps, s.offset, s.bytes_sent, s.disk});
    }
  }
  for (NodeId n = 1; n <= options_.nodes; ++n) {
    if (up_[n]) table_.OnReport(now_ms_, n, reports[n]);
  }
}

void StreamsSim::Leave(int count) {
  std::vector<workload::SessionId> ids;
  for (const auto& [id, s] : table_.sessions()) ids.push_back(id);
  for (int i = 0; i < count && !ids.empty(); ++i) {
    const size_t k = prng_.Below(ids.size());
    table_.Close(ids[k]);
    Trace(ids[k], 0);
    ids[k] = ids.back();
    ids.pop_back();
  }
}

void StreamsSim::Crash(NodeId node) {
  up_[node] = false;
  catalog_.SetNodeUp(node, false);
  table_.SetNode(node, false, options_.capacity_kbps);
}

void StreamsSim::Restart(NodeId node) {
  up_[node] = true;
  catalog_.SetNodeUp(node, true);
  table_.SetNode(node, true, options_.capacity_kbps);
}

void StreamsSim::FailDisk(NodeId node, bool failed) {
  catalog_.SetDisk(node, kDisk,
                   failed ? workload::DiskHealth::kFailed : workload::DiskHealth::kWorking);
}

size_t StreamsSim::Reassign() {
  ++now_ms_;
  size_t moved_off = 0;
  for (const workload::Moved& m : table_.Reassign(now_ms_, catalog_)) {
    moved_off += m.from != kNoNode ? 1 : 0;
    Trace(m.session, (uint64_t{m.from} << 16) | m.to);
  }
  return moved_off;
}

size_t StreamsSim::Unplaced() const {
  return static_cast<size_t>(std::count_if(
      table_.sessions().begin(), table_.sessions().end(),
      [](const auto& kv) { return kv.second.state == workload::SessionState::kUnplaced; }));
}

void StreamsSim::Check() {
  std::map<NodeId, uint64_t> load;
  for (const auto& [id, s] : table_.sessions()) {
    if (s.node == kNoNode) continue;
    load[s.node] += s.bitrate_kbps;
    const std::string where = "session " + std::to_string(id) + " (" + s.path + ") on node " +
                              std::to_string(s.node) + " at " + std::to_string(now_ms_) + " ms";
    if (!up_[s.node]) {
      violations_.push_back(where + ", which is down");
    } else if (catalog_.StateOf(s.path, s.node, s.disk) != HoldingState::kAvailable) {
      violations_.push_back(where + ", whose copy is " +
                            workload::HoldingStateName(catalog_.StateOf(s.path, s.node, s.disk)));
    }
  }
  uint64_t up_load = 0;
  for (const auto& [node, n] : table_.nodes()) {
    if (load[node] > options_.capacity_kbps) {
      violations_.push_back("node " + std::to_string(node) + " carries " +
                            std::to_string(load[node]) + " kbit/s, over its capacity");
    }
    if (n.load_kbps != load[node]) {
      violations_.push_back("node " + std::to_string(node) + ": the table counts " +
                            std::to_string(n.load_kbps) + " kbit/s, its sessions " +
                            std::to_string(load[node]));
    }
    up_load += n.up ? n.load_kbps : 0;
  }
  if (table_.totals().load_kbps != up_load) {
    violations_.push_back("the table's total load " + std::to_string(table_.totals().load_kbps) +
                          " is not the up nodes' " + std::to_string(up_load));
  }
}

double StreamsSim::MaxOverAverage() const {
  uint64_t max = 0, total = 0, up = 0;
  for (const auto& [node, n] : table_.nodes()) {
    if (!n.up) continue;
    max = std::max(max, n.load_kbps);
    total += n.load_kbps;
    ++up;
  }
  if (total == 0) return 0;
  return static_cast<double>(max) * static_cast<double>(up) / static_cast<double>(total);
}

}  // namespace cohort::sim
