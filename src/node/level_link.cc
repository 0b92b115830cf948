#include "node/level_link.h"

#include <chrono>
#include <nlohmann/json.hpp>

#include "base/log.h"
#include "io/asio.h"
#include "io/clock.h"
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

json MemberJson(NodeId id, membership::MemberState state, Incarnation incarnation,
                const std::optional<hierarchy::Aggregate>& aggregate) {
  return json{{"id", id},
              {"state", membership::MemberStateName(state)},
              {"incarnation", incarnation},
              {"aggregate", aggregate ? AggregateJson(*aggregate) : json(nullptr)}};
}

// A level's map with the aggregates known for its members.
json MapJson(const membership::ClusterMap& map,
             const std::map<NodeId, hierarchy::Aggregate>& aggregates) {
  json members = json::array();
  for (const auto& [id, m] : map.members) {
    auto a = aggregates.find(id);
    members.push_back(MemberJson(id, m.state, m.incarnation,
                                 a == aggregates.end() ? std::nullopt : std::optional(a->second)));
  }
  return json{{"supervisor", map.supervisor},
              {"version", map.version},
              {"members", members},
              {"omitted", 0}};
}

// The same from a view sent down.
json MapJson(const hierarchy::LevelView& v) {
  json members = json::array();
  for (const auto& m : v.members) {
    members.push_back(MemberJson(m.id, m.state, m.incarnation, m.aggregate));
  }
  // A view over the size bound lists only some of a far level's members: how many not.
  return json{{"supervisor", v.supervisor},
              {"version", v.version},
              {"members", members},
              {"omitted", v.omitted}};
}

std::map<NodeId, hierarchy::Aggregate> AggregatesOf(const hierarchy::LevelView& v) {
  std::map<NodeId, hierarchy::Aggregate> out;
  for (const auto& m : v.members) {
    if (m.aggregate) out[m.id] = *m.aggregate;
  }
  return out;
}

json TransportJson(const transport::TransportCore& core) {
  const auto& t = core.metrics();
  json rejected = json::object();
  for (size_t i = 0; i < t.rejected.size(); ++i) {
    if (t.rejected[i] > 0) {
      rejected[wire::RejectLabel(static_cast<wire::Reject>(i))] = t.rejected[i];
    }
  }
  json by_channel = json::object();
  for (const auto& [key, bytes] : t.bytes_sent_by) by_channel[std::to_string(key.second)] = bytes;
  return json{{"nodes", core.View().size()},
              {"bytes_sent_by_channel", by_channel},
              {"requests", t.requests},
              {"datagrams_sent", t.datagrams_sent},
              {"datagrams_received", t.datagrams_received},
              {"rejected", rejected}};
}

}  // namespace

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

uint32_t LevelFactor(const Config& config, size_t depth) {
  uint32_t factor = 1;
  for (size_t d = 0; d <= depth && d < config.parents.size(); ++d) {
    factor *= config.parents[d].level_factor;
  }
  return factor;
}

LevelLink::LevelLink(const Config& config, size_t depth, Below below, boost::asio::io_context& io)
    : config_(config), depth_(depth), below_(std::move(below)), io_(io), timer_(io) {
  CHECK(depth < config.parents.size());
}

LevelLink::~LevelLink() { Shutdown(); }

void LevelLink::Start() {
  Follow();
  Tick();
}

Duration LevelLink::Notify() const {
  return Duration::Millis(config_.notify_ms) * LevelFactor(config_, depth_);
}

// A level that stops supervising stops the one above at once; one that supervises keeps
// the aggregate above current.
void LevelLink::Follow() {
  if (shut_down_) return;
  const auto& below = below_.membership();
  if (below.role() != membership::Role::kSupervisor) {
    supervising_since_ = Instant::Max();
    StopLevel("no longer supervising");
    return;
  }
  if (supervising_since_ == Instant::Max()) {
    // A node that takes over a level of others (from a dead supervisor, or outranking it)
    // starts at once: the level above is timing the old representative's silence. A node
    // that formed a level of its own waits (Tick): it may merge into another a moment on.
    const bool alone = below.map().members.size() <= 1;
    supervising_since_ = io::SteadyNow();
    if (!alone && !level_) StartLevel();
  }
  Refresh();
}

void LevelLink::Refresh() {
  if (level_ && !shut_down_) level_->SetOwn(below_.aggregate());
}

void LevelLink::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  timer_.Cancel();
  if (level_) ParentLevel::Dispose(std::move(level_), io_);
}

