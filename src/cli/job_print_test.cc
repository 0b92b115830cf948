#include "cli/job_print.h"

#include <gtest/gtest.h>

namespace cohort::cli {
namespace {

using nlohmann::json;

json Job() {
  return json::parse(R"({
    "id": "1-4", "state": "running", "final": false, "base": 1, "dest": "live",
    "size": 4194304, "elapsed_s": 2.25, "command_count": 2,
    "servers": [
      {"id": 2, "state": "receiving", "bytes": 1048576, "source": 1, "rate_bps": 1048576},
      {"id": 3, "state": "failed", "bytes": 0, "source": null, "rate_bps": 0,
       "error": "disk full"}],
    "commands": [
      {"id": 1, "kind": "file", "path": "clip.mp4", "state": "in_progress"},
      {"id": 2, "kind": "end", "state": "new"}]})");
}

TEST(JobPrint, BytesInBinaryUnits) {
  EXPECT_EQ(Bytes(512.0), "512 B");
  EXPECT_EQ(Bytes(1536.0), "1.5 KiB");
  EXPECT_EQ(Bytes(4194304.0), "4.0 MiB");
  EXPECT_EQ(Bytes(json()), "-");
}

TEST(JobPrint, ServerLinesShowProgressEtaAndErrors) {
  const auto lines = ServerLines(Job());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_NE(lines[0].find("ETA / ERROR"), std::string::npos);
  EXPECT_NE(lines[1].find("1.0 MiB 25%"), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("1.0 MiB/s"), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("n1"), std::string::npos) << lines[1];   // its source
  EXPECT_NE(lines[1].find("3 s"), std::string::npos) << lines[1];  // 3 MiB left at 1 MiB/s
  EXPECT_NE(lines[2].find("failed"), std::string::npos) << lines[2];
  EXPECT_NE(lines[2].find("disk full"), std::string::npos) << lines[2];
}

TEST(JobPrint, JobLinesListCommandsOrTheirCount) {
  json job = Job();
  job["error"] = "cancelled by the operator";
  auto lines = JobLines(job);
  ASSERT_EQ(lines.size(), 8u);
  EXPECT_EQ(lines[0], "job 1-4: running (base n1, 4.0 MiB to 'live', 2.2 s)");
  EXPECT_EQ(lines[1], "error: cancelled by the operator");
  EXPECT_NE(lines[6].find("clip.mp4"), std::string::npos) << lines[6];
  job.erase("commands");  // a summary
  lines = JobLines(job);
  EXPECT_EQ(lines.back(), "2 commands (cohort job show 1-4 lists them)");
}

TEST(JobPrint, JobListCountsCompletedServers) {
  json done = Job();
  done["servers"][0]["state"] = "completed";
  const auto lines = JobListLines(json{{"jobs", json::array({Job(), done})}});
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_NE(lines[1].find("  0/2"), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("  1/2"), std::string::npos) << lines[2];
}

}  // namespace
}  // namespace cohort::cli
