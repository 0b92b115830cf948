#include "node/hierarchy_service.h"

#include <chrono>
#include <nlohmann/json.hpp>

#include "base/log.h"
#include "hierarchy/aggregate.h"
#include "io/asio.h"
#include "node/node.h"
#include "node/parent_level.h"
#include "wire/seal.h"

namespace cohort::node {

using nlohmann::json;

namespace {

json DiskCountsJson(const hierarchy::DiskCounts& c) {
  return json{{"ok", c.ok},
              {"degraded", c.degraded},
              {"failed", c.failed},
              {"total_bytes", c.total_bytes},
              {"free_bytes", c.free_bytes}};
}

json AggregateJson(const hierarchy::Aggregate& a) {
  json disks = json::array();
  for (const auto& d : a.disks) {
    disks.push_back({{"disk", d.disk},
                     {"state", membership::DiskStateName(d.state)},
                     {"total_bytes", d.total_bytes},
                     {"free_bytes", d.free_bytes}});
  }
  return json{{"members", a.members},
              {"members_up", a.members_up},
              {"capacity_mbps", a.capacity_mbps},
              {"free_mbps", a.free_mbps},
              {"capacity_unknown", a.capacity_unknown},
              {"disks", disks},
              {"disk_counts", DiskCountsJson(hierarchy::CountDisks(a))}};
}

json MapJson(const membership::ClusterMap& map,
             const std::map<NodeId, hierarchy::RepresentationCore::Received>* aggregates) {
  json members = json::array();
  for (const auto& [id, m] : map.members) {
    json j{{"id", id},
           {"state", membership::MemberStateName(m.state)},
           {"incarnation", m.incarnation}};
    if (aggregates != nullptr) {
      auto a = aggregates->find(id);
      j["aggregate"] = a == aggregates->end() ? json(nullptr) : AggregateJson(a->second.aggregate);
    }
    members.push_back(std::move(j));
  }
  return json{{"supervisor", map.supervisor}, {"version", map.version}, {"members", members}};
}

}  // namespace

struct HierarchyService::Timer {
  explicit Timer(boost::asio::io_context& io) : timer(io) {}
  boost::asio::steady_timer timer;
};

HierarchyService::HierarchyService(Node& node, boost::asio::io_context& io)
    : node_(node), io_(io) {}

HierarchyService::~HierarchyService() {
  if (timer_) timer_->timer.cancel();
}

void HierarchyService::Start() {
  if (!node_.config().parent) return;
  timer_ = std::make_unique<Timer>(io_);
  node_.OnMembershipChanged([this] { Follow(); });
  Follow();
  Tick();
}

// A node that stops supervising stops the parent level at once; one that supervises keeps
// the level's aggregate current.
void HierarchyService::Follow() {
  if (node_.membership().role() != membership::Role::kSupervisor) {
    supervising_since_ = Instant::Max();
    StopParent("no longer supervising");
    return;
  }
  if (supervising_since_ == Instant::Max()) {
    // A node that takes over a cluster of others (from a dead supervisor, or outranking
    // it) starts at once: the parent is timing the old representative's silence. A node
    // that formed a cluster of its own waits (Tick): it may merge into another a moment on.
    const bool alone = node_.membership().map().members.size() <= 1;
    supervising_since_ = node_.Now();
    if (!alone && !parent_) StartParent(supervising_since_);
  }
  Aggregate();
}

void HierarchyService::StopParent(const char* why) {
  if (!parent_) return;
  Log(LogLevel::kInfo, "hierarchy", std::string(why) + ": the parent level stops",
      {{"node", std::to_string(node_.config().parent->id)}});
  ParentLevel::Dispose(std::move(parent_), io_);
  usage_.clear();
  ++generation_;  // answers to the stopped level's usage requests are dropped
}

// Every 250 ms: starts the parent level once this node has supervised for a hold time (so
// the one-node clusters of a start, merged a moment later, do not each start one); fetches
// the usage table every second; restarts a level that stays unsettled (see Settled).
void HierarchyService::Tick() {
  const Config& config = node_.config();
  const Instant now = node_.Now();
  const Duration hold = Duration::Millis(config.notify_ms) * 2;
  if (!parent_ && supervising_since_ != Instant::Max() && now - supervising_since_ >= hold) {
    StartParent(now);
  }
  if (parent_) {
    if (now >= next_usage_) {
      next_usage_ = now + Duration::Seconds(1);
      FetchUsage();
    }
    const Duration stuck = Duration::Millis(config.notify_ms) * config.parent->level_factor * 5;
    if (Settled()) {
      unsettled_since_ = Instant::Max();
    } else if (unsettled_since_ == Instant::Max()) {
      unsettled_since_ = now;
    } else if (now - unsettled_since_ >= stuck) {
      StopParent("not settled in the parent");
    }
  }
  std::weak_ptr<bool> alive = alive_;
  timer_->timer.expires_after(std::chrono::milliseconds(250));
  timer_->timer.async_wait([this, alive](const boost::system::error_code& ec) {
    if (!ec && !alive.expired()) Tick();
  });
}

void HierarchyService::StartParent(Instant now) {
  auto started = ParentLevel::Start(node_.config(), io_);
  if (!started) {
    if (started.error().message() != last_error_) {
      last_error_ = started.error().message();
      Log(LogLevel::kError, "hierarchy", "the parent level cannot start", {{"error", last_error_}});
    }
    return;  // tried again at the next tick
  }
  last_error_.clear();
  parent_ = std::move(*started);
  ++generation_;
  unsettled_since_ = Instant::Max();
  next_usage_ = now;
  Aggregate();
}

// A member of the parent, or its supervisor with every node its transport knows in its
// map. Anything else for long means the parent does not hear this level: an earlier holder
// of the node that started later (two supervisors for a moment) left a newer incarnation
// the parent's nodes keep, and they refuse this one's datagrams as replays. A restart
// takes a newer incarnation.
bool HierarchyService::Settled() const {
  const auto& members = parent_->membership();
  if (members.role() == membership::Role::kMember) return true;
  if (members.role() != membership::Role::kSupervisor) return false;
  // Nodes heard lately only: the transport keeps every node it ever learnt of.
  const Instant now = node_.Now();
  const Duration lately =
      Duration::Millis(node_.config().notify_ms) * node_.config().parent->level_factor * 3;
  for (const auto& view : parent_->transport().View()) {
    bool heard = false;
    for (const auto& a : view.addresses) {
      heard = heard || (a.last_heard != Instant() && now - a.last_heard < lately);
    }
    if (heard && view.id != members.self() && members.map().Find(view.id) == nullptr) {
      return false;
    }
  }
  return true;
}

void HierarchyService::Aggregate() {
  if (!parent_) return;
  parent_->SetOwn(hierarchy::OfCluster(node_.membership().map(), usage_, {}));
}

void HierarchyService::FetchUsage() {
  std::weak_ptr<bool> alive = alive_;
  const uint64_t generation = generation_;
  node_.FetchUsage(Duration::Millis(500),
                   [this, alive, generation](std::optional<membership::UsageReply> reply) {
                     if (alive.expired() || generation != generation_) return;
                     if (reply) usage_ = std::move(reply->rows);
                     Aggregate();
                   });
}

json HierarchyService::Document() const {
  const Config& config = node_.config();
  const auto& map = node_.membership().map();
  json doc{{"cluster",
            {{"name", config.cluster_name},
             {"node", config.node_id},
             {"supervisor", map.supervisor},
             {"aggregate", AggregateJson(hierarchy::OfCluster(map, usage_, {}))}}}};
  if (!config.parent) {
    doc["parent"] = nullptr;
    return doc;
  }
  json p{{"name", config.parent->name},
         {"node", config.parent->id},
         {"held_here", parent_ != nullptr},
         {"held_by", map.supervisor}};
  if (!last_error_.empty()) p["error"] = last_error_;
  if (parent_) {
    const auto& members = parent_->membership();
    const auto& kept = parent_->representation().received();
    p["incarnation"] = parent_->incarnation();
    p["role"] = membership::RoleName(members.role());
    p["map"] = MapJson(members.map(), kept.empty() ? nullptr : &kept);
    const auto& t = parent_->transport().metrics();
    json rejected = json::object();
    for (size_t i = 0; i < t.rejected.size(); ++i) {
      if (t.rejected[i] > 0) {
        rejected[wire::RejectLabel(static_cast<wire::Reject>(i))] = t.rejected[i];
      }
    }
    json by_channel = json::object();
    for (const auto& [key, bytes] : t.bytes_sent_by) by_channel[std::to_string(key.second)] = bytes;
    p["transport"] = {{"nodes", parent_->transport().View().size()},
                      {"bytes_sent_by_channel", by_channel},
                      {"requests", t.requests},
                      {"datagrams_sent", t.datagrams_sent},
                      {"datagrams_received", t.datagrams_received},
                      {"rejected", rejected}};
    if (auto a = parent_->ParentAggregate()) p["aggregate"] = AggregateJson(*a);
  }
  doc["parent"] = std::move(p);
  return doc;
}

}  // namespace cohort::node
