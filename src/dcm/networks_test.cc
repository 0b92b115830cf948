#include "dcm/networks.h"

#include <gtest/gtest.h>

namespace cohort::dcm {
namespace {

Subnet Net(const char* text) { return *Subnet::Parse(text); }
uint32_t Ip(const char* text) { return *ParseIpv4(text); }

// S2's example: three networks A, B and C; the registry servers' addresses 1, 2 and 3 map to
// A, B and C; the registry's priority is 3 on A, 2 on B, 1 on C: A's address is tried first.
NetworkMap Example(int a, int b, int c) {
  return NetworkMap({{"s1", Net("10.1.0.0/16"), "A", false},
                     {"s2", Net("10.2.0.0/16"), "B", false},
                     {"s3", Net("10.3.0.0/16"), "C", false}},
                    {{"n1", "A", {{Service::kRegistry, a}}},
                     {"n2", "B", {{Service::kRegistry, b}}},
                     {"n3", "C", {{Service::kRegistry, c}, {Service::kMembership, 9}}}});
}

TEST(NetworksTest, AServiceTriesItsAddressesByTheirNetworksPriority) {
  const std::vector<uint32_t> servers = {Ip("10.1.0.1"), Ip("10.2.0.2"), Ip("10.3.0.3")};
  EXPECT_EQ(OrderByPriority(servers, Service::kRegistry, Example(3, 2, 1)),
            (std::vector<size_t>{0, 1, 2}));
  EXPECT_EQ(OrderByPriority(servers, Service::kRegistry, Example(1, 2, 3)),
            (std::vector<size_t>{2, 1, 0}));
  // Another service's table: only C names membership; the rest keep their order.
  EXPECT_EQ(OrderByPriority(servers, Service::kMembership, Example(3, 2, 1)),
            (std::vector<size_t>{2, 0, 1}));
  // An address on no defined subnet has priority 0, after every network that names one.
  const std::vector<uint32_t> with_stranger = {Ip("192.168.0.1"), Ip("10.2.0.2")};
  EXPECT_EQ(OrderByPriority(with_stranger, Service::kRegistry, Example(3, 2, 1)),
            (std::vector<size_t>{1, 0}));
}

TEST(NetworksTest, TheMostSpecificSubnetDecides) {
  NetworkMap map({{"s1", Net("10.0.0.0/8"), "wide", false}, {"s2", Net("10.5.0.0/16"), "", true}},
                 {{"n1", "wide", {{Service::kApi, 5}}}});
  EXPECT_EQ(map.SubnetOf(Ip("10.5.1.1"))->subnet, Net("10.5.0.0/16"));
  EXPECT_EQ(map.Priority(Ip("10.5.1.1"), Service::kApi), 0);  // unmapped: no network
  EXPECT_EQ(map.Priority(Ip("10.6.1.1"), Service::kApi), 5);
  EXPECT_EQ(map.LivenessNetwork({Ip("10.6.1.1"), 7000}, 0xffff0000), "wide");
  EXPECT_EQ(map.LivenessNetwork({Ip("10.5.1.1"), 7000}, 0xffffff00), "10.5.0.0/16");
  EXPECT_EQ(map.LivenessNetwork({Ip("172.16.1.9"), 7000}, 0xffffff00), "172.16.1.0/24");
  EXPECT_EQ(map.SubnetOf(Ip("11.0.0.1")), nullptr);
}

TEST(NetworksTest, EachSubnetGetsItsOwnNetworksPriority) {
  // 10.0.0.0/24 sits inside 10.0.0.0/8 and holds its prefix address: each still gets the
  // priority of the network it maps to.
  NetworkMap map(
      {{"s1", Net("10.0.0.0/8"), "wide", false},
       {"s2", Net("10.0.0.0/24"), "narrow", false},
       {"s3", Net("10.9.0.0/16"), "", true}},
      {{"n1", "wide", {{Service::kMembership, 5}}}, {"n2", "narrow", {{Service::kMembership, 1}}}});
  const auto p = map.Priorities(Service::kMembership);
  const std::vector<std::pair<Subnet, int>> want = {
      {Net("10.0.0.0/24"), 1}, {Net("10.9.0.0/16"), 0}, {Net("10.0.0.0/8"), 5}};
  EXPECT_EQ(p, want);
}

TEST(NetworksTest, NamesAndServices) {
  EXPECT_TRUE(ValidNetworkName("admin"));
  EXPECT_TRUE(ValidNetworkName("content-2.lan_a"));
  EXPECT_FALSE(ValidNetworkName(""));
  EXPECT_FALSE(ValidNetworkName("-x"));
  EXPECT_FALSE(ValidNetworkName("a b"));
  EXPECT_FALSE(ValidNetworkName(std::string(33, 'a')));
  for (Service s : kServices) EXPECT_EQ(*ParseService(ServiceName(s)), s);
  EXPECT_FALSE(ParseService("video"));
}

}  // namespace
}  // namespace cohort::dcm
