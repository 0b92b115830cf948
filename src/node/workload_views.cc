#include "node/workload_views.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "wire/sha256.h"

namespace cohort::node {
namespace {

using json = nlohmann::json;
using workload::HoldingState;

// What an answer's lists may take, leaving room for the rest within the message's limit.
constexpr size_t kListBudget = workload::kMaxQueryBody - 16 * 1024;

json VersionJson(const workload::Version& v) {
  return {{"bytes", v.bytes}, {"mtime_ns", v.mtime_ns}, {"digest", wire::DigestToHex(v.sha256)}};
}

json HoldingJson(const workload::Holding& h) {
  return {{"node", h.node}, {"disk", h.disk}, {"state", workload::HoldingStateName(h.state)}};
}

workload::QueryReplyMsg Reply(const workload::QueryMsg& q, uint16_t status, const json& body) {
  return {q.nonce, status, body.dump()};
}

workload::QueryReplyMsg Content(const workload::Supervisor& t, const workload::QueryMsg& q) {
  const uint32_t limit = q.limit == 0 ? kDefaultContentPage : std::min(q.limit, kMaxContentPage);
  bool more = false;
  json items = json::array();
  size_t size = 0;
  for (const std::string& path : t.catalog().Page(q.path, q.after, q.node, limit, &more)) {
    if (size > kListBudget) {  // the rest on the next page
      more = true;
      break;
    }
    const auto holdings = t.catalog().Lookup(path);
    json holders = json::array();
    for (const auto& h : holdings) holders.push_back(HoldingJson(h));
    json item = VersionJson(*t.catalog().Current(path));
    item["path"] = path;
    item["holders"] = holders;
    size += item.dump().size() + 1;
    items.push_back(item);
  }
  json body{{"items", items}, {"paths", t.catalog().paths()}, {"copies", t.catalog().copies()}};
  body["next"] = more && !items.empty() ? json(items.back()["path"]) : json(nullptr);
  return Reply(q, 200, body);
}

workload::QueryReplyMsg Where(const workload::Supervisor& t, const workload::QueryMsg& q) {
  const auto current = t.catalog().Current(q.path);
  if (!current) {
    return Reply(q, 404, {{"error", "no node holds '" + q.path + "'"}});
  }
  std::vector<workload::Holder> servable;
  for (const auto& [node, disk] : t.catalog().Servable(q.path)) servable.push_back({node});
  const auto order = workload::RankHolders(workload::ContentHash(q.path), servable);
  json holders = json::array();
  for (const auto& h : t.catalog().Lookup(q.path)) {
    json j = HoldingJson(h);
    j["version_current"] = workload::SameContent(h.version, *current);
    auto rank = std::find(order.begin(), order.end(), h.node);
    j["rank"] = h.state == HoldingState::kAvailable && rank != order.end()
                    ? json(rank - order.begin())
                    : json(nullptr);
    if (auto n = t.table().nodes().find(h.node); n != t.table().nodes().end()) {
      j["load_kbps"] = n->second.load_kbps;
      j["capacity_kbps"] = n->second.capacity_kbps;
    }
    j["stream"] = t.AddressOf(h.node);
    holders.push_back(j);
  }
  return Reply(q, 200,
               {{"path", q.path}, {"version", VersionJson(*current)}, {"holders", holders}});
}

workload::QueryReplyMsg Streams(const workload::Supervisor& t, NodeId supervisor,
                                const workload::QueryMsg& q, int64_t now_ms) {
  json nodes = json::array();
  for (const auto& [id, n] : t.table().nodes()) {
    if (q.node != kNoNode && id != q.node) continue;
    nodes.push_back({{"node", id},
                     {"up", n.up},
                     {"sessions", n.ids.size()},
                     {"load_kbps", n.load_kbps},
                     {"capacity_kbps", n.capacity_kbps},
                     {"refused_total", n.refused},
                     {"stream", t.AddressOf(id)}});
  }
  json sessions = json::array();
  size_t total = 0, size = 0;
  for (const auto& [id, s] : t.table().sessions()) {
    if (q.node != kNoNode && s.node != q.node) continue;
    if (++total > kMaxSessionsListed || size > kListBudget) continue;
    size += s.path.size() + 256;  // the fields around it
    sessions.push_back({{"id", std::to_string(id)},
                        {"path", s.path},
                        {"node", s.node},
                        {"disk", s.disk},
                        {"bitrate_kbps", s.bitrate_kbps},
                        {"state", workload::SessionStateName(s.state)},
                        {"offset", s.offset},
                        {"bytes_sent", s.bytes_sent},
                        {"rank", s.rank},
                        {"moves", s.moves},
                        {"age_ms", now_ms - s.since_ms}});
  }
  return Reply(q, 200,
               {{"supervisor", supervisor},
                {"nodes", nodes},
                {"sessions", sessions},
                {"sessions_total", total},
                {"reassigned_total", t.table().reassigned()},
                {"refused_total", t.table().refused()}});
}

}  // namespace

workload::QueryReplyMsg AnswerQuery(const workload::Supervisor& tables, NodeId supervisor,
                                    const workload::QueryMsg& query, int64_t now_ms) {
  switch (query.kind) {
    case workload::QueryKind::kContent:
      return Content(tables, query);
    case workload::QueryKind::kWhere:
      return Where(tables, query);
    case workload::QueryKind::kStreams:
      return Streams(tables, supervisor, query, now_ms);
  }
  return Reply(query, 400, {{"error", "unknown query"}});
}

}  // namespace cohort::node
