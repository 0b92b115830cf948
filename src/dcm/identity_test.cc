#include "dcm/identity.h"

#include <gtest/gtest.h>

namespace cohort::dcm {
namespace {

IdentityFacts Facts(std::string original, std::string local, std::optional<std::string> global,
                    std::optional<NodeId> claimed_by = std::nullopt) {
  return IdentityFacts{std::move(original), std::move(local), std::move(global), 3, claimed_by};
}

TEST(DecideIdentity, FollowsTheFourScenariosOfTheSpec) {
  // 1: original = local, local = global.
  EXPECT_EQ(DecideIdentity(Facts("a", "a", "a", 3)), IdentityAction::kJoin);
  // 2: original = local, local != global (deleted while away, or redefined to another).
  EXPECT_EQ(DecideIdentity(Facts("a", "a", "b")), IdentityAction::kCleanUpLocal);
  EXPECT_EQ(DecideIdentity(Facts("a", "a", std::nullopt)), IdentityAction::kCleanUpLocal);
  // 3: original != local, local = global (the hardware holding the id was replaced).
  EXPECT_EQ(DecideIdentity(Facts("new", "a", "a")), IdentityAction::kCorrectUid);
  // 4: original != local, local != global.
  EXPECT_EQ(DecideIdentity(Facts("new", "a", "b")), IdentityAction::kCleanUpLocal);
  EXPECT_EQ(DecideIdentity(Facts("new", "a", std::nullopt)), IdentityAction::kCleanUpLocal);
}

TEST(DecideIdentity, WithoutALocalCopyDefinesAdoptsOrRefuses) {
  EXPECT_EQ(DecideIdentity(Facts("a", "", std::nullopt)), IdentityAction::kDefine);
  // A stale claim of this very number does not stand in the way.
  EXPECT_EQ(DecideIdentity(Facts("a", "", std::nullopt, 3)), IdentityAction::kDefine);
  EXPECT_EQ(DecideIdentity(Facts("a", "", "a")), IdentityAction::kAdopt);
  EXPECT_EQ(DecideIdentity(Facts("a", "", "b")), IdentityAction::kRefuseNumberTaken);
}

TEST(DecideIdentity, ANodeDefinedAtRunTimeNeverDefinesItself) {
  IdentityFacts f = Facts("a", "", std::nullopt);
  f.may_define = false;
  EXPECT_EQ(DecideIdentity(f), IdentityAction::kRefuseUndefined);
  f.global = "a";
  EXPECT_EQ(DecideIdentity(f), IdentityAction::kAdopt);
}

TEST(DecideIdentity, AnotherNumbersClaimIsAClone) {
  EXPECT_EQ(DecideIdentity(Facts("a", "", std::nullopt, 2)), IdentityAction::kRefuseClone);
  EXPECT_EQ(DecideIdentity(Facts("a", "a", "a", 2)), IdentityAction::kRefuseClone);
}

TEST(ParseUid, TakesTheFirstLineAndRefusesWhatIsNotAnId) {
  EXPECT_EQ(*ParseUid("0123456789abcdef0123456789abcdef\n", "f"),
            "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(*ParseUid("board-7.A_1 \r\nsecond line", "f"), "board-7.A_1");
  EXPECT_FALSE(ParseUid("", "f"));
  EXPECT_FALSE(ParseUid("\nabc", "f"));
  EXPECT_FALSE(ParseUid("ab cd", "f"));
  EXPECT_FALSE(ParseUid("../etc", "f"));
  EXPECT_FALSE(ParseUid(std::string(129, 'a'), "f"));
  auto bad = ParseUid("a/b", "/etc/machine-id");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("/etc/machine-id"), std::string::npos);
}

}  // namespace
}  // namespace cohort::dcm
