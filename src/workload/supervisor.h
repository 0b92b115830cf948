// Supervisor: the workload's tables on the cluster's supervisor (W1, W2, M13), sans-I/O. It
// follows each node's catalog feed (summaries, listing pages, changes), places sessions,
// takes the serving nodes' reports and reassigns sessions as the cluster map changes. The
// daemon moves its messages and gives it the time; a new supervisor starts empty and fills
// from the nodes' next summaries and reports, within a period or two.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "workload/catalog.h"
#include "workload/messages.h"
#include "workload/sessions.h"

namespace cohort::workload {

// What the cluster map says, in the workload's terms.
struct MapView {
  std::vector<std::pair<NodeId, bool>> nodes;  // every member, and whether it is up
  struct DiskPath {
    NodeId node = kNoNode;
    std::string disk;
    DiskHealth health = DiskHealth::kWorking;
  };
  std::vector<DiskPath> disks;  // each node's access to each disk it reports
};

class Supervisor {
 public:
  explicit Supervisor(StreamOptions options) : table_(options) {}

  // The catalog feed. Each answers with a Pull to send `from` when its listing is needed.
  std::optional<PullMsg> OnSummary(int64_t now_ms, NodeId from, const SummaryMsg& m);
  std::optional<PullMsg> OnListing(int64_t now_ms, NodeId from, const ListingMsg& m);
  std::optional<PullMsg> OnChange(int64_t now_ms, NodeId from, const ChangeMsg& m);

  // A new supervisor answers kNotReady for content it does not know until every node up
  // has sent its listing, or kGatherMs have passed.
  PlaceReplyMsg OnPlace(int64_t now_ms, const PlaceRequestMsg& m);
  static constexpr int64_t kGatherMs = 5000;
  // Takes a node's report once all its pages are in; a page of another report drops the
  // pages of one that did not all come.
  void OnReport(int64_t now_ms, NodeId from, const ReportMsg& m);
  void SetMap(const MapView& map);
  // Moves what must move (a node down, a copy gone) and retries the unplaced; drops
  // expired reservations. Call after SetMap and every period.
  std::vector<Moved> Reassign(int64_t now_ms);

  const Catalog& catalog() const { return catalog_; }
  const StreamTable& table() const { return table_; }
  // The node's media server, as its summary says ("" none or unknown).
  std::string AddressOf(NodeId node) const;

 private:
  struct NodeInfo {
    bool up = false;  // in the map
    std::string address;
    uint64_t capacity_kbps = 0;
    int64_t pulled_ms = -1;  // when a listing was last asked for
    bool said = false;       // its last summary's epoch and change
    uint64_t said_epoch = 0, said_seq = 0;
    // The listing being received.
    uint64_t epoch = 0, seq = 0;
    uint32_t pages = 0;
    std::vector<bool> got;
    std::vector<Item> items;
    // The session report being received.
    uint32_t report = 0;
    uint32_t report_pages = 0;
    std::vector<bool> report_got;
    std::vector<ReportedSession> reported;
  };
  std::optional<PullMsg> Pull(int64_t now_ms, NodeId from);
  bool Gathered(int64_t now_ms);
  void Publish(NodeId node);  // the node's state to the table

  Catalog catalog_;
  StreamTable table_;
  std::map<NodeId, NodeInfo> nodes_;
  int64_t started_ms_ = -1;  // the first time it was asked anything
  bool gathered_ = false;
};

}  // namespace cohort::workload
