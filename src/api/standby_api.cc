#include "api/standby_api.h"

#include <nlohmann/json.hpp>

#include "api/config_api.h"
#include "api/responses.h"
#include "dcm/standby.h"

namespace cohort::api {
namespace {

using nlohmann::json;

json StatusDocument(const dcm::Standby& standby, const Config& config) {
  return {{"node", {{"id", config.node_id}, {"name", config.node_name}}},
          {"cluster", nullptr},
          {"role", "undefined"},
          {"uid", standby.uid()},
          {"components", {{"dcm", "waiting to be defined"}}}};
}

void Define(dcm::Standby& standby, const HttpRequest& r, const Respond& respond,
            const std::function<void()>& defined) {
  auto key = standby.TokenKey();
  if (!key) return respond(FromError(key.error()));
  auto m = dcm::OpenDefine(*key, r.body);
  if (!m) return respond(FromError(m.error()));
  const dcm::DefineAnswer a = standby.Answer(*m);
  respond({200, "application/octet-stream", dcm::SealAnswer(*key, a)});
  if (m->op == dcm::DefineOp::kCommit && a.ok) defined();
}

}  // namespace

Handler StandbyHandler(dcm::Standby& standby, const Config& config, std::string api_token,
                       std::function<void()> defined) {
  return [&standby, &config, token = std::move(api_token), defined = std::move(defined)](
             const HttpRequest& r, Respond respond) {
    const std::string path = r.target.substr(0, r.target.find('?'));
    const bool get = r.method == "GET";
    if (get && path == "/livez") return respond({200, "text/plain", "ok\n"});
    if (get && path == "/readyz") {
      return respond({503, "text/plain", "not ready: waiting to be defined\n"});
    }
    if (get && path == "/v1/status") return respond(Json(200, StatusDocument(standby, config)));
    if (get && path == "/v1/clusters") {
      return respond(Json(200, ClustersDocument(standby.local(), standby.uid(), "waiting")));
    }
    if (r.method == "POST" && path == "/v1/dcm/define") return Define(standby, r, respond, defined);
    if (r.method == "POST" && path == "/v1/join-token") {
      if (!ConstantTimeEqual(r.authorization, "Bearer " + token)) {
        return respond(Fail(401,
                            "send 'Authorization: Bearer <token>' with the token from "
                            "<data_dir>/api.token"));
      }
      auto made = standby.NewToken();
      if (!made) return respond(FromError(made.error()));
      return respond(Json(200, json{{"token", *made}, {"uid", standby.uid()}}));
    }
    respond(Fail(503, "node " + std::to_string(config.node_id) +
                          " is not defined to a cluster: it waits to be defined (`cohort "
                          "join-token` here, then `cohort node define " +
                          config.api_listen.ToString() + " --join-token TOKEN` on a member)"));
  };
}

}  // namespace cohort::api
