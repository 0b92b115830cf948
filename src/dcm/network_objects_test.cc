// Network object edits (C11) planned against what was read and committed to the in-memory
// registry, as the DCM does against etcd.
#include "dcm/network_objects.h"

#include <gtest/gtest.h>

#include "dcm/schema.h"
#include "registry/memory.h"

namespace cohort::dcm::schema {
namespace {

const std::string kCluster = "c0ffee";
using Kind = NetworkEdit::Kind;

class NetworkObjectsTest : public ::testing::Test {
 protected:
  StoredNetworks Read() {
    StoredNetworks stored;
    registry_.Commit(ReadNetworks(kCluster), [&](Result<registry::TxnResult> r) {
      ASSERT_TRUE(r);
      stored = ParseNetworks(*r);
    });
    return stored;
  }
  // Plans `e` on what the registry holds now and commits it: the plan's error, or whether
  // the transaction went through.
  Result<bool> Apply(const NetworkEdit& e, const StoredNetworks* seen = nullptr) {
    const StoredNetworks now = Read();
    auto txn = PlanEdit(kCluster, seen ? *seen : now, e, "uid" + std::to_string(++uids_));
    if (!txn) return txn.error();
    bool ok = false;
    registry_.Commit(*txn, [&](Result<registry::TxnResult> r) { ok = r && r->succeeded; });
    return ok;
  }
  static NetworkEdit Network(Kind kind, std::string name, std::map<Service, int> priority = {}) {
    NetworkEdit e;
    e.kind = kind;
    e.name = std::move(name);
    e.priority = std::move(priority);
    return e;
  }
  static NetworkEdit SubnetEdit(Kind kind, const char* prefix,
                                std::optional<std::string> network = std::nullopt) {
    NetworkEdit e;
    e.kind = kind;
    e.subnet = *Subnet::Parse(prefix);
    e.network = std::move(network);
    return e;
  }
  registry::MemoryRegistry registry_;
  int uids_ = 0;
};

TEST_F(NetworkObjectsTest, DefineMapAndRenameThenUndefine) {
  ASSERT_TRUE(*Apply(Network(Kind::kDefineNetwork, "admin", {{Service::kMembership, 3}})));
  ASSERT_TRUE(*Apply(SubnetEdit(Kind::kDefineSubnet, "10.1.0.0/16", "admin")));
  StoredNetworks s = Read();
  ASSERT_EQ(s.map.networks().size(), 1u);
  EXPECT_EQ(s.map.Priority(*ParseIpv4("10.1.2.3"), Service::kMembership), 3);
  EXPECT_EQ(s.map.LivenessNetwork({*ParseIpv4("10.1.2.3"), 1}, 0xffff0000), "admin");
  // A rename moves the network and the subnets that map to it, and keeps its priorities.
  NetworkEdit rename = Network(Kind::kModifyNetwork, "admin", {{Service::kRegistry, 2}});
  rename.new_name = "mgmt";
  ASSERT_TRUE(*Apply(rename));
  s = Read();
  ASSERT_EQ(s.map.networks().size(), 1u);
  EXPECT_EQ(s.map.networks()[0].name, "mgmt");
  EXPECT_EQ(s.map.Priority(*ParseIpv4("10.1.2.3"), Service::kMembership), 3);
  EXPECT_EQ(s.map.Priority(*ParseIpv4("10.1.2.3"), Service::kRegistry), 2);
  EXPECT_EQ(s.map.subnets()[0].network, "mgmt");
  // Not undefined while a subnet maps to it; unmapped first, then it goes.
  auto refused = Apply(Network(Kind::kUndefineNetwork, "mgmt"));
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find("10.1.0.0/16 maps to network mgmt"), std::string::npos);
  ASSERT_TRUE(*Apply(SubnetEdit(Kind::kModifySubnet, "10.1.0.0/16", "")));
  ASSERT_TRUE(*Apply(Network(Kind::kUndefineNetwork, "mgmt")));
  ASSERT_TRUE(*Apply(SubnetEdit(Kind::kUndefineSubnet, "10.1.0.0/16")));
  s = Read();
  EXPECT_TRUE(s.map.networks().empty());
  EXPECT_TRUE(s.map.subnets().empty());
}

TEST_F(NetworkObjectsTest, RefusesWhatCannotBe) {
  ASSERT_TRUE(*Apply(Network(Kind::kDefineNetwork, "admin")));
  auto expect = [&](const NetworkEdit& e, Errc code, const std::string& words) {
    auto r = Apply(e);
    ASSERT_FALSE(r) << words;
    EXPECT_EQ(r.error().code(), code) << r.error().message();
    EXPECT_NE(r.error().message().find(words), std::string::npos) << r.error().message();
  };
  expect(Network(Kind::kDefineNetwork, "admin"), Errc::kAlreadyExists, "already defined");
  expect(Network(Kind::kDefineNetwork, "bad name"), Errc::kInvalidArgument, "bad network name");
  expect(Network(Kind::kModifyNetwork, "nope"), Errc::kNotFound, "no network nope");
  expect(Network(Kind::kDefineNetwork, "x", {{Service::kApi, 5000}}), Errc::kInvalidArgument,
         "from 0 to 1000");
  expect(SubnetEdit(Kind::kDefineSubnet, "10.2.0.0/16", "nope"), Errc::kNotFound,
         "no network nope");
  expect(SubnetEdit(Kind::kModifySubnet, "10.2.0.0/16", "admin"), Errc::kNotFound,
         "no subnet 10.2.0.0/16");
  NetworkEdit rename = Network(Kind::kModifyNetwork, "admin");
  ASSERT_TRUE(*Apply(Network(Kind::kDefineNetwork, "content")));
  rename.new_name = "content";
  expect(rename, Errc::kAlreadyExists, "content is already defined");
  // Implicitly defined by a node: an operator takes it over with modify, not define.
  NetworkEdit implicit = SubnetEdit(Kind::kDefineSubnet, "10.3.0.0/16");
  implicit.implicit = true;
  ASSERT_TRUE(*Apply(implicit));
  expect(SubnetEdit(Kind::kDefineSubnet, "10.3.0.0/16", "admin"), Errc::kAlreadyExists,
         "use `subnet modify`");
  ASSERT_TRUE(*Apply(SubnetEdit(Kind::kModifySubnet, "10.3.0.0/16", "admin")));
  EXPECT_FALSE(Read().map.subnets()[0].implicit);
}

TEST_F(NetworkObjectsTest, AnEditPlannedOnAStaleReadDoesNotGoThrough) {
  const StoredNetworks before = Read();
  ASSERT_TRUE(*Apply(Network(Kind::kDefineNetwork, "admin")));
  // Two operators define the same name at once: the second's plan was made before the
  // first committed, and its transaction fails instead of overwriting.
  EXPECT_FALSE(*Apply(Network(Kind::kDefineNetwork, "admin"), &before));
  // A network undefined on a read made before a subnet was mapped to it: not undefined.
  const StoredNetworks unmapped = Read();
  ASSERT_TRUE(*Apply(SubnetEdit(Kind::kDefineSubnet, "10.7.0.0/16", "admin")));
  EXPECT_FALSE(*Apply(Network(Kind::kUndefineNetwork, "admin"), &unmapped));
  ASSERT_TRUE(*Apply(SubnetEdit(Kind::kUndefineSubnet, "10.7.0.0/16")));
  // A subnet mapped to a network that was undefined meanwhile does not go through either.
  const StoredNetworks seen = Read();
  ASSERT_TRUE(*Apply(Network(Kind::kUndefineNetwork, "admin")));
  EXPECT_FALSE(*Apply(SubnetEdit(Kind::kDefineSubnet, "10.1.0.0/16", "admin"), &seen));
}

TEST_F(NetworkObjectsTest, DamagedDocumentsAreSkippedAndNamed) {
  registry_.Put(NetworkKey(kCluster, "admin"), "{not json", [](Result<int64_t>) {});
  registry_.Put(SubnetKey(kCluster, *Subnet::Parse("10.1.0.0/16")),
                Document({{"uid", "u"}, {"prefix", "10.1.0.1/16"}}), [](Result<int64_t>) {});
  registry_.Put(NetworkKey(kCluster, "other"),
                Document({{"uid", "u"}, {"name", "admin"}}),  // under another name's key
                [](Result<int64_t>) {});
  const StoredNetworks s = Read();
  EXPECT_TRUE(s.map.networks().empty());
  EXPECT_TRUE(s.map.subnets().empty());
  EXPECT_EQ(s.damaged.size(), 3u);
}

}  // namespace
}  // namespace cohort::dcm::schema
