#include "workload/messages.h"

#include <gtest/gtest.h>

namespace cohort::workload {
namespace {

Item Sample(std::string path, std::string disk = "") {
  Item i{std::move(path), std::move(disk), {}};
  i.version.bytes = 123456789;
  i.version.mtime_ns = 1'700'000'000'123'456'789;
  for (size_t k = 0; k < i.version.sha256.size(); ++k)
    i.version.sha256[k] = static_cast<uint8_t>(k);
  return i;
}

std::vector<Message> Samples() {
  ListingMsg listing{7, 9, 1, 3, {Sample("movies/a.mp4"), Sample("b.webm", "shared-1")}};
  ChangeMsg put{7, 10, Change{Change::Kind::kPut, Sample("c/d.ts")}};
  ChangeMsg rm{7, 11, Change{Change::Kind::kRemove, Item{"c/d.ts", "d1", {}}}};
  PlaceReplyMsg reply{42, PlaceOutcome::kNoCapacity,    0, 0, "", 0,
                      "", {{2, 4000, 4000}, {3, 10, 0}}};
  PlaceReplyMsg placed{43, PlaceOutcome::kPlaced, 99, 3, "d1", 1, "127.0.0.1:7802", {}};
  ReportMsg report{{{5, "movies/a.mp4", 3000, 1 << 20, 1 << 21, ""}}};
  return {SummaryMsg{7, 9, 0xfeed, 2, "127.0.0.1:7801", 1'000'000},
          PullMsg{7},
          listing,
          put,
          rm,
          PlaceRequestMsg{42, OpenRequest{"movies/a.mp4", 3000, 5, 1024, 2}},
          reply,
          placed,
          report,
          QueryMsg{8, QueryKind::kContent, "movies/", "movies/a.mp4", 2, 100},
          QueryMsg{9, QueryKind::kWhere, "movies/a.mp4", "", 0, 0},
          QueryReplyMsg{8, 200, R"({"items":[]})"}};
}

TEST(WorkloadMessagesTest, EveryMessageRoundTrips) {
  for (const Message& m : Samples()) {
    const auto bytes = Encode(m);
    const auto back = Decode(bytes);
    ASSERT_TRUE(back) << "kind " << m.index();
    EXPECT_EQ(*back, m) << "kind " << m.index();
  }
}

TEST(WorkloadMessagesTest, TruncatedOrTrailingBytesAreRefused) {
  for (const Message& m : Samples()) {
    auto bytes = Encode(m);
    for (size_t n = 0; n < bytes.size(); ++n) {
      EXPECT_FALSE(Decode(wire::ByteView(bytes.data(), n)))
          << "kind " << m.index() << " cut at " << n;
    }
    bytes.push_back(0);
    EXPECT_FALSE(Decode(bytes)) << "kind " << m.index();
  }
  EXPECT_FALSE(Decode(wire::Bytes{0}));
  EXPECT_FALSE(Decode(wire::Bytes{10}));
}

TEST(WorkloadMessagesTest, PathsOutsideTheContentRootAreRefused) {
  for (const char* bad : {"../etc/passwd", "/etc/passwd", "a//b", ".cohort/jobs/x", "a/./b", ""}) {
    EXPECT_FALSE(Decode(Encode(PlaceRequestMsg{1, OpenRequest{bad, 1, 0, 0, 0}}))) << bad;
    EXPECT_FALSE(Decode(Encode(ChangeMsg{1, 1, Change{Change::Kind::kPut, Sample(bad)}}))) << bad;
  }
  EXPECT_FALSE(
      Decode(Encode(ChangeMsg{1, 1, Change{Change::Kind::kPut, Sample("a", "bad/disk")}})));
  // A listing page past its count, or a report naming session 0.
  EXPECT_FALSE(Decode(Encode(ListingMsg{1, 1, 3, 3, {}})));
  EXPECT_FALSE(Decode(Encode(ReportMsg{{{0, "a", 1, 0, 0, ""}}})));
}

TEST(WorkloadMessagesTest, CountsOverTheirLimitAreRefused) {
  ListingMsg big{1, 1, 0, 1, std::vector<Item>(kMaxListingPage + 1, Sample("a"))};
  EXPECT_FALSE(Decode(Encode(big)));
  big.items.resize(kMaxListingPage);
  EXPECT_TRUE(Decode(Encode(big)));
  // A count that claims more items than the bytes hold.
  wire::Bytes forged = Encode(ReportMsg{});
  forged[1] = 0xff;
  EXPECT_FALSE(Decode(forged));
}

}  // namespace
}  // namespace cohort::workload
