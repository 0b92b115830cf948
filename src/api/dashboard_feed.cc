#include "api/dashboard_feed.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "io/clock.h"
#include "node/node.h"

namespace cohort::api {
namespace {

using nlohmann::json;

struct Section {
  const char* name;
  const char* target;
  std::vector<const char*> drop_top;  // keys left out of the document itself
  std::vector<const char*> drop_all;  // keys left out at any depth
};

// What changes every second without news is left out: the page shows changes, not clocks.
const std::vector<Section>& Sections() {
  static const std::vector<Section> kSections = {
      {"status", "/v1/status", {"uptime_s"}, {}},
      {"health", "/v1/health", {"at_ms"}, {"for_s"}},
      {"members", "/v1/members", {}, {}},
      {"history", "/v1/members/history", {}, {}},
      {"addresses", "/v1/addresses", {}, {"last_heard_ms_ago"}},
      {"tables", "/v1/tables", {}, {"age_ms", "probe_ms"}},
      {"liveness", "/v1/liveness", {"metrics"}, {}},
      {"registry", "/v1/registry/status", {"commit_index", "revision"}, {}},
      {"jobs", "/v1/jobs?commands=0", {}, {"elapsed_s"}},
      {"groups", "/v1/groups", {}, {}},
      {"resources", "/v1/resources", {}, {}},
      {"streams", "/v1/streams", {"sessions"}, {}},
  };
  return kSections;
}

void DropEverywhere(json& j, const std::vector<const char*>& keys) {
  if (j.is_object()) {
    for (const char* k : keys) j.erase(k);
    for (auto& [k, v] : j.items()) DropEverywhere(v, keys);
  } else if (j.is_array()) {
    for (auto& v : j) DropEverywhere(v, keys);
  }
}

std::string Line(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// A section the feed could not get: "feed_error", so the page never mistakes a document's own
// "error" field (the registry's last error, say) for it.
json FeedError(const std::string& why, int status) {
  return {{"feed_error", why}, {"status", status}};
}

// The sequence number of a job id ("<base>-<seq>"), to keep the newest jobs.
std::pair<std::string, uint64_t> JobOrder(const json& job) {
  const std::string id = job.is_object() ? job.value("id", "") : "";
  const size_t dash = id.rfind('-');
  uint64_t seq = 0;
  if (dash != std::string::npos) {
    for (char c : id.substr(dash + 1)) {
      if (c < '0' || c > '9' || seq > UINT64_MAX / 10 - 9) break;
      seq = seq * 10 + static_cast<uint64_t>(c - '0');
    }
  }
  return {id.substr(0, dash == std::string::npos ? 0 : dash), seq};
}

// The section's data (the tables split in three: the usage and the levels above change
// often, the rest seldom), or why the feed has none.
std::map<std::string, std::string> SectionData(const Section& s, const HttpResponse& r) {
  const bool tables = std::string(s.name) == "tables";
  json doc = json::parse(r.body, nullptr, false);
  if (r.status >= 300 || doc.is_discarded() || !doc.is_object()) {
    std::string why = "HTTP " + std::to_string(r.status);
    if (!doc.is_discarded() && doc.is_object() && doc.contains("error") &&
        doc["error"].is_string()) {
      why = doc["error"].get<std::string>();
    }
    const std::string e = Line(FeedError(why, r.status));
    if (tables) return {{"tables", e}, {"usage", e}, {"levels", e}};
    return {{s.name, e}};
  }
  for (const char* k : s.drop_top) doc.erase(k);
  DropEverywhere(doc, s.drop_all);
  if (std::string(s.name) == "jobs" && doc.contains("jobs") && doc["jobs"].is_array() &&
      doc["jobs"].size() > 50) {
    json& jobs = doc["jobs"];
    std::stable_sort(jobs.begin(), jobs.end(),
                     [](const json& a, const json& b) { return JobOrder(a) < JobOrder(b); });
    jobs.erase(jobs.begin(), jobs.end() - 50);  // the newest: a page, not an archive
  }
  if (!tables) return {{s.name, Line(doc)}};
  json usage = json::object();
  for (const char* k : {"disk_usage", "node_usage", "usage_from", "usage_error"}) {
    if (doc.contains(k)) {
      usage[k] = std::move(doc[k]);
      doc.erase(k);
    }
  }
  json levels{{"levels", doc.contains("levels") ? doc["levels"] : json::array()}};
  doc.erase("levels");
  return {{"tables", Line(doc)}, {"usage", Line(usage)}, {"levels", Line(levels)}};
}

// Sections that change with every sample (load, rates, free bytes) go at most this often:
// the page's graphs need no more, and an idle cluster costs a browser little.
Duration MinInterval(const std::string& section) {
  return section == "usage" || section == "levels" ? Duration::Seconds(5) : Duration();
}

std::string Event(const std::string& name, const std::string& data) {
  return "event: " + name + "\ndata: " + data + "\n\n";
}

}  // namespace

DashboardFeed::DashboardFeed(boost::asio::io_context& io, node::Node& node, Handler handler)
    : node_(node),
      handler_(std::move(handler)),
      tick_timer_(io),
      deadline_timer_(io),
      keepalive_timer_(io) {}

DashboardFeed::~DashboardFeed() {
  alive_.reset();
  for (auto& [id, s] : subscribers_) s->sink->Close();
}

void DashboardFeed::Start() {
  // A member's failure reaches the page as soon as this node takes the map, not at the next
  // second's tick.
  node_.OnMembershipChanged([this, alive = std::weak_ptr<bool>(alive_)] {
    if (alive.expired() || subscribers_.empty()) return;
    if (tick_ != 0) {
      again_ = true;
    } else {
      Schedule(Duration::Millis(20));
    }
  });
}

HttpResponse DashboardFeed::Subscribe() {
  if (subscribers_.size() >= kMaxSubscribers) {
    return {503, "application/json",
            Line(json{{"error", "too many dashboards are open on this node"}})};
  }
  HttpResponse r;
  r.content_type = "text/event-stream";
  r.headers = {{"Cache-Control", "no-store"}};
  r.stream = [this, alive = std::weak_ptr<bool>(alive_)](std::shared_ptr<StreamSink> sink) {
    if (alive.expired()) return sink->Close();
    if (subscribers_.size() >= kMaxSubscribers) {  // others connected since Subscribe()
      sink->Write("retry: 10000\n\n" +
                  Event("refused",
                        Line(json{{"feed_error", "too many dashboards are open on this node"}})));
      return sink->Close();
    }
    const uint64_t id = next_subscriber_++;
    auto s = std::make_shared<Subscriber>();
    s->sink = sink;
    subscribers_[id] = s;
    sink->OnClosed([this, alive, id] {
      if (alive.expired()) return;
      subscribers_.erase(id);
      // Nobody watches: what was gathered grows old, and a page that comes later must not
      // see it as the news before the fresh tick.
      if (subscribers_.empty()) {
        current_.clear();
        changed_at_.clear();
      }
    });
    sink->Write("retry: 2000\n\n");
    SendChanges(*s);  // what the last tick gathered, at once
    if (subscribers_.size() == 1) {
      keepalive_timer_.After(Duration::Seconds(5), [this] { KeepAlive(); });
    }
    if (tick_ != 0) {
      again_ = true;
    } else {
      Schedule(Duration());
    }
  };
  return r;
}

void DashboardFeed::Schedule(Duration wait) {
  tick_timer_.After(wait, [this] { Tick(); });
}

void DashboardFeed::Tick() {
  if (subscribers_.empty()) return;  // nobody watches: no requests, no timer
  if (tick_ != 0) {
    again_ = true;
    return;
  }
  tick_ = ++ticks_;
  gathered_.clear();
  pending_ = Sections().size();
  // A section that does not answer in time keeps what it showed.
  deadline_timer_.After(Duration::Seconds(3), [this, t = tick_] {
    for (const Section& s : Sections()) {
      if (gathered_.count(s.name) == 0 && t == tick_) {
        gathered_[s.name] = Line(FeedError("no answer within 3 s", 504));
      }
    }
    Publish(t);
  });
  for (const Section& s : Sections()) {
    HttpRequest request;
    request.method = "GET";
    request.target = s.target;
    handler_(request,
             [this, alive = std::weak_ptr<bool>(alive_), t = tick_, &s](HttpResponse response) {
               if (alive.expired() || t != tick_) return;
               for (auto& [name, data] : SectionData(s, response))
                 gathered_[name] = std::move(data);
               if (--pending_ == 0) Publish(t);
             });
  }
}

void DashboardFeed::Publish(uint64_t tick) {
  if (tick != tick_) return;
  deadline_timer_.Cancel();
  const Instant now = node_.Now();
  for (auto& [name, data] : gathered_) {
    auto at = changed_at_.find(name);
    if (current_[name] == data) continue;
    if (at != changed_at_.end() && now - at->second < MinInterval(name)) continue;
    current_[name] = std::move(data);
    changed_at_[name] = now;
  }
  gathered_.clear();
  tick_ = 0;
  std::vector<std::shared_ptr<Subscriber>> all;
  for (auto& [id, s] : subscribers_) all.push_back(s);
  for (auto& s : all) SendChanges(*s);
  Schedule(again_ ? Duration::Millis(20) : Duration::Seconds(1));
  again_ = false;
}

void DashboardFeed::SendChanges(Subscriber& s) {
  std::string out;
  for (const auto& [name, data] : current_) {
    auto sent = s.sent.find(name);
    if (sent != s.sent.end() && sent->second == data) continue;
    out += Event(name, data);
    s.sent[name] = data;
  }
  if (!out.empty()) s.sink->Write(std::move(out));
}

void DashboardFeed::KeepAlive() {
  if (subscribers_.empty()) return;
  const std::string tick =
      Event("tick", Line(json{{"at_ms", io::WallMillis()}, {"ticks", ticks_}}));
  std::vector<std::shared_ptr<Subscriber>> all;
  for (auto& [id, s] : subscribers_) all.push_back(s);
  for (auto& s : all) s->sink->Write(tick);
  keepalive_timer_.After(Duration::Seconds(5), [this] { KeepAlive(); });
}

}  // namespace cohort::api
