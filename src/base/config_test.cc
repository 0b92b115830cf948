#include "base/config.h"

#include <gtest/gtest.h>

namespace cohort {
namespace {

const char* kGood = R"(
[node]
id = 3
data_dir = "data/n3"
uid_file = "n3.machine-id"

[cluster]
name = "media"
key_file = "cluster.key"
priority = [3, 1, 2]
seeds = ["127.0.0.1:7101"]

[transport]
listen = ["10.1.1.2:7101", "10.1.2.2:7101"]
cos = "bulk"

[[transport.route]]
subnet = "10.2.2.0/24"
via = "10.1.2.2:7101"

[timing]
period_ms = 50

[api]
listen = "127.0.0.1:7203"

[stream]
listen = "10.1.1.2:8080"
balance_percent = 10
balance_floor_percent = 5
default_bitrate_kbps = 2500

[[disk]]
id = "d1"
mount = "/srv/media1"
probe = "/srv/media1/.cohort-probe"

[[disk]]
id = "d2"
mount = "media2"
probe = "media2/.probe"

[registry]
servers = [3, 1]
heartbeat_ms = 30
election_ms = 300

[[registry.server]]
id = 1
client = "10.1.1.1:2379"
peer = "10.1.1.1:2380"

[[registry.server]]
id = 3
client = "10.1.1.2:2379"
peer = "10.1.1.2:2380"
)";

TEST(ConfigTest, WithoutAClusterSectionTheNodeWaitsToBeDefined) {
  auto c =
      ParseConfig("[node]\nid = 4\ndata_dir = \"d\"\n[transport]\nlisten = [\"127.0.0.1:7104\"]\n",
                  "/etc/cohort/n4.toml");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_FALSE(c->has_cluster);
  EXPECT_TRUE(c->key_file.empty());
  auto servers = ParseConfig(
      "[node]\nid = 4\ndata_dir = \"d\"\n[transport]\nlisten = [\"127.0.0.1:7104\"]\n"
      "[registry]\nservers = [1]\n[[registry.server]]\nid = 1\nclient = \"127.0.0.1:1\"\n"
      "peer = \"127.0.0.1:2\"\n",
      "n4.toml");
  ASSERT_FALSE(servers);
  EXPECT_NE(servers.error().message().find("no [cluster] section"), std::string::npos);
}

TEST(ConfigTest, ParsesEveryKey) {
  auto c = ParseConfig(kGood, "/etc/cohort/n3.toml");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->node_id, 3);
  EXPECT_EQ(c->node_name, "n3");
  EXPECT_EQ(c->data_dir, "/etc/cohort/data/n3");
  EXPECT_EQ(c->uid_file, "/etc/cohort/n3.machine-id");
  EXPECT_EQ(c->key_file, "/etc/cohort/cluster.key");
  EXPECT_EQ(c->priority, (std::vector<NodeId>{3, 1, 2}));
  ASSERT_EQ(c->adapters.size(), 2u);
  EXPECT_EQ(c->adapters[1].listen.ToString(), "10.1.2.2:7101");
  EXPECT_EQ(c->adapters[0].cos, "bulk");
  ASSERT_EQ(c->routes.size(), 1u);
  EXPECT_EQ(c->routes[0].subnet.ToString(), "10.2.2.0/24");
  EXPECT_EQ(c->period_ms, 50u);
  EXPECT_EQ(c->api_listen.port, 7203);
  ASSERT_TRUE(c->stream_listen);
  EXPECT_EQ(c->stream_listen->ToString(), "10.1.1.2:8080");
  EXPECT_EQ(c->stream_balance_percent, 10u);
  EXPECT_EQ(c->stream_balance_floor_percent, 5u);
  EXPECT_EQ(c->stream_default_bitrate_kbps, 2500u);
  ASSERT_EQ(c->disks.size(), 2u);
  EXPECT_EQ(c->disks[0].probe, "/srv/media1/.cohort-probe");
  EXPECT_EQ(c->disks[1].mount, "/etc/cohort/media2");  // relative to the config file
  EXPECT_EQ(c->disks[1].probe, "/etc/cohort/media2/.probe");
  EXPECT_EQ(c->disk_check_ms, 1000u);
  EXPECT_EQ(c->usage_ms, 2000u);
  EXPECT_EQ(c->distribution_root, "/etc/cohort/data/n3/content");
  EXPECT_EQ(c->registry_servers, (std::vector<NodeId>{3, 1}));
  ASSERT_EQ(c->registry_endpoints.size(), 2u);
  EXPECT_EQ(c->registry_endpoints[1].id, 3);
  EXPECT_EQ(c->registry_endpoints[1].peer.ToString(), "10.1.1.2:2380");
  EXPECT_EQ(c->registry_heartbeat_ms, 30u);
  EXPECT_EQ(c->registry_election_ms, 300u);
  EXPECT_EQ(c->groups_vote_timeout_ms, 500u);  // the default
}

