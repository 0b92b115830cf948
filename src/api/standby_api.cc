#include "api/standby_api.h"

#include <nlohmann/json.hpp>

#include "api/cluster_api.h"
#include "api/config_api.h"
#include "api/responses.h"
#include "dcm/clusters.h"
#include "dcm/define_target.h"

namespace cohort::api {
namespace {

using nlohmann::json;

json StatusDocument(const dcm::DefineTarget& target, const Config& config) {
  const bool offline = target.local().offline;
  return {{"node", {{"id", config.node_id}, {"name", config.node_name}}},
          {"cluster", nullptr},
          {"role", offline ? "offline" : "undefined"},
          {"uid", target.uid()},
          {"components",
           {{"dcm", offline ? "offline: waiting for `cluster online`" : "waiting to be defined"}}}};
}

}  // namespace

Handler StandbyHandler(dcm::DefineTarget& target, const Config& config, std::string api_token,
                       std::function<void()> defined, std::function<void()> restart) {
  return [&target, &config, token = std::move(api_token), defined = std::move(defined),
          restart = std::move(restart)](const HttpRequest& r, Respond respond) {
    const std::string path = r.target.substr(0, r.target.find('?'));
    const bool get = r.method == "GET";
    if (get && path == "/livez") return respond({200, "text/plain", "ok\n"});
    if (get && path == "/readyz") {
      return respond({503, "text/plain", "not ready: waiting to be defined\n"});
    }
    if (get && path == "/v1/status") return respond(Json(200, StatusDocument(target, config)));
    if (get && path == "/v1/clusters") {
      return respond(Json(200, ClustersDocument(target.local(), target.uid(), "waiting")));
    }
    if (r.method == "POST" && path == "/v1/dcm/define") {
      return AnswerDefine(target, r, respond, defined);
    }
    dcm::LocalClusters clusters(config, target.storage(), target.local(), target.uid(), "", false);
    if (r.method == "POST" && path == "/v1/dcm/control") {
      return AnswerControlRequest(config, clusters, r, respond, restart);
    }
    if (!get) {
      if (!ConstantTimeEqual(r.authorization, "Bearer " + token)) {
        return respond(Fail(401,
                            "send 'Authorization: Bearer <token>' with the token from "
                            "<data_dir>/api.token"));
      }
      if (HandleClusterChange(clusters, target, r, path, respond, restart)) return;
    }
    if (target.local().offline) {
      return respond(Fail(503, "node " + std::to_string(config.node_id) +
                                   " is offline: `cohort cluster online NAME` brings it back"));
    }
    respond(Fail(503, "node " + std::to_string(config.node_id) +
                          " is not defined to a cluster: it waits to be defined (`cohort "
                          "join-token` here, then `cohort node define " +
                          config.api_listen.ToString() + " --join-token TOKEN` on a member)"));
  };
}

}  // namespace cohort::api
