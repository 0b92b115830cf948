#include "node/resource_runner.h"

#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <csignal>
#include <filesystem>
#include <utility>

#include "base/log.h"
#include "base/text.h"
#include "io/asio.h"

namespace cohort::node {
namespace {

using resources::MonitorResult;
using resources::ResourceClass;
using resources::ResourceSpec;

// The last non-empty line of an agent's output: what it said about its failure.
std::string LastLine(const std::string& output) {
  size_t end = output.find_last_not_of("\n\r ");
  if (end == std::string::npos) return "";
  const size_t start = output.rfind('\n', end);
  std::string line = output.substr(start == std::string::npos ? 0 : start + 1,
                                   end + 1 - (start == std::string::npos ? 0 : start + 1));
  if (line.size() > 300) line = line.substr(0, 300) + "...";
  return EscapeInvalidUtf8(line);
}

std::string Describe(const io::ChildResult& r) {
  std::string d = r.Describe();
  if (!r.timed_out && r.signal == 0) d += std::string(" (") + OcfCodeName(r.exit_code) + ")";
  const std::string said = LastLine(r.output);
  if (!said.empty()) d += ": " + said;
  return d;
}

// The answer to a start, promote, demote or stop: done when the agent exited 0 in time,
// naming `state` (an agent that could not be run: kFailed).
std::function<void(Result<io::ChildResult>)> ExitAnswer(ResourceRunner::Done done,
                                                        MonitorResult state) {
  return [done = std::move(done), state](Result<io::ChildResult> r) {
    if (!r) return done({false, MonitorResult::kFailed, r.error().message()});
    done({r->exit_code == 0 && !r->timed_out, state, Describe(*r)});
  };
}

}  // namespace

const char* OcfCodeName(int code) {
  switch (code) {
    case 0:
      return "OCF_SUCCESS";
    case 1:
      return "OCF_ERR_GENERIC";
    case 2:
      return "OCF_ERR_ARGS";
    case 3:
      return "OCF_ERR_UNIMPLEMENTED";
    case 4:
      return "OCF_ERR_PERM";
    case 5:
      return "OCF_ERR_INSTALLED";
    case 6:
      return "OCF_ERR_CONFIGURED";
    case 7:
      return "OCF_NOT_RUNNING";
    case 8:
      return "OCF_RUNNING_MASTER";
    case 9:
      return "OCF_FAILED_MASTER";
    default:
      return "unknown code";
  }
}

ResourceRunner::ResourceRunner(boost::asio::io_context& io, RunnerOptions options)
    : io_(io), options_(std::move(options)) {}

ResourceRunner::~ResourceRunner() { KillAll(); }

Result<std::string> ResourceRunner::AgentPath(const std::string& agent) const {
  const size_t colon = agent.find(':');
  if (colon == std::string::npos) {
    return Error(Errc::kInvalidArgument, "an OCF agent is named <provider>:<type>");
  }
  const std::string path =
      options_.ocf_root + "/resource.d/" + agent.substr(0, colon) + "/" + agent.substr(colon + 1);
  if (::access(path.c_str(), X_OK) != 0) {
    return Error(Errc::kNotFound, "OCF agent " + agent + " is not installed here (no " + path +
                                      "; Debian's resource-agents package has the common ones)");
  }
  return path;
}

Result<io::ChildOptions> ResourceRunner::OcfChild(const ResourceSpec& spec,
                                                  const std::string& action,
                                                  Duration timeout) const {
  auto path = AgentPath(spec.agent);
  if (!path) return path.error();
  const size_t colon = spec.agent.find(':');
  std::vector<std::string> env = {
      "OCF_ROOT=" + options_.ocf_root,
      "OCF_FUNCTIONS_DIR=" + options_.ocf_root + "/lib/heartbeat",
      "OCF_RA_VERSION_MAJOR=1",
      "OCF_RA_VERSION_MINOR=0",
      "OCF_RESOURCE_INSTANCE=" + spec.name,
      "OCF_RESOURCE_PROVIDER=" + spec.agent.substr(0, colon),
      "OCF_RESOURCE_TYPE=" + spec.agent.substr(colon + 1),
      "OCF_RESKEY_CRM_meta_timeout=" + std::to_string(timeout.nanos() / 1'000'000),
      "OCF_RESKEY_CRM_meta_interval=0",
  };
  if (!options_.state_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(options_.state_dir, ec);
    env.push_back("HA_RSCTMP=" + options_.state_dir);
  }
  for (const auto& [k, v] : spec.params) env.push_back("OCF_RESKEY_" + k + "=" + v);
  io::ChildOptions o;
  o.argv = {*path, action};
  o.env = io::EnvironmentWith(env);
  o.timeout = timeout;
  return o;
}

void ResourceRunner::RunOcf(const ResourceSpec& spec, const std::string& action, Duration timeout,
                            std::function<void(Result<io::ChildResult>)> done, Run run) {
  auto o = OcfChild(spec, action, timeout);
  if (!o) return done(o.error());
  if (run == Run::kOperator) {
    auto child =
        io::Child::Start(io_, std::move(*o), [done](const io::ChildResult& r) { done(r); });
    if (!child) done(child.error());
    return;
  }
  // Answered once: by the action's end, or at once by Cancel. The entry goes with the
  // answer, unless a newer action of the resource has taken its place.
  auto answer = std::make_shared<Answer>(std::move(done));
  std::weak_ptr<Table> table = under_way_;
  auto ended = [table, name = spec.name, answer](const io::ChildResult& r) {
    if (auto t = table.lock()) {
      auto it = t->find(name);
      if (it != t->end() && it->second.answer == answer) t->erase(it);
    }
    if (Answer give = std::exchange(*answer, nullptr)) give(r);
  };
  auto child = io::Child::Start(io_, std::move(*o), std::move(ended));
  if (!child) return std::exchange(*answer, nullptr)(child.error());
  (*under_way_)[spec.name] = {*child, run == Run::kCancellable, answer};
}

void ResourceRunner::Cancel(const std::string& name) {
  auto it = under_way_->find(name);
  if (it == under_way_->end() || !it->second.cancellable) return;
  UnderWay u = std::move(it->second);
  under_way_->erase(it);
  Log(LogLevel::kWarn, "resources", "action cancelled at the fence", {{"resource", name}});
  u.child->Kill();
  // Answered now, not when the process is reaped: one stuck in the kernel (on a dead NFS
  // server, say) ignores SIGKILL until it returns, and the stop must not wait for it.
  Answer give = std::exchange(*u.answer, nullptr);
  if (!give) return;
  io::ChildResult r;
  r.signal = SIGKILL;
  r.output = "cancelled at the fence\n";
  boost::asio::post(io_, [give = std::move(give), r] { give(r); });
}

void ResourceRunner::Start(const ResourceSpec& spec, Done done) {
  if (spec.cls == ResourceClass::kOcf) {
    return RunOcf(spec, "start", spec.timeouts.start, ExitAnswer(done, MonitorResult::kFailed),
                  Run::kCancellable);
  }
  if (auto it = processes_.find(spec.name); it != processes_.end() && it->second->running()) {
    return done({true, MonitorResult::kRunning, "already running"});
  }
  std::error_code ec;
  std::filesystem::create_directories(options_.log_dir, ec);
  io::ChildOptions o;
  o.argv = {"/bin/sh", "-c", spec.agent};
  o.env = io::EnvironmentWith({"COHORT_RESOURCE=" + spec.name});
  o.output_file = options_.log_dir + "/" + spec.name + ".log";
  o.die_with_daemon = true;    // so a dead daemon's lease lapsing cannot leave it running
  o.kill_group_at_end = true;  // nor what it started, once it has ended or been stopped
  const std::string name = spec.name;
  auto child = io::Child::Start(io_, std::move(o), [name](const io::ChildResult& r) {
    Log(LogLevel::kWarn, "resources", "process ended", {{"resource", name}, {"how", r.Describe()}});
  });
  if (!child) return done({false, MonitorResult::kFailed, child.error().message()});
  processes_[spec.name] = *child;
  done({true, MonitorResult::kRunning, "pid " + std::to_string((*child)->pid())});
}

// Promotable resources are OCF ones (Validate): promote within the start's timeout, demote
// within the stop's.
void ResourceRunner::Promote(const ResourceSpec& spec, bool promote, Done done) {
  if (spec.cls != ResourceClass::kOcf) {
    return done({false, MonitorResult::kFailed, "only an OCF resource is promoted"});
  }
  const Duration timeout = promote ? spec.timeouts.start : spec.timeouts.stop;
  RunOcf(spec, promote ? "promote" : "demote", timeout, ExitAnswer(done, MonitorResult::kFailed),
         promote ? Run::kCancellable : Run::kToItsEnd);
}

void ResourceRunner::Stop(const ResourceSpec& spec, Done done) {
  if (spec.cls == ResourceClass::kOcf) {
    return RunOcf(spec, "stop", spec.timeouts.stop, ExitAnswer(done, MonitorResult::kNotRunning),
                  Run::kToItsEnd);
  }
  auto it = processes_.find(spec.name);
  if (it == processes_.end() || !it->second->running()) {
    processes_.erase(spec.name);
    return done({true, MonitorResult::kNotRunning, "not running"});
  }
  std::shared_ptr<io::Child> child = it->second;
  processes_.erase(it);
  // SIGTERM, then SIGKILL at half the stop timeout: it is gone within the timeout.
  child->Terminate(Duration::Nanos(spec.timeouts.stop.nanos() / 2));
  child->WhenEnded([done] { done({true, MonitorResult::kNotRunning, "stopped"}); });
}

void ResourceRunner::Monitor(const ResourceSpec& spec, Done done) {
  if (spec.cls == ResourceClass::kOcf) {
    return RunOcf(
        spec, "monitor", spec.timeouts.monitor,
        [done](Result<io::ChildResult> r) {
          if (!r) return done({false, MonitorResult::kFailed, r.error().message()});
          MonitorResult m = MonitorResult::kFailed;  // 9, OCF_FAILED_MASTER, among others
          if (!r->timed_out && r->exit_code == 0) m = MonitorResult::kRunning;
          if (!r->timed_out && r->exit_code == 8) m = MonitorResult::kRunningPromoted;
          if (!r->timed_out && r->exit_code == 7) m = MonitorResult::kNotRunning;
          done({m == MonitorResult::kRunning || m == MonitorResult::kRunningPromoted, m,
                Describe(*r)});
        },
        Run::kCancellable);
  }
  auto it = processes_.find(spec.name);
  const bool running = it != processes_.end() && it->second->running();
  done({running, running ? MonitorResult::kRunning : MonitorResult::kNotRunning,
        running ? "running" : "the process has ended"});
}

void ResourceRunner::Invoke(const ResourceSpec& spec, const std::string& action, Duration timeout,
                            std::function<void(Result<io::ChildResult>)> done) {
  if (spec.cls == ResourceClass::kOcf) {
    return RunOcf(spec, action, timeout, std::move(done), Run::kOperator);
  }
  if (action != "monitor") {
    return done(Error(Errc::kInvalidArgument,
                      "a process resource has start, stop and monitor, run by the manager; "
                      "only monitor can be asked for"));
  }
  Monitor(spec, [done](const ActionOutcome& o) {
    io::ChildResult r;
    r.exit_code = o.monitor == MonitorResult::kRunning ? 0 : 7;
    r.output = o.detail + "\n";
    done(r);
  });
}

void ResourceRunner::KillAll() {
  for (auto& [name, child] : processes_) child->Kill();
  processes_.clear();
}

}  // namespace cohort::node
