// GET /v1/dashboard/feed: the dashboard's live feed, as Server-Sent Events. Each tick (every
// second while a browser watches, and at once when the cluster map changes) the feed asks
// the API itself for the documents the dashboard shows — the same ones the CLI prints with
// --json — and sends each browser only the sections that changed since what it was sent:
// `event: <section>` and `data: <the document on one line>`. Fields that change every
// second without news (uptimes, ages, counters) are left out, so an idle cluster costs a
// browser little more than a tick event every 5 s. A section whose request fails carries
// {"error": "..."}, which the page shows in that pane.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "api/handlers.h"
#include "io/timer.h"

namespace cohort::api {

class DashboardFeed {
 public:
  using Handler = std::function<void(const HttpRequest&, Respond)>;
  static constexpr size_t kMaxSubscribers = 16;

  // `handler` answers the API's GET requests (the daemon's Api).
  DashboardFeed(boost::asio::io_context& io, node::Node& node, Handler handler);
  ~DashboardFeed();
  void Start();
  // The streamed response of GET /v1/dashboard/feed (503 past kMaxSubscribers).
  HttpResponse Subscribe();
  size_t subscribers() const { return subscribers_.size(); }

 private:
  struct Subscriber {
    std::shared_ptr<StreamSink> sink;
    std::map<std::string, std::string> sent;  // section -> the data last sent
  };
  void Schedule(Duration wait);
  void Tick();
  void Answered(uint64_t tick, const std::string& section, const HttpResponse& response);
  void Publish(uint64_t tick);
  void SendChanges(Subscriber& s);
  void KeepAlive();

  node::Node& node_;
  Handler handler_;
  io::Timer tick_timer_;
  io::Timer deadline_timer_;
  io::Timer keepalive_timer_;
  std::map<uint64_t, std::shared_ptr<Subscriber>> subscribers_;
  uint64_t next_subscriber_ = 1;
  std::map<std::string, std::string> current_;  // section -> data, from the last tick
  std::map<std::string, Instant> changed_at_;   // section -> when current_ last changed
  uint64_t tick_ = 0;                           // the tick under way (0: none)
  uint64_t ticks_ = 0;                          // ticks started
  size_t pending_ = 0;                          // its requests not answered yet
  std::map<std::string, std::string> gathered_;
  bool again_ = false;  // a change came while a tick was under way
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace cohort::api
