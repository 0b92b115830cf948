#include "resources/spec.h"

#include <gtest/gtest.h>

namespace cohort::resources {
namespace {

ResourceSpec Dummy() {
  ResourceSpec s;
  s.name = "web";
  s.agent = "heartbeat:Dummy";
  return s;
}

TEST(SpecTest, AValidDefinitionPasses) { EXPECT_TRUE(Validate(Dummy())); }

TEST(SpecTest, EachMistakeIsRefusedWithOneLine) {
  auto refused = [](auto change) {
    ResourceSpec s = Dummy();
    change(s);
    auto r = Validate(s);
    EXPECT_FALSE(r);
    if (!r) {
      EXPECT_EQ(r.error().message().find('\n'), std::string::npos);
    }
  };
  refused([](ResourceSpec& s) { s.name = ""; });
  refused([](ResourceSpec& s) { s.name = "../x"; });
  refused([](ResourceSpec& s) { s.agent = "Dummy"; });
  refused([](ResourceSpec& s) { s.agent = "heartbeat:../../bin/sh"; });
  refused([](ResourceSpec& s) { s.params["a-b"] = "x"; });
  refused([](ResourceSpec& s) { s.params["ok"] = std::string("a\0b", 3); });
  refused([](ResourceSpec& s) { s.timeouts.stop = Duration::Millis(1); });
  refused([](ResourceSpec& s) { s.monitor_interval = Duration::Seconds(100000); });
  refused([](ResourceSpec& s) { s.with = {"web"}; });
  refused([](ResourceSpec& s) { s.allowed = {0}; });
  refused([](ResourceSpec& s) { s.prefer[2] = 2'000'000; });
  refused([](ResourceSpec& s) {
    s.cls = ResourceClass::kProcess;
    s.agent = "";
  });
  refused([](ResourceSpec& s) {
    s.cls = ResourceClass::kProcess;
    s.agent = "exec sleep 100";
    s.promotable = true;
  });
}

}  // namespace
}  // namespace cohort::resources