struct BadCase {
  const char* text;
  const char* expect;  // substring of the error
};

TEST(ConfigTest, ErrorsNameFileLineAndKey) {
  const std::string base = "[cluster]\nkey_file = \"k\"\n[transport]\nlisten = [\"127.0.0.1:1\"]\n";
  const BadCase cases[] = {
      {"[node]\nid = 0\ndata_dir = \"d\"\n", "n.toml:2: key 'node.id': expected an integer"},
      {"[node]\nid = \"x\"\ndata_dir = \"d\"\n", "key 'node.id'"},
      {"[node]\nid = 1\ndata_dir = \"d\"\ncolour = 1\n", "n.toml:4: key 'node.colour': unknown"},
      {"[node]\nid = 1\n", "key 'node.data_dir': required"},
      {"[node]\nid = 1\ndata_dir = \"d\"\nuid_file = \"\"\n", "key 'node.uid_file': must not"},
      {"[node]\nid = 1\ndata_dir = \"d\"\n[timing]\nperiod_ms = -5\n",
       "n.toml:5: key 'timing.period_ms'"},
      {"[node]\nid = 1\ndata_dir = \"d\"\n[api]\nlisten = \"localhost\"\n", "key 'api.listen'"},
      {"[node]\nid = = 1\n", "n.toml:2:"},
      {"[nodes]\nid = 1\n", "key 'nodes': unknown key"},
      {"[node]\nid = 1\ndata_dir = \"d\"\n[[disk]]\nid = \"a/b\"\nmount = \"m\"\nprobe = \"p\"\n",
       "n.toml:5: key 'disk[0].id': expected 1 to 64 letters"},
      {"[node]\nid = 1\ndata_dir = \"d\"\n[[disk]]\nid = \"a\"\nmount = \"m\"\nprobe = \"p\"\n"
       "[[disk]]\nid = \"a\"\nmount = \"m\"\nprobe = \"q\"\n",
       "key 'disk[1].id': duplicate disk id 'a'"},
      {"[node]\nid = 1\ndata_dir = \"d\"\n[[disk]]\nid = \"a\"\nmount = \"m\"\n",
       "key 'disk[0].probe': required"},
      {"[node]\nid = 1\ndata_dir = \"d\"\n[timing]\ndisk_check_ms = 0\n",
       "key 'timing.disk_check_ms'"},
      {"[node]\nid = 1\ndata_dir = \"d\"\n[registry]\nservers = [1]\n",
       "server 1 needs a [[registry.server]] entry"},
      {"[node]\nid = 1\ndata_dir = \"d\"\n[registry]\nservers = [1]\n[[registry.server]]\n"
       "id = 2\nclient = \"127.0.0.1:1\"\npeer = \"127.0.0.1:2\"\n",
       "n.toml:7: key 'registry.server[0].id': node 2 is not in registry.servers"},
      {"[node]\nid = 1\ndata_dir = \"d\"\n[registry]\nservers = [1]\n[[registry.server]]\n"
       "id = 1\nclient = \"127.0.0.1:1\"\n",
       "key 'registry.server[0].peer': required"},
      {"[node]\nid = 1\ndata_dir = \"d\"\n[registry]\nheartbeat_ms = 100\nelection_ms = 300\n",
       "at least 5 times"},
      {"[node]\nid = 1\ndata_dir = \"d\"\n[groups]\nvote_timeout_ms = 1\n",
       "n.toml:5: key 'groups.vote_timeout_ms'"},
      {"[node]\nid = 1\ndata_dir = \"d\"\n[resources]\nlease_ttl_s = 1\nfence_margin_ms = 300\n"
       "alive_ttl_ms = 350\n",
       "n.toml:7: key 'resources.alive_ttl_ms': must exceed resources.fence_margin_ms"},
  };
  for (const auto& bad : cases) {
    auto c = ParseConfig(std::string(bad.text) + base, "n.toml");
    ASSERT_FALSE(c) << bad.text;
    EXPECT_NE(c.error().message().find(bad.expect), std::string::npos)
        << "got: " << c.error().message() << "\nwant: " << bad.expect;
  }
}

