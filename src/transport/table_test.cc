#include "transport/table.h"

#include <gtest/gtest.h>

namespace cohort::transport {
namespace {

NodeEntry Entry(NodeId id, Incarnation inc, uint32_t rev, uint16_t port = 7000) {
  return NodeEntry{id, inc, rev, {AddressInfo{Endpoint{0x7f000001, port}}}};
}

TEST(AddressTableTest, MergeKeepsNewest) {
  AddressTable t;
  EXPECT_TRUE(t.Merge(Entry(1, 10, 1)));
  EXPECT_FALSE(t.Merge(Entry(1, 10, 1)));  // same
  EXPECT_FALSE(t.Merge(Entry(1, 9, 5)));   // older incarnation
  EXPECT_TRUE(t.Merge(Entry(1, 10, 2)));   // newer revision
  EXPECT_TRUE(t.Merge(Entry(1, 11, 1)));   // restarted
  EXPECT_EQ(t.Find(1)->incarnation, 11u);
  EXPECT_EQ(t.version(), 1u);
}

TEST(AddressTableTest, SameEntriesSameDigestWhateverTheOrder) {
  AddressTable a, b;
  a.Merge(Entry(1, 1, 1, 7001));
  a.Merge(Entry(2, 1, 4, 7002));
  b.Merge(Entry(2, 1, 4, 7002));
  b.Merge(Entry(1, 1, 1, 7001));
  EXPECT_EQ(a.digest(), b.digest());
  EXPECT_EQ(a.version(), 5u);
  b.Merge(Entry(2, 1, 5, 7003));
  EXPECT_NE(a.digest(), b.digest());
}

TEST(AddressTableTest, SummariesDriveTheExchange) {
  AddressTable a, b;
  a.Merge(Entry(1, 1, 1));
  a.Merge(Entry(2, 1, 2));
  b.Merge(Entry(2, 1, 1));
  b.Merge(Entry(3, 1, 1));
  auto for_b = a.NewerThan(b.Summary());
  ASSERT_EQ(for_b.size(), 2u);        // 1 is missing at b, 2 is older at b
  EXPECT_TRUE(a.Lacks(b.Summary()));  // a lacks 3
  for (auto& e : for_b) b.Merge(e);
  for (auto& e : b.NewerThan(a.Summary())) a.Merge(e);
  EXPECT_EQ(a.digest(), b.digest());
  EXPECT_FALSE(a.Lacks(b.Summary()));
  EXPECT_TRUE(a.NewerThan(b.Summary()).empty());
  EXPECT_EQ(a.OwnerOf(Endpoint{0x7f000001, 7000}), 1);
  EXPECT_EQ(a.OwnerOf(Endpoint{0x7f000002, 7000}), kNoNode);
}

}  // namespace
}  // namespace cohort::transport
