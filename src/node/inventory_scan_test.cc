#include "node/inventory_scan.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace cohort::node {
namespace {

namespace fs = std::filesystem;

class ScanContentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("cohort-scan-" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "films" / ".cohort");
  }
  void TearDown() override { fs::remove_all(root_); }
  void Put(const std::string& rel, const std::string& data = "x") {
    fs::create_directories((root_ / rel).parent_path());
    std::ofstream(root_ / rel) << data;
  }
  fs::path root_;
  std::atomic<bool> cancel_{false};
};

TEST_F(ScanContentTest, RegularFilesOnlyAndNotTheDaemonsOwn) {
  Put("films/a.mp4", "12345");
  Put("b.ts");
  Put("films/.a.mp4.cohort-part");   // a job's file being written
  Put("films/.cohort/state");        // the reserved folder
  Put(std::string("bad\xff name"));  // not UTF-8: left out, counted
  fs::create_symlink("/etc/passwd", root_ / "films/link");
  const ContentScan scan = ScanContent(root_.string(), cancel_);
  EXPECT_TRUE(scan.error.empty()) << scan.error;
  ASSERT_EQ(scan.items.size(), 2u);
  EXPECT_EQ(scan.items.at("films/a.mp4").bytes, 5u);
  EXPECT_EQ(scan.items.count("b.ts"), 1u);
  EXPECT_EQ(scan.skipped, 1u);
  EXPECT_FALSE(scan.truncated);
}

TEST_F(ScanContentTest, BoundedAndCancellable) {
  for (int i = 0; i < 20; ++i) Put("f" + std::to_string(i));
  const ContentScan bounded = ScanContent(root_.string(), cancel_, 5);
  EXPECT_TRUE(bounded.truncated);
  EXPECT_LE(bounded.items.size(), 5u);
  cancel_ = true;
  EXPECT_FALSE(ScanContent(root_.string(), cancel_).error.empty());
  cancel_ = false;
  const ContentScan none = ScanContent((root_ / "absent").string(), cancel_);
  EXPECT_TRUE(none.error.empty());
  EXPECT_TRUE(none.items.empty());
}

}  // namespace
}  // namespace cohort::node
