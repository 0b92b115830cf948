// EtcdRegistry against a real etcd (Debian's etcd-server) started by this test on
// 127.0.0.1 and ended by its PID: the same conformance checks as the model, server failover
// and status. Skipped with a message where etcd is not installed.
#include "registry/etcd.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "registry/conformance.h"

namespace cohort::registry {
namespace {

namespace c = conformance;

int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

class EtcdProcess {
 public:
  EtcdProcess() {
    if (::access("/usr/bin/etcd", X_OK) != 0) return;
    dir_ = std::filesystem::temp_directory_path() / ("cohort-etcd-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    client_ = "127.0.0.1:" + std::to_string(FreePort());
    const std::string peer = "http://127.0.0.1:" + std::to_string(FreePort());
    const std::vector<std::string> args = {"/usr/bin/etcd",
                                           "--name=n1",
                                           "--data-dir=" + (dir_ / "data").string(),
                                           "--listen-client-urls=http://" + client_,
                                           "--advertise-client-urls=http://" + client_,
                                           "--listen-peer-urls=" + peer,
                                           "--initial-advertise-peer-urls=" + peer,
                                           "--initial-cluster=n1=" + peer,
                                           "--logger=zap",
                                           "--log-outputs=" + (dir_ / "etcd.log").string()};
    pid_ = ::fork();
    if (pid_ == 0) {
      std::vector<char*> argv;
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  ~EtcdProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  bool started() const { return pid_ > 0; }
  const std::string& client() const { return client_; }

 private:
  std::filesystem::path dir_;
  std::string client_;
  pid_t pid_ = -1;
};

class EtcdRegistryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    etcd_ = new EtcdProcess();
    if (!etcd_->started()) return;
    registry_ = new EtcdRegistry(EtcdOptions{{etcd_->client()}, Duration::Seconds(2), nullptr});
    // Ready once a status comes back with a leader (bounded: 15 s).
    for (int i = 0; i < 150; ++i) {
      auto s = c::Sync<RegistryStatus>([](Done<RegistryStatus> d) { registry_->Status(d); });
      if (s && s->phase == Phase::kReadWrite) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ready_failed_ = true;
  }
  static void TearDownTestSuite() {
    delete registry_;
    delete etcd_;
  }
  void SetUp() override {
    if (!etcd_->started()) GTEST_SKIP() << "etcd is not installed (Debian package etcd-server)";
    ASSERT_FALSE(ready_failed_) << "etcd on " << etcd_->client() << " did not elect a leader";
  }
  static inline EtcdProcess* etcd_ = nullptr;
  static inline EtcdRegistry* registry_ = nullptr;
  static inline bool ready_failed_ = false;
};

TEST_F(EtcdRegistryTest, RevisionsCountEveryCommittedChange) {
  c::RevisionsCountEveryCommittedChange(*registry_, "/t1/");
}
TEST_F(EtcdRegistryTest, RangeByPrefixInKeyOrderWithALimit) {
  c::RangeByPrefixInKeyOrderWithALimit(*registry_, "/t2/");
}
TEST_F(EtcdRegistryTest, CompareAndSwapLetsOnlyTheCurrentWriterWin) {
  c::CompareAndSwapLetsOnlyTheCurrentWriterWin(*registry_, "/t3/");
}
TEST_F(EtcdRegistryTest, WatchReplaysFromARevisionThenFollows) {
  c::WatchReplaysFromARevisionThenFollows(*registry_, "/t4/");
}

TEST_F(EtcdRegistryTest, StatusNamesTheLeaderNode) {
  auto s = c::Sync<RegistryStatus>([](Done<RegistryStatus> d) { registry_->Status(d); });
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->phase, Phase::kReadWrite);
  EXPECT_EQ(s->leader, 1);
  EXPECT_EQ(s->servers, (std::vector<NodeId>{1}));
  EXPECT_GE(s->term, 1u);
  EXPECT_GT(s->commit_index, 0u);
}

TEST_F(EtcdRegistryTest, FailsOverToTheNextServerAndSaysWhoWasTried) {
  const std::string dead = "127.0.0.1:" + std::to_string(FreePort());
  EtcdRegistry two(EtcdOptions{{dead, etcd_->client()}, Duration::Millis(300), nullptr});
  EXPECT_TRUE(c::Put(two, "/t6/k", "v"));
  EtcdRegistry none(EtcdOptions{{dead}, Duration::Millis(300), nullptr});
  auto r = c::Put(none, "/t6/k", "v");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::kUnavailable);
  EXPECT_NE(r.error().message().find(dead), std::string::npos) << r.error().message();
}

}  // namespace
}  // namespace cohort::registry
