#include "cli/group_handler.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

namespace cohort::cli {
namespace {

using Clock = std::chrono::steady_clock;

int MillisLeft(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::max<int64_t>(0, left));
}

// Writes `input` to the pipe while the program reads it; a program that ends without
// reading it all is not an error.
void Feed(int fd, const std::string& input, Clock::time_point deadline) {
  size_t written = 0;
  while (written < input.size()) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, MillisLeft(deadline)) != 1) return;
    const ssize_t n = ::write(fd, input.data() + written, input.size() - written);
    if (n < 0 && errno != EAGAIN && errno != EINTR) return;  // EPIPE: it stopped reading
    if (n > 0) written += static_cast<size_t>(n);
  }
}

}  // namespace

Result<int> RunHandler(const HandlerRun& run) {
  ::signal(SIGPIPE, SIG_IGN);  // a handler that does not read its input is no error
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return Error(Errc::kIo, std::string("pipe: ") + std::strerror(errno));
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    return Error(Errc::kIo, std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    // Its own process group, so a timeout ends whatever it started too; its output goes to
    // stderr, so the member's own output (--json) stays clean. setenv is safe here: the CLI
    // has one thread.
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // the member killed (-9): its handler with it
    ::dup2(pipe_fds[0], STDIN_FILENO);
    ::dup2(STDERR_FILENO, STDOUT_FILENO);
    for (const auto& [name, value] : run.env) ::setenv(name.c_str(), value.c_str(), 1);
    ::signal(SIGPIPE, SIG_DFL);
    ::execl("/bin/sh", "sh", "-c", run.program.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // as the child does: whichever runs first, the group exists for kill
  ::close(pipe_fds[0]);
  const auto deadline = Clock::now() + std::chrono::milliseconds(run.timeout_ms);
  ::fcntl(pipe_fds[1], F_SETFL, O_NONBLOCK);
  Feed(pipe_fds[1], run.input, deadline);
  ::close(pipe_fds[1]);
  int status = 0;
  while (true) {
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) {
      return Error(Errc::kIo, std::string("waitpid: ") + std::strerror(errno));
    }
    const bool interrupted = run.interrupted != nullptr && *run.interrupted != 0;
    if (interrupted || Clock::now() >= deadline) {
      if (::kill(-pid, SIGKILL) != 0) ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      if (interrupted) return Error(Errc::kUnavailable, "interrupted: the handler was killed");
      return Error(Errc::kTimeout, "the handler '" + run.program + "' did not end within " +
                                       std::to_string(run.timeout_ms) + " ms: killed");
    }
    ::poll(nullptr, 0, 5);  // the child's end has no descriptor to wait on
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

}  // namespace cohort::cli
