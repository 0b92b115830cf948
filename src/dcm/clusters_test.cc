#include "dcm/clusters.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "io/files.h"

namespace cohort::dcm {
namespace {

constexpr char kUid[] = "0123456789abcdef0123456789abcdef";

class ClustersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("cohort-clusters-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    file_.data_dir = dir_.string();
    file_.has_cluster = false;
    file_.node_name = "edge";
    file_.adapters = {{Endpoint{0x7f000001, 7101}}};
    auto s = LocalStorage::Open(file_.data_dir);
    ASSERT_TRUE(s);
    storage_ = std::make_unique<LocalStorage>(*s);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // The operations as the node sees them running in `running` ("" while it waits).
  LocalClusters Ops(const std::string& running = "", bool registry_server = false) {
    return LocalClusters(file_, *storage_, local_, kUid, running, registry_server);
  }
  std::string DefineOne(const std::string& name, NodeId number = 1) {
    ClusterSpec spec{name, number, Endpoint{0x7f000001, 7301}, Endpoint{0x7f000001, 7401}};
    auto change = Ops().Define(spec);
    EXPECT_TRUE(change) << change.error().message();
    return change ? change->cluster_id : "";
  }
  StartPlan Plan() {
    auto plan = PlanStart(file_);
    EXPECT_TRUE(plan) << plan.error().message();
    return plan ? *plan : StartPlan{};
  }

  std::filesystem::path dir_;
  Config file_;
  std::unique_ptr<LocalStorage> storage_;
  LocalConfiguration local_;
};

TEST_F(ClustersTest, ADefinedClusterStartsOnlyOnceOnline) {
  const std::string id = DefineOne("media", 4);
  ASSERT_TRUE(ValidClusterId(id));
  EXPECT_EQ(local_.clusters.size(), 1u);
  EXPECT_TRUE(local_.clusters[0].founder);
  EXPECT_TRUE(std::filesystem::exists(dir_ / "clusters" / id / "config" / "cluster.json"));
  const auto key = dir_ / "clusters" / id / "config" / "cluster.key";
  EXPECT_EQ(std::filesystem::status(key).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  EXPECT_EQ(Plan().kind, StartPlan::Kind::kWait);

  auto online = Ops().Online("media");
  ASSERT_TRUE(online) << online.error().message();
  EXPECT_TRUE(online->restart);
  const StartPlan plan = Plan();
  ASSERT_EQ(plan.kind, StartPlan::Kind::kRun);
  EXPECT_EQ(plan.config.cluster_id, id);
  EXPECT_EQ(plan.config.cluster_name, "media");
  EXPECT_EQ(plan.config.node_id, 4);
  EXPECT_EQ(plan.config.node_name, "edge");
  EXPECT_TRUE(plan.config.defined_at_run_time);
  EXPECT_EQ(plan.config.registry_servers, std::vector<NodeId>{4});
  EXPECT_EQ(plan.config.registry_endpoints[0].client, (Endpoint{0x7f000001, 7301}));
  EXPECT_EQ(plan.config.seeds, std::vector<Endpoint>{(Endpoint{0x7f000001, 7101})});
}

TEST_F(ClustersTest, ARecreatedNameGetsANewId) {
  const std::string first = DefineOne("media");
  EXPECT_FALSE(Ops().Define({"media"}));  // one cluster of a name per node
  EXPECT_FALSE(Ops().Define({"bad name"}));
  EXPECT_FALSE(Ops().Define({""}));
  ASSERT_TRUE(Ops().Undefine("media"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "clusters" / first));
  EXPECT_NE(DefineOne("media"), first);
}

TEST_F(ClustersTest, OfflineWaitsEvenWithAFileCluster) {
  const std::string id = DefineOne("media");
  ASSERT_TRUE(Ops().Online("media"));
  EXPECT_FALSE(Ops(id).Online("other"));  // online here: that is a move
  EXPECT_FALSE(Ops().Offline("media"));   // not running in it
  ASSERT_TRUE(Ops(id).Offline("media"));
  file_.has_cluster = true;
  EXPECT_EQ(Plan().kind, StartPlan::Kind::kWait);
  EXPECT_FALSE(Ops().Undefine("nothing"));
  ASSERT_TRUE(Ops().Online(id));  // by id too
  EXPECT_EQ(Plan().config.cluster_id, id);
}

TEST_F(ClustersTest, AMoveStartsInTheTargetWithItsDeadline) {
  // Running in the file's cluster, which local storage knows by its name.
  file_.has_cluster = true;
  file_.cluster_name = "staging";
  file_.node_id = 3;
  local_.clusters.push_back({"staging", "00000000000000aa", 3, kUid, false});
  local_.current = local_.target = "00000000000000aa";
  ASSERT_TRUE(storage_->Save(local_));
  EXPECT_EQ(Plan().config.cluster_id, "00000000000000aa");
  const std::string prod = DefineOne("prod", 9);

  EXPECT_FALSE(Ops("00000000000000aa", /*registry_server=*/true).Move("prod", 2000));
  EXPECT_FALSE(Ops("00000000000000aa").Move("prod", 5));  // deadline out of range
  EXPECT_FALSE(Ops("00000000000000aa").Move("elsewhere", 2000));
  EXPECT_FALSE(Ops("00000000000000aa").Undefine("staging"));  // running in it
  ASSERT_TRUE(Ops("00000000000000aa").Move("prod", 2000));
  StartPlan plan = Plan();
  ASSERT_EQ(plan.kind, StartPlan::Kind::kMove);
  EXPECT_EQ(plan.config.cluster_id, prod);
  EXPECT_EQ(plan.config.node_id, 9);
  EXPECT_EQ(plan.deadline, Duration::Millis(2000));

  // Settled there, a move back runs the file's cluster again.
  local_.current = prod;
  ASSERT_TRUE(storage_->Save(local_));
  EXPECT_EQ(Plan().config.cluster_id, prod);
  ASSERT_TRUE(Ops(prod).Move("staging", 1000));
  plan = Plan();
  ASSERT_EQ(plan.kind, StartPlan::Kind::kMove);
  EXPECT_EQ(plan.config.cluster_id, "00000000000000aa");
  EXPECT_EQ(plan.config.node_id, 3);
  EXPECT_FALSE(plan.config.defined_at_run_time);
  EXPECT_FALSE(Ops().Undefine("staging"));  // the file's: removed there, not here
}

TEST_F(ClustersTest, ATargetNoLongerKeptCallsTheMoveOff) {
  const std::string id = DefineOne("media");
  ASSERT_TRUE(Ops().Online("media"));
  local_.target = "00000000000000bb";
  ASSERT_TRUE(storage_->Save(local_));
  EXPECT_EQ(Plan().kind, StartPlan::Kind::kRun);
  auto back = storage_->Load();
  ASSERT_TRUE(back);
  EXPECT_EQ(back->target, id);
}

TEST_F(ClustersTest, AMoveTheNodeCouldNotRunIsCalledOff) {
  const std::string home = DefineOne("home");
  ASSERT_TRUE(Ops().Online("home"));
  DefineOne("away", 2);
  ASSERT_TRUE(Ops(home).Move("away", 1000));
  ASSERT_EQ(Plan().kind, StartPlan::Kind::kMove);
  ASSERT_TRUE(CallOffMove(file_, "exit 3"));
  const StartPlan plan = Plan();
  ASSERT_EQ(plan.kind, StartPlan::Kind::kRun);
  EXPECT_EQ(plan.config.cluster_id, home);
  auto log = io::ReadFile(storage_->audit_file());
  ASSERT_TRUE(log);
  EXPECT_NE(log->find("\"reason\":\"exit 3\""), std::string::npos);
}

TEST_F(ClustersTest, ADamagedTargetCallsTheMoveOffAndTheHomeOfAMoveStays) {
  const std::string home = DefineOne("home");
  ASSERT_TRUE(Ops().Online("home"));
  const std::string away = DefineOne("away", 2);
  ASSERT_TRUE(Ops(home).Move("away", 1000));
  // Running in the target, neither end of the move may be undefined.
  EXPECT_FALSE(Ops(away).Undefine("home"));
  EXPECT_FALSE(Ops(home).Undefine("away"));
  ASSERT_TRUE(io::WriteFileAtomic((dir_ / "clusters" / away / "config" / "cluster.json").string(),
                                  "not json"));
  const StartPlan plan = Plan();
  ASSERT_EQ(plan.kind, StartPlan::Kind::kRun);
  EXPECT_EQ(plan.config.cluster_id, home);
}

TEST_F(ClustersTest, ADamagedDefinitionIsAnError) {
  const std::string id = DefineOne("media");
  ASSERT_TRUE(Ops().Online("media"));
  ASSERT_TRUE(io::WriteFileAtomic((dir_ / "clusters" / id / "config" / "cluster.json").string(),
                                  "{\"op\": 7}"));
  auto plan = PlanStart(file_);
  ASSERT_FALSE(plan);
  EXPECT_NE(plan.error().message().find("cluster.json"), std::string::npos);
}

TEST(DecideMove, SettlesWhenOnlineAndReturnsAtTheDeadline) {
  const Duration deadline = Duration::Millis(3000);
  EXPECT_EQ(DecideMove(false, Duration::Millis(10), deadline), MoveStep::kWait);
  EXPECT_EQ(DecideMove(true, Duration::Millis(10), deadline), MoveStep::kSettle);
  EXPECT_EQ(DecideMove(false, deadline, deadline), MoveStep::kRevert);
  EXPECT_EQ(DecideMove(true, Duration::Millis(5000), deadline), MoveStep::kSettle);
}

}  // namespace
}  // namespace cohort::dcm
