#include "dcm/core.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace cohort::dcm {
namespace {

bool Contains(const std::vector<std::string>& args, const std::string& a) {
  return std::find(args.begin(), args.end(), a) != args.end();
}

TEST(MemberNameTest, MapsBackOnlyTheNamesItMakes) {
  EXPECT_EQ(MemberNode(MemberName(1)), NodeId{1});
  EXPECT_EQ(MemberNode(MemberName(65535)), NodeId{65535});
  for (const char* bad : {"", "n", "n0", "n65536", "m3", "n3x", "n-1", "n999999"}) {
    EXPECT_FALSE(MemberNode(bad)) << bad;
  }
}

TEST(OrderServersTest, FollowsTheExampleOfTheDesign) {
  // S2: node 5 and servers 1(0), 3(1), 7(1), 9(1), 12(2), 2(2), listed in address order.
  const std::vector<ServerDistance> servers = {{1, 10, 0}, {3, 11, 1},  {7, 12, 1},
                                               {9, 13, 1}, {12, 14, 2}, {2, 15, 2}};
  EXPECT_EQ(OrderServers(5, servers), (std::vector<NodeId>{1, 9, 3, 7, 2, 12}));
}

TEST(OrderServersTest, SpreadsClientsOverEquidistantServers) {
  const std::vector<ServerDistance> servers = {{1, 1, 1}, {2, 2, 1}, {3, 3, 1}};
  EXPECT_EQ(OrderServers(3, servers), (std::vector<NodeId>{1, 2, 3}));
  EXPECT_EQ(OrderServers(4, servers), (std::vector<NodeId>{2, 3, 1}));
  EXPECT_EQ(OrderServers(5, servers), (std::vector<NodeId>{3, 1, 2}));
}

TEST(OrderServersTest, PriorityComesBeforeDistance) {
  // Server 3 is far but on the network the registry service prefers (C12 before C13).
  const std::vector<ServerDistance> servers = {{1, 1, 1, 0}, {2, 2, 1, 0}, {3, 3, 4, 10}};
  EXPECT_EQ(OrderServers(6, servers), (std::vector<NodeId>{3, 1, 2}));
}

TEST(OrderedEndpointsTest, MeasuredHopsOrderTheOtherServers) {
  const std::vector<RegistryServerConfig> all = {
      {1, Endpoint{0x0a000101, 2379}, Endpoint{0x0a000101, 2380}},
      {2, Endpoint{0x0a000201, 2379}, Endpoint{0x0a000201, 2380}},
      {3, Endpoint{0x0a000301, 2379}, Endpoint{0x0a000301, 2380}},
      {4, Endpoint{0x0a000401, 2379}, Endpoint{0x0a000401, 2380}}};
  // Node 4 hears server 3 across two routers, server 1 on its own subnet, server 2 never.
  auto route = [](const RegistryServerConfig& s) {
    ServerRoute r;
    if (s.id == 1) r.hops = 0;
    if (s.id == 3) r.hops = 2;
    return r;
  };
  std::vector<NodeId> ids;
  for (const auto& s : OrderedEndpoints(4, all, route)) ids.push_back(s.id);
  EXPECT_EQ(ids, (std::vector<NodeId>{4, 1, 3, 2}));
  // A registry priority on server 2's network puts it ahead of the nearer ones; never its own.
  auto prefer2 = [&](const RegistryServerConfig& s) {
    ServerRoute r = route(s);
    if (s.id == 2) r.priority = 5;
    return r;
  };
  ids.clear();
  for (const auto& s : OrderedEndpoints(4, all, prefer2)) ids.push_back(s.id);
  EXPECT_EQ(ids, (std::vector<NodeId>{4, 2, 1, 3}));
}

TEST(OrderedEndpointsTest, OwnServerComesFirst) {
  const std::vector<RegistryServerConfig> all = {
      {1, Endpoint{0x7f000001, 7301}, Endpoint{0x7f000001, 7401}},
      {2, Endpoint{0x7f000001, 7302}, Endpoint{0x7f000001, 7402}},
      {3, Endpoint{0x7f000001, 7303}, Endpoint{0x7f000001, 7403}}};
  auto ordered = OrderedEndpoints(2, all);
  ASSERT_EQ(ordered.size(), 3u);
  EXPECT_EQ(ordered[0].id, 2);
  // A client that is not a server still gets all of them, rotated by its node number.
  auto client = OrderedEndpoints(4, all);
  ASSERT_EQ(client.size(), 3u);
  EXPECT_EQ(client[0].id, 2);
  EXPECT_EQ(client[1].id, 3);
}

TEST(RestartBackoffTest, DoublesUpToTheCapAndResetsAfterAStableRun) {
  RestartBackoff b(Duration::Millis(100), Duration::Millis(500), Duration::Seconds(10));
  const Instant t0 = Instant::FromNanos(0);
  EXPECT_EQ(b.OnExit(t0, t0 + Duration::Millis(1)), Duration::Millis(100));
  EXPECT_EQ(b.OnExit(t0, t0 + Duration::Millis(1)), Duration::Millis(200));
  EXPECT_EQ(b.OnExit(t0, t0 + Duration::Millis(1)), Duration::Millis(400));
  EXPECT_EQ(b.OnExit(t0, t0 + Duration::Millis(1)), Duration::Millis(500));
  EXPECT_EQ(b.OnExit(t0, t0 + Duration::Seconds(11)), Duration::Millis(100));
  EXPECT_EQ(b.restarts(), 5);
}

TEST(EtcdArgumentsTest, NamesEveryMemberAndTheTimings) {
  EtcdLaunch l;
  l.binary = "/usr/bin/etcd";
  l.self = 2;
  l.data_dir = "/var/lib/cohort/registry/etcd";
  l.cluster_token = "cohort-media";
  l.members = {{1, Endpoint{0x0a000001, 2379}, Endpoint{0x0a000001, 2380}},
               {2, Endpoint{0x0a000002, 2379}, Endpoint{0x0a000002, 2380}}};
  l.heartbeat_ms = 30;
  l.election_ms = 300;
  auto args = EtcdArguments(l);
  ASSERT_TRUE(args) << args.error().message();
  auto has = [&](const std::string& a) { return Contains(*args, a); };
  EXPECT_EQ((*args)[0], "/usr/bin/etcd");
  EXPECT_TRUE(has("--name=n2"));
  EXPECT_TRUE(has("--listen-client-urls=http://10.0.0.2:2379"));
  EXPECT_TRUE(has("--initial-cluster=n1=http://10.0.0.1:2380,n2=http://10.0.0.2:2380"));
  EXPECT_TRUE(has("--initial-cluster-state=new"));
  EXPECT_TRUE(has("--heartbeat-interval=30"));
  EXPECT_TRUE(has("--election-timeout=300"));
  EXPECT_TRUE(has("--pre-vote=true"));
  EXPECT_FALSE(has("--client-cert-auth"));
  l.self = 3;
  EXPECT_FALSE(EtcdArguments(l));
}

TEST(EtcdArgumentsTest, WithTlsFilesBothClientsAndPeersMustShowACertificate) {
  EtcdLaunch l;
  l.binary = "/usr/bin/etcd";
  l.self = 1;
  l.data_dir = "/d/registry/etcd";
  l.tls_dir = "/d/registry/tls";
  l.members = {{1, Endpoint{0x0a000001, 2379}, Endpoint{0x0a000001, 2380}}};
  auto args = EtcdArguments(l);
  ASSERT_TRUE(args) << args.error().message();
  auto has = [&](const std::string& a) { return Contains(*args, a); };
  EXPECT_TRUE(has("--listen-client-urls=https://10.0.0.1:2379"));
  EXPECT_TRUE(has("--listen-peer-urls=https://10.0.0.1:2380"));
  EXPECT_TRUE(has("--initial-cluster=n1=https://10.0.0.1:2380"));
  EXPECT_TRUE(has("--client-cert-auth"));
  EXPECT_TRUE(has("--peer-client-cert-auth"));
  EXPECT_TRUE(has("--trusted-ca-file=/d/registry/tls/ca.pem"));
  EXPECT_TRUE(has("--peer-key-file=/d/registry/tls/node.key"));
  auto restore = RestoreArguments(l, "/tmp/s.db");
  ASSERT_TRUE(restore);
  EXPECT_TRUE(Contains(*restore, "--initial-advertise-peer-urls=https://10.0.0.1:2380"));
}

}  // namespace
}  // namespace cohort::dcm
