#include "distribution/messages.h"

#include <gtest/gtest.h>

namespace cohort::distribution {
namespace {

template <typename T>
T RoundTrip(const T& m) {
  auto bytes = Encode(Message{m});
  auto back = Decode(bytes);
  EXPECT_TRUE(back.has_value());
  EXPECT_TRUE(std::holds_alternative<T>(*back));
  EXPECT_EQ(Encode(*back), bytes);
  return std::get<T>(*back);
}

TEST(Messages, OfferRoundTrips) {
  OfferMsg m;
  m.manifest.job = "n1-7";
  m.manifest.base = 1;
  m.manifest.dest = "media/2026";
  m.manifest.commands = {{1, CommandKind::kMkdir, "d", 0, 0755, 5},
                         {2, CommandKind::kFile, "d/a.mp4", 1 << 20, 0640, 1700000000000000000},
                         {3, CommandKind::kEnd}};
  m.list = {4, 2, 9};
  m.rate = 12500000;
  m.replaces = 3;
  auto back = RoundTrip(m);
  EXPECT_EQ(back.manifest.commands, m.manifest.commands);
  EXPECT_EQ(back.list, m.list);
  EXPECT_EQ(back.replaces, 3);
  EXPECT_EQ(back.manifest.dest, "media/2026");
}

TEST(Messages, ReportAndDataRoundTrip) {
  ReportMsg r{"j", {3, true, 77, 2, 1000, 4, false, "disk full"}};
  auto back = RoundTrip(r);
  EXPECT_EQ(back.report.error, "disk full");
  EXPECT_EQ(back.report.offset, 77u);
  DataMsg d{1234, {1, 2, 3}};
  EXPECT_EQ(RoundTrip(d).bytes, d.bytes);
  CtpMsg c{"put", "a/b", 0600, 9, 4096, false, true, {7}};
  EXPECT_TRUE(RoundTrip(c).last);
}

TEST(Messages, CancelRoundTrips) {
  auto back = RoundTrip(CancelMsg{"1-4", "cancelled by the operator"});
  EXPECT_EQ(back.job, "1-4");
  EXPECT_EQ(back.reason, "cancelled by the operator");
}

TEST(Messages, FeedRoundTripsWithTheSourceItReplaces) {
  auto back = RoundTrip(FeedMsg{"1-1", 3, true, 2});
  EXPECT_EQ(back.job, "1-1");
  EXPECT_EQ(back.target, 3);
  EXPECT_TRUE(back.switch_offer);
  EXPECT_EQ(back.replaces, 2);
  EXPECT_EQ(RoundTrip(FeedMsg{"1-1", 3, false}).replaces, kNoNode);
}

TEST(Messages, DataEncodedInPlaceIsTheSameAsEncode) {
  wire::Bytes in_place;
  uint8_t* data = EncodeDataInPlace(1234, 3, &in_place);
  data[0] = 1, data[1] = 2, data[2] = 3;
  EXPECT_EQ(in_place, Encode(DataMsg{1234, {1, 2, 3}}));
}

TEST(Messages, RejectsTruncatedTrailingAndOversized) {
  auto bytes = Encode(Message{AckMsg{5}});
  EXPECT_FALSE(Decode(wire::ByteView(bytes.data(), bytes.size() - 1)));
  bytes.push_back(0);
  EXPECT_FALSE(Decode(bytes));
  EXPECT_FALSE(Decode(wire::Bytes{99}));
  wire::Bytes huge = Encode(Message{DataMsg{0, wire::Bytes(kMaxChunk + 1)}});
  EXPECT_FALSE(Decode(huge));
  // A command count larger than the bytes could hold is refused without allocating.
  wire::Bytes count = {7, 0xff, 0xff, 0xff, 0x7f};
  EXPECT_FALSE(Decode(count));
}

TEST(Messages, ALargeManifestIsSentInMessagesThatFitAFrame) {
  Manifest m;
  m.job = "1-1";
  m.base = 1;
  m.dest = "d";
  for (uint32_t i = 1; i <= 6000; ++i) {
    m.commands.push_back({i, CommandKind::kFile, std::string(200, 'a') + std::to_string(i), 1});
  }
  m.commands.push_back({6001, CommandKind::kEnd});
  ASSERT_GT(Encode(OfferMsg{m, {}, 0}).size(), kMaxFrame);  // whole, it would not fit
  size_t from = 0, messages = 0;
  while (from < m.commands.size()) {
    const size_t n = CommandsThatFit(m.commands, from);
    ASSERT_GT(n, 0u);
    CommandsMsg part{{m.commands.begin() + static_cast<std::ptrdiff_t>(from),
                      m.commands.begin() + static_cast<std::ptrdiff_t>(from + n)}};
    const auto bytes = Encode(part);
    EXPECT_LE(bytes.size(), kMaxFrame / 2 + 64);
    EXPECT_TRUE(Decode(bytes));
    from += n;
    ++messages;
  }
  EXPECT_GE(messages, 3u);
  EXPECT_EQ(CommandsThatFit(m.commands, m.commands.size()), 0u);
}

TEST(Messages, FeedRefusalsReadBackAndAnUnknownTextIsOther) {
  for (FeedRefusal r :
       {FeedRefusal::kNone, FeedRefusal::kNoJob, FeedRefusal::kCancelled, FeedRefusal::kBusy}) {
    EXPECT_EQ(FeedRefusalFromText(FeedRefusalText(r)), r);
  }
  EXPECT_EQ(FeedRefusalFromText("disk on fire"), FeedRefusal::kOther);
  EXPECT_STREQ(FeedRefusalText(FeedRefusal::kNoJob), "no such job here");  // the wire's text
  EXPECT_TRUE(AckMsg{AckMsg::kCompleted}.ends_feed());
  EXPECT_TRUE(AckMsg{AckMsg::kSwitched}.ends_feed());
  EXPECT_FALSE(AckMsg{1 << 20}.ends_feed());
}

}  // namespace
}  // namespace cohort::distribution
