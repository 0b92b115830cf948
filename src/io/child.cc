#include "io/child.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/log.h"
#include "io/asio.h"

extern char** environ;

namespace cohort::io {

std::string ChildResult::Describe() const {
  if (timed_out) return "timed out (killed)";
  if (signal != 0) return "killed by signal " + std::to_string(signal);
  return "exit " + std::to_string(exit_code);
}

std::vector<std::string> EnvironmentWith(const std::vector<std::string>& extra) {
  std::vector<std::string> out;
  auto name_of = [](const std::string& e) { return e.substr(0, e.find('=')); };
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry(*e);
    bool replaced = false;
    for (const std::string& x : extra) replaced = replaced || name_of(x) == name_of(entry);
    if (!replaced) out.push_back(entry);
  }
  out.insert(out.end(), extra.begin(), extra.end());
  return out;
}

constexpr size_t kOutputKept = 64 * 1024;

struct Child::Impl : std::enable_shared_from_this<Impl> {
  boost::asio::io_context& io;
  pid_t pid = -1;
  bool ended = false;
  ChildResult result;
  Done done;
  bool kill_group_at_end = false;
  std::vector<std::function<void()>> when_ended;
  boost::asio::posix::stream_descriptor exit_fd;  // the pidfd: readable once it ended
  boost::asio::posix::stream_descriptor output;   // the read end of its output pipe
  boost::asio::steady_timer deadline;
  boost::asio::steady_timer grace;
  char buffer[4096];

  explicit Impl(boost::asio::io_context& i) : io(i), exit_fd(i), output(i), deadline(i), grace(i) {}

  void Signal(int sig) {
    if (ended || pid <= 0) return;
    if (::kill(-pid, sig) != 0) ::kill(pid, sig);
  }

  void ReadOutput() {
    if (!output.is_open()) return;
    output.async_read_some(boost::asio::buffer(buffer),
                           [self = shared_from_this()](boost::system::error_code ec, size_t n) {
                             if (ec) return;
                             self->Keep(n);
                             self->ReadOutput();
                           });
  }
  void Keep(size_t n) {
    result.output.append(buffer, n);
    if (result.output.size() > kOutputKept) {
      result.output.erase(0, result.output.size() - kOutputKept);
    }
  }

  void WaitExit() {
    exit_fd.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                       [self = shared_from_this()](boost::system::error_code ec) {
                         if (ec == boost::asio::error::operation_aborted) return;
                         self->Reap();
                       });
  }

  void Reap() {
    int status = 0;
    siginfo_t info{};
    // Ended? Asked without reaping, so the zombie still holds the process group's id.
    if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
        info.si_pid == 0) {
      return WaitExit();  // woken early: wait on
    }
    if (kill_group_at_end) ::kill(-pid, SIGKILL);
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    ended = true;
    if (r == pid) {
      if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
      if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
    }
    deadline.cancel();
    grace.cancel();
    exit_fd.close();
    // What it wrote before it ended; a daemon it started may hold the pipe open for ever.
    if (output.is_open()) {
      output.non_blocking(true);
      boost::system::error_code ec;
      for (int i = 0; i < 64; ++i) {
        const size_t n = output.read_some(boost::asio::buffer(buffer), ec);
        if (ec || n == 0) break;
        Keep(n);
      }
      output.close();
    }
    try {
      if (done) std::exchange(done, nullptr)(result);
      for (auto& fn : std::exchange(when_ended, {})) fn();
    } catch (const std::exception& e) {
      Log(LogLevel::kError, "child", "a child's end handler threw", {{"error", e.what()}});
    }
  }
};

namespace {

// The child's side, between fork and exec: only async-signal-safe calls.
[[noreturn]] void Exec(const ChildOptions& o, char* const* argv, char* const* envp, int out_fd,
                       int null_fd) {
  ::setpgid(0, 0);
  if (o.die_with_daemon) ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  ::dup2(null_fd, STDIN_FILENO);
  ::dup2(out_fd, STDOUT_FILENO);
  ::dup2(out_fd, STDERR_FILENO);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::signal(SIGPIPE, SIG_DFL);
  if (::chdir(o.dir.c_str()) != 0) ::_exit(126);
  ::execve(argv[0], argv, envp);
  ::_exit(127);
}

std::vector<char*> Pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

Error Sys(const std::string& what) { return Error(Errc::kIo, what + ": " + std::strerror(errno)); }

}  // namespace

Result<std::shared_ptr<Child>> Child::Start(boost::asio::io_context& io, ChildOptions o,
                                            Done done) {
  if (o.argv.empty()) return Error(Errc::kInvalidArgument, "no program to run");
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0) return Sys("/dev/null");
  int pipe_fds[2] = {-1, -1};
  int out_fd = -1;
  if (o.output_file.empty()) {
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
      ::close(null_fd);
      return Sys("pipe");
    }
    out_fd = pipe_fds[1];
  } else {
    out_fd = ::open(o.output_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (out_fd < 0) {
      ::close(null_fd);
      return Sys(o.output_file);
    }
  }
  std::vector<std::string> argv_s = o.argv, env_s = o.env;
  std::vector<char*> argv = Pointers(argv_s), envp = Pointers(env_s);
  const pid_t pid = ::fork();
  if (pid == 0) Exec(o, argv.data(), envp.data(), out_fd, null_fd);
  const int fork_errno = errno;
  ::close(null_fd);
  ::close(out_fd);
  if (pid < 0) {
    if (pipe_fds[0] >= 0) ::close(pipe_fds[0]);
    errno = fork_errno;
    return Sys("fork");
  }
  ::setpgid(pid, pid);  // as the child does: whichever runs first, the group is there
  auto impl = std::make_shared<Impl>(io);
  impl->pid = pid;
  impl->done = std::move(done);
  impl->kill_group_at_end = o.kill_group_at_end;
  if (pipe_fds[0] >= 0) impl->output.assign(pipe_fds[0]);
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    const Error e = Sys("pidfd_open");
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return e;
  }
  impl->exit_fd.assign(pidfd);
  impl->ReadOutput();
  impl->WaitExit();
  if (o.timeout != Duration::Max()) {
    impl->deadline.expires_after(std::chrono::nanoseconds(o.timeout.nanos()));
    impl->deadline.async_wait([weak = std::weak_ptr<Impl>(impl)](boost::system::error_code ec) {
      auto self = weak.lock();
      if (ec || !self || self->ended) return;
      self->result.timed_out = true;
      self->Signal(SIGKILL);
    });
  }
  return std::shared_ptr<Child>(new Child(std::move(impl)));
}

Child::Child(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

// The process is not waited for here: its Impl lives on in the pending waits until it ends.
Child::~Child() = default;

pid_t Child::pid() const { return impl_->pid; }
bool Child::running() const { return !impl_->ended; }

void Child::Terminate(Duration grace) {
  impl_->Signal(SIGTERM);
  impl_->grace.expires_after(std::chrono::nanoseconds(grace.nanos()));
  impl_->grace.async_wait([weak = std::weak_ptr<Impl>(impl_)](boost::system::error_code ec) {
    auto self = weak.lock();
    if (!ec && self) self->Signal(SIGKILL);
  });
}

void Child::Kill() { impl_->Signal(SIGKILL); }

void Child::WhenEnded(std::function<void()> fn) {
  if (impl_->ended) {
    boost::asio::post(impl_->io, std::move(fn));
  } else {
    impl_->when_ended.push_back(std::move(fn));
  }
}

}  // namespace cohort::io