TEST(ConfigTest, CipherIsAutoOrANamedAead) {
  const std::string text =
      "[node]\nid = 1\ndata_dir = \"d\"\n[cluster]\nkey_file = \"k\"\n[transport]\n"
      "listen = [\"127.0.0.1:1\"]\n";
  auto c = ParseConfig(text, "n.toml");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->cipher, "auto");
  c = ParseConfig(text + "cipher = \"xchacha20-poly1305\"\n", "n.toml");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->cipher, "xchacha20-poly1305");
  c = ParseConfig(text + "cipher = \"rc4\"\n", "n.toml");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message().find("key 'transport.cipher'"), std::string::npos);
}

TEST(ConfigTest, RouteMustUseALocalAdapter) {
  const std::string text = std::string(kGood) +
                           "\n[[transport.route]]\nsubnet = \"10.9.0.0/16\"\nvia = "
                           "\"10.7.7.7:7101\"\n";
  auto c = ParseConfig(text, "n.toml");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message().find("transport.route[1].via"), std::string::npos)
      << c.error().message();
}

TEST(ConfigTest, NoPriorityListLeavesTheOrderToNodeIds) {
  auto c = ParseConfig(
      "[node]\nid = 2\ndata_dir = \"d\"\n[cluster]\nname = \"m\"\nkey_file = \"k\"\n[transport]\n"
      "listen = [\"127.0.0.1:7102\"]\n",
      "n.toml");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_TRUE(c->priority.empty());
}

// M14: the cluster's node in a parent cluster.
TEST(ConfigTest, ParentSection) {
  const std::string base = R"(
[node]
id = 2
data_dir = "d"
[cluster]
key_file = "cluster.key"
[transport]
listen = ["127.0.0.1:7102"]
)";
  auto c = ParseConfig(base + R"(
[cluster.parent]
id = 7
name = "site"
key_file = "site.key"
listen = "127.0.0.1:7402"
seeds = ["127.0.0.1:7401", "127.0.0.1:7402"]
priority = [7, 3]
)",
                       "/etc/cohort/n2.toml");
  ASSERT_TRUE(c) << c.error().message();
  ASSERT_EQ(c->parents.size(), 1u);
  EXPECT_EQ(c->parents[0].id, 7);
  EXPECT_EQ(c->parents[0].name, "site");
  EXPECT_EQ(c->parents[0].key_file, "/etc/cohort/site.key");
  EXPECT_EQ(c->parents[0].listen.ToString(), "127.0.0.1:7402");
  EXPECT_EQ(c->parents[0].seeds.size(), 2u);
  EXPECT_EQ(c->parents[0].priority, (std::vector<NodeId>{7, 3}));
  EXPECT_EQ(c->parents[0].level_factor, 3u);
  EXPECT_TRUE(ParseConfig(base, "n2.toml")->parents.empty());

  auto fails = [&](const std::string& section, const std::string& want) {
    auto bad = ParseConfig(base + section, "n2.toml");
    ASSERT_FALSE(bad) << section;
    EXPECT_NE(bad.error().message().find(want), std::string::npos) << bad.error().message();
  };
  fails("[cluster.parent]\nkey_file = \"k\"\nlisten = \"127.0.0.1:1\"\n",
        "key 'cluster.parent.id': required");
  fails("[cluster.parent]\nid = 1\nlisten = \"127.0.0.1:1\"\n",
        "key 'cluster.parent.key_file': required");
  fails("[cluster.parent]\nid = 1\nkey_file = \"k\"\n", "key 'cluster.parent.listen': required");
  fails("[cluster.parent]\nid = 0\nkey_file = \"k\"\nlisten = \"127.0.0.1:1\"\n",
        "key 'cluster.parent.id': expected an integer from 1 to 65535");
  fails("[cluster.parent]\nid = 1\nkey_file = \"k\"\nlisten = \"nowhere\"\n",
        "key 'cluster.parent.listen'");
  fails("[cluster.parent]\nid = 1\nkey_file = \"k\"\nlisten = \"127.0.0.1:1\"\nport = 3\n",
        "key 'cluster.parent.port': unknown key");
  fails("[cluster.parent]\nid = 1\nkey_file = \"k\"\nlisten = \"127.0.0.1:7102\"\n",
        "key 'cluster.parent.listen': must differ from the node's transport.listen");

  // Nested levels: the parent's parent, and its parent in turn.
  const std::string two = R"(
