#include "resources/inventory.h"

#include <gtest/gtest.h>

#include "resources/records.h"

namespace cohort::resources {
namespace {

Inventory Found() {
  Inventory inv;
  inv.node = 3;
  inv.name = "n3";
  inv.capacity_mbps = 1000;
  inv.adapters["127.0.0.1:7103"] = {"127.0.0.1:7103", 8, "lo", {}};
  inv.disks["media"] = {"media", "/srv/media", 1 << 30, {}};
  inv.content["films/a.mp4"] = {"films/a.mp4", 1234, {}};
  inv.content["films/b.mp4"] = {"films/b.mp4", 99, {}};
  return inv;
}

TEST(InventoryTest, WhatIsNoLongerFoundIsKeptMissingUntilItReturns) {
  Inventory first = Merge({}, Found(), 1000);
  EXPECT_TRUE(Holds(first, "films/a.mp4"));
  InventoryChange joined = Compare({}, first);
  EXPECT_EQ(joined.added.size(), 5u);
  EXPECT_EQ(joined.added[0], "node 3");

  Inventory found = Found();
  found.content.erase("films/a.mp4");
  found.disks.clear();
  Inventory second = Merge(first, found, 2000);
  EXPECT_FALSE(Holds(second, "films/a.mp4"));
  ASSERT_EQ(second.content.count("films/a.mp4"), 1u);
  EXPECT_EQ(second.content.at("films/a.mp4").presence, (Presence{false, 2000}));
  InventoryChange change = Compare(first, second);
  EXPECT_EQ(change.missing, (std::vector<std::string>{"disk media", "content films/a.mp4"}));
  EXPECT_TRUE(change.added.empty());

  // Still missing later: the time it went missing stays, and nothing is new.
  Inventory third = Merge(second, found, 3000);
  EXPECT_EQ(third.content.at("films/a.mp4").presence.missing_since_ms, 2000);
  EXPECT_TRUE(Compare(second, third).empty());
  EXPECT_EQ(third, second);  // an unchanged discovery is not written again

  Inventory back = Merge(third, Found(), 4000);
  EXPECT_TRUE(Holds(back, "films/a.mp4"));
  EXPECT_EQ(Compare(third, back).added,
            (std::vector<std::string>{"disk media", "content films/a.mp4"}));
  found = Found();
  found.content.at("films/b.mp4").bytes = 100;
  EXPECT_EQ(Compare(back, Merge(back, found, 5000)).changed,
            (std::vector<std::string>{"content films/b.mp4"}));
}

TEST(InventoryTest, AJoinIsAChangeEvenWithNothingElseNew) {
  JoinHistory joins;
  Inventory first = Found();
  first.joined_ms = 1000;
  first = Merge({}, first, 1000);
  EXPECT_TRUE(joins.Joined(first));
  EXPECT_FALSE(Compare({}, first).joined);  // Compare tells items only
  // The same daemon run, the same discovery: nothing to write, no event.
  Inventory same = Found();
  same.joined_ms = 1000;
  EXPECT_EQ(Merge(first, same, 2000), first);
  // Read back again (a watch opened again, or the record deleted and rewritten): no join.
  EXPECT_FALSE(joins.Joined(first));
  // The node restarted: the same resources, written again, and a join alone.
  Inventory rejoined = Found();
  rejoined.joined_ms = 9000;
  Inventory written = Merge(first, rejoined, 9500);
  EXPECT_NE(written, first);
  EXPECT_EQ(written.discovered_ms, 0);  // the caller stamps it
  InventoryChange change = Compare(first, written);
  EXPECT_TRUE(change.empty());
  EXPECT_TRUE(joins.Joined(written));
  // An older daemon's record (no joined_ms) is not a join; another node's first one is.
  Inventory old = written;
  old.joined_ms = 0;
  EXPECT_FALSE(joins.Joined(old));
  Inventory other = written;
  other.node = 4;
  EXPECT_TRUE(joins.Joined(other));
}

TEST(InventoryTest, OnlyTheLatestMissingAreKept) {
  Inventory before;
  before.node = 1;
  for (size_t i = 0; i < kMaxMissingKept + 10; ++i) {
    const std::string path = "f/" + std::to_string(i);
    before.content[path] = {path, 1, {false, static_cast<int64_t>(1000 + i)}};
  }
  Inventory merged = Merge(before, Inventory{1}, 5000);
  EXPECT_EQ(merged.content.size(), kMaxMissingKept);
  EXPECT_EQ(merged.content.count("f/0"), 0u);  // the longest missing went first
  EXPECT_EQ(merged.content.count("f/" + std::to_string(kMaxMissingKept + 9)), 1u);
}

TEST(InventoryTest, TheRecordRoundTripsAndRefusesHostileInput) {
  Inventory inv = Merge(Found(), Inventory{3}, 7000);
  inv.content_truncated = true;
  inv.joined_ms = 6500;
  auto again = ParseInventory(EncodeInventory(inv));
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(*again, inv);
  for (const char* bad : {
           "",
           "[]",
           R"({"node":0})",
           R"({"node":3,"adapters":{}})",
           R"({"node":3,"adapters":[{"address":"nowhere"}]})",
           R"({"node":3,"disks":[{"id":"../x"}]})",
           R"({"node":3,"content":[{"path":"/etc/passwd"}]})",
           R"({"node":3,"content":[{"path":"a","bytes":-1}]})",
           R"({"node":3,"content":[{"path":"a"},{"path":"a"}]})",
           R"({"node":3,"content":[{"path":"a","present":"yes"}]})",
           R"({"node":3,"capacity_mbps":"fast"})",
           R"({"node":3,"joined_ms":-5})",
       }) {
    auto r = ParseInventory(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_EQ(r.error().message().find('\n'), std::string::npos);
    }
  }
  auto key = ParseKey("inventory/3");
  ASSERT_TRUE(key);
  EXPECT_EQ(key->kind, RecordKey::Kind::kInventory);
  EXPECT_EQ(KeyOf(*key), "inventory/3");
  EXPECT_FALSE(ParseKey("inventory/03"));
  EXPECT_FALSE(ParseKey("inventory/x"));
}

TEST(InventoryTest, EveryClassIsDescribed) {
  auto classes = ClassDescriptions();
  for (BuiltinClass c : kBuiltinClasses) {
    bool described = false;
    for (const auto& d : classes) described = described || (d.name == BuiltinClassName(c));
    EXPECT_TRUE(described) << BuiltinClassName(c);
    EXPECT_EQ(ParseBuiltinClass(BuiltinClassName(c)), c);
  }
  EXPECT_FALSE(ParseBuiltinClass("ocf"));
}

}  // namespace
}  // namespace cohort::resources
