#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <thread>

#include "base/test_ports.h"
#include "io/adapters.h"
#include "io/asio.h"
#include "io/disk_probe.h"
#include "io/files.h"
#include "io/http_client.h"
#include "io/job_content.h"
#include "io/loop_monitor.h"
#include "io/udp.h"

namespace cohort::io {
namespace {

TEST(FilesTest, AtomicWriteReplacesAndLeavesNoTemporary) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("cohort-io-" + std::to_string(::getpid()));
  ASSERT_TRUE(MakeDirs(dir.string()));
  const std::string path = (dir / "state").string();
  ASSERT_TRUE(WriteFileAtomic(path, "one"));
  ASSERT_TRUE(WriteFileAtomic(path, "two", 0600));
  auto got = ReadFile(path);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, "two");
  size_t files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir)) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1u);
  EXPECT_FALSE(WriteFileAtomic((dir / "missing" / "x").string(), "y"));
  EXPECT_FALSE(ReadFile((dir / "missing").string()));
  std::filesystem::remove_all(dir);
}

TEST(FilesTest, ReaderFollowsARenameButRefusesAReplacedFile) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("cohort-reader-" + std::to_string(::getpid()));
  ASSERT_TRUE(MakeDirs(dir.string()));
  const std::string temp = (dir / ".a.part").string(), final_path = (dir / "a").string();
  ASSERT_TRUE(WriteFileAtomic(temp, "abc"));
  struct stat st {};
  ASSERT_EQ(::stat(temp.c_str(), &st), 0);
  const FileReader::File a{temp, final_path, st.st_ino, 3};
  FileReader r;
  const int fd = r.Open(0, a);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(r.Open(0, a), fd);  // held
  ASSERT_EQ(::rename(temp.c_str(), final_path.c_str()), 0);
  r.Close();
  EXPECT_GE(r.Open(0, a), 0);  // gone from `path`: found at `other_path`
  r.Close();
  EXPECT_LT(r.Open(0, {temp, final_path, st.st_ino, 4}), 0);  // shorter than needed
  EXPECT_GE(r.Open(0, {temp, final_path, st.st_ino, 2}), 0);  // longer: still being written
  r.Close();
  ASSERT_TRUE(WriteFileAtomic(final_path, "xyz"));  // replaced: another inode
  EXPECT_LT(r.Open(0, a), 0);
  FileReader moved = std::move(r);
  EXPECT_LT(moved.Open(1, {(dir / "missing").string(), "", 0, 0}), 0);
  std::filesystem::remove_all(dir);
}

TEST(JobContentTest, ATreeIsCollectedInNameOrderWithItsAttributes) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("cohort-collect-" + std::to_string(::getpid()));
  ASSERT_TRUE(MakeDirs((dir / "tree" / "sub").string()));
  ASSERT_TRUE(WriteFileAtomic((dir / "tree" / "b.txt").string(), "bee", 0640));
  ASSERT_TRUE(WriteFileAtomic((dir / "tree" / "sub" / "a.txt").string(), "a", 0600));
  ASSERT_TRUE(WriteFileAtomic((dir / "tree" / "a.txt").string(), "ay"));
  std::vector<distribution::Command> commands;
  std::vector<std::string> sources;
  ASSERT_TRUE(CollectPath((dir / "tree").string(), "tree", &commands, &sources));
  std::vector<std::string> names;
  for (const auto& c : commands) names.push_back(c.path);
  EXPECT_EQ(names, (std::vector<std::string>{"tree", "tree/a.txt", "tree/b.txt", "tree/sub",
                                             "tree/sub/a.txt"}));
  EXPECT_EQ(sources[2], (dir / "tree" / "b.txt").string());
  EXPECT_EQ(commands[0].kind, distribution::CommandKind::kMkdir);
  EXPECT_EQ(commands[2].kind, distribution::CommandKind::kFile);
  EXPECT_EQ(commands[2].size, 3u);
  EXPECT_EQ(commands[2].mode, 0640u);
  EXPECT_FALSE(CollectPath((dir / "missing").string(), "missing", &commands, &sources));
  std::filesystem::remove_all(dir);
}

TEST(JobContentTest, CommandsRoundTripThroughJsonAndBadOnesAreRefused) {
  distribution::Command file{
      7, distribution::CommandKind::kFile, "a/b.bin", 12345, 0751, 1700000000123456789, 1000, 100};
  auto back = CommandFromJson(CommandJson(file));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, file);
  distribution::Command end{8, distribution::CommandKind::kEnd};
  back = CommandFromJson(CommandJson(end));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, end);
  auto j = CommandJson(file);
  j["path"] = "../out";
  EXPECT_FALSE(CommandFromJson(j));
  j["path"] = "/etc/passwd";
  EXPECT_FALSE(CommandFromJson(j));
  j = CommandJson(file);
  j.erase("size");
  EXPECT_FALSE(CommandFromJson(j));
  j = CommandJson(file);
  j["kind"] = "symlink";
  EXPECT_FALSE(CommandFromJson(j));
  j = CommandJson(file);
  j["mode"] = "rwx";
  EXPECT_FALSE(CommandFromJson(j));
  EXPECT_FALSE(CommandFromJson(nlohmann::json::array()));
}

