#include "node/job_document.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "io/files.h"
#include "node/distributor.h"

namespace cohort::node {
namespace {

using distribution::Command;
using distribution::CommandKind;

Instant At(int ms) { return Instant::FromNanos(int64_t{ms} * 1000000); }

distribution::Manifest Clip() {
  distribution::Manifest m;
  m.job = "1-7";
  m.base = 1;
  m.dest = "live";
  m.Append({{1, CommandKind::kMkdir, "d", 0, 0755, 5},
            {2, CommandKind::kFile, "d/clip.bin", 1000, 0640, 1700000000000000000},
            {3, CommandKind::kEnd}});
  return m;
}

TEST(JobDocument, SavedDocumentReadsBackAsTheJobItWas) {
  distribution::JobTracker t(Clip(), {1, 2}, distribution::TrackerOptions{}, At(0));
  t.OnReport({1, true, 1000, 1, 0, 3, true, ""}, At(1500));
  t.OnReport({2, true, 400, 1, 2e6, 1, false, ""}, At(1500));
  FileDigests digests(3);
  digests[1] = wire::Sha256Digest{};
  (*digests[1])[0] = 0xab;
  nlohmann::json doc = JobDocument(t, digests, At(500), At(2500), 400);
  EXPECT_EQ(doc["state"], "running");
  EXPECT_EQ(doc["elapsed_s"], 2.0);
  EXPECT_EQ(doc["upload_bytes"], 400);
  EXPECT_EQ(doc["servers"][0]["completed_s"], 1.0);
  EXPECT_EQ(doc["servers"][0]["rate_bps"], 1000);  // a finished server's average
  EXPECT_EQ(doc["servers"][1]["bytes"], 400);
  EXPECT_EQ(doc["commands"][1]["state"], "in_progress");
  EXPECT_FALSE(doc.contains("error"));
  doc["sources"] = nlohmann::json::array();

  auto saved = ParseSavedJob(doc, 1);
  ASSERT_TRUE(saved) << saved.error().message();
  EXPECT_EQ(saved->manifest.commands, Clip().commands);
  EXPECT_EQ(saved->manifest.dest, "live");
  EXPECT_EQ(saved->servers, (std::vector<NodeId>{1, 2}));
  EXPECT_TRUE(saved->upload);
  EXPECT_EQ(saved->elapsed_s, 2.0);
  ASSERT_EQ(saved->digests.size(), 3u);
  EXPECT_EQ(saved->digests[1], digests[1]);
  EXPECT_FALSE(saved->digests[0]);
}

TEST(JobDocument, CancelledJobSaysWhyAndDamagedDocumentsAreRefused) {
  distribution::JobTracker t(Clip(), {1, 2}, distribution::TrackerOptions{}, At(0));
  t.Cancel("cancelled by the operator", At(10));
  nlohmann::json doc = JobDocument(t, {}, At(0), At(10), std::nullopt);
  EXPECT_EQ(doc["state"], "failed");
  EXPECT_EQ(doc["final"], true);
  EXPECT_EQ(doc["error"], "cancelled by the operator");
  EXPECT_FALSE(doc.contains("upload_bytes"));
  EXPECT_FALSE(ParseSavedJob(doc, 1));  // no "sources"
  doc["sources"] = nlohmann::json::array();
  EXPECT_TRUE(ParseSavedJob(doc, 1));
  doc["commands"][0]["id"] = 9;
  EXPECT_FALSE(ParseSavedJob(doc, 1));  // out of sequence
  EXPECT_FALSE(ParseSavedJob(nlohmann::json::array(), 1));
}

// The summary and the log as the base saves them (SaveJobDocument), read back.
Result<nlohmann::json> SaveAndRead(const distribution::JobTracker& t, const FileDigests& digests,
                                   const std::vector<std::string>& sources,
                                   const std::string& log_tail = "") {
  char dir[] = "/tmp/cohort-jobdoc-XXXXXX";
  if (::mkdtemp(dir) == nullptr) return Error(Errc::kIo, "mkdtemp");
  const auto& commands = t.manifest().commands;
  std::string log = CommandsLogLine(commands, 0, sources);
  std::vector<std::pair<uint32_t, wire::Sha256Digest>> known;
  for (size_t i = 0; i < digests.size(); ++i) {
    if (digests[i]) known.emplace_back(commands[i].id, *digests[i]);
  }
  log += DigestsLogLine(known) + log_tail;
  const std::string base = std::string(dir) + "/" + t.manifest().job;
  auto s = io::WriteFileAtomic(base + ".log", log);
  if (s)
    s = io::WriteFileAtomic(base + ".json",
                            DocumentText(JobDocument(t, {}, At(0), At(10), std::nullopt, false)));
  if (!s) return s.error();
  return ReadSavedJob(dir, t.manifest().job);
}

TEST(JobDocument, SummaryAndLogReadBackAsTheWholeDocument) {
  distribution::JobTracker t(Clip(), {1, 2}, distribution::TrackerOptions{}, At(0));
  FileDigests digests(3);
  digests[1] = wire::Sha256Digest{};
  (*digests[1])[0] = 7;
  auto doc = SaveAndRead(t, digests, {"/src/d", "/src/d/clip.bin"});
  ASSERT_TRUE(doc) << doc.error().message();
  const nlohmann::json whole = JobDocument(t, digests, At(0), At(10), std::nullopt);
  EXPECT_EQ((*doc)["commands"], whole["commands"]);  // states derived from the summary
  auto saved = ParseSavedJob(*doc, 1);
  ASSERT_TRUE(saved) << saved.error().message();
  EXPECT_EQ(saved->manifest.commands, Clip().commands);
  EXPECT_EQ(saved->digests[1], digests[1]);
  EXPECT_EQ(saved->sources, (std::vector<std::string>{"/src/d", "/src/d/clip.bin"}));

  // A last line cut short is left out; a damaged line before it is refused.
  auto cut = SaveAndRead(t, digests, {}, "{\"digests\": [[2, \"00");
  ASSERT_TRUE(cut) << cut.error().message();
  EXPECT_EQ((*cut)["commands"].size(), 3u);
  EXPECT_FALSE(SaveAndRead(t, digests, {}, "{\"digests\": 3}\n"));
  EXPECT_FALSE(SaveAndRead(t, digests, {}, "not json\n{\"digests\": []}\n"));
}

TEST(JobDocument, NamesThatAreNotUtf8AreShownEscapedAndKeptExactly) {
  distribution::Manifest m = Clip();
  m.dest = "live-\xfe";
  m.commands[0].path = "clip-\xff.mp4";
  distribution::JobTracker t(m, {1}, distribution::TrackerOptions{}, At(0));
  nlohmann::json doc = JobDocument(t, {}, At(0), At(10), std::nullopt);
  const std::string text = doc.dump();  // throws on invalid UTF-8
  EXPECT_EQ(doc["dest"], "live-\\xfe");
  EXPECT_EQ(doc["commands"][0]["path"], "clip-\\xff.mp4");
  auto saved = SaveAndRead(t, {}, {"/src/clip-\xff.mp4"});
  ASSERT_TRUE(saved) << saved.error().message();
  ASSERT_TRUE(ParseSavedJob(*saved, 1));
  EXPECT_EQ(ParseSavedJob(*saved, 1)->manifest.dest, m.dest);
  EXPECT_EQ(ParseSavedJob(*saved, 1)->manifest.commands, m.commands);
  EXPECT_EQ(ParseSavedJob(*saved, 1)->sources, std::vector<std::string>{"/src/clip-\xff.mp4"});
}

TEST(CollectContent, TakesAnUploadsEntriesAndRefusesTheWrongKind) {
  JobContent upload;
  upload.upload = true;
  upload.entries = {{0, CommandKind::kMkdir, "d"}, {0, CommandKind::kFile, "d/a.bin", 10}};
  std::vector<std::string> sources;
  auto got = CollectContent(upload, &sources);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(*got, upload.entries);
  EXPECT_TRUE(sources.empty());

  upload.entries = {{0, CommandKind::kEnd}};
  EXPECT_FALSE(CollectContent(upload, &sources));
  JobContent mixed;
  mixed.entries = {{0, CommandKind::kFile, "x", 1}};  // entries without upload
  EXPECT_FALSE(CollectContent(mixed, &sources));
}

TEST(NumberCommands, NumbersFromNextIdAndRefusesAFileTwice) {
  std::vector<Command> more = {{0, CommandKind::kMkdir, "d"},
                               {0, CommandKind::kFile, "d/a.bin", 10}};
  ASSERT_TRUE(NumberCommands(more, Clip().commands, 4));
  EXPECT_EQ(more[0].id, 4u);
  EXPECT_EQ(more[1].id, 5u);

  more.push_back({0, CommandKind::kFile, "d/clip.bin", 3});  // already in Clip()
  auto twice = NumberCommands(more, Clip().commands, 4);
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().code(), Errc::kAlreadyExists);
  EXPECT_NE(twice.error().message().find("d/clip.bin is already in the job"), std::string::npos);
  std::vector<Command> same = {{0, CommandKind::kFile, "x", 1}, {0, CommandKind::kFile, "x", 2}};
  EXPECT_FALSE(NumberCommands(same, {}, 1));
}

TEST(ManifestFile, ReadsBackAsSavedAndRefusesDamageOrAnotherJob) {
  char dir[] = "/tmp/cohort-manifest-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/1-7.manifest";
  distribution::Manifest first = Clip();
  const std::vector<Command> rest(first.commands.begin() + 1, first.commands.end());
  first.commands.resize(1);
  const std::string offer = ManifestFileText(first), more = ManifestMoreText(rest);
  ASSERT_TRUE(io::WriteFileAtomic(path, offer + more));
  auto back = LoadManifestFile(path, "1-7");
  ASSERT_TRUE(back);
  EXPECT_EQ(back->commands, Clip().commands);
  EXPECT_EQ(back->dest, "live");
  EXPECT_FALSE(LoadManifestFile(path, "1-8"));
  EXPECT_FALSE(LoadManifestFile(path + ".missing", "1-7"));
  // A last record cut short is left out; damage before it, or no offer first, is refused.
  ASSERT_TRUE(io::WriteFileAtomic(path, offer + more.substr(0, more.size() / 2)));
  back = LoadManifestFile(path, "1-7");
  ASSERT_TRUE(back);
  EXPECT_EQ(back->commands, first.commands);
  ASSERT_TRUE(io::WriteFileAtomic(path, offer.substr(0, offer.size() / 2)));
  EXPECT_FALSE(LoadManifestFile(path, "1-7"));
  ASSERT_TRUE(io::WriteFileAtomic(path, offer + std::string("\5\0\0\0fumbl", 9) + more));
  EXPECT_FALSE(LoadManifestFile(path, "1-7"));
  ASSERT_TRUE(io::WriteFileAtomic(path, more + offer));
  EXPECT_FALSE(LoadManifestFile(path, "1-7"));
  ::unlink(path.c_str());
  ::rmdir(dir);
}

}  // namespace
}  // namespace cohort::node
