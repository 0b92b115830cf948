#include "dcm/etcd_server.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "base/log.h"
#include "io/clock.h"
#include "io/timer.h"

namespace cohort::dcm {

namespace asio = boost::asio;

namespace {

std::string DescribeExit(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

}  // namespace

struct EtcdServer::Impl {
  Impl(asio::io_context& io, EtcdLaunch l, std::string log)
      : launch(std::move(l)), log_file(std::move(log)), poll(io), restart(io) {}

  EtcdLaunch launch;
  std::string log_file;
  io::Timer poll;  // not a bare steady_timer: the server may be destroyed as the loop runs
  io::Timer restart;
  RestartBackoff backoff;
  State state = State::kStopped;
  pid_t pid = -1;
  Instant started;
  bool stopping = false;
  bool restarting = false;  // Restart() asked for this exit

  Status Spawn() {
    auto args = EtcdArguments(launch);
    if (!args) return args.error();
    if (::access(launch.binary.c_str(), X_OK) != 0) {
      return Error(Errc::kNotFound, "cannot run the registry server '" + launch.binary +
                                        "' (Debian package etcd-server): " + std::strerror(errno));
    }
    const int log = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log < 0) {
      return Error(Errc::kUnavailable, "cannot open " + log_file + ": " + std::strerror(errno));
    }
    const int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    // Everything the child needs is prepared before fork: between fork and exec only
    // async-signal-safe calls are allowed (gRPC's threads may hold locks).
    std::vector<char*> argv;
    for (auto& a : *args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t parent = ::getpid();
    const pid_t child = ::fork();
    if (child == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(126);  // the parent died before prctl took effect
      ::setpgid(0, 0);  // the terminal's Ctrl-C is cohortd's to handle, not etcd's
      sigset_t none;
      ::sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      ::signal(SIGPIPE, SIG_DFL);
      ::dup2(null, 0);
      ::dup2(log, 1);
      ::dup2(log, 2);
      ::close_range(3, ~0u, 0);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    const int fork_errno = errno;
    ::close(log);
    ::close(null);
    if (child < 0) {
      return Error(Errc::kUnavailable,
                   std::string("cannot start the registry server: ") + std::strerror(fork_errno));
    }
    pid = child;
    started = io::SteadyNow();
    state = State::kRunning;
    Log(LogLevel::kInfo, "dcm", "registry server started",
        {{"pid", std::to_string(pid)}, {"data_dir", launch.data_dir}, {"log", log_file}});
    Poll();
    return OkStatus();
  }

  void Poll() {
    poll.After(Duration::Millis(100), [this] {
      if (pid <= 0) return;
      int status = 0;
      const pid_t r = ::waitpid(pid, &status, WNOHANG);
      if (r == 0) return Poll();
      pid = -1;
      if (stopping) return;
      if (restarting) {
        restarting = false;
        Log(LogLevel::kInfo, "dcm", "registry server restarting to read its TLS files",
            {{"how", DescribeExit(status)}});
        return Respawn();
      }
      const Duration wait = backoff.OnExit(started, io::SteadyNow());
      state = State::kRestarting;
      Log(LogLevel::kWarn, "dcm", "registry server died; restarting",
          {{"how", DescribeExit(status)},
           {"in_ms", std::to_string(wait.millis())},
           {"restarts", std::to_string(backoff.restarts())}});
      restart.After(wait, [this] {
        if (!stopping) Respawn();
      });
    });
  }

  void Respawn() {
    if (auto s = Spawn(); !s) {
      Log(LogLevel::kError, "dcm", "cannot restart the registry server",
          {{"error", s.error().message()}});
      state = State::kStopped;
    }
  }

  void Stop(Duration grace) {
    stopping = true;
    poll.Cancel();
    restart.Cancel();
    state = State::kStopped;
    if (pid <= 0) return;
    ::kill(pid, SIGTERM);
    // Bounded: etcd flushes and exits within a second; a wedged one is killed.
    const Instant deadline = io::SteadyNow() + grace;
    int status = 0;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      if (io::SteadyNow() >= deadline) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    Log(LogLevel::kInfo, "dcm", "registry server stopped", {{"how", DescribeExit(status)}});
    pid = -1;
  }
};

EtcdServer::EtcdServer(asio::io_context& io, EtcdLaunch launch, std::string log_file)
    : impl_(std::make_unique<Impl>(io, std::move(launch), std::move(log_file))) {}
EtcdServer::~EtcdServer() { impl_->Stop(Duration::Seconds(5)); }

Status EtcdServer::Start() {
  impl_->stopping = false;
  return impl_->Spawn();
}
void EtcdServer::Stop(Duration grace) { impl_->Stop(grace); }
void EtcdServer::Restart() {
  if (impl_->pid <= 0 || impl_->stopping) return;  // a pending spawn reads the new files
  impl_->restarting = true;
  ::kill(impl_->pid, SIGTERM);
}
EtcdServer::State EtcdServer::state() const { return impl_->state; }
pid_t EtcdServer::pid() const { return impl_->pid; }
int EtcdServer::restarts() const { return impl_->backoff.restarts(); }

const char* EtcdServer::StateName(State s) {
  switch (s) {
    case State::kStopped:
      return "stopped";
    case State::kRunning:
      return "running";
    case State::kRestarting:
      return "restarting";
  }
  return "?";
}

}  // namespace cohort::dcm
