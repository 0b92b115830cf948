#include "workload/http_range.h"

#include <gtest/gtest.h>

namespace cohort::workload {
namespace {

using Kind = ByteRange::Kind;

void ExpectPartial(std::string_view header, uint64_t size, uint64_t first, uint64_t last) {
  const ByteRange r = ParseRange(header, size);
  EXPECT_EQ(r.kind, Kind::kPartial) << header;
  EXPECT_EQ(r.first, first) << header;
  EXPECT_EQ(r.last, last) << header;
  EXPECT_EQ(r.length(), last - first + 1) << header;
}

TEST(HttpRangeTest, TheFormsPlayersSend) {
  ExpectPartial("bytes=0-99", 1000, 0, 99);
  ExpectPartial("bytes=500-", 1000, 500, 999);  // resume from an offset
  ExpectPartial("bytes=-100", 1000, 900, 999);  // the tail (an MP4's index)
  ExpectPartial("bytes=0-", 1, 0, 0);
  ExpectPartial("Bytes = 10 - 19 ", 1000, 10, 19);
}

TEST(HttpRangeTest, ClippedToTheFile) {
  ExpectPartial("bytes=900-5000", 1000, 900, 999);
  ExpectPartial("bytes=-5000", 1000, 0, 999);
}

TEST(HttpRangeTest, PastTheEndCannotBeSatisfied) {
  EXPECT_EQ(ParseRange("bytes=1000-", 1000).kind, Kind::kUnsatisfiable);
  EXPECT_EQ(ParseRange("bytes=1000-1001", 1000).kind, Kind::kUnsatisfiable);
  EXPECT_EQ(ParseRange("bytes=-0", 1000).kind, Kind::kUnsatisfiable);
  EXPECT_EQ(ParseRange("bytes=0-", 0).kind, Kind::kUnsatisfiable);
  EXPECT_EQ(ParseRange("bytes=-5", 0).kind, Kind::kUnsatisfiable);
  EXPECT_EQ(ParseRange("bytes=0-1", 1000).length(), 2u);
  EXPECT_EQ(ParseRange("bytes=2000-", 1000).length(), 0u);
}

// Whatever is not one well-formed byte range is ignored: the whole file is served.
TEST(HttpRangeTest, AnythingElseServesTheWholeFile) {
  for (std::string_view h :
       {"", "bytes", "bytes=", "bytes=-", "items=0-9", "bytes=9-0", "bytes=0-1,5-6", "bytes=a-9",
        "bytes=0-9x", "bytes=+1-2", "bytes=99999999999999999999-", "bytes=--5", "bytes=1-2-3",
        "bytes=0x10-"}) {
    const ByteRange r = ParseRange(h, 1000);
    EXPECT_EQ(r.kind, Kind::kWhole) << h;
    EXPECT_EQ(r.length(), 0u) << h;
  }
}

}  // namespace
}  // namespace cohort::workload
