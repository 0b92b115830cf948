#include "node/hierarchy_service.h"

#include <nlohmann/json.hpp>

#include "hierarchy/aggregate.h"
#include "io/clock.h"
#include "node/level_link.h"
#include "node/node.h"
#include "node/parent_level.h"

namespace cohort::node {

using nlohmann::json;

HierarchyService::HierarchyService(Node& node, boost::asio::io_context& io)
    : node_(node), io_(io) {}

HierarchyService::~HierarchyService() = default;

void HierarchyService::OnRelay(RelayHandler handler) {
  relay_ = std::move(handler);
  node_.OnChannel(hierarchy::kRelayChannel, [this](NodeId from, std::span<const uint8_t> bytes) {
    if (relay_) relay_(0, from, bytes);
  });
}

void HierarchyService::Start() {
  if (node_.config().parents.empty()) return;
  LevelLink::Below below{
      .membership = [this]() -> const membership::MembershipCore& { return node_.membership(); },
      .aggregate = [this] { return hierarchy::OfCluster(node_.membership().map(), usage_, {}); },
      .notify = Duration::Millis(node_.config().notify_ms),
      .seen = [this]() -> std::span<const hierarchy::LevelView> {
        if (!view_->received()) return {};
        return view_->received()->levels;
      },
      .relay =
          [this](uint8_t level, NodeId from, std::span<const uint8_t> bytes) {
            if (relay_) relay_(level, from, bytes);
          }};
  link_ = std::make_unique<LevelLink>(node_.config(), 0, std::move(below), io_);
  view_ = std::make_unique<hierarchy::ViewCore>(
      hierarchy::ViewOptions{.self = node_.config().node_id, .incarnation = io::WallMillis()});
  node_.OnChannel(hierarchy::kViewChannel, [this](NodeId from, std::span<const uint8_t> bytes) {
    membership::Outputs out;
    view_->OnMessage(node_.Now(), from, bytes, out);
    Send(out);
  });
  // A new or stopped parent level: answers to the old one's usage requests are dropped,
  // and a new one is given the usage table at once.
  link_->on_level_change = [this] {
    usage_.clear();
    ++generation_;
    next_usage_ = Instant();
  };
  link_->on_tick = [this](Instant now) {
    membership::Outputs out;
    view_->Tick(now, out);
    Send(out);
    SendDown();  // the levels above may have changed
    if (link_->level() == nullptr || now < next_usage_) return;
    next_usage_ = now + Duration::Seconds(1);
    FetchUsage();
  };
  node_.OnMembershipChanged([this] { FollowMap(); });
  FollowMap();
  link_->Start();
}

void HierarchyService::FollowMap() {
  membership::Outputs out;
  view_->SetMap(node_.Now(), node_.membership().map(), out);
  Send(out);
  link_->Follow();
  SendDown();
}

void HierarchyService::SendDown() {
  if (link_->level() == nullptr) return;  // nothing known above yet
  membership::Outputs out;
  view_->SetDown(node_.Now(), link_->level()->Up(), out);
  Send(out);
}

void HierarchyService::Send(membership::Outputs& out) {
  for (const auto& o : out) {
    if (const auto* s = std::get_if<membership::SendTo>(&o)) {
      (void)node_.SendData(s->to, hierarchy::kViewChannel, s->bytes);  // the next view repairs
    }
  }
  out.clear();
}

void HierarchyService::FetchUsage() {
  std::weak_ptr<bool> alive = alive_;
  const uint64_t generation = generation_;
  node_.FetchUsage(Duration::Millis(500),
                   [this, alive, generation](std::optional<membership::UsageReply> reply) {
                     if (alive.expired() || generation != generation_) return;
                     if (reply) usage_ = std::move(reply->rows);
                     link_->Refresh();
                   });
}

namespace {

hierarchy::Position::Level LevelOf(const membership::MembershipCore& membership) {
  hierarchy::Position::Level level{.supervisor = membership.map().supervisor};
  for (const auto& [id, member] : membership.map().members) {
    if (member.state == membership::MemberState::kUp) level.up.push_back(id);
  }
  return level;
}

}  // namespace

hierarchy::Position HierarchyService::Position() const {
  const Config& config = node_.config();
  hierarchy::Position p;
  for (auto it = config.parents.rbegin(); it != config.parents.rend(); ++it) {
    p.path.push_back(it->id);
  }
  p.path.push_back(config.node_id);
  p.levels.push_back(LevelOf(node_.membership()));
  for (size_t k = 1; k <= config.parents.size(); ++k) {
    const ParentLevel* level = Level(k);
    if (level == nullptr) break;
    p.levels.push_back(LevelOf(level->membership()));
  }
  return p;
}

ParentLevel* HierarchyService::Level(size_t level) const {
  ParentLevel* l = link_ ? link_->level() : nullptr;
  for (size_t k = 1; k < level && l != nullptr; ++k) {
    l = l->above() != nullptr ? l->above()->level() : nullptr;
  }
  return l;
}

Status HierarchyService::SendRelay(uint8_t level, NodeId to, std::span<const uint8_t> bytes) {
  if (level == 0) return node_.SendData(to, hierarchy::kRelayChannel, bytes);
  ParentLevel* l = Level(level);
  if (l == nullptr) return Error(Errc::kUnavailable, "this node no longer holds that level");
  return l->SendRelay(to, bytes);
}

json HierarchyService::Document() const {
  const Config& config = node_.config();
  const auto& map = node_.membership().map();
  return json{{"cluster",
               {{"name", config.cluster_name},
                {"node", config.node_id},
                {"path", hierarchy::PathText(Position().path)},
                {"supervisor", map.supervisor},
                {"aggregate", AggregateJson(hierarchy::OfCluster(map, usage_, {}))}}},
              {"parent", link_ ? link_->Document() : json(nullptr)}};
}

json HierarchyService::LevelTables() const {
  json levels = json::array();
  const json doc = Document();
  const json* level = &doc["parent"];
  for (int depth = 1; level->is_object(); ++depth, level = &(*level)["parent"]) {
    const json& l = *level;
    json row{{"depth", depth},
             {"name", l["name"]},
             {"node", l["node"]},
             {"held_here", l["held_here"]},
             {"held_by", l.value("held_by", json(nullptr))},
             {"supervisor", nullptr},
             {"map_version", nullptr},
             {"aggregate", l.value("aggregate", json(nullptr))},
             {"members", json::array()},
             {"omitted", 0}};
    if (l.contains("map")) {
      const NodeId supervisor = l["map"]["supervisor"].get<NodeId>();
      if (supervisor != kNoNode) row["supervisor"] = supervisor;
      row["map_version"] = l["map"]["version"];
      row["omitted"] = l["map"].value("omitted", 0);
      for (const json& m : l["map"]["members"]) {
        json member{{"id", m["id"]}, {"state", m["state"]}, {"incarnation", m["incarnation"]}};
        member["aggregate"] = m.value("aggregate", json(nullptr));
        row["members"].push_back(std::move(member));
      }
    }
    levels.push_back(std::move(row));
  }
  return levels;
}

}  // namespace cohort::node