void LevelLink::StopLevel(const char* why) {
  if (!level_) return;
  const ParentConfig& p = config_.parents[depth_];
  Log(LogLevel::kInfo, "hierarchy", std::string(why) + ": the level above stops",
      {{"level", p.name}, {"node", std::to_string(p.id)}});
  ParentLevel::Dispose(std::move(level_), io_);
  if (on_level_change) on_level_change();
}

// Every 250 ms: starts the level above once the level below has supervised for a hold
// time (so the one-node clusters of a start, merged a moment later, do not each start
// one); restarts a level that stays unsettled (see Settled).
void LevelLink::Tick() {
  if (shut_down_) return;
  const Instant now = io::SteadyNow();
  if (!level_ && supervising_since_ != Instant::Max() &&
      now - supervising_since_ >= below_.notify * 2) {
    StartLevel();
  }
  if (on_tick) on_tick(now);
  if (level_) {
    if (Settled(now)) {
      unsettled_since_ = Instant::Max();
    } else if (unsettled_since_ == Instant::Max()) {
      unsettled_since_ = now;
    } else if (now - unsettled_since_ >= Notify() * 5) {
      StopLevel("not settled in the level above");
    }
  }
  timer_.After(Duration::Millis(250), [this] { Tick(); });
}

void LevelLink::StartLevel() {
  auto started = ParentLevel::Start(config_, depth_, io_, below_.relay);
  if (!started) {
    if (started.error().message() != last_error_) {
      last_error_ = started.error().message();
      Log(LogLevel::kError, "hierarchy", "the level above cannot start",
          {{"level", config_.parents[depth_].name}, {"error", last_error_}});
    }
    return;  // tried again at the next tick
  }
  last_error_.clear();
  level_ = std::move(*started);
  unsettled_since_ = Instant::Max();
  if (on_level_change) on_level_change();
  Refresh();
}

// A member of the level above, or its supervisor with every node its transport heard
// lately in its map. Anything else for long means the level does not hear this node: an
// earlier holder of the node that started later (two supervisors for a moment) left a
// newer incarnation the level's nodes keep, and they refuse this one's datagrams as
// replays. A restart takes a newer incarnation.
bool LevelLink::Settled(Instant now) const {
  const auto& members = level_->membership();
  if (members.role() == membership::Role::kMember) return true;
  if (members.role() != membership::Role::kSupervisor) return false;
  const Duration lately = Notify() * 3;
  for (const auto& view : level_->transport().View()) {
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

json LevelLink::Unheld(const Config& config, size_t depth, NodeId held_by,
                       std::span<const hierarchy::LevelView> seen, size_t index) {
  const ParentConfig& p = config.parents[depth];
  json doc{{"name", p.name},
           {"node", p.id},
           {"held_here", false},
           {"held_by", held_by == kNoNode ? json(nullptr) : json(held_by)}};
  if (index < seen.size()) {
    const hierarchy::LevelView& v = seen[index];
    doc["map"] = MapJson(v);
    if (v.aggregate) doc["aggregate"] = AggregateJson(*v.aggregate);
    doc["sent_down"] = true;
  }
  doc["parent"] = depth + 1 < config.parents.size()
                      ? Unheld(config, depth + 1, kNoNode, seen, index + 1)
                      : json(nullptr);
  return doc;
}

json LevelLink::Document() const {
  if (!level_) {
    json doc = Unheld(config_, depth_, below_.membership().map().supervisor,
                      below_.seen ? below_.seen() : std::span<const hierarchy::LevelView>(), 0);
    if (!last_error_.empty()) doc["error"] = last_error_;
    return doc;
  }
  const ParentConfig& p = config_.parents[depth_];
  const auto& members = level_->membership();
  // A member that keeps no aggregates shows those its supervisor sent down.
  auto aggregates = level_->representation().Aggregates();
  const auto& received = level_->view().received();
  const bool from_view = aggregates.empty() && received && !received->levels.empty();
  if (from_view) aggregates = AggregatesOf(received->levels.front());
  json doc{{"name", p.name},
           {"node", p.id},
           {"held_here", true},
           {"held_by", below_.membership().map().supervisor},
           {"incarnation", level_->incarnation()},
           {"role", membership::RoleName(members.role())},
           {"map", MapJson(members.map(), aggregates)},
           {"transport", TransportJson(level_->transport())}};
  if (auto a = level_->ParentAggregate()) {
    doc["aggregate"] = AggregateJson(*a);
  } else if (from_view && received->levels.front().aggregate) {
    doc["aggregate"] = AggregateJson(*received->levels.front().aggregate);
  }
  if (const LevelLink* above = level_->above()) {
    doc["parent"] = above->Document();
  } else {
    doc["parent"] = nullptr;  // the config names no level above this one
  }
  return doc;
}

}  // namespace cohort::node
