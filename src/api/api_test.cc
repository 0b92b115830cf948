// The API's handlers against a real, started node (one member, UDP on 127.0.0.1), without
// HTTP: what a client is answered for good and bad requests, and that every refusal is one
// clear line with the right status.
#include <nlohmann/json.hpp>

#include "api/api_fixture.h"

namespace cohort::api {
namespace {

using json = nlohmann::json;

class ApiTest : public NodeFixture {
 protected:
  void SetUp() override {
    StartNode(19411);
    api_ = std::make_unique<Api>(*node_);
  }
  HttpResponse Call(const std::string& method, const std::string& target,
                    const std::string& body = "", bool authorized = false) {
    return Ask(*api_, method, target, body, authorized);
  }
  std::unique_ptr<Api> api_;
};

TEST_F(ApiTest, ReadsAnswerWithTheNodesState) {
  EXPECT_EQ(Call("GET", "/livez").status, 200);
  const HttpResponse status = Call("GET", "/v1/status");
  ASSERT_EQ(status.status, 200);
  const json s = json::parse(status.body);
  EXPECT_EQ(s["node"]["id"], 1);
  const HttpResponse members = Call("GET", "/v1/members");
  ASSERT_EQ(members.status, 200);
  EXPECT_TRUE(json::parse(members.body).is_object());
  const HttpResponse metrics = Call("GET", "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("cohort_membership_map_version"), std::string::npos);
  const HttpResponse page = Call("GET", "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.content_type.find("text/html"), std::string::npos);
}

TEST_F(ApiTest, ChangesNeedTheToken) {
  ExpectRefused(Call("POST", "/v1/keys", R"({"key": "x"})"), 401, "Authorization: Bearer");
  ExpectRefused(Call("POST", "/v1/keys", R"({"key": "x"})", false), 401, "api.token");
  ExpectRefused(Call("POST", "/v1/keys", R"({"key": 5})", true), 400, "'key' must be");
  ExpectRefused(Call("POST", "/v1/keys/use", R"({"id": "zz"})", true), 400, "");
  // Fields of the wrong type are refused as bad requests, not answered 500.
  ExpectRefused(Call("POST", "/v1/keys/use", R"({"id": 5})", true), 400, "");
  ExpectRefused(Call("POST", "/v1/adapters/down", R"({"address": 5})", true), 400, "");
  ExpectRefused(Call("PUT", "/v1/keys", "{}", true), 405, "not allowed");
}

TEST_F(ApiTest, BadRequestsAreRefusedWithOneLine) {
  ExpectRefused(Call("POST", "/v1/ping", "{not json"), 400, "");
  ExpectRefused(Call("POST", "/v1/ping", R"({"node": 0})"), 400, "'node' must be");
  ExpectRefused(Call("POST", "/v1/ping", R"({"node": 2, "count": 0})"), 400, "count 1..10000");
  ExpectRefused(Call("POST", "/v1/ping", R"({"node": 2, "count": "x"})"), 400, "count 1..10000");
  ExpectRefused(Call("POST", "/v1/ping", R"({"node": 99})"), 404, "not in this node's address");
  ExpectRefused(Call("GET", "/v1/nothing-here"), 404, "");
  // No distributor and no configuration manager in this node.
  ExpectRefused(Call("GET", "/v1/jobs"), 503, "distribution is not running");
  ExpectRefused(Call("POST", "/v1/jobs", R"({"dest": "x"})", true), 503,
                "distribution is not running");
}

}  // namespace
}  // namespace cohort::api
