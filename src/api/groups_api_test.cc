// The groups endpoints against a real, started one-node cluster whose Group Services keep
// their records in the registry model: a session's feed, join, propose, vote and the
// failure-leave when the feed ends; and every bad request refused with one line.
#include <nlohmann/json.hpp>

#include "api/api_fixture.h"
#include "node/groups_service.h"
#include "registry/memory.h"

namespace cohort::api {
namespace {

using json = nlohmann::json;

// A session's stream as the client would read it.
class Feed : public StreamSink {
 public:
  void Write(std::string chunk) override {
    if (!closed_) lines.push_back(json::parse(chunk));
  }
  void Close() override { End(); }
  void OnClosed(std::function<void()> fn) override { on_closed_.push_back(std::move(fn)); }
  void End() {
    if (closed_) return;
    closed_ = true;
    for (auto& fn : on_closed_) fn();
  }
  std::vector<json> lines;

 private:
  bool closed_ = false;
  std::vector<std::function<void()>> on_closed_;
};

class GroupsApiTest : public NodeFixture {
 protected:
  void SetUp() override {
    StartNode(19421);
    groups_ = std::make_unique<node::GroupsService>(
        *node_,
        [this]() -> node::GroupsService::Records {
          return {&registry_, "/cohort/t/groups/"};
        },
        io_);
    groups_->Start();
    api_ = std::make_unique<Api>(*node_, nullptr, nullptr, nullptr, groups_.get());
  }
  void TearDown() override {
    if (groups_) groups_->Stop();
    NodeFixture::TearDown();
  }

  HttpResponse Call(const std::string& method, const std::string& target,
                    const std::string& body = "", bool authorized = true) {
    return Ask(*api_, method, target, body, authorized);
  }

  std::shared_ptr<Feed> Open() {
    HttpResponse r = Call("POST", "/v1/groups/sessions");
    EXPECT_EQ(r.status, 200);
    auto feed = std::make_shared<Feed>();
    if (r.stream) r.stream(feed);
    return feed;
  }

  registry::MemoryRegistry registry_;
  std::unique_ptr<node::GroupsService> groups_;
  std::unique_ptr<Api> api_;
};

TEST_F(GroupsApiTest, AMemberJoinsProposesVotesAndFailsOutWhenItsFeedEnds) {
  // The node alone becomes its cluster's supervisor, so it coordinates.
  ASSERT_TRUE(RunUntil([&] { return groups_->coordinator() == 1; }, 10));
  auto feed = Open();
  ASSERT_EQ(feed->lines.size(), 1u);
  EXPECT_EQ(feed->lines[0]["type"], "session");
  const uint32_t session = feed->lines[0]["session"];

  HttpResponse joined =
      Call("POST", "/v1/groups/video/join",
           json{{"session", session}, {"default_vote", "reject"}, {"wait_ms", 5000}}.dump());
  ASSERT_EQ(joined.status, 200) << joined.body;
  EXPECT_EQ(json::parse(joined.body)["committed"], true);

  HttpResponse proposed = Call("POST", "/v1/groups/video/propose",
                               json{{"session", session}, {"value_hex", "00ff"}}.dump());
  ASSERT_EQ(proposed.status, 202) << proposed.body;
  ASSERT_TRUE(RunUntil([&] { return feed->lines.back()["type"] == "vote"; }));
  const json ask = feed->lines.back();
  EXPECT_EQ(ask["value_hex"], "00ff");
  HttpResponse voted =
      Call("POST", "/v1/groups/video/vote",
           json{{"session", session}, {"request", ask["request"]}, {"phase", 1}, {"approve", true}}
               .dump());
  EXPECT_EQ(voted.status, 200) << voted.body;
  ASSERT_TRUE(RunUntil([&] {
    const json& last = feed->lines.back();
    return last["type"] == "change" && last["kind"] == "state";
  }));
  EXPECT_EQ(feed->lines.back()["value_hex"], "00ff");
  EXPECT_EQ(feed->lines.back()["version"], 2);

  HttpResponse shown = Call("GET", "/v1/groups/video", "", false);
  ASSERT_EQ(shown.status, 200);
  const json group = json::parse(shown.body);
  EXPECT_EQ(group["version"], 2);
  EXPECT_EQ(group["members"].size(), 1u);
  EXPECT_EQ(group["default_vote"], "reject");

  // The client hangs up: its process is taken as dead and fails out of the group.
  feed->End();
  ASSERT_TRUE(RunUntil([&] {
    const json g = json::parse(Call("GET", "/v1/groups/video", "", false).body);
    return g["version"] == 3 && g["members"].empty();
  }));
  ExpectRefused(Call("POST", "/v1/groups/video/leave", json{{"session", session}}.dump()), 404,
                "no group session");
}

TEST_F(GroupsApiTest, BadRequestsAreRefusedWithOneLine) {
  auto feed = Open();
  const uint32_t session = feed->lines.at(0)["session"];
  const std::string s = std::to_string(session);
  ExpectRefused(Call("POST", "/v1/groups/sessions", "", false), 401, "Authorization");
  ExpectRefused(Call("GET", "/v1/groups/bad%20name", "", false), 400, "not a group name");
  ExpectRefused(Call("POST", "/v1/groups/a/join", "{not json"), 400, "");
  ExpectRefused(Call("POST", "/v1/groups/a/join", R"({"session": "x"})"), 400, "\"session\"");
  ExpectRefused(Call("POST", "/v1/groups/a/join", R"({"session": 99})"), 404, "no group session");
  ExpectRefused(Call("POST", "/v1/groups/a/join", R"({"session": )" + s + R"(, "role": 1})"), 400,
                "");
  ExpectRefused(Call("POST", "/v1/groups/a/join", R"({"session": )" + s + R"(, "role": "x"})"), 400,
                "provider or subscriber");
  ExpectRefused(
      Call("POST", "/v1/groups/a/join", R"({"session": )" + s + R"(, "depends": ["a b"]})"), 400,
      "group name");
  ExpectRefused(Call("POST", "/v1/groups/a/propose", R"({"session": )" + s + "}"), 400,
                "\"value\"");
  ExpectRefused(
      Call("POST", "/v1/groups/a/propose", R"({"session": )" + s + R"(, "value_hex": "zz"})"), 400,
      "hex");
  ExpectRefused(Call("POST", "/v1/groups/a/propose",
                     R"({"session": )" + s + R"(, "value": "v", "phases": 9})"),
                400, "\"phases\"");
  ExpectRefused(Call("POST", "/v1/groups/a/vote", R"({"session": )" + s + "}"), 400, "request");
  ExpectRefused(
      Call("POST", "/v1/groups/a/vote",
           R"({"session": )" + s + R"(, "request": {"node": 1, "incarnation": 1, "seq": 1}})"),
      400, "approve");
  ExpectRefused(Call("POST", "/v1/groups/a/frobnicate", "{}"), 404, "");
  ExpectRefused(Call("DELETE", "/v1/groups/a/join", "{}"), 405, "");
  ExpectRefused(Call("GET", "/v1/groups/nothing", "", false), 404, "no group named nothing");
}

}  // namespace
}  // namespace cohort::api
