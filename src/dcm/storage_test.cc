#include "dcm/storage.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "io/files.h"

namespace cohort::dcm {
namespace {

class StorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("cohort-storage-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(StorageTest, CreatesTheLayoutAndKeepsTheConfiguration) {
  auto s = LocalStorage::Open(dir_.string());
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_TRUE(std::filesystem::is_directory(dir_ / "dcm" / "configuration"));
  EXPECT_TRUE(std::filesystem::is_directory(dir_ / "dcm" / "logs"));
  auto empty = s->Load();
  ASSERT_TRUE(empty);
  EXPECT_EQ(*empty, LocalConfiguration{});

  LocalConfiguration c;
  c.clusters = {{"media", "0123456789abcdef", 3, "4f1c0de0d1e5", true}};
  c.current = c.target = "0123456789abcdef";
  c.registry_servers = {{2, Endpoint{0x7f000001, 7302}, Endpoint{0x7f000001, 7402}},
                        {1, Endpoint{0x7f000001, 7301}, Endpoint{0x7f000001, 7401}}};
  c.primary = 2;
  c.server_removed = true;
  c.server_removed_revision = 42;
  c.registry_cluster = "0123456789abcdef";
  c.offline = true;
  c.move_deadline_ms = 2500;
  ASSERT_TRUE(s->Save(c));
  auto back = s->Load();
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(*back, c);

  auto cluster = s->ClusterDir("0123456789abcdef");
  ASSERT_TRUE(cluster);
  for (const char* sub : {"locks", "logs", "core", "config"}) {
    EXPECT_TRUE(std::filesystem::is_directory(std::filesystem::path(*cluster) / sub)) << sub;
  }
  ASSERT_TRUE(s->Audit("start", {{"node", "1"}}));
  ASSERT_TRUE(s->Audit("registry_phase", {{"phase", "read-write"}}));
  auto log = io::ReadFile(s->audit_file());
  ASSERT_TRUE(log);
  EXPECT_NE(log->find("\"event\":\"registry_phase\""), std::string::npos);
  EXPECT_EQ(std::count(log->begin(), log->end(), '\n'), 2);
}

TEST_F(StorageTest, ADamagedFileIsAnErrorNotACrash) {
  auto s = LocalStorage::Open(dir_.string());
  ASSERT_TRUE(s);
  for (const char* text :
       {"not json", "[]", "{\"schema\": \"1\"}", "{\"schema\": 1, \"clusters\": [{\"name\": 5}]}",
        "{\"schema\": 1, \"clusters\": [{\"name\": \"a\", \"id\": \"b\", \"node\": 70000}]}",
        "{\"schema\": 1, \"registry_servers\": [{\"id\": \"x\", \"client\": 1}]}"}) {
    ASSERT_TRUE(io::WriteFileAtomic(s->configuration_file(), text));
    auto c = s->Load();
    EXPECT_FALSE(c) << text;
    if (!c) {
      EXPECT_NE(c.error().message().find("local.json"), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace cohort::dcm
