// ResourceRunner: carries out a resource's actions on this node (RM1) — an OCF resource
// agent run unchanged (OCF 1.0 environment, per-action timeouts, exit codes), or a command
// kept running as a child of the daemon (the "process" class: it dies with the daemon).
// Runs on the node's loop; every action answers once, through the loop.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "base/result.h"
#include "io/child.h"
#include "resources/agent.h"
#include "resources/spec.h"

namespace boost::asio {
class io_context;
}

namespace cohort::node {

struct RunnerOptions {
  std::string ocf_root = "/usr/lib/ocf";
  std::string state_dir;  // HA_RSCTMP for the agents; empty: theirs
  std::string log_dir;    // process resources' output: <log_dir>/<name>.log
};

struct ActionOutcome {
  bool ok = false;
  resources::MonitorResult monitor = resources::MonitorResult::kFailed;  // for a monitor
  std::string detail;  // e.g. "exit 7 (OCF_NOT_RUNNING)"; the agent's last output line
};

// What an OCF agent's exit code means.
const char* OcfCodeName(int code);

class ResourceRunner {
 public:
  using Done = std::function<void(const ActionOutcome&)>;
  ResourceRunner(boost::asio::io_context& io, RunnerOptions options);
  ~ResourceRunner();

  void Start(const resources::ResourceSpec& spec, Done done);
  void Stop(const resources::ResourceSpec& spec, Done done);
  void Monitor(const resources::ResourceSpec& spec, Done done);
  // `promote`, or `demote` when false (OCF resources only).
  void Promote(const resources::ResourceSpec& spec, bool promote, Done done);
  // Any action by name, for the operator (`cohort resource action`): its raw result.
  void Invoke(const resources::ResourceSpec& spec, const std::string& action, Duration timeout,
              std::function<void(Result<io::ChildResult>)> done);
  // An OCF agent's path, or an error if it is not installed.
  Result<std::string> AgentPath(const std::string& agent) const;
  // Kills every process resource (the daemon is stopping without stopping them in order).
  void KillAll();
  // Ends the agent's start, monitor or promote under way for `name` now (SIGKILL to its
  // process group) and answers it as a failure at once, without waiting for the process to
  // be reaped. Nothing under way, or a stop or demote: nothing done.
  void Cancel(const std::string& name);

 private:
  // Whether the fence may cut an action short: the manager's start, monitor and promote
  // (cancellable); its stop and demote, and an operator's action (`Invoke`, not tracked:
  // it never takes the manager's entry), run to their end.
  enum class Run { kCancellable, kToItsEnd, kOperator };
  using Answer = std::function<void(Result<io::ChildResult>)>;
  struct UnderWay {
    std::shared_ptr<io::Child> child;
    bool cancellable = false;        // a start, monitor or promote
    std::shared_ptr<Answer> answer;  // empty once given
  };
  // The manager's OCF actions under way, by resource; shared with their ends, which may
  // outlive the runner.
  using Table = std::map<std::string, UnderWay>;

  Result<io::ChildOptions> OcfChild(const resources::ResourceSpec& spec, const std::string& action,
                                    Duration timeout) const;
  void RunOcf(const resources::ResourceSpec& spec, const std::string& action, Duration timeout,
              Answer done, Run run);
  boost::asio::io_context& io_;
  RunnerOptions options_;
  std::map<std::string, std::shared_ptr<io::Child>> processes_;  // process class, by name
  std::shared_ptr<Table> under_way_ = std::make_shared<Table>();
};

}  // namespace cohort::node
