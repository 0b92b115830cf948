#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/chunked.h"
#include "base/digest.h"
#include "base/endpoint.h"
#include "base/prng.h"
#include "base/result.h"
#include "base/text.h"
#include "base/time.h"

namespace cohort {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return Error(Errc::kInvalidArgument, "odd");
  return x / 2;
}

Status Chain(int x, int* out) {
  auto h = Half(x);
  if (!h) return h.error();
  *out = *h;
  return OkStatus();
}

TEST(ResultTest, HoldsValueOrError) {
  auto ok = Half(4);
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(*ok, 2);
  auto bad = Half(3);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), Errc::kInvalidArgument);
  EXPECT_EQ(bad.error().ToString(), "invalid argument: odd");
  int out = 0;
  EXPECT_TRUE(Chain(8, &out));
  EXPECT_EQ(out, 4);
  EXPECT_FALSE(Chain(7, &out));
}

TEST(ResultDeathTest, ValueOfErrorChecks) {
  auto bad = Half(3);
  EXPECT_DEATH((void)bad.value(), "CHECK failed");
}

TEST(TextTest, InvalidUtf8IsEscapedAndValidTextKept) {
  EXPECT_TRUE(IsValidUtf8("plain/caf\xc3\xa9/\xe2\x82\xac/\xf0\x9f\x8e\xac"));
  EXPECT_EQ(EscapeInvalidUtf8("caf\xc3\xa9"), "caf\xc3\xa9");
  for (const std::string& bad :
       std::vector<std::string>{"\xff", "a\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80"}) {
    EXPECT_FALSE(IsValidUtf8(bad)) << ToHex(bad);
    EXPECT_TRUE(IsValidUtf8(EscapeInvalidUtf8(bad))) << ToHex(bad);
  }
  EXPECT_EQ(EscapeInvalidUtf8("clip-\xff.mp4"), "clip-\\xff.mp4");
  EXPECT_EQ(EscapeInvalidUtf8("a\xc3"), "a\\xc3");
}

TEST(TextTest, HexRoundTrips) {
  const std::string bytes("a\x00\xff/", 4);
  EXPECT_EQ(ToHex(bytes), "6100ff2f");
  EXPECT_EQ(FromHex("6100FF2f"), bytes);
  EXPECT_FALSE(FromHex("abc"));
  EXPECT_FALSE(FromHex("zz"));
}

TEST(ChunkedTest, DecodesAcrossArbitrarySplits) {
  const std::string wire = "5\r\nhello\r\n1;ext=1\r\n\n\r\nA\r\n0123456789\r\n0\r\n\r\n";
  for (size_t split = 0; split <= wire.size(); ++split) {
    std::string raw = wire.substr(0, split), body;
    auto first = DecodeChunks(raw, body, 100);
    ASSERT_TRUE(first.has_value()) << split;
    raw += wire.substr(split);
    auto second = *first == ChunkStep::kEnded ? first : DecodeChunks(raw, body, 100);
    ASSERT_TRUE(second.has_value()) << split;
    EXPECT_EQ(*second, ChunkStep::kEnded) << split;
    EXPECT_EQ(body, "hello\n0123456789") << split;
  }
}

TEST(ChunkedTest, RefusesWhatIsNotChunkedCoding) {
  for (const std::string& bad : std::vector<std::string>{"zz\r\nab\r\n", "3\r\nabcXY", "200\r\n",
                                                         "\r\n", std::string(2000, '1')}) {
    std::string raw = bad, body;
    auto step = DecodeChunks(raw, body, 256);
    EXPECT_FALSE(step.has_value()) << bad;
  }
  std::string raw = "3\r\nab", body;  // incomplete, not wrong
  EXPECT_EQ(*DecodeChunks(raw, body, 256), ChunkStep::kMore);
}

TEST(TimeTest, Arithmetic) {
  const Instant t0 = Instant::FromNanos(1000);
  const Instant t1 = t0 + Duration::Millis(5);
  EXPECT_EQ((t1 - t0).millis(), 5);
  EXPECT_LT(t0, t1);
  EXPECT_EQ(Duration::Seconds(2) / 4, Duration::Millis(500));
}

TEST(PrngTest, SameSeedSameSequence) {
  Prng a(42), b(42), c(43);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = a.Next();
    EXPECT_EQ(x, b.Next());
    differs |= x != c.Next();
  }
  EXPECT_TRUE(differs);
}

TEST(PrngTest, BelowStaysInRange) {
  Prng p(7);
  int counts[5] = {};
  for (int i = 0; i < 5000; ++i) ++counts[p.Below(5)];
  for (int c : counts) EXPECT_GT(c, 800);
  for (int i = 0; i < 100; ++i) {
    const int64_t v = p.Between(-3, 3);
    EXPECT_GE(v, -3);
    EXPECT_LE(v, 3);
  }
}

TEST(EndpointTest, ParsesAndPrints) {
  auto e = Endpoint::Parse("10.1.2.3:7101");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->ip, 0x0a010203u);
  EXPECT_EQ(e->port, 7101);
  EXPECT_EQ(e->ToString(), "10.1.2.3:7101");
  for (const char* bad : {"", "1.2.3.4", "1.2.3:5", "1.2.3.256:1", "1.2.3.4:65536", "a.b.c.d:1",
                          "1.2.3.4:", "1.2.3.4.5:1"}) {
    EXPECT_FALSE(Endpoint::Parse(bad)) << bad;
  }
}

TEST(SubnetTest, ParsesAndMatches) {
  auto s = Subnet::Parse("10.2.0.0/16");
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->Contains(0x0a020304));
  EXPECT_FALSE(s->Contains(0x0a030304));
  EXPECT_EQ(s->ToString(), "10.2.0.0/16");
  EXPECT_FALSE(Subnet::Parse("10.2.0.1/16"));  // host bits
  EXPECT_FALSE(Subnet::Parse("10.2.0.0/33"));
  EXPECT_EQ(Subnet::FromAddressMask(0x0a020304, 0xffffff00).ToString(), "10.2.3.0/24");
  EXPECT_EQ(MaskLength(0xffffff00), 24);
  EXPECT_EQ(MaskLength(0xff00ff00), -1);
  auto all = Subnet::Parse("0.0.0.0/0");
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->Contains(0xdeadbeef));
}

TEST(DigestTest, StableAndSensitive) {
  const uint8_t a[] = {1, 2, 3};
  const uint8_t b[] = {1, 2, 4};
  EXPECT_EQ(Digest64(a), Digest64(a));
  EXPECT_NE(Digest64(a), Digest64(b));
  EXPECT_EQ(HexDigest(0xabc).size(), 16u);
}

}  // namespace
}  // namespace cohort
