#include "resources/records.h"

#include <gtest/gtest.h>

namespace cohort::resources {
namespace {

TEST(RecordsTest, ADefinitionRoundTrips) {
  auto s = ParseSpec(R"({"name":"web","class":"ocf","agent":"heartbeat:nginx",
    "params":{"configfile":"/etc/nginx.conf"},"allowed":[1,2],"prefer":{"2":50},
    "with":["vip"],"after":["vip"],"disks":["media"],"monitor_interval_ms":2000,
    "timeouts_ms":{"stop":5000},"migration_threshold":1,"moved_to":2,
    "content":["films/a.mp4"],"needs_mbps":40,"promotable":true})");
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->params.at("configfile"), "/etc/nginx.conf");
  EXPECT_EQ(s->prefer.at(2), 50);
  EXPECT_EQ(s->timeouts.stop, Duration::Seconds(5));
  EXPECT_EQ(s->timeouts.start, Duration::Seconds(20));
  auto again = ParseSpec(EncodeSpec(*s));
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(EncodeSpec(*again), EncodeSpec(*s));
  EXPECT_EQ(again->moved_to, 2);
  EXPECT_EQ(again->content, std::vector<std::string>{"films/a.mp4"});
  EXPECT_EQ(again->needs_mbps, 40u);
  EXPECT_TRUE(again->promotable);
  // Fields a definition does not use are left out, for daemons that do not know them.
  auto plain = ParseSpec(R"({"name":"a","class":"ocf","agent":"heartbeat:Dummy"})");
  ASSERT_TRUE(plain);
  EXPECT_EQ(EncodeSpec(*plain).find("content"), std::string::npos);
  EXPECT_EQ(EncodeSpec(*plain).find("needs_mbps"), std::string::npos);
  EXPECT_EQ(EncodeSpec(*plain).find("promotable"), std::string::npos);
}

TEST(RecordsTest, BadDefinitionsAreRefusedWithOneLine) {
  for (const char* bad : {
           "",
           "[]",
           "{}",
           R"({"name":"a"})",
           R"({"name":"a","class":"lsb","agent":"x"})",
           R"({"name":"a","class":"ocf","agent":"heartbeat:Dummy","typo":1})",
           R"({"name":"a","class":"ocf","agent":"heartbeat:Dummy","promotable":"yes"})",
           R"({"name":"a","class":"ocf","agent":"heartbeat:Dummy","params":{"x":1}})",
           R"({"name":"a","class":"ocf","agent":"heartbeat:Dummy","allowed":[0]})",
           R"({"name":"a","class":"ocf","agent":"heartbeat:Dummy","allowed":[-1]})",
           R"({"name":"a","class":"ocf","agent":"heartbeat:Dummy","prefer":{"x":1}})",
           R"({"name":"a","class":"ocf","agent":"heartbeat:Dummy","timeouts_ms":{"start":-1}})",
           R"({"name":"a","class":"ocf","agent":"heartbeat:Dummy","timeouts_ms":{"reload":1}})",
           R"({"name":"a","class":"ocf","agent":"heartbeat:Dummy","target":"up"})",
           R"({"name":"a","class":"ocf","agent":"heartbeat:Dummy","with":"b"})",
           R"({"name":"a","class":"ocf","agent":"heartbeat:Dummy","content":["/etc/x"]})",
           R"({"name":"a","class":"ocf","agent":"heartbeat:Dummy","content":["a/../b"]})",
           R"({"name":"a","class":"ocf","agent":"heartbeat:Dummy","needs_mbps":-5})",
       }) {
    auto r = ParseSpec(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_EQ(r.error().message().find('\n'), std::string::npos);
    }
  }
}

TEST(RecordsTest, KeysAndSmallRecords) {
  auto k = ParseKey("fails/web/3");
  ASSERT_TRUE(k);
  EXPECT_EQ(k->kind, RecordKey::Kind::kFails);
  EXPECT_EQ(k->node, 3);
  EXPECT_EQ(KeyOf(*k), "fails/web/3");
  EXPECT_EQ(KeyOf(*ParseKey("owner/web")), "owner/web");
  EXPECT_EQ(KeyOf(*ParseKey("status/web/2")), "status/web/2");
  for (const char* bad :
       {"", "owner", "owner/", "fails/web", "fails/web/0", "other/web", "defs/../x", "fails/web/x",
        "status/web", "fails/eb/03", "status/web/007", "alive/", "alive/0", "alive/02"}) {
    EXPECT_FALSE(ParseKey(bad)) << bad;
  }
  EXPECT_EQ(*ParseOwner(EncodeOwner(4)), 4);
  EXPECT_FALSE(ParseOwner(R"({"node":0})"));
  auto p = ParsePlaced(EncodePlaced({kNoNode, "no node can run it"}));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->node, kNoNode);
  auto st = ParseStatus(EncodeStatus({2, "running", "", 5}));
  ASSERT_TRUE(st);
  EXPECT_EQ(st->state, "running");
  EXPECT_EQ(st->role, "");
  auto promoted = ParseStatus(EncodeStatus({2, "running", "", 5, "promoted"}));
  ASSERT_TRUE(promoted);
  EXPECT_EQ(promoted->role, "promoted");
  EXPECT_FALSE(ParseStatus("{}"));
  EXPECT_EQ(KeyOf(*ParseKey("alive/12")), "alive/12");
  auto alive = ParseAlive(EncodeAlive({3, kNoNode, 600}));
  ASSERT_TRUE(alive);
  EXPECT_EQ(alive->node, 3);
  EXPECT_EQ(alive->taken_by, kNoNode);
  EXPECT_EQ(alive->ttl_ms, 600u);
  auto taken = ParseAlive(EncodeAlive({3, 1}));
  ASSERT_TRUE(taken);
  EXPECT_EQ(taken->taken_by, 1);
  for (const char* bad : {"{}", R"({"node":0})", R"({"node":3,"taken_by":"x"})", "[]",
                          R"({"node":3,"ttl_ms":-1})", R"({"node":3,"ttl_ms":700000})"}) {
    EXPECT_FALSE(ParseAlive(bad)) << bad;
  }
}

}  // namespace
}  // namespace cohort::resources
