// EtcdRegistry against a real etcd (Debian's etcd-server) started by this test on
// 127.0.0.1 and ended by its PID: the same conformance checks as the model, server failover
// and status. Skipped with a message where etcd is not installed.
#include "registry/etcd.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <thread>

#include "base/test_ports.h"
#include "registry/conformance.h"

namespace cohort::registry {
namespace {

namespace c = conformance;

// Per attempt against the real etcd: a first connection on a loaded machine took more than
// 300 ms once. The dead servers in these tests refuse at once, so they cost no timeout.
constexpr Duration kAttempt = Duration::Seconds(5);

// An etcd cluster of `size` members on 127.0.0.1, members named n1..n<size> as the
// configuration manager names them, each ended by its PID.
class EtcdCluster {
 public:
  explicit EtcdCluster(int size, int election_ms = 1000) {
    if (::access("/usr/bin/etcd", X_OK) != 0) return;
    // On tmpfs where there is one: etcd holds its store's lock across each fsync, so a
    // status waited over 4 s for a disk busy with the sanitizer build's link (CI).
    // Each member reserves 128 MB of log segments: a small /dev/shm (a container's 64 MB)
    // is not used.
    std::error_code ec;
    const auto shm = std::filesystem::space("/dev/shm", ec);
    const bool roomy = !ec && ::access("/dev/shm", W_OK) == 0 &&
                       shm.available >= static_cast<uintmax_t>(size + 1) * (256u << 20);
    const std::filesystem::path base =
        roomy ? std::filesystem::path("/dev/shm") : std::filesystem::temp_directory_path();
    dir_ = base / ("cohort-etcd-" + std::to_string(::getpid()) + "-" + std::to_string(size));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    std::vector<std::string> peers;
    std::string initial;
    for (int k = 1; k <= size; ++k) {
      clients_.push_back("127.0.0.1:" + std::to_string(FreeLoopbackPort()));
      peers.push_back("http://127.0.0.1:" + std::to_string(FreeLoopbackPort()));
      initial += (k > 1 ? "," : "") + ("n" + std::to_string(k)) + "=" + peers.back();
    }
    for (int k = 1; k <= size; ++k) {
      const std::string name = "n" + std::to_string(k);
      const std::string client = "http://" + clients_[k - 1];
      const std::vector<std::string> args = {
          "/usr/bin/etcd",
          "--name=" + name,
          "--data-dir=" + (dir_ / name).string(),
          "--listen-client-urls=" + client,
          "--advertise-client-urls=" + client,
          "--listen-peer-urls=" + peers[k - 1],
          "--initial-advertise-peer-urls=" + peers[k - 1],
          "--initial-cluster=" + initial,
          "--heartbeat-interval=" + std::to_string(std::max(10, election_ms / 10)),
          "--election-timeout=" + std::to_string(election_ms),
          "--logger=zap",
          "--log-outputs=" + (dir_ / (name + ".log")).string()};
      const pid_t pid = ::fork();
      if (pid == 0) {
        std::vector<char*> argv;
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        ::execv(argv[0], argv.data());
        ::_exit(127);
      }
      pids_.push_back(pid);
    }
  }
  ~EtcdCluster() {
    for (size_t k = 1; k <= pids_.size(); ++k) Kill(static_cast<int>(k));
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  // Whether every member accepts connections within `seconds`. Clients made before that
  // would wait out gRPC's reconnect backoff instead.
  bool Listening(int seconds) const {
    for (int i = 0; i < seconds * 20; ++i) {
      const bool all = std::all_of(clients_.begin(), clients_.end(), [](const std::string& c) {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(static_cast<uint16_t>(std::stoi(c.substr(c.find(':') + 1))));
        const bool up = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
        ::close(fd);
        return up;
      });
      if (all) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  bool started() const { return !pids_.empty(); }
  const std::string& client(int k = 1) const { return clients_[k - 1]; }
  const std::vector<std::string>& clients() const { return clients_; }
  void Kill(int k) {
    pid_t& pid = pids_[k - 1];
    if (pid <= 0) return;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    pid = -1;
  }

 private:
  std::filesystem::path dir_;
  std::vector<std::string> clients_;
  std::vector<pid_t> pids_;
};

// A status with a leader, within `seconds` (bounded polling).
std::optional<RegistryStatus> WaitForLeader(EtcdRegistry& registry, int seconds) {
  for (int i = 0; i < seconds * 10; ++i) {
    auto s = c::Sync<RegistryStatus>([&](Done<RegistryStatus> d) { registry.Status(d); });
    if (s && s->phase == Phase::kReadWrite && s->leader != kNoNode) return *s;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return std::nullopt;
}

class EtcdRegistryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    etcd_ = new EtcdCluster(1);
    if (!etcd_->started()) return;
    if (!etcd_->Listening(15)) {
      ready_failed_ = true;
      return;
    }
    registry_ = new EtcdRegistry(EtcdOptions{{etcd_->client()}, Duration::Seconds(2), nullptr});
    ready_failed_ = !WaitForLeader(*registry_, 15);
  }
  static void TearDownTestSuite() {
    delete registry_;
    delete etcd_;
  }
  void SetUp() override {
    if (!etcd_->started()) GTEST_SKIP() << "etcd is not installed (Debian package etcd-server)";
    ASSERT_FALSE(ready_failed_) << "etcd on " << etcd_->client() << " did not elect a leader";
  }
  static inline EtcdCluster* etcd_ = nullptr;
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
TEST_F(EtcdRegistryTest, LeasedKeysGoWithTheirLease) {
  c::LeasedKeysGoWithTheirLease(*registry_, "/t5/");
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
  const std::string dead = "127.0.0.1:" + std::to_string(FreeLoopbackPort());
  EtcdRegistry two(EtcdOptions{{dead, etcd_->client()}, kAttempt, nullptr});
  EXPECT_TRUE(c::Put(two, "/t6/k", "v"));
  EtcdRegistry none(EtcdOptions{{dead}, kAttempt, nullptr});
  auto r = c::Put(none, "/t6/k", "v");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::kUnavailable);
  EXPECT_NE(r.error().message().find(dead), std::string::npos) << r.error().message();
}

// A server whose host is gone: connections complete (the kernel's backlog) and nothing is
// ever said on them, so a client's attempt waits out its whole deadline.
class SilentServer {
 public:
  SilentServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 16);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    endpoint_ = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  }
  ~SilentServer() { ::close(fd_); }
  const std::string& endpoint() const { return endpoint_; }
  // Whether a client has connected, waiting up to `ms` for one.
  bool Connected(int ms) const {
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, ms) == 1;
  }

