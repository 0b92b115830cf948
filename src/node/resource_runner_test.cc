// ResourceRunner with an operator's own OCF agent whose monitor hangs: the fence's cancel
// ends the manager's action (and what it started) at once; an operator's action is not the
// manager's and runs to its own end.
#include "node/resource_runner.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>

namespace cohort::node {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class ResourceRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("cohort-runner-" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "resource.d" / "test");
    const fs::path agent = root_ / "resource.d" / "test" / "Hang";
    // Its monitor leaves a child behind (its pid in a file), then waits far past any test.
    std::ofstream(agent) << "#!/bin/sh\n"
                            "case \"$1\" in\n"
                            "monitor) sleep 60 & echo $! > \"$OCF_RESKEY_pidfile\"; wait ;;\n"
                            "stop) sleep 0.3 ;;\n"
                            "*) exit 0 ;;\n"
                            "esac\n";
    fs::permissions(agent, fs::perms::owner_all);
    spec_.name = "r";
    spec_.agent = "test:Hang";
    spec_.params["pidfile"] = (root_ / "child.pid").string();
    spec_.timeouts.monitor = Duration::Seconds(20);
  }
  void TearDown() override { fs::remove_all(root_); }

  // Runs the loop until `done` holds, for at most `limit`; whether it came.
  template <typename F>
  bool RunUntil(F done, std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < end) {
      io_.restart();
      io_.run_for(10ms);
    }
    return done();
  }
  pid_t ChildPid() {
    std::ifstream in(root_ / "child.pid");
    pid_t pid = 0;
    in >> pid;
    return pid;
  }

  boost::asio::io_context io_;
  fs::path root_;
  resources::ResourceSpec spec_;
};

TEST_F(ResourceRunnerTest, ACancelledMonitorEndsAtOnceWithWhatItStarted) {
  ResourceRunner runner(io_, {root_.string(), (root_ / "state").string(), ""});
  runner.Cancel("r");  // nothing under way: nothing happens
  std::optional<ActionOutcome> got;
  runner.Monitor(spec_, [&](const ActionOutcome& o) { got = o; });
  ASSERT_TRUE(RunUntil([&] { return ChildPid() != 0; }, 10s)) << "the monitor never began";
  const pid_t left = ChildPid();
  EXPECT_FALSE(RunUntil([&] { return got.has_value(); }, 200ms));  // it hangs
  const auto cancelled = std::chrono::steady_clock::now();
  runner.Cancel("r");
  ASSERT_TRUE(RunUntil([&] { return got.has_value(); }, 5s));
  EXPECT_LT(std::chrono::steady_clock::now() - cancelled, 2s);
  EXPECT_FALSE(got->ok);
  EXPECT_EQ(got->monitor, resources::MonitorResult::kFailed);
  EXPECT_NE(got->detail.find("signal 9"), std::string::npos) << got->detail;
  // Its group went with it: the child it left is gone (reaped by init, or a zombie).
  EXPECT_TRUE(RunUntil(
      [&] {
        std::ifstream stat("/proc/" + std::to_string(left) + "/stat");
        std::string all;
        std::getline(stat, all);
        return !stat || all.find(") Z") != std::string::npos;
      },
      5s));
}

TEST_F(ResourceRunnerTest, AStopIsNeverCancelled) {
  ResourceRunner runner(io_, {root_.string(), (root_ / "state").string(), ""});
  std::optional<ActionOutcome> got;
  runner.Stop(spec_, [&](const ActionOutcome& o) { got = o; });
  runner.Cancel("r");
  ASSERT_TRUE(RunUntil([&] { return got.has_value(); }, 10s));
  EXPECT_TRUE(got->ok) << got->detail;  // it ran to its end (0.3 s), not killed
}

TEST_F(ResourceRunnerTest, AnOperatorsActionIsNotTheManagersToCancel) {
  ResourceRunner runner(io_, {root_.string(), (root_ / "state").string(), ""});
  std::optional<Result<io::ChildResult>> got;
  runner.Invoke(spec_, "monitor", Duration::Millis(600),
                [&](Result<io::ChildResult> r) { got = std::move(r); });
  ASSERT_TRUE(RunUntil([&] { return ChildPid() != 0; }, 10s));
  runner.Cancel("r");
  ASSERT_TRUE(RunUntil([&] { return got.has_value(); }, 10s));
  ASSERT_TRUE(*got);
  EXPECT_TRUE((*got)->timed_out);  // ended by its own timeout, not by the cancel
}

}  // namespace
}  // namespace cohort::node
