#include "io/child.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <optional>

#include "io/asio.h"

namespace cohort::io {
namespace {

// Runs the loop until `result` is set, at most 10 s.
void RunUntil(boost::asio::io_context& io, const std::optional<ChildResult>& result) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!result && std::chrono::steady_clock::now() < end) {
    io.run_for(std::chrono::milliseconds(20));
    io.restart();
  }
}

ChildOptions Shell(const std::string& script) {
  ChildOptions o;
  o.argv = {"/bin/sh", "-c", script};
  o.env = EnvironmentWith({"COHORT_TEST_VALUE=42"});
  return o;
}

TEST(ChildTest, ReportsExitCodeAndOutputWithItsEnvironment) {
  boost::asio::io_context io;
  std::optional<ChildResult> result;
  auto child = Child::Start(io, Shell("echo out $COHORT_TEST_VALUE; echo err >&2; exit 7"),
                            [&](const ChildResult& r) { result = r; });
  ASSERT_TRUE(child) << child.error().message();
  RunUntil(io, result);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->exit_code, 7);
  EXPECT_EQ(result->output, "out 42\nerr\n");
  EXPECT_EQ(result->Describe(), "exit 7");
  EXPECT_FALSE((*child)->running());
}

TEST(ChildTest, ATimeoutKillsTheWholeProcessGroup) {
  boost::asio::io_context io;
  std::optional<ChildResult> result;
  ChildOptions o = Shell("sleep 30 & echo $!; wait");
  o.timeout = Duration::Millis(300);
  auto child = Child::Start(io, o, [&](const ChildResult& r) { result = r; });
  ASSERT_TRUE(child);
  RunUntil(io, result);
  ASSERT_TRUE(result);
  EXPECT_TRUE(result->timed_out);
  EXPECT_EQ(result->signal, SIGKILL);
  const pid_t grandchild = std::stoi(result->output);
  // The background sleep was in the group: it is gone too (a zombie for init at most).
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (::kill(grandchild, 0) == 0 && std::chrono::steady_clock::now() < end) {
    io.run_for(std::chrono::milliseconds(10));
    io.restart();
  }
  EXPECT_NE(::kill(grandchild, 0), 0);
}

TEST(ChildTest, TerminateAsksThenKills) {
  boost::asio::io_context io;
  std::optional<ChildResult> result;
  auto child = Child::Start(io, Shell("trap '' TERM; while :; do sleep 0.05; done"),
                            [&](const ChildResult& r) { result = r; });
  ASSERT_TRUE(child);
  io.run_for(std::chrono::milliseconds(100));  // let the shell set its trap
  io.restart();
  (*child)->Terminate(Duration::Millis(200));
  RunUntil(io, result);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->signal, SIGKILL);
}

TEST(ChildTest, AProgramThatCannotRunExits127) {
  boost::asio::io_context io;
  std::optional<ChildResult> result;
  ChildOptions o;
  o.argv = {"/nonexistent/program"};
  auto child = Child::Start(io, o, [&](const ChildResult& r) { result = r; });
  ASSERT_TRUE(child);
  RunUntil(io, result);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->exit_code, 127);
}

}  // namespace
}  // namespace cohort::io
