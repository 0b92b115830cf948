// The resource manager's API against a real one-node cluster whose resource service keeps
// its records in the registry model: a process resource defined, placed, started, stopped,
// explained and deleted; and every kind of bad request refused with one line.
#include <nlohmann/json.hpp>

#include "api/api_fixture.h"
#include "io/files.h"
#include "node/resource_service.h"
#include "registry/memory.h"

namespace cohort::api {
namespace {

using nlohmann::json;

class ResourcesApiTest : public NodeFixture {
 protected:
  void SetUp() override {
    StartNode(19431);
    node::ResourceService::Options options;
    options.lease_ttl = Duration::Seconds(2);
    options.fence_margin = Duration::Millis(700);
    options.runner.log_dir = dir_ + "/resources";
    options.runner.state_dir = dir_ + "/ocf-run";
    resources_ = std::make_unique<node::ResourceService>(
        *node_,
        [this]() -> node::ResourceService::Records {
          return {&registry_, "/cohort/t/resources/"};
        },
        io_, options);
    resources_->Start();
    api_ = std::make_unique<Api>(*node_, nullptr, nullptr, nullptr, nullptr, resources_.get());
  }
  void TearDown() override {
    if (resources_) {
      bool stopped = false;
      resources_->Stop(Duration::Seconds(5), [&] { stopped = true; });
      EXPECT_TRUE(RunUntil([&] { return stopped; }, 10));
    }
    NodeFixture::TearDown();
  }

  HttpResponse Call(const std::string& method, const std::string& target,
                    const std::string& body = "", bool authorized = true) {
    return Ask(*api_, method, target, body, authorized);
  }
  json Get(const std::string& target) {
    return json::parse(Call("GET", target, "", false).body, nullptr, false);
  }
  // The resource's state as listed, once it is `state`.
  bool Becomes(const std::string& name, const std::string& state) {
    return RunUntil(
        [&] {
          const json doc = Get("/v1/resources/" + name);
          return doc.is_object() && doc.value("state", "") == state;
        },
        15);
  }

