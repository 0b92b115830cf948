#include <gtest/gtest.h>

#include <filesystem>

#include "io/adapters.h"
#include "io/files.h"

namespace cohort::io {
namespace {

TEST(FilesTest, AtomicWriteReplacesAndLeavesNoTemporary) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("cohort-io-" + std::to_string(::getpid()));
  ASSERT_TRUE(MakeDirs(dir.string()));
  const std::string path = (dir / "state").string();
  ASSERT_TRUE(WriteFileAtomic(path, "one"));
  ASSERT_TRUE(WriteFileAtomic(path, "two", 0600));
  auto got = ReadFile(path);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, "two");
  size_t files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir)) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1u);
  EXPECT_FALSE(WriteFileAtomic((dir / "missing" / "x").string(), "y"));
  EXPECT_FALSE(ReadFile((dir / "missing").string()));
  std::filesystem::remove_all(dir);
}

TEST(AdaptersTest, LoopbackIsDiscovered) {
  auto a = DiscoverAdapter(0x7f000001);
  ASSERT_TRUE(a) << a.error().message();
  EXPECT_EQ(a->type, transport::AdapterType::kLoopback);
  EXPECT_EQ(a->mask, 0xff000000u);
  EXPECT_GE(a->mtu, 576);
  auto other = DiscoverAdapter(0x7f000002);  // any 127/8 address is local
  ASSERT_TRUE(other);
  EXPECT_EQ(other->type, transport::AdapterType::kLoopback);
  EXPECT_FALSE(DiscoverAdapter(0xc0000201));  // 192.0.2.1 (TEST-NET-1) is not ours
}

}  // namespace
}  // namespace cohort::io