[cluster.parent]
id = 3
key_file = "p.key"
listen = "127.0.0.1:7402"
[cluster.parent.parent]
id = 2
name = "root"
key_file = "/k/root.key"
listen = "127.0.0.1:7502"
level_factor = 4
)";
  auto nested = ParseConfig(base + two, "/etc/cohort/n2.toml");
  ASSERT_TRUE(nested) << nested.error().message();
  ASSERT_EQ(nested->parents.size(), 2u);
  EXPECT_EQ(nested->parents[0].id, 3);
  EXPECT_EQ(nested->parents[0].level_factor, 3u);
  EXPECT_EQ(nested->parents[1].id, 2);
  EXPECT_EQ(nested->parents[1].name, "root");
  EXPECT_EQ(nested->parents[1].key_file, "/k/root.key");
  EXPECT_EQ(nested->parents[1].listen.ToString(), "127.0.0.1:7502");
  EXPECT_EQ(nested->parents[1].level_factor, 4u);
  fails(
      "[cluster.parent]\nid = 1\nkey_file = \"k\"\nlisten = \"127.0.0.1:1\"\n"
      "[cluster.parent.parent]\nid = 1\nkey_file = \"k\"\nlisten = \"127.0.0.1:1\"\n",
      "key 'cluster.parent.parent.listen': must differ from the listen address of the level");
  fails(
      "[cluster.parent]\nid = 1\nkey_file = \"k\"\nlisten = \"127.0.0.1:1\"\n"
      "[cluster.parent.parent]\nid = 1\nlisten = \"127.0.0.1:2\"\n",
      "key 'cluster.parent.parent.key_file': required");
  std::string deep;
  std::string key = "cluster";
  for (int level = 1; level <= 5; ++level) {
    key += ".parent";
    deep += "[" + key +
            "]\nid = 1\nkey_file = \"k\"\nlisten = \"127.0.0.1:" + std::to_string(level) + "\"\n";
  }
  fails(deep, "at most 4 levels above a cluster");
  fails(
      "[timing]\nnotify_ms = 600000\n[cluster.parent]\nid = 1\nkey_file = \"k\"\n"
      "listen = \"127.0.0.1:1\"\nlevel_factor = 100\n[cluster.parent.parent]\nid = 1\n"
      "key_file = \"k\"\nlisten = \"127.0.0.1:2\"\nlevel_factor = 100\n",
      "key 'cluster.parent.parent.level_factor': the level's period or notification time");
}

// M14 at run time: [cluster.parent] alone, checked as in a file against the node's config.
TEST(ConfigTest, ParentsDefinedAtRunTime) {
  auto node = ParseConfig(
      "[node]\nid = 2\ndata_dir = \"d\"\n[cluster]\nkey_file = \"c.key\"\n"
      "[transport]\nlisten = [\"127.0.0.1:7102\"]\n",
      "/etc/cohort/n2.toml");
  ASSERT_TRUE(node) << node.error().message();
  auto p = ParseParents(
      "[cluster.parent]\nid = 7\nname = \"site\"\nkey_file = \"site.key\"\n"
      "listen = \"127.0.0.1:7402\"\n[cluster.parent.parent]\nid = 1\nkey_file = \"/k\"\n"
      "listen = \"127.0.0.1:7502\"\n",
      "the request", *node);
  ASSERT_TRUE(p) << p.error().message();
  ASSERT_EQ(p->size(), 2u);
  EXPECT_EQ((*p)[0].key_file, "/etc/cohort/site.key");  // beside the node's file
  EXPECT_EQ((*p)[1].listen.ToString(), "127.0.0.1:7502");
  auto fails = [&](const std::string& text, const std::string& why) {
    auto r = ParseParents(text, "the request", *node);
    ASSERT_FALSE(r) << text;
    EXPECT_NE(r.error().message().find(why), std::string::npos) << r.error().message();
  };
  fails("", "expected [cluster.parent]");
  fails("[node]\nid = 3\n", "node");
  fails("[cluster]\nname = \"x\"\n", "name");
  fails("[cluster.parent]\nid = 7\nkey_file = \"k\"\n", "listen");
  fails("[cluster.parent]\nid = 7\nkey_file = \"k\"\nlisten = \"127.0.0.1:7102\"\n",
        "must differ from the node's transport.listen");
  fails("[cluster.parent\n", "the request:1");
}

TEST(ConfigTest, MissingFileIsNotFound) {
  auto c = LoadConfig("/nonexistent/cohort.toml");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), Errc::kNotFound);
}

}  // namespace
}  // namespace cohort