  registry::MemoryRegistry registry_;
  std::unique_ptr<node::ResourceService> resources_;
  std::unique_ptr<Api> api_;
};

TEST_F(ResourcesApiTest, AProcessResourceIsPlacedStartedStoppedAndDeleted) {
  const std::string marker = dir_ + "/ran";
  const json def = {{"name", "worker"},
                    {"class", "process"},
                    {"agent", "echo $COHORT_RESOURCE > " + marker + "; exec sleep 30"},
                    {"monitor_interval_ms", 200}};
  HttpResponse created = Call("POST", "/v1/resources", def.dump());
  ASSERT_EQ(created.status, 200) << created.body;
  ASSERT_TRUE(Becomes("worker", "running"));
  EXPECT_TRUE(RunUntil([&] { return static_cast<bool>(io::ReadFile(marker)); }));
  json shown = Get("/v1/resources/worker");
  EXPECT_EQ(shown["node"], 1);
  EXPECT_EQ(shown["placed"], 1);
  EXPECT_EQ(shown["definition"]["agent"], def["agent"]);
  json explained = Get("/v1/resources/worker/explain");
  EXPECT_EQ(explained["node"], 1);
  EXPECT_NE(explained["scores"][0]["why"].get<std::string>().find("runs here now"),
            std::string::npos);
  json action =
      json::parse(Call("POST", "/v1/resources/worker/action", R"({"action":"monitor"})").body);
  EXPECT_EQ(action["exit_code"], 0);
  EXPECT_EQ(action["node"], 1);
  EXPECT_EQ(action["runs_on"], 1);
  ExpectRefused(Call("POST", "/v1/resources", def.dump()), 409, "exists already");

  ASSERT_EQ(Call("POST", "/v1/resources/worker/stop", "{}").status, 200);
  ASSERT_TRUE(Becomes("worker", "stopped"));
  EXPECT_EQ(Get("/v1/resources/worker")["target"], "stopped");
  EXPECT_EQ(Get("/v1/resources/worker/explain")["reason"], "its target role is stopped");
  ASSERT_EQ(Call("POST", "/v1/resources/worker/start", "{}").status, 200);
  ASSERT_TRUE(Becomes("worker", "running"));

  ASSERT_EQ(Call("DELETE", "/v1/resources/worker").status, 200);
  EXPECT_TRUE(RunUntil([&] { return Get("/v1/resources")["resources"].empty(); }));
  EXPECT_TRUE(RunUntil(
      [&] { return resources_->LocalStates()["worker"] == resources::LocalState::kIdle; }));
  EXPECT_NE(Call("GET", "/metrics", "", false).body.find("cohort_resource_actions_total"),
            std::string::npos);
}

TEST_F(ResourcesApiTest, BadRequestsAreRefusedWithOneLine) {
  ASSERT_TRUE(RunUntil([&] { return resources_->synced(); }));
  ExpectRefused(Call("POST", "/v1/resources", "{}", false), 401, "Authorization");
  ExpectRefused(Call("POST", "/v1/resources", "{not json"), 400, "JSON object");
  ExpectRefused(Call("POST", "/v1/resources", R"({"name":"a","class":"ocf","agent":"x"})"), 400,
                "<provider>:<type>");
  ExpectRefused(Call("POST", "/v1/resources",
                     R"({"name":"a","class":"ocf","agent":"heartbeat:Dummy","typo":1})"),
                400, "unknown field");
  ExpectRefused(Call("POST", "/v1/resources",
                     R"({"name":"a","class":"process","agent":"true","allowed":[70000]})"),
                400, "node number");
  ExpectRefused(Call("GET", "/v1/resources/nothing", "", false), 404, "no resource named");
  ExpectRefused(Call("GET", "/v1/resources/nothing/explain", "", false), 404, "no resource");
  ExpectRefused(Call("POST", "/v1/resources/bad%20name/start", "{}"), 400, "not a resource name");
  ExpectRefused(Call("POST", "/v1/resources/nothing/start", "{}"), 404, "no resource named");
  ASSERT_EQ(Call("POST", "/v1/resources",
                 R"({"name":"a","class":"process","agent":"true","target":"stopped"})")
                .status,
            200);
  ASSERT_TRUE(RunUntil([&] { return resources_->Find("a").has_value(); }));
  ExpectRefused(Call("POST", "/v1/resources/a/move", "{}"), 400, "\"node\"");
  ExpectRefused(Call("POST", "/v1/resources/a/move", R"({"node":0})"), 400, "\"node\"");
  ExpectRefused(Call("POST", "/v1/resources/a/action", R"({"action":"rm -rf"})"), 400, "action");
  ExpectRefused(Call("POST", "/v1/resources/a/action", R"({"action":"start"})"), 400,
                "the manager's");
  ExpectRefused(Call("POST", "/v1/resources/a/action", R"({"action":"meta-data"})"), 400,
                "only monitor");
  ExpectRefused(Call("POST", "/v1/resources/a/action", R"({"action":"monitor","timeout_ms":5})"),
                400, "timeout_ms");
  ExpectRefused(Call("POST", "/v1/resources/a/frobnicate", "{}"), 404, "no such resource");
  ExpectRefused(Call("PUT", "/v1/resources/a", "{}"), 405, "not allowed");
}

// C9 against the registry model: the node writes its inventory at its first read of the
// records, content under its root shows, and a file removed stays listed as missing.
TEST_F(ResourcesApiTest, TheNodesInventoryIsWrittenAndWhatGoesIsMarkedMissing) {
  const std::string root = node_->config().distribution_root;
  ASSERT_TRUE(io::MakeDirs(root + "/films"));
  ASSERT_TRUE(io::WriteFileAtomic(root + "/films/a.mp4", "media"));
  ASSERT_TRUE(io::WriteFileAtomic(root + "/films/.a.mp4.cohort-part", "partial"));
  ASSERT_EQ(Call("POST", "/v1/inventory/rescan", "{}").status, 200);
  auto content = [&](const std::string& path) {
    json doc = Get("/v1/inventory?class=content&node=1");
    for (const json& r : doc["resources"]) {
      if (r["name"] == path) return r;
    }
    return json();
  };
  ASSERT_TRUE(RunUntil([&] { return content("films/a.mp4").is_object(); }, 15));
  EXPECT_EQ(content("films/a.mp4")["attributes"]["bytes"], 5);
  EXPECT_EQ(content("films/a.mp4")["state"], "present");
  EXPECT_TRUE(content("films/.a.mp4.cohort-part").is_null());  // the daemon's own temporary
  json nodes = Get("/v1/inventory?class=node");
  ASSERT_EQ(nodes["resources"].size(), 1u);
  EXPECT_EQ(nodes["resources"][0]["name"], "1");
  EXPECT_EQ(Get("/v1/inventory?class=adapter")["resources"][0]["attributes"]["interface"], "lo");
  EXPECT_EQ(Get("/v1/resource-classes")["classes"].size(), 6u);

  const uint64_t writes = resources_->metrics().inventory_writes;
  ASSERT_TRUE(std::filesystem::remove(root + "/films/a.mp4"));
  ASSERT_EQ(Call("POST", "/v1/inventory/rescan", "{}").status, 200);
  ASSERT_TRUE(RunUntil([&] { return content("films/a.mp4").value("state", "") == "missing"; }));
  EXPECT_GT(content("films/a.mp4")["missing_since_ms"].get<int64_t>(), 0);
  EXPECT_GT(resources_->metrics().inventory_writes, writes);
  ASSERT_FALSE(resources_->Changes(0).empty());
  EXPECT_EQ(resources_->Changes(0).back().change.missing,
            std::vector<std::string>{"content films/a.mp4"});
  // An unchanged discovery writes nothing.
  const uint64_t settled = resources_->metrics().inventory_writes;
  const uint64_t discoveries = resources_->metrics().discoveries;
  ASSERT_EQ(Call("POST", "/v1/inventory/rescan", "{}").status, 200);
  ASSERT_TRUE(RunUntil([&] { return resources_->metrics().discoveries > discoveries; }));
  EXPECT_EQ(resources_->metrics().inventory_writes, settled);

  ExpectRefused(Call("GET", "/v1/inventory?class=printer", "", false), 400, "class must be");
  ExpectRefused(Call("GET", "/v1/inventory?node=0", "", false), 400, "node number");
  ExpectRefused(Call("POST", "/v1/inventory/rescan", "{}", false), 401, "token");
  ExpectRefused(Call("GET", "/v1/inventory/rescan", "", false), 405, "no such inventory");
  ExpectRefused(Call("POST", "/v1/inventory/frobnicate", "{}"), 404, "no such inventory");
}

}  // namespace
}  // namespace cohort::api
