// WorkloadService: the media workload in the daemon (W1, W2, M13). On every node it sends
// the supervisor this node's catalog feed (node/catalog_feed.h) and the sessions its media
// server serves (io/media_server.h); on the supervisor it runs workload::Supervisor — the
// catalog, the session table, placement and reassignment — fed by those messages and by the
// cluster map. The API's placements and reads go to the supervisor and come back here.
//
// Messages travel sealed on transport channel workload::kChannel. Everything is sent again
// every period, and at once to a new supervisor, so a new supervisor's tables fill within a
// period. Runs on the node's loop thread; every call must be made there.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "base/time.h"
#include "workload/messages.h"
#include "workload/supervisor.h"

namespace boost::asio {
class io_context;
}
namespace cohort::io {
class MediaServer;
}

namespace cohort::node {

class Node;
class CatalogFeed;

struct WorkloadOptions {
  std::string stream_address;  // this node's media server, "host:port" ("" none)
  double balance = 0.25;
  double balance_floor = 0.1;
  uint64_t default_bitrate_kbps = 4000;
  Duration period = Duration::Seconds(1);
  Duration answer_timeout = Duration::Seconds(2);  // for the supervisor's answers
};

struct WorkloadMetrics {
  uint64_t placed = 0;  // placements answered here (as supervisor)
  uint64_t refused = 0;
  uint64_t not_found = 0;
  uint64_t reassigned = 0;  // sessions moved off a node
  uint64_t messages_sent = 0;
  uint64_t messages_received = 0;
  uint64_t malformed = 0;
  uint64_t unanswered = 0;  // placements and reads the supervisor did not answer in time
};

class WorkloadService {
 public:
  WorkloadService(Node& node, CatalogFeed& feed, io::MediaServer* media,
                  boost::asio::io_context& io, WorkloadOptions options);
  ~WorkloadService();
  WorkloadService(const WorkloadService&) = delete;
  WorkloadService& operator=(const WorkloadService&) = delete;

  void Start();
  void Stop();

  // A session placed by the supervisor; nullopt if it did not answer in time.
  using PlaceDone = std::function<void(std::optional<workload::PlaceReplyMsg>)>;
  void Place(workload::OpenRequest request, PlaceDone done);
  // A read of the supervisor's tables, answered in JSON; nullopt as above.
  using QueryDone = std::function<void(std::optional<workload::QueryReplyMsg>)>;
  void Query(workload::QueryMsg query, QueryDone done);

  const WorkloadOptions& options() const;
  const WorkloadMetrics& metrics() const;
  // This node's tables if it is the supervisor, else null.
  const workload::Supervisor* supervisor_tables() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace cohort::node
