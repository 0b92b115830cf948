#include "api/parent_api.h"

#include <nlohmann/json.hpp>

#include "api/responses.h"
#include "dcm/dcm.h"
#include "dcm/stored_parent.h"

namespace cohort::api {
namespace {

using nlohmann::json;

json LevelsJson(const std::vector<ParentConfig>& parents) {
  json levels = json::array();
  for (size_t d = 0; d < parents.size(); ++d) {
    const ParentConfig& p = parents[d];
    json seeds = json::array();
    for (const Endpoint& s : p.seeds) seeds.push_back(s.ToString());
    levels.push_back({{"depth", d + 1},
                      {"id", p.id},
                      {"name", p.name},
                      {"listen", p.listen.ToString()},
                      {"seeds", seeds},
                      {"priority", p.priority},
                      {"level_factor", p.level_factor},
                      {"key_file", p.key_file}});
  }
  return levels;
}

}  // namespace

bool HandleParent(const node::Node& node, dcm::Dcm* dcm, const HttpRequest& r,
                  const std::string& path, const Respond& respond) {
  if (path != "/v1/cluster/parent") return false;
  const Config& config = node.config();
  if (r.method == "GET") {
    const char* defined = config.parents.empty()       ? "none"
                          : config.parents_at_run_time ? "run-time"
                                                       : "file";
    respond(Json(200, {{"cluster", config.cluster_name},
                       {"defined", defined},
                       {"levels", LevelsJson(config.parents)}}));
    return true;
  }
  if (r.method != "PUT" && r.method != "DELETE") {
    respond(Fail(405, "GET, PUT or DELETE /v1/cluster/parent"));
    return true;
  }
  if (dcm == nullptr) {
    respond(Fail(503, "this daemon cannot start again to follow a change"));
    return true;
  }
  json answer;
  if (r.method == "PUT") {
    auto levels = dcm::StoreParent(config, r.body);
    if (!levels) {
      respond(Fail(400, levels.error().message()));
      return true;
    }
    answer = {{"message", "the parent is defined for cluster " + config.cluster_name +
                              " on this node: it starts again to follow it"},
              {"levels", LevelsJson(*levels)}};
  } else {
    auto removed = dcm::ForgetParent(config.data_dir);
    if (!removed) {
      respond(Fail(500, removed.error().message()));
      return true;
    }
    if (!*removed) {
      respond(Fail(404, "no parent was defined at run time on this node"));
      return true;
    }
    answer = {{"message",
               "the parent defined at run time is forgotten: the node starts again "
               "with its file's"}};
  }
  respond(Json(200, answer));
  dcm->Restart();
  return true;
}

}  // namespace cohort::api
