// Child processes run from the daemon's loop without blocking it (the resource manager's
// agents and commands, RM1): started with fork/exec, each in its own process group (so a
// timeout or a stop reaches whatever it started), watched through a pidfd, its output
// captured or appended to a file. The loop is told once, when the process has ended.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/time.h"

namespace boost::asio {
class io_context;
}

namespace cohort::io {

struct ChildOptions {
  std::vector<std::string> argv;       // argv[0]: the program's path
  std::vector<std::string> env;        // the whole environment, "NAME=value"
  std::string dir = "/";               // working directory
  Duration timeout = Duration::Max();  // then its process group is killed (SIGKILL)
  std::string output_file;       // "": stdout and stderr are captured; else appended to this file
  bool die_with_daemon = false;  // SIGKILL when the daemon dies (PR_SET_PDEATHSIG)
  // When it has ended, SIGKILL to what is left of its process group (not for OCF agents,
  // whose daemons stay in their group).
  bool kill_group_at_end = false;
};

struct ChildResult {
  int exit_code = -1;  // when it exited
  int signal = 0;      // when a signal ended it
  bool timed_out = false;
  std::string output;            // captured output (its last 64 KiB)
  std::string Describe() const;  // "exit 7", "killed by signal 9", "timed out"
};

class Child {
 public:
  using Done = std::function<void(const ChildResult&)>;
  // Starts the process; `done` runs on the loop once it has ended (not when Start fails).
  static Result<std::shared_ptr<Child>> Start(boost::asio::io_context& io, ChildOptions options,
                                              Done done);
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const;
  bool running() const;
  // SIGTERM to its process group, then SIGKILL after `grace` if it is still there.
  void Terminate(Duration grace);
  void Kill();  // SIGKILL to its process group
  // `fn` runs on the loop once the process has ended (posted at once if it has already).
  void WhenEnded(std::function<void()> fn);

  struct Impl;

 private:
  explicit Child(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

// The daemon's own environment with `extra` ("NAME=value") set over it.
std::vector<std::string> EnvironmentWith(const std::vector<std::string>& extra);

}  // namespace cohort::io
