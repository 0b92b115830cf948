// The API's handlers against a real, started node (one member, UDP on 127.0.0.1), without
// HTTP: what a client is answered for good and bad requests, and that every refusal is one
// clear line with the right status.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

#include "api/handlers.h"
#include "base/config.h"
#include "io/asio.h"
#include "io/files.h"
#include "node/node.h"
#include "wire/seal.h"

namespace cohort::api {
namespace {

using json = nlohmann::json;

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/cohort-api-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    dir_ = dir;
    ASSERT_TRUE(
        io::WriteFileAtomic(dir_ + "/cluster.key", wire::KeyToText(wire::GenerateKey()) + "\n"));
    const std::string toml = "[node]\nid = 1\ndata_dir = \"" + dir_ +
                             "\"\n[cluster]\nname = \"t\"\nkey_file = \"" + dir_ +
                             "/cluster.key\"\n[transport]\nlisten = [\"127.0.0.1:19411\"]\n";
    auto config = ParseConfig(toml, "api_test");
    ASSERT_TRUE(config) << config.error().message();
    auto node = node::Node::Create(*config, io_);
    ASSERT_TRUE(node) << node.error().message();
    node_ = std::move(*node);
    ASSERT_TRUE(node_->Start());
    api_ = std::make_unique<Api>(*node_);
  }
  void TearDown() override {
    if (node_) node_->Stop();
    std::filesystem::remove_all(dir_);
  }

  // The answer to one request; the loop runs until it comes (at most 5 s).
  HttpResponse Call(const std::string& method, const std::string& target,
                    const std::string& body = "", bool authorized = false) {
    std::optional<HttpResponse> answer;
    const std::string auth = authorized ? "Bearer " + node_->api_token() : "";
    api_->Handle({method, target, body, auth}, [&](HttpResponse r) { answer = std::move(r); });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!answer && std::chrono::steady_clock::now() < deadline) {
      io_.run_for(std::chrono::milliseconds(10));
    }
    EXPECT_TRUE(answer) << method << " " << target << " was not answered";
    return answer.value_or(HttpResponse{0, "", "", nullptr});
  }
  // A refusal: `status`, and a JSON body whose one-line "error" holds `words`.
  void ExpectRefused(const HttpResponse& r, int status, const std::string& words) {
    EXPECT_EQ(r.status, status) << r.body;
    const json body = json::parse(r.body, nullptr, false);
    ASSERT_TRUE(body.is_object() && body.contains("error")) << r.body;
    const std::string error = body["error"].get<std::string>();
    EXPECT_NE(error.find(words), std::string::npos) << error;
    EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  }

  boost::asio::io_context io_;
  std::string dir_;
  std::unique_ptr<node::Node> node_;
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
