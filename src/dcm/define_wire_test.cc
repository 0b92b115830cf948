#include "dcm/define_wire.h"

#include <gtest/gtest.h>

namespace cohort::dcm {
namespace {

DefineMessage Commit() {
  DefineMessage m;
  m.op = DefineOp::kCommit;
  m.request = "0011";
  m.cluster_id = "c0ffee";
  m.cluster_name = "media";
  m.number = 4;
  m.name = "edge4";
  m.uid = "4f1c";
  m.key = "k3y";
  m.priority = {1, 2};
  m.seeds = {*Endpoint::Parse("10.0.0.1:7101")};
  m.registry_servers = {{1, *Endpoint::Parse("10.0.0.1:7301"), *Endpoint::Parse("10.0.0.1:7401")}};
  return m;
}

TEST(DefineWire, ACommitOpensWithTheSameTokenOnly) {
  const std::string token = NewJoinToken();
  EXPECT_EQ(token.size(), 64u);
  const std::string sealed = SealDefine(JoinKey(token), Commit());
  EXPECT_EQ(sealed.find("k3y"), std::string::npos);  // the key never travels in the clear
  auto opened = OpenDefine(JoinKey(token), sealed);
  ASSERT_TRUE(opened) << opened.error().message();
  EXPECT_EQ(opened->op, DefineOp::kCommit);
  EXPECT_EQ(opened->key, "k3y");
  EXPECT_EQ(opened->number, 4);
  ASSERT_EQ(opened->registry_servers.size(), 1u);
  EXPECT_EQ(opened->registry_servers[0].peer.ToString(), "10.0.0.1:7401");
  EXPECT_EQ(opened->seeds.at(0).ToString(), "10.0.0.1:7101");
  auto wrong = OpenDefine(JoinKey(NewJoinToken()), sealed);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code(), Errc::kPermission);
}

TEST(DefineWire, AnAnswerIsNotARequestAndTamperingFails) {
  const wire::Key key = JoinKey("t");
  DefineAnswer a;
  a.request = "0011";
  a.ok = true;
  a.uid = "4f1c";
  a.kept_number = 3;
  const std::string sealed = SealAnswer(key, a);
  EXPECT_FALSE(OpenDefine(key, sealed));  // direction byte
  auto opened = OpenAnswer(key, sealed);
  ASSERT_TRUE(opened);
  EXPECT_EQ(opened->kept_number, NodeId{3});
  std::string flipped = sealed;
  flipped[flipped.size() - 20] ^= 1;
  EXPECT_FALSE(OpenAnswer(key, flipped));
  EXPECT_FALSE(OpenAnswer(key, sealed.substr(0, 10)));
}

TEST(DefineWire, MalformedMessagesAreRefusedInOneLine) {
  for (const char* text :
       {"", "[]", "{\"op\": \"commit\"}", "{\"op\": \"drop\", \"request\": \"1\"}",
        "{\"op\": \"hello\", \"request\": \"1\", \"cluster_id\": \"c\", \"number\": 70000}",
        "{\"op\": \"commit\", \"request\": \"1\", \"cluster_id\": \"c\", \"name\": \"n\", "
        "\"uid\": \"u\", \"key\": \"k\", \"seeds\": [\"nowhere\"]}",
        "{\"op\": \"commit\", \"request\": \"1\", \"cluster_id\": \"c\", \"name\": \"n\", "
        "\"uid\": \"u\", \"key\": \"k\", \"registry_servers\": [{\"id\": 0}]}"}) {
    auto m = ParseDefineMessage(text);
    EXPECT_FALSE(m) << text;
  }
  EXPECT_TRUE(ParseDefineMessage(DefineMessageText(Commit())));
}

}  // namespace
}  // namespace cohort::dcm
