#include "workload/supervisor.h"

#include <algorithm>

namespace cohort::workload {
namespace {

// A listing asked for is given this long before it is asked for again.
constexpr int64_t kPullRetryMs = 2000;

}  // namespace

std::optional<PullMsg> Supervisor::Pull(int64_t now_ms, NodeId from) {
  NodeInfo& n = nodes_[from];
  if (n.pulled_ms >= 0 && now_ms - n.pulled_ms < kPullRetryMs) return std::nullopt;
  n.pulled_ms = now_ms;
  return PullMsg{catalog_.EpochOf(from).value_or(0)};
}

void Supervisor::Publish(NodeId node) {
  const NodeInfo& n = nodes_[node];
  // A node with no media server holds content but serves no sessions.
  table_.SetNode(node, n.up && !n.address.empty(), n.capacity_kbps);
  catalog_.SetNodeUp(node, n.up);
}

std::optional<PullMsg> Supervisor::OnSummary(int64_t now_ms, NodeId from, const SummaryMsg& m) {
  NodeInfo& n = nodes_[from];
  if (n.address != m.stream_address || n.capacity_kbps != m.capacity_kbps) {
    n.address = m.stream_address;
    n.capacity_kbps = m.capacity_kbps;
    Publish(from);
  }
  const auto epoch = catalog_.EpochOf(from);
  const auto seq = catalog_.SeqOf(from);
  // A change may still be on its way when a summary overtakes it: a summary ahead of the
  // catalog is taken as a lost change only when the next one is no better.
  const bool behind =
      seq && *seq != m.seq && n.said && n.said_seq == m.seq && n.said_epoch == m.epoch;
  const bool differs = !epoch || *epoch != m.epoch || behind ||
                       (seq && *seq == m.seq && catalog_.DigestOf(from) != m.digest);
  n.said = true;
  n.said_epoch = m.epoch;
  n.said_seq = m.seq;
  if (!n.got.empty() && n.epoch == m.epoch && n.seq == m.seq) return std::nullopt;  // arriving
  if (!differs) return std::nullopt;
  return Pull(now_ms, from);
}

std::optional<PullMsg> Supervisor::OnListing(int64_t now_ms, NodeId from, const ListingMsg& m) {
  NodeInfo& n = nodes_[from];
  if (n.got.empty() || n.epoch != m.epoch || n.seq != m.seq || n.pages != m.pages) {
    n.epoch = m.epoch;
    n.seq = m.seq;
    n.pages = m.pages;
    n.got.assign(m.pages, false);
    n.items.clear();
  }
  if (n.got[m.page]) return std::nullopt;
  n.got[m.page] = true;
  n.items.insert(n.items.end(), m.items.begin(), m.items.end());
  if (std::find(n.got.begin(), n.got.end(), false) != n.got.end()) {
    // Pages lost on the way: ask again once the listing had its time.
    return n.pulled_ms >= 0 && now_ms - n.pulled_ms >= kPullRetryMs ? Pull(now_ms, from)
                                                                    : std::nullopt;
  }
  catalog_.ReplaceNode(from, m.epoch, m.seq, n.items);
  n.got.clear();
  n.items.clear();
  n.items.shrink_to_fit();
  n.pulled_ms = -1;
  Publish(from);
  return std::nullopt;
}

std::optional<PullMsg> Supervisor::OnChange(int64_t now_ms, NodeId from, const ChangeMsg& m) {
  if (catalog_.Apply(from, m.epoch, m.seq, m.change) == FeedResult::kNeedFull) {
    return Pull(now_ms, from);
  }
  return std::nullopt;
}

bool Supervisor::Gathered(int64_t now_ms) {
  if (gathered_) return true;
  if (started_ms_ < 0) started_ms_ = now_ms;
  gathered_ = now_ms - started_ms_ >= kGatherMs;
  if (gathered_) return true;
  for (const auto& [node, n] : nodes_) {
    if (n.up && catalog_.EpochOf(node).value_or(0) == 0) return false;
  }
  return gathered_ = !nodes_.empty();
}

PlaceReplyMsg Supervisor::OnPlace(int64_t now_ms, const PlaceRequestMsg& m) {
  OpenResult r = table_.Open(now_ms, catalog_, m.request);
  if (r.outcome == PlaceOutcome::kNoHolder && !Gathered(now_ms))
    r.outcome = PlaceOutcome::kNotReady;
  PlaceReplyMsg reply{m.nonce, r.outcome, r.session, r.node, r.disk, r.rank, "", {}};
  if (r.node != kNoNode) reply.stream_address = AddressOf(r.node);
  if (r.outcome == PlaceOutcome::kNoCapacity) {
    reply.holders.assign(r.holders.begin(),
                         r.holders.begin() + static_cast<std::ptrdiff_t>(
                                                 std::min(r.holders.size(), kMaxHoldersInReply)));
  }
  return reply;
}

void Supervisor::OnReport(int64_t now_ms, NodeId from, const ReportMsg& m) {
  auto it = nodes_.find(from);
  if (m.pages == 1 || it == nodes_.end()) {
    if (it != nodes_.end()) it->second.report_pages = 0;  // a report in pages given up
    if (m.pages == 1) table_.OnReport(now_ms, from, m.sessions);
    return;  // (a node not in the map yet: its next report will do)
  }
  NodeInfo& n = it->second;
  // A page of another report starts that one over: numbers are not compared, since a
  // restarted node counts from the start again. A late page of an older report costs the
  // report under way; the next one serves.
  if (n.report_pages == 0 || n.report != m.report || n.report_pages != m.pages) {
    n.report = m.report;
    n.report_pages = m.pages;
    n.report_got.assign(m.pages, false);
    n.reported.clear();
  }
  if (m.page >= n.report_got.size() || n.report_got[m.page]) return;  // a duplicate
  n.report_got[m.page] = true;
  n.reported.insert(n.reported.end(), m.sessions.begin(), m.sessions.end());
  if (std::find(n.report_got.begin(), n.report_got.end(), false) != n.report_got.end()) return;
  table_.OnReport(now_ms, from, n.reported);
  n.report_pages = 0;
  n.report_got.clear();
  n.reported = {};
}

void Supervisor::SetMap(const MapView& map) {
  std::map<NodeId, bool> members(map.nodes.begin(), map.nodes.end());
  for (auto it = nodes_.begin(); it != nodes_.end();) {
    if (members.contains(it->first)) {
      ++it;
      continue;
    }
    // Left the cluster: what it held and served is gone with it.
    catalog_.RemoveNode(it->first);
    table_.RemoveNode(it->first);
    it = nodes_.erase(it);
  }
  for (const auto& [node, up] : members) {
    nodes_[node].up = up;
    Publish(node);
  }
  for (const MapView::DiskPath& d : map.disks) catalog_.SetDisk(d.node, d.disk, d.health);
}

std::vector<Moved> Supervisor::Reassign(int64_t now_ms) {
  (void)Gathered(now_ms);  // starts the clock
  table_.Tick(now_ms);
  return table_.Reassign(now_ms, catalog_);
}

std::string Supervisor::AddressOf(NodeId node) const {
  auto it = nodes_.find(node);
  return it == nodes_.end() ? "" : it->second.address;
}

}  // namespace cohort::workload