TEST(DiskCheckTest, PassesOnAWritableFolderAndSaysWhyItFails) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("cohort-disk-" + std::to_string(::getpid()));
  ASSERT_TRUE(MakeDirs(dir.string()));
  DiskConfig disk{"d1", dir.string(), (dir / ".probe").string()};
  DiskCheck ok = CheckDisk(disk, 1);
  EXPECT_TRUE(ok.ok) << ok.error;
  EXPECT_GT(ok.total_bytes, 0u);
  EXPECT_LE(ok.free_bytes, ok.total_bytes);
  DiskCheck no_probe = CheckDisk({"d1", dir.string(), (dir / "gone" / ".probe").string()}, 2);
  EXPECT_FALSE(no_probe.ok);
  EXPECT_NE(no_probe.error.find("cannot write"), std::string::npos) << no_probe.error;
  DiskCheck no_mount = CheckDisk({"d1", (dir / "gone").string(), disk.probe}, 3);
  EXPECT_FALSE(no_mount.ok);
  EXPECT_NE(no_mount.error.find("mount point"), std::string::npos) << no_mount.error;

  // The prober reports every disk from its thread onto the loop. It is gone (its thread
  // stopped) before the folder is removed: a probe written meanwhile failed the removal.
  boost::asio::io_context loop;
  std::vector<DiskCheck> got;
  {
    DiskProber prober(loop, {disk, DiskConfig{"d2", (dir / "gone").string(), (dir / "x").string()}},
                      Duration::Millis(20), Duration::Seconds(5), [&](DiskCheck c) {
                        got.push_back(std::move(c));
                        if (got.size() >= 4) loop.stop();
                      });
    prober.Start();
    boost::asio::steady_timer limit(loop, std::chrono::seconds(10));
    limit.async_wait([&](boost::system::error_code) { loop.stop(); });
    loop.run();
  }
  ASSERT_GE(got.size(), 4u);
  EXPECT_EQ(got[0].disk, "d1");
  EXPECT_TRUE(got[0].ok);
  EXPECT_EQ(got[1].disk, "d2");
  EXPECT_FALSE(got[1].ok);
  std::filesystem::remove_all(dir);
}

TEST(DiskCheckTest, AHungCheckIsReportedFailedWhileTheThreadIsStuck) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("cohort-hang-" + std::to_string(::getpid()));
  ASSERT_TRUE(MakeDirs(dir.string()));
  // Opening a FIFO for writing blocks until a reader comes: a filesystem that hangs.
  const std::string fifo = (dir / "probe").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  boost::asio::io_context loop;
  std::vector<DiskCheck> got;
  int reader = -1;
  {
    DiskProber prober(loop, {DiskConfig{"d1", dir.string(), fifo}}, Duration::Millis(20),
                      Duration::Millis(100), [&](DiskCheck c) {
                        got.push_back(std::move(c));
                        loop.stop();
                      });
    prober.Start();
    boost::asio::steady_timer limit(loop, std::chrono::seconds(10));
    limit.async_wait([&](boost::system::error_code) { loop.stop(); });
    loop.run();
    // Unblock the stuck writer (and keep it unblocked) so the thread can be joined.
    reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
    ASSERT_GE(reader, 0);
  }
  ::close(reader);
  ASSERT_GE(got.size(), 1u);
  EXPECT_FALSE(got[0].ok);
  EXPECT_NE(got[0].error.find("has not finished"), std::string::npos) << got[0].error;
  std::filesystem::remove_all(dir);
}

TEST(AdaptersTest, LoopbackIsDiscovered) {
  auto a = DiscoverAdapter(0x7f000001);
  ASSERT_TRUE(a) << a.error().message();
  EXPECT_EQ(a->type, transport::AdapterType::kLoopback);
  EXPECT_EQ(a->mask, 0xff000000u);
  EXPECT_GE(a->mtu, 576);
  auto other = DiscoverAdapter(0x7f000002);  // any 127/8 address is local
  ASSERT_TRUE(other);
  EXPECT_EQ(other->type, transport::AdapterType::kLoopback);
  EXPECT_FALSE(DiscoverAdapter(0xc0000201));  // 192.0.2.1 (TEST-NET-1) is not ours
}

// A UDP port on 127.0.0.1 that was free a moment ago.
uint16_t FreeUdpPort() {
  const uint16_t port = FreeLoopbackPort(SOCK_DGRAM);
  EXPECT_NE(port, 0);
  return port;
}