 private:
  int fd_ = -1;
  std::string endpoint_;
};

// The membership's word that a server's node failed: no attempt goes to it while another
// server is left, so a dead server first in the order costs nothing.
TEST_F(EtcdRegistryTest, PassesOverAServerOnANodeDeclaredFailed) {
  SilentServer silent;
  EtcdRegistry client(EtcdOptions{{silent.endpoint(), etcd_->client()}, Duration::Seconds(60)});
  client.SetDown({silent.endpoint()});
  EXPECT_TRUE(c::Put(client, "/t8/k", "v"));
  EXPECT_FALSE(silent.Connected(0));
}

// An attempt already waiting on the server when the word comes ends then, not at its
// deadline (a minute here; Sync gives up after 10 s), and the next server answers.
TEST_F(EtcdRegistryTest, AnAttemptWaitingOnAServerDeclaredFailedEndsAtOnce) {
  SilentServer silent;
  EtcdRegistry client(EtcdOptions{{silent.endpoint(), etcd_->client()}, Duration::Seconds(60)});
  std::thread declare([&] {
    if (silent.Connected(8000)) client.SetDown({silent.endpoint()});
  });
  auto r = c::Put(client, "/t8/k", "v");
  declare.join();
  EXPECT_TRUE(r) << r.error().message();
}

// A watch streaming from a server whose node failed gets no reset from a host that is gone:
// the word ends it, so that its watcher opens it again where a server answers.
TEST_F(EtcdRegistryTest, AWatchOnAServerDeclaredFailedEnds) {
  SilentServer silent;
  EtcdRegistry client(EtcdOptions{{etcd_->client(), silent.endpoint()}, Duration::Seconds(2)});
  auto ended = c::Sync<std::vector<WatchEvent>>([&](Done<std::vector<WatchEvent>> d) {
    auto id = client.Watch("/t9/", 0, d);
    ASSERT_TRUE(id);
    client.SetDown({etcd_->client()});
  });
  ASSERT_FALSE(ended);
  EXPECT_EQ(ended.error().code(), Errc::kUnavailable);
  EXPECT_NE(ended.error().message().find("declared failed"), std::string::npos)
      << ended.error().message();
}

// With every server declared failed (this node cut off, or the word wrong), each is used as
// before: a watch stays open and writes go through.
TEST_F(EtcdRegistryTest, EveryServerDeclaredFailedIsStillUsed) {
  SilentServer silent;
  EtcdRegistry client(EtcdOptions{{etcd_->client(), silent.endpoint()}, Duration::Seconds(2)});
  client.SetDown({etcd_->client(), silent.endpoint()});
  auto put = c::Put(client, "/t10/k", "v");
  ASSERT_TRUE(put) << put.error().message();
  // From the write's revision: a watch from "now" could be set up after the write commits.
  auto seen = c::Sync<std::vector<WatchEvent>>(
      [&](Done<std::vector<WatchEvent>> d) { ASSERT_TRUE(client.Watch("/t10/", *put, d)); });
  ASSERT_TRUE(seen) << seen.error().message();
  ASSERT_EQ(seen->size(), 1u);
  EXPECT_EQ((*seen)[0].kv.key, "/t10/k");
}

// A removal retried on the next server after one did not answer may find the member gone
// (the first applied it before it stopped answering): that is the removal done. Asked first,
// "not found" is still an error.
TEST_F(EtcdRegistryTest, ARemovalFoundAppliedOnRetryIsDone) {
  const uint64_t absent = 0x1234;
  EtcdRegistry direct(EtcdOptions{{etcd_->client()}, kAttempt, nullptr});
  auto first = c::Sync<Ok>([&](Done<Ok> d) { direct.Remove(absent, d); });
  ASSERT_FALSE(first);
  EXPECT_NE(first.error().message().find("member not found"), std::string::npos)
      << first.error().message();
  const std::string dead = "127.0.0.1:" + std::to_string(FreeLoopbackPort());
  EtcdRegistry retried(EtcdOptions{{dead, etcd_->client()}, kAttempt, nullptr});
  auto second = c::Sync<Ok>([&](Done<Ok> d) { retried.Remove(absent, d); });
  EXPECT_TRUE(second) << second.error().message();
}

// A follower names its dead leader until its own election timeout ends (here 10 s); the
// status must not call that read-write, or writes get in only to time out.
TEST_F(EtcdRegistryTest, AFollowerNamingADeadLeaderIsReadOnly) {
  EtcdCluster three(3, 10000);
  ASSERT_TRUE(three.Listening(15)) << "the three-member etcd did not start";
  EtcdRegistry all(EtcdOptions{three.clients(), Duration::Millis(500), nullptr});
  auto before = WaitForLeader(all, 30);
  ASSERT_TRUE(before) << "the three-member etcd did not elect a leader";
  const int leader = static_cast<int>(before->leader);
  ASSERT_GE(leader, 1);
  ASSERT_LE(leader, 3);
  const int follower = leader % 3 + 1;
  three.Kill(leader);

  // 4 s for the follower's answer: it answers its status locally, in milliseconds, but once
  // took over 4 s on CI, its store's lock held across an fsync of a busy disk (the
  // members' data is on tmpfs since).
  EtcdRegistry through_follower(
      EtcdOptions{{three.client(follower), three.client(leader)}, Duration::Seconds(4), nullptr});
  const auto t0 = std::chrono::steady_clock::now();
  auto s = c::Sync<RegistryStatus>([&](Done<RegistryStatus> d) { through_follower.Status(d); });
  ASSERT_TRUE(s) << s.error().message();
  // Only meaningful while the follower still names the dead leader: well inside 10 s.
  ASSERT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(8));
  EXPECT_EQ(s->phase, Phase::kReadOnly);
  EXPECT_EQ(s->leader, kNoNode);
  EXPECT_EQ(s->servers.size(), 3u);
}

}  // namespace
}  // namespace cohort::registry
