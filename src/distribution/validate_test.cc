#include "distribution/validate.h"

#include <gtest/gtest.h>

namespace cohort::distribution {
namespace {

Manifest Good() {
  Manifest m;
  m.job = "1-7";
  m.base = 1;
  m.dest = "media/2026";
  m.commands = {{1, CommandKind::kMkdir, "d"},
                {2, CommandKind::kFile, "d/a.mp4", 1 << 20},
                {3, CommandKind::kEnd}};
  return m;
}

TEST(Validate, AGoodManifestPasses) { EXPECT_TRUE(CheckManifest(Good())); }

TEST(Validate, PathsThatLeadOutOrAreMalformedAreRefused) {
  for (const std::string& bad : std::vector<std::string>{
           "../x", "a/../../x", "/etc/passwd", "a//b", "./a", "a/.", "a/", std::string("a\0b", 3),
           std::string(kMaxPathBytes + 1, 'a'), std::string(kMaxNameBytes + 1, 'a')}) {
    EXPECT_FALSE(CheckPath(bad)) << bad;
    Manifest m = Good();
    m.commands[1].path = bad;
    EXPECT_FALSE(CheckManifest(m)) << bad;
  }
  EXPECT_TRUE(CheckPath("a/b.c/..d/.e"));
  EXPECT_TRUE(CheckPath(std::string(kMaxNameBytes, 'a')));
  EXPECT_FALSE(CheckPath(""));
  EXPECT_TRUE(CheckPath("", /*allow_root=*/true));
  EXPECT_TRUE(CheckPath(".", /*allow_root=*/true));
}

TEST(Validate, TemporaryNamesOfTheDaemonAreRefused) {
  EXPECT_FALSE(CheckPath("d/.x.cohort-part"));
  EXPECT_FALSE(CheckPath(".a.cohort-put"));
  EXPECT_FALSE(CheckPath(".x.cohort-part/y"));
  EXPECT_TRUE(CheckPath("d/x.cohort-part"));  // not hidden: not one of ours
  EXPECT_TRUE(CheckPath("d/.cohort-part"));
}

TEST(Validate, TheDaemonsOwnFolderIsNotWritable) {
  EXPECT_FALSE(CheckWritablePath(".cohort/jobs/1-1.json"));
  EXPECT_FALSE(CheckWritablePath(".cohort"));
  EXPECT_TRUE(CheckWritablePath("media/.cohort"));
  EXPECT_TRUE(CheckWritablePath(".cohortx"));
  Manifest m = Good();
  m.dest = ".cohort/jobs";
  EXPECT_FALSE(CheckManifest(m));
  m.dest = "";
  EXPECT_FALSE(CheckManifest(m));
}

TEST(Validate, JobIdsAreNodeDashSequence) {
  EXPECT_TRUE(CheckJobId("3-12"));
  for (const std::string& bad :
       std::vector<std::string>{"../../x", "3", "3-", "-3", "a-1", "1-1/..", "1-1-1", "",
                                "1-" + std::string(40, '1'), "1-1\n"}) {
    EXPECT_FALSE(CheckJobId(bad)) << bad;
  }
  Manifest m = Good();
  m.job = "../../x";
  EXPECT_FALSE(CheckManifest(m));
}

TEST(Validate, SizesThatWouldOverflowTheStreamAreRefused) {
  Manifest m = Good();
  m.commands = {{1, CommandKind::kFile, "a", UINT64_MAX - 10},
                {2, CommandKind::kFile, "b", 100},
                {3, CommandKind::kEnd}};
  EXPECT_FALSE(CheckManifest(m));
  m.commands = {{1, CommandKind::kFile, "a", kMaxStreamBytes}, {2, CommandKind::kEnd}};
  EXPECT_TRUE(CheckManifest(m));
  // Added later: the sum over what the job holds already counts.
  EXPECT_FALSE(CheckCommands(m.commands, {{3, CommandKind::kFile, "b", 1}}));
  std::vector<Command> held = {{1, CommandKind::kFile, "a", kMaxStreamBytes - 1}};
  EXPECT_TRUE(CheckCommands(held, {{2, CommandKind::kFile, "b", 1}}));
  EXPECT_FALSE(CheckCommands(held, {{2, CommandKind::kFile, "b", 2}}));
}

TEST(Validate, CommandsMustContinueTheSequenceAndEndLast) {
  Manifest m = Good();
  m.commands[1].id = 5;
  EXPECT_FALSE(CheckManifest(m));
  m = Good();
  std::swap(m.commands[1], m.commands[2]);
  m.commands[1].id = 2;
  m.commands[2].id = 3;
  EXPECT_FALSE(CheckManifest(m));
  EXPECT_FALSE(CheckCommands(Good().commands, {{4, CommandKind::kFile, "late", 1}}));
  Command end{3, CommandKind::kEnd, "x"};
  EXPECT_FALSE(CheckCommand(end));
  Command dir{1, CommandKind::kMkdir, "d", 5};
  EXPECT_FALSE(CheckCommand(dir));
}

TEST(Validate, EveryMessageNamingAJobOrPathIsChecked) {
  EXPECT_FALSE(CheckMessage(QueryMsg{"../../x"}));
  EXPECT_FALSE(CheckMessage(CancelMsg{"a/b", ""}));
  EXPECT_FALSE(CheckMessage(FeedMsg{"1-1/../x", 2}));
  EXPECT_FALSE(CheckMessage(ReportMsg{"..", {}}));
  EXPECT_TRUE(CheckMessage(QueryMsg{"1-1"}));
  EXPECT_FALSE(CheckMessage(CommandsMsg{{{4, CommandKind::kFile, "/abs", 1}}}));
  EXPECT_FALSE(CheckMessage(DataMsg{UINT64_MAX - 2, wire::Bytes(10)}));
  EXPECT_TRUE(CheckMessage(DataMsg{1000, wire::Bytes(10)}));
  CtpMsg ctp;
  ctp.op = "ls";
  ctp.path = "";
  EXPECT_TRUE(CheckMessage(ctp));
  ctp.path = ".cohort/jobs";
  EXPECT_TRUE(CheckMessage(ctp));  // reading the daemon's folder is harmless
  ctp.op = "put";
  EXPECT_FALSE(CheckMessage(ctp));
  ctp.op = "rm";
  ctp.path = "";
  EXPECT_FALSE(CheckMessage(ctp));
  ctp.path = "../x";
  ctp.op = "get";
  EXPECT_FALSE(CheckMessage(ctp));
}

}  // namespace
}  // namespace cohort::distribution
