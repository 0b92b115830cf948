// A real, started one-node cluster for the API's tests (UDP on 127.0.0.1, a temporary data
// folder), and the helpers they share: one request answered (the loop runs until it is),
// and a refusal checked to be one clear line.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "api/handlers.h"
#include "base/config.h"
#include "io/asio.h"
#include "io/files.h"
#include "node/node.h"
#include "wire/seal.h"

namespace cohort::api {

class NodeFixture : public ::testing::Test {
 protected:
  // Starts node 1 of cluster "t" on 127.0.0.1:`port`.
  void StartNode(uint16_t port) {
    char dir[] = "/tmp/cohort-api-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    dir_ = dir;
    ASSERT_TRUE(
        io::WriteFileAtomic(dir_ + "/cluster.key", wire::KeyToText(wire::GenerateKey()) + "\n"));
    const std::string toml =
        "[node]\nid = 1\ndata_dir = \"" + dir_ + "\"\n[cluster]\nname = \"t\"\nkey_file = \"" +
        dir_ + "/cluster.key\"\n[transport]\nlisten = [\"127.0.0.1:" + std::to_string(port) +
        "\"]\n";
    auto config = ParseConfig(toml, "api_test");
    ASSERT_TRUE(config) << config.error().message();
    auto node = node::Node::Create(*config, io_);
    ASSERT_TRUE(node) << node.error().message();
    node_ = std::move(*node);
    ASSERT_TRUE(node_->Start());
  }
  void TearDown() override {
    if (node_) node_->Stop();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // Runs the loop until `done` holds (true) or `seconds` pass (false).
  template <typename F>
  bool RunUntil(F done, int seconds = 5) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      io_.run_for(std::chrono::milliseconds(5));
    }
    return done();
  }

  // The answer of `api` to one request.
  HttpResponse Ask(Api& api, const std::string& method, const std::string& target,
                   const std::string& body, bool authorized) {
    std::optional<HttpResponse> answer;
    const std::string auth = authorized ? "Bearer " + node_->api_token() : "";
    api.Handle({method, target, body, auth, ""}, [&](HttpResponse r) { answer = std::move(r); });
    EXPECT_TRUE(RunUntil([&] { return answer.has_value(); }))
        << method << " " << target << " was not answered";
    return answer.value_or(HttpResponse{0, "", "", nullptr});
  }

  // A refusal: `status`, and a JSON body whose one-line "error" holds `words`.
  static void ExpectRefused(const HttpResponse& r, int status, const std::string& words) {
    EXPECT_EQ(r.status, status) << r.body;
    const nlohmann::json body = nlohmann::json::parse(r.body, nullptr, false);
    ASSERT_TRUE(body.is_object() && body.contains("error")) << r.body;
    const std::string error = body["error"].get<std::string>();
    EXPECT_NE(error.find(words), std::string::npos) << error;
    EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  }

  boost::asio::io_context io_;
  std::string dir_;
  std::unique_ptr<node::Node> node_;
};

}  // namespace cohort::api