// C13: each datagram comes with the routers it crossed, from its TTL. A TTL above the one
// cohortd sends with is another kind of sender: no figure rather than a wrong one.
TEST(UdpAdaptersTest, DatagramsCarryTheRoutersTheyCrossed) {
  boost::asio::io_context io;
  std::map<std::string, std::optional<uint8_t>> got;
  UdpAdapters udp(io, [&](uint8_t, const Endpoint&, std::span<const uint8_t> bytes,
                          std::optional<uint8_t> hops) {
    got[std::string(bytes.begin(), bytes.end())] = hops;
  });
  const uint16_t port = FreeUdpPort();
  ASSERT_TRUE(udp.Bind({Endpoint{0x7f000001, port}}));
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  to.sin_port = htons(port);
  for (const auto& [text, ttl] : std::vector<std::pair<std::string, int>>{
           {"direct", kSendTtl}, {"three", kSendTtl - 3}, {"other", 200}}) {
    ASSERT_EQ(::setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl), 0);
    ASSERT_EQ(
        ::sendto(fd, text.data(), text.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to),
        static_cast<ssize_t>(text.size()));
  }
  ::close(fd);
  for (int i = 0; i < 200 && got.size() < 3; ++i) io.run_for(std::chrono::milliseconds(10));
  udp.Close();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got["direct"], std::optional<uint8_t>(0));
  EXPECT_EQ(got["three"], std::optional<uint8_t>(3));
  EXPECT_FALSE(got["other"].has_value());
}

TEST(LoopMonitor, AHandlerThatBlocksTheLoopShowsAsAStall) {
  boost::asio::io_context loop;
  LoopMonitor monitor(loop);
  monitor.Start();
  boost::asio::steady_timer block(loop, std::chrono::milliseconds(30));
  block.async_wait([](const boost::system::error_code&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(60));  // a blocking disk call
  });
  boost::asio::steady_timer end(loop, std::chrono::milliseconds(150));
  end.async_wait([&](const boost::system::error_code&) { monitor.Stop(); });
  loop.run();
  EXPECT_GE(monitor.longest(), Duration::Millis(45));
  EXPECT_GT(monitor.count(), 2u);
  const std::string text = monitor.Metrics();
  EXPECT_NE(
      text.find("cohort_loop_stall_seconds_bucket{le=\"+Inf\"} " + std::to_string(monitor.count())),
      std::string::npos);
  EXPECT_NE(text.find("cohort_loop_stall_max_seconds 0.0"), std::string::npos);
}

// A peer that answers with `reply`, one byte per `gap_ms` (0: all at once); ends on its own.
class HostileServer {
 public:
  HostileServer(std::string reply, int gap_ms) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(0x7f000001);
    socklen_t len = sizeof a;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), len), 0);
    EXPECT_EQ(::listen(fd_, 1), 0);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this, reply = std::move(reply), gap_ms] {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      char request[4096];
      (void)::recv(c, request, sizeof request, 0);
      if (gap_ms == 0) {
        (void)::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
      } else {
        for (size_t i = 0; i < reply.size() && i < 40; ++i) {
          if (::send(c, reply.data() + i, 1, MSG_NOSIGNAL) != 1) break;
          std::this_thread::sleep_for(std::chrono::milliseconds(gap_ms));
        }
      }
      ::close(c);
    });
  }
  ~HostileServer() {
    thread_.join();
    ::close(fd_);
  }
  Endpoint endpoint() const { return Endpoint{0x7f000001, port_}; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
};

TEST(HttpCallTest, AnUntrustedPeerIsBoundedInTimeAndSize) {
  {
    HostileServer trickle("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'x'),
                          50);
    const auto t0 = std::chrono::steady_clock::now();
    auto r = HttpCall(trickle.endpoint(), "POST", "/", "", "", 1000, 300);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::kTimeout);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(900));
  }
  {
    HostileServer big("HTTP/1.1 200 OK\r\n\r\n" + std::string(200000, 'x'), 0);
    auto r = HttpCall(big.endpoint(), "POST", "/", "", "", 1000, 0, 65536);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("over 65536 bytes"), std::string::npos);
  }
  {
    HostileServer fine("HTTP/1.1 200 OK\r\n\r\nhello", 0);
    auto r = HttpCall(fine.endpoint(), "POST", "/", "", "", 1000, 1000, 65536);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->body, "hello");
  }
}

TEST(LoopMonitor, BucketsAreCumulative) {
  boost::asio::io_context loop;
  LoopMonitor monitor(loop);
  monitor.Record(Duration::Micros(500));
  monitor.Record(Duration::Millis(30));
  monitor.Record(Duration::Seconds(2));
  const std::string text = monitor.Metrics();
  EXPECT_NE(text.find("le=\"0.001\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("le=\"0.05\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("le=\"1\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("le=\"+Inf\"} 3\n"), std::string::npos) << text;
  EXPECT_EQ(monitor.longest(), Duration::Seconds(2));
}

}  // namespace
}  // namespace cohort::io
