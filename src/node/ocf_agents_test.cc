// Every OCF agent Debian's resource-agents installs prints meta-data that the parser reads,
// with its required parameters: create checks definitions against exactly this.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "resources/ocf_metadata.h"

namespace cohort::resources {
namespace {

constexpr const char* kAgents = "/usr/lib/ocf/resource.d/heartbeat";

std::string Output(const std::string& command) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0 && out.size() < kMaxMetadataBytes) {
    out.append(buf, n);
  }
  ::pclose(p);
  return out;
}

TEST(OcfAgentsTest, DebiansAgentsMetaDataIsRead) {
  std::error_code ec;
  if (!std::filesystem::is_directory(kAgents, ec)) GTEST_SKIP() << "resource-agents not installed";
  int read = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kAgents, ec)) {
    if (read >= 300 || !entry.is_regular_file(ec)) continue;
    const std::string name = entry.path().filename().string();
    const std::string xml = Output("OCF_ROOT=/usr/lib/ocf timeout 10 '" + entry.path().string() +
                                   "' meta-data 2>/dev/null");
    if (xml.find("<resource-agent") == std::string::npos) continue;  // not an OCF agent
    auto m = ParseOcfMetadata(xml);
    ASSERT_TRUE(m) << name << ": " << m.error().message();
    EXPECT_FALSE(m->actions.empty()) << name;
    ++read;
    if (name == "IPaddr2") {
      ResourceSpec spec;
      spec.name = "vip";
      spec.agent = "heartbeat:IPaddr2";
      EXPECT_FALSE(CheckParameters(spec, *m)) << "ip is required";
      spec.params["ip"] = "10.0.0.9";
      EXPECT_TRUE(CheckParameters(spec, *m));
    }
  }
  EXPECT_GT(read, 20);
}

}  // namespace
}  // namespace cohort::resources
