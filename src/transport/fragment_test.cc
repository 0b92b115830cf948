#include "transport/fragment.h"

#include <gtest/gtest.h>

namespace cohort::transport {
namespace {

Bytes Message(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(i * 7);
  return b;
}

FragmentMsg AsFragment(const Bytes& encoded) {
  auto m = Decode(encoded);
  EXPECT_TRUE(m && std::holds_alternative<FragmentMsg>(*m));
  return std::get<FragmentMsg>(*m);
}

TEST(FragmentTest, PiecesFitAndReassembleInAnyOrder) {
  const Bytes msg = Message(5000);
  auto pieces = Fragment(msg, 9, 1000);
  ASSERT_EQ(pieces.size(), 6u);
  for (const Bytes& p : pieces) EXPECT_LE(p.size(), 1000u);
  Reassembler r(Duration::Seconds(2));
  std::optional<Bytes> whole;
  const Instant t = Instant::FromNanos(1);
  for (int i : {5, 0, 3, 1, 4}) EXPECT_FALSE(r.Add(t, 1, 1, AsFragment(pieces[i])));
  EXPECT_FALSE(r.Add(t, 1, 1, AsFragment(pieces[3])));  // duplicate ignored
  whole = r.Add(t, 1, 1, AsFragment(pieces[2]));
  ASSERT_TRUE(whole);
  EXPECT_EQ(*whole, msg);
  EXPECT_EQ(r.pending(), 0u);
}

TEST(FragmentTest, IncompleteMessagesExpire) {
  auto pieces = Fragment(Message(3000), 1, 1000);
  Reassembler r(Duration::Seconds(2));
  const Instant t = Instant::FromNanos(1);
  EXPECT_FALSE(r.Add(t, 1, 1, AsFragment(pieces[0])));
  EXPECT_EQ(r.NextExpiry(), t + Duration::Seconds(2));
  r.Expire(t + Duration::Seconds(1));
  EXPECT_EQ(r.pending(), 1u);
  r.Expire(t + Duration::Seconds(2));
  EXPECT_EQ(r.pending(), 0u);
  // The rest arriving afterwards cannot complete it.
  for (size_t i = 1; i < pieces.size(); ++i) EXPECT_FALSE(r.Add(t, 1, 1, AsFragment(pieces[i])));
}

TEST(FragmentTest, SendersAndIncarnationsDoNotMix) {
  auto a = Fragment(Message(1500), 1, 1000);
  Reassembler r(Duration::Seconds(2));
  const Instant t = Instant::FromNanos(1);
  EXPECT_FALSE(r.Add(t, 1, 1, AsFragment(a[0])));
  EXPECT_FALSE(r.Add(t, 2, 1, AsFragment(a[1])));
  EXPECT_FALSE(r.Add(t, 1, 2, AsFragment(a[1])));
  EXPECT_TRUE(r.Add(t, 1, 1, AsFragment(a[1])));
}

TEST(FragmentTest, PendingIsBounded) {
  Reassembler r(Duration::Seconds(2));
  const Instant t = Instant::FromNanos(1);
  for (uint32_t id = 0; id < Reassembler::kMaxPending + 50; ++id) {
    auto pieces = Fragment(Message(1200), id, 1000);
    (void)r.Add(t + Duration::Nanos(id), 1, 1, AsFragment(pieces[0]));
  }
  EXPECT_EQ(r.pending(), Reassembler::kMaxPending);
}

}  // namespace
}  // namespace cohort::transport
