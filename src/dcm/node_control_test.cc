#include "dcm/node_control.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "io/files.h"

namespace cohort::dcm {
namespace {

constexpr int64_t kNow = 1'796'400'000'000;

class NodeControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("cohort-control-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    file_.data_dir = dir_.string();
    file_.has_cluster = false;
    file_.adapters = {{Endpoint{0x7f000001, 7101}}};
    auto s = LocalStorage::Open(file_.data_dir);
    ASSERT_TRUE(s);
    storage_ = std::make_unique<LocalStorage>(*s);
    auto change = Clusters().Define({"media", 4});
    ASSERT_TRUE(change) << change.error().message();
    id_ = change->cluster_id;
    auto text = io::ReadFile((dir_ / "clusters" / id_ / "config" / "cluster.key").string());
    ASSERT_TRUE(text);
    auto key = wire::KeyFromText(text->substr(0, text->find('\n')));
    ASSERT_TRUE(key);
    key_ = ControlKey(*key);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  LocalClusters Clusters(const std::string& running = "") {
    return LocalClusters(file_, *storage_, local_, "0123456789abcdef", running, false);
  }
  DefineMessage Message(DefineOp op, int64_t sent_ms, NodeId number = 4) {
    DefineMessage m{op};
    m.request = "r" + std::to_string(sent_ms);
    m.cluster_id = id_;
    m.cluster_name = "media";
    m.number = number;
    m.sent_ms = sent_ms;
    return m;
  }
  // The node's answer to `m` (sealed under `key`), opened; `restart` whether it starts again.
  DefineAnswer Ask(const DefineMessage& m, bool* restart = nullptr,
                   const std::string& running = "") {
    LocalClusters clusters = Clusters(running);
    auto reply = AnswerControl(file_, clusters, SealDefine(key_, m), kNow);
    EXPECT_TRUE(reply) << reply.error().message();
    if (!reply) return {};
    if (restart != nullptr) *restart = reply->restart;
    auto a = OpenAnswer(key_, reply->sealed);
    EXPECT_TRUE(a);
    return a ? *a : DefineAnswer{};
  }

  std::filesystem::path dir_;
  Config file_;
  std::unique_ptr<LocalStorage> storage_;
  LocalConfiguration local_;
  std::string id_;
  wire::Key key_;
};

TEST_F(NodeControlTest, AFreshRequestForThisNodeIsTakenOnce) {
  bool restart = false;
  DefineAnswer a = Ask(Message(DefineOp::kOnline, kNow - 1000), &restart);
  EXPECT_TRUE(a.ok) << a.error;
  EXPECT_TRUE(restart);
  EXPECT_EQ(local_.current, id_);
  EXPECT_EQ(local_.control_ms, kNow - 1000);
  // The same message again, or an older one, is a replay.
  a = Ask(Message(DefineOp::kOnline, kNow - 1000), &restart, id_);
  EXPECT_FALSE(a.ok);
  EXPECT_NE(a.error.find("replayed"), std::string::npos);
  a = Ask(Message(DefineOp::kOffline, kNow - 2000), &restart, id_);
  EXPECT_FALSE(a.ok);
  a = Ask(Message(DefineOp::kOffline, kNow), &restart, id_);
  EXPECT_TRUE(a.ok) << a.error;
  EXPECT_TRUE(restart);
  EXPECT_TRUE(local_.offline);
}

TEST_F(NodeControlTest, RefusesOtherNodesStaleRequestsAndOtherOperations) {
  DefineAnswer a = Ask(Message(DefineOp::kOnline, kNow, 5));
  EXPECT_FALSE(a.ok);
  EXPECT_NE(a.error.find("node 4"), std::string::npos);
  EXPECT_FALSE(Ask(Message(DefineOp::kOnline, kNow - kControlWindowMs - 1)).ok);
  EXPECT_FALSE(Ask(Message(DefineOp::kOnline, kNow + kControlWindowMs + 1)).ok);
  EXPECT_FALSE(Ask(Message(DefineOp::kAbort, kNow)).ok);
  EXPECT_FALSE(Ask(Message(DefineOp::kOffline, kNow)).ok);  // not online in it
  EXPECT_TRUE(local_.current.empty());
}

TEST_F(NodeControlTest, AMessageUnderAnotherKeyGetsNoAnswer) {
  LocalClusters clusters = Clusters();
  const wire::Key other = wire::GenerateKey();
  auto reply =
      AnswerControl(file_, clusters, SealDefine(other, Message(DefineOp::kOnline, kNow)), kNow);
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().code(), Errc::kPermission);
  EXPECT_FALSE(AnswerControl(file_, clusters, "garbage", kNow));
  EXPECT_TRUE(local_.current.empty());
}

}  // namespace
}  // namespace cohort::dcm
