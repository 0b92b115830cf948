// EtcdServer: the registry process of a registry server node (issue 4, C1). The
// configuration manager starts etcd, restarts it with a growing delay when it dies, and
// stops it when the node goes offline. etcd never outlives its cohortd: it is asked to die
// with its parent (PR_SET_PDEATHSIG), so a crashed daemon takes its etcd along, and a
// restarted daemon starts a new etcd on the same data directory.
//
// Runs on the node's loop thread; the child's exit is noticed by polling waitpid.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "base/result.h"
#include "dcm/core.h"

namespace boost::asio {
class io_context;
}

namespace cohort::dcm {

class EtcdServer {
 public:
  enum class State { kStopped, kRunning, kRestarting };

  // etcd's output goes to `log_file` (appended).
  EtcdServer(boost::asio::io_context& io, EtcdLaunch launch, std::string log_file);
  ~EtcdServer();  // stops the process

  Status Start();
  // SIGTERM, then SIGKILL if it has not exited within `grace`. Blocks at most that long.
  void Stop(Duration grace = Duration::Seconds(5));

  // Ends the process and starts it again at once on the same data (not a death: no
  // backoff), so it reads its TLS files anew. Returns at once; a stopped server stays so.
  void Restart();

  State state() const;
  static const char* StateName(State s);
  pid_t pid() const;
  int restarts() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cohort::dcm
