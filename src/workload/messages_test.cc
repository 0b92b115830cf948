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
  ReportMsg report{3, 1, 2, {{5, "movies/a.mp4", 3000, 1 << 20, 1 << 21, ""}}};
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
  EXPECT_FALSE(Decode(Encode(ReportMsg{1, 0, 1, {{0, "a", 1, 0, 0, ""}}})));
  EXPECT_FALSE(Decode(Encode(ReportMsg{1, 2, 2, {}})));
  EXPECT_FALSE(Decode(Encode(ReportMsg{1, 0, kMaxReportPages + 1, {}})));
}

TEST(WorkloadMessagesTest, CountsOverTheirLimitAreRefused) {
  ListingMsg big{1, 1, 0, 1, std::vector<Item>(kMaxListingPage + 1, Sample("a"))};
  EXPECT_FALSE(Decode(Encode(big)));
  big.items.resize(kMaxListingPage);
  EXPECT_TRUE(Decode(Encode(big)));
  // A count that claims more items than the bytes hold.
  wire::Bytes forged = Encode(ReportMsg{});
  forged[1 + 12] = 0xff;  // past the kind and the report, page and pages
  EXPECT_FALSE(Decode(forged));
}

TEST(WorkloadMessagesTest, AReportIsPagedToFitAMessageAndNumbered) {
  std::vector<ReportedSession> sessions;
  for (uint64_t id = 1; id <= 3 * kMaxReported + 5; ++id) {
    sessions.push_back({id, "movies/a-title-of-some-length.mp4", 3000, 0, 0, ""});
  }
  size_t left_out = 9;
  const auto pages = PageReport(17, sessions, &left_out);
  EXPECT_EQ(left_out, 0u);
  // Each session counts 64 bytes and its path's (97): the bytes fill a page first.
  const size_t per_page = kMaxReportBytes / 97;
  const size_t expected = (sessions.size() + per_page - 1) / per_page;
  ASSERT_EQ(pages.size(), expected);
  size_t total = 0;
  for (uint32_t i = 0; i < pages.size(); ++i) {
    EXPECT_EQ(pages[i].report, 17u);
    EXPECT_EQ(pages[i].page, i);
    EXPECT_EQ(pages[i].pages, expected);
    EXPECT_LE(pages[i].sessions.size(), kMaxReported);
    EXPECT_LE(Encode(pages[i]).size(), kMaxReportBytes + 1024);
    EXPECT_TRUE(Decode(Encode(pages[i])));
    total += pages[i].sessions.size();
  }
  EXPECT_EQ(total, sessions.size());
  // No sessions: one empty page, which tells the supervisor that every session ended.
  const auto empty = PageReport(2, {}, &left_out);
  ASSERT_EQ(empty.size(), 1u);
  EXPECT_TRUE(empty[0].sessions.empty());
  // Past kMaxReportPages, the rest is counted and left out.
  const size_t fit = kMaxReportBytes / (64 + 1);
  std::vector<ReportedSession> huge(fit * kMaxReportPages + 7, {1, "a", 1, 0, 0, ""});
  EXPECT_EQ(PageReport(3, huge, &left_out).size(), kMaxReportPages);
  EXPECT_EQ(left_out, 7u);
}

}  // namespace
}  // namespace cohort::workload
