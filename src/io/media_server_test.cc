#include "io/media_server.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "io/http_client.h"
#include "io/http_fetch.h"
#include "io/media_request.h"

namespace cohort::io {
namespace {

namespace fs = std::filesystem;

TEST(MediaRequestTest, TargetsAreCheckedAndDecoded) {
  auto t = ParseMediaTarget("/media/movies/a%20b.mp4?session=42&kbps=3000&disk=shared-1");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->path, "movies/a b.mp4");
  EXPECT_EQ(t->session, 42u);
  EXPECT_EQ(t->kbps, 3000u);
  EXPECT_EQ(t->disk, "shared-1");
  EXPECT_EQ(ParseMediaTarget("/v1/status").error().code(), Errc::kNotFound);
  for (const char* bad :
       {"/media/../etc/passwd", "/media/%2e%2e/x", "/media/a//b", "/media/", "/media/.cohort/jobs",
        "/media/a?session=x", "/media/a?disk=a/b", "/media/a?kbps=99999999999999999999999",
        "/media/a?kbps=9007199254740992"}) {
    EXPECT_EQ(ParseMediaTarget(bad).error().code(), Errc::kInvalidArgument) << bad;
  }
}

TEST(MediaRequestTest, HeadsSayWhatPlayersNeed) {
  EXPECT_EQ(ContentTypeOf("a/b.MP4"), "video/mp4");
  EXPECT_EQ(ContentTypeOf("seg-1.m4s"), "video/iso.segment");
  EXPECT_EQ(ContentTypeOf("x.mp4/readme"), "application/octet-stream");
  const auto partial = MakeMediaHead({workload::ByteRange::Kind::kPartial, 10, 19}, 100, "a.webm",
                                     "\"sha256-ab\"", 7, true);
  EXPECT_EQ(partial.status, 206);
  EXPECT_EQ(partial.first, 10u);
  EXPECT_EQ(partial.length, 10u);
  for (const char* h : {"HTTP/1.1 206 Partial Content\r\n", "Content-Range: bytes 10-19/100\r\n",
                        "Content-Length: 10\r\n", "ETag: \"sha256-ab\"\r\n",
                        "Content-Type: video/webm\r\n", "Accept-Ranges: bytes\r\n",
                        "Access-Control-Allow-Origin: *\r\n", "Connection: keep-alive\r\n"}) {
    EXPECT_NE(partial.text.find(h), std::string::npos) << h;
  }
  EXPECT_TRUE(partial.text.ends_with("\r\n\r\n"));
  const auto past =
      MakeMediaHead({workload::ByteRange::Kind::kUnsatisfiable}, 100, "a", "", 7, false);
  EXPECT_EQ(past.status, 416);
  EXPECT_NE(past.text.find("Content-Range: bytes */100\r\n"), std::string::npos);
}

class MediaServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("cohort-media-" + std::to_string(::getpid()));
    fs::create_directories(dir_ / "movies");
    std::ofstream f(dir_ / "movies/a.bin", std::ios::binary);
    for (int i = 0; i < 300'000; ++i) f.put(static_cast<char>(i * 7));
    f.close();
    fs::create_symlink("/etc/passwd", dir_ / "escape");
    fs::create_symlink("/etc", dir_ / "outside");
    fs::create_symlink(dir_ / "movies", dir_ / "absolute");  // leads back in
    fs::create_symlink("movies", dir_ / "relative");
    fs::create_symlink("movies/a.bin", dir_ / "alias.bin");  // a file that is a link, inside
  }
  void TearDown() override {
    server_.reset();
    fs::remove_all(dir_);
  }
  void Start(uint64_t capacity_kbps) {
    MediaOptions o;
    o.listen = Endpoint{0x7f000001, 0};
    o.roots = {{"", dir_.string()}};
    o.capacity_kbps = capacity_kbps;
    auto s = MediaServer::Start(o);
    ASSERT_TRUE(s) << s.error().message();
    server_ = std::move(*s);
  }
  // GET `target` from `from` into a fresh file; the reply and the bytes.
  std::pair<FetchReply, std::string> Fetch(const std::string& target, uint64_t from = 0,
                                           const std::string& if_range = "") {
    const std::string out = (dir_ / "out").string();
    const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    auto r = HttpFetch(server_->address(), target, from, if_range, fd, 2000);
    ::close(fd);
    EXPECT_TRUE(r) << (r ? "" : r.error().message());
    std::ifstream in(out, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return {r ? *r : FetchReply{}, bytes};
  }
  fs::path dir_;
  std::unique_ptr<MediaServer> server_;
};

TEST_F(MediaServerTest, ServesWholeFilesAndRangesAndCountsTheSession) {
  Start(0);
  auto [whole, bytes] = Fetch("/media/movies/a.bin?session=5&kbps=2000");
  EXPECT_EQ(whole.status, 200);
  EXPECT_TRUE(whole.complete);
  ASSERT_EQ(bytes.size(), 300'000u);
  EXPECT_EQ(bytes[1000], static_cast<char>(7000));
  auto [part, tail] = Fetch("/media/movies/a.bin?session=5", 299'990);
  EXPECT_EQ(part.status, 206);
  EXPECT_EQ(part.range_start, 299'990u);
  EXPECT_EQ(part.total, 300'000u);
  EXPECT_EQ(tail, bytes.substr(299'990));
  // The server counts a chunk just after the client may have read it.
  std::vector<MediaSession> sessions;
  for (int i = 0; i < 200; ++i) {
    sessions = server_->Sessions();
    if (sessions.size() == 1 && sessions[0].bytes_sent == 300'010u) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0].id, 5u);
  EXPECT_EQ(sessions[0].bitrate_kbps, 2000u);
  EXPECT_EQ(sessions[0].bytes_sent, 300'010u);
  EXPECT_EQ(sessions[0].offset, 300'000u);
  EXPECT_EQ(server_->metrics().range_requests, 1u);
}

TEST_F(MediaServerTest, TheETagGuardsAResume) {
  Start(0);
  std::map<std::pair<std::string, std::string>, workload::Item> items;
  workload::Item item{"movies/a.bin", "", {}};
  item.version.sha256.fill(0xab);
  items[{item.path, ""}] = item;
  server_->SetDigests(items);
  auto [first, bytes] = Fetch("/media/movies/a.bin");
  std::string hex;
  for (int i = 0; i < 32; ++i) hex += "ab";
  ASSERT_EQ(first.etag, "\"sha256-" + hex + "\"");
  EXPECT_EQ(bytes.size(), 300'000u);
  EXPECT_EQ(Fetch("/media/movies/a.bin", 100, first.etag).first.status, 206);
  // Another version than the client's: the whole file.
  EXPECT_EQ(Fetch("/media/movies/a.bin", 100, "\"sha256-00\"").first.status, 200);
}

TEST_F(MediaServerTest, RefusesWhatIsNotContentAndNewSessionsPastCapacity) {
  Start(3000);
  EXPECT_EQ(Fetch("/media/nothing.bin").first.status, 404);
  EXPECT_EQ(Fetch("/media/escape").first.status, 404);
  EXPECT_EQ(Fetch("/media/../escape").first.status, 400);
  EXPECT_EQ(Fetch("/media/outside/passwd").first.status, 404);
  EXPECT_EQ(Fetch("/media/absolute/a.bin?session=1&kbps=2000").first.status, 200);
  EXPECT_EQ(Fetch("/media/relative/a.bin?session=1&kbps=2000").first.status, 200);
  EXPECT_EQ(Fetch("/media/alias.bin?session=1&kbps=2000").first.status, 200);
  EXPECT_EQ(Fetch("/media/movies/a.bin?disk=other").first.status, 404);
  EXPECT_EQ(Fetch("/media/movies/a.bin", 300'000).first.status, 416);
  EXPECT_EQ(Fetch("/media/movies/a.bin?session=1&kbps=2000").first.status, 200);
  // Session 1 lingers with 2000 of 3000 kbit/s: a second of 2000 is refused, the first
  // may come back.
  auto [refused, text] = Fetch("/media/movies/a.bin?session=2&kbps=2000");
  EXPECT_EQ(refused.status, 503);
  EXPECT_NE(refused.text.find("capacity"), std::string::npos);
  EXPECT_EQ(Fetch("/media/movies/a.bin?session=1&kbps=2000").first.status, 200);
  EXPECT_EQ(server_->metrics().refused_capacity, 1u);
  // The API's plain client gets the head and body of a HEAD-less error too.
  auto reply = HttpCall(server_->address(), "POST", "/media/movies/a.bin");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 405);
}

}  // namespace
}  // namespace cohort::io
