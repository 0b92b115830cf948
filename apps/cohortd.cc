// cohortd: the cohort daemon. Loads the config, starts the node and its API, runs the event
// loop until SIGTERM/SIGINT, then stops and exits 0. A bad config exits 2 naming the key.
#include <malloc.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>

#include "api/dashboard_feed.h"
#include "api/health_api.h"
#include "api/server.h"
#include "api/standby_api.h"
#include "api/tree_relay.h"
#include "base/config.h"
#include "base/log.h"
#include "dcm/clusters.h"
#include "dcm/dcm.h"
#include "dcm/define_target.h"
#include "io/asio.h"
#include "io/files.h"
#include "io/loop_monitor.h"
#include "io/media_server.h"
#include "node/catalog_feed.h"
#include "node/distributor.h"
#include "node/groups_service.h"
#include "node/hierarchy_service.h"
#include "node/keyring_file.h"
#include "node/node.h"
#include "node/resource_service.h"
#include "node/workload_service.h"
#include "wire/seal.h"

namespace {

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  return code;
}

// Runs the loop until it is stopped. A handler that throws is a bug, but it must not end
// the daemon: the exception is logged with what it says and the loop goes on (Asio allows
// run() to be called again after a handler threw).
void RunLoop(boost::asio::io_context& io) {
  for (;;) {
    try {
      io.run();
      return;
    } catch (const std::exception& e) {
      cohort::Log(cohort::LogLevel::kError, "node", "a handler threw; the loop goes on",
                  {{"exception", e.what()}});
    } catch (...) {
      cohort::Log(cohort::LogLevel::kError, "node", "a handler threw; the loop goes on");
    }
  }
}

// How a run ends: with an exit code, or by starting this program again in place (a node
// defined to a cluster, or one no longer defined, changes what it runs).
struct Outcome {
  int exit_code = 0;
  bool restart = false;
};

// Stops the loop on SIGTERM/SIGINT through `stop`, which the run replaces once it has
// something to stop gracefully. Installed before anything starts, so an early signal still
// means a clean stop with exit 0 rather than death by the default action.
class Signals {
 public:
  explicit Signals(boost::asio::io_context& io) : set_(io, SIGTERM, SIGINT) {
    stop = [&io] { io.stop(); };
    Wait();
  }
  std::function<void()> stop;

 private:
  void Wait() {
    set_.async_wait([this](const boost::system::error_code& ec, int signo) {
      if (ec) return;
      cohort::Log(cohort::LogLevel::kInfo, "node", "stopping", {{"signal", std::to_string(signo)}});
      stop();
      Wait();
    });
  }
  boost::asio::signal_set set_;
};

cohort::Status WritePidFile(const std::string& path) {
  return cohort::io::WriteFileAtomic(path, std::to_string(::getpid()) + "\n");
}

// A node that runs in no cluster (dcm/clusters.h): not defined yet, or taken offline. Its
// API only, until a member defines it or an operator brings it online; then it starts again.
Outcome RunStandby(const cohort::Config& config) {
  boost::asio::io_context io;
  Signals signals(io);
  auto target = cohort::dcm::DefineTarget::Open(config);
  if (!target) return {Fail(2, target.error().message())};
  auto token = cohort::node::LoadApiToken(config.data_dir);
  if (!token) return {Fail(1, token.error().message())};
  Outcome outcome;
  boost::asio::steady_timer restart(io);
  // After a moment for the answer to go out (and, after a definition, for the member to
  // confirm or roll it back).
  auto restart_after = [&](std::chrono::milliseconds wait, bool definition) {
    restart.expires_after(wait);
    restart.async_wait([&, definition](const boost::system::error_code& ec) {
      if (ec || (definition && !target->defined())) return;
      outcome.restart = true;
      io.stop();
    });
  };
  cohort::api::ApiServer server(
      io, cohort::api::StandbyHandler(
              *target, config, *token, [&] { restart_after(std::chrono::milliseconds(300), true); },
              [&] { restart_after(std::chrono::milliseconds(100), false); }));
  if (auto s = server.Listen(config.api_listen); !s) return {Fail(1, s.error().message())};
  const std::string pid_file = config.data_dir + "/cohortd.pid";
  if (auto s = WritePidFile(pid_file); !s) return {Fail(1, s.error().message())};
  cohort::Log(cohort::LogLevel::kInfo, "dcm",
              target->local().offline ? "offline: waiting for `cohort cluster online`"
                                      : "not defined to a cluster: waiting to be defined",
              {{"api", config.api_listen.ToString()}, {"uid", target->uid()}});
  RunLoop(io);
  server.Stop();
  if (!outcome.restart) ::unlink(pid_file.c_str());
  return outcome;
}

// C10: a node that moved checks every 50 ms whether it is online in its new cluster; once
// it is, the move settles; at the deadline it returns to the cluster it came from.
class MoveWatch {
 public:
  MoveWatch(boost::asio::io_context& io, cohort::dcm::Dcm& dcm, cohort::Duration deadline,
            std::function<void()> revert)
      : timer_(io), dcm_(dcm), deadline_(deadline), revert_(std::move(revert)) {
    Check();
  }

 private:
  void Check() {
    const auto elapsed = std::chrono::steady_clock::now() - started_;
    const auto step = cohort::dcm::DecideMove(
        dcm_.Online(),
        cohort::Duration::Millis(
            std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()),
        deadline_);
    if (step == cohort::dcm::MoveStep::kSettle) return dcm_.SettleMove();
    if (step == cohort::dcm::MoveStep::kRevert) {
      dcm_.RevertMove();
      return revert_();
    }
    timer_.expires_after(std::chrono::milliseconds(50));
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) Check();
    });
  }
  boost::asio::steady_timer timer_;
  cohort::dcm::Dcm& dcm_;
  cohort::Duration deadline_;
  std::function<void()> revert_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

// W1/W2: the workload service and, if [stream] listen names an address, the media server
// and the catalog feed of the content it serves (the distribution root and each disk's
// mount). A node that serves no streams lists no content: the catalog is what can be served.
struct Workload {
  std::unique_ptr<cohort::io::MediaServer> media;
  std::unique_ptr<cohort::node::CatalogFeed> feed;
  std::unique_ptr<cohort::node::WorkloadService> service;
};

cohort::Result<Workload> StartWorkload(const cohort::Config& config, cohort::node::Node& node,
                                       boost::asio::io_context& io) {
  Workload w;
  std::vector<cohort::node::CatalogRoot> roots{{"", config.distribution_root, ""}};
  cohort::io::MediaOptions media;
  media.roots.push_back({"", config.distribution_root});
  for (const cohort::DiskConfig& d : config.disks) {
    roots.push_back({d.id, d.mount, d.probe});
    media.roots.push_back({d.id, d.mount});
  }
  cohort::node::WorkloadOptions options;
  options.balance = config.stream_balance_percent / 100.0;
  options.balance_floor = config.stream_balance_floor_percent / 100.0;
  options.default_bitrate_kbps = config.stream_default_bitrate_kbps;
  if (config.stream_listen) {
    media.listen = *config.stream_listen;
    media.capacity_kbps = uint64_t{config.stream_capacity_mbps} * 1000;
    media.default_bitrate_kbps = config.stream_default_bitrate_kbps;
    auto m = cohort::io::MediaServer::Start(std::move(media));
    if (!m) return m.error();
    w.media = std::move(*m);
    options.stream_address = w.media->address().ToString();
    cohort::Log(cohort::LogLevel::kInfo, "stream", "serving",
                {{"address", options.stream_address}});
  }
  if (!w.media) roots.clear();
  w.feed = std::make_unique<cohort::node::CatalogFeed>(io, std::move(roots),
                                                       cohort::Duration::Seconds(2));
  w.service =
      std::make_unique<cohort::node::WorkloadService>(node, *w.feed, w.media.get(), io, options);
  w.service->Start();
  return w;
}

// The node in its cluster: the configuration manager first (the registry on registry
// server nodes, the client everywhere, C1), then the node's protocols and the API. A node
// that is moving there (C10) has until `move_deadline` to be online in it.
Outcome RunNode(const cohort::Config& config, const cohort::Config& file,
                std::optional<cohort::Duration> move_deadline) {
  boost::asio::io_context io;
  Signals signals(io);
  auto dcm = cohort::dcm::Dcm::Create(config, file, io);
  if (!dcm) return {Fail(1, dcm.error().message())};
  if (auto s = (*dcm)->Start(); !s) return {Fail(1, s.error().message())};
  auto node = cohort::node::Node::Create(config, io);
  if (!node) {
    return {Fail(node.error().code() == cohort::Errc::kInvalidArgument ? 2 : 1,
                 node.error().message())};
  }
  if (auto s = (*node)->Start(); !s) return {Fail(1, s.error().message())};
  (*dcm)->Attach(**node);
  cohort::node::Distributor distributor(**node, io);
  if (auto s = distributor.Start(); !s) return {Fail(1, s.error().message())};
  cohort::dcm::Dcm* const manager = dcm->get();
  cohort::node::GroupsService groups(
      **node,
      [manager]() -> cohort::node::GroupsService::Records {
        if (!manager->has_registry() || manager->cluster_id().empty()) return {};
        return {&manager->registry(), cohort::dcm::schema::GroupsPrefix(manager->cluster_id())};
      },
      io);
  groups.Start();
  cohort::node::ResourceService::Options resource_options;
  resource_options.lease_ttl = cohort::Duration::Seconds(config.resources_lease_ttl_s);
  resource_options.fence_margin = cohort::Duration::Millis(config.resources_fence_margin_ms);
  resource_options.alive_ttl = cohort::Duration::Millis(config.resources_alive_ttl_ms);
  resource_options.runner.ocf_root = config.resources_ocf_root;
  resource_options.runner.state_dir = config.resources_state_dir;
  resource_options.runner.log_dir = config.data_dir + "/resources";
  cohort::node::ResourceService resources(
      **node,
      [manager]() -> cohort::node::ResourceService::Records {
        if (!manager->has_registry() || manager->cluster_id().empty()) return {};
        return {&manager->registry(), cohort::dcm::schema::ResourcesPrefix(manager->cluster_id())};
      },
      io, resource_options);
  resources.Start();
  cohort::node::HierarchyService hierarchy(**node, io);
  hierarchy.Start();
  cohort::io::LoopMonitor loop_monitor(io);
  loop_monitor.Start();
  auto workload = StartWorkload(config, **node, io);
  if (!workload) return {Fail(1, workload.error().message())};
  cohort::api::Api api(**node, manager, &distributor, &loop_monitor, &groups, &resources,
                       &hierarchy);
  api.SetWorkload(workload->service.get(), workload->media.get());
  cohort::api::HealthMonitor health(io, **node, manager, &distributor, &resources);
  health.Start();
  api.SetHealth(&health);
  cohort::api::DashboardFeed feed(
      io, **node, [&api](const cohort::api::HttpRequest& r, cohort::api::Respond respond) {
        api.Handle(r, std::move(respond));
      });
  feed.Start();
  api.SetDashboardFeed(&feed);
  cohort::api::TreeRelay relay(
      hierarchy, io, [&api](const cohort::api::HttpRequest& r, cohort::api::Respond respond) {
        api.Handle(r, std::move(respond));
      });
  cohort::api::ApiServer server(
      io, [&relay](const cohort::api::HttpRequest& r, cohort::api::Respond respond) {
        relay.Handle(r, std::move(respond));
      });
  if (auto s = server.Listen(config.api_listen); !s) return {Fail(1, s.error().message())};
  const std::string pid_file = config.data_dir + "/cohortd.pid";
  if (auto s = WritePidFile(pid_file); !s) return {Fail(1, s.error().message())};
  cohort::Log(cohort::LogLevel::kInfo, "api", "serving",
              {{"address", config.api_listen.ToString()}});

  // C8: a clone of another node's machine (or a node number defined to another machine)
  // leaves the cluster and exits 3, saying which node it collides with and what to do; a
  // node defined at run time whose definition is gone leaves and waits to be defined again.
  Outcome outcome;
  (*dcm)->OnRefused([&](const std::string& why, bool undefined) {
    std::fprintf(stderr, "error: %s\n", why.c_str());
    if (undefined) {
      outcome.restart = true;
    } else {
      outcome.exit_code = 3;
    }
    signals.stop();
  });
  bool stopping = false;
  // A restart asked for while the node is already stopping (by a signal) is not taken: the
  // operator's stop wins.
  auto restart = [&] {
    if (stopping) return;
    outcome.restart = true;
    signals.stop();
  };
  (*dcm)->OnRestart(restart);
  std::optional<MoveWatch> move;
  if (move_deadline) move.emplace(io, **dcm, *move_deadline, restart);
  signals.stop = [&] {
    if (stopping) return;  // a second signal while leaving waits for the same stop
    stopping = true;
    // Resources stop and are given back first, so other nodes take them over at once; then
    // the node leaves gracefully (M8) and stops. Each step is bounded.
    resources.Stop(cohort::Duration::Seconds(25), [&] {
      (*node)->LeaveGracefully(cohort::Duration::Seconds(2), [&] {
        server.Stop();
        loop_monitor.Stop();
        distributor.Stop();
        workload->service->Stop();
        groups.Stop();
        (*node)->Stop();
        (*dcm)->Stop();
        io.stop();
      });
    });
  };
  RunLoop(io);
  if (!outcome.restart) ::unlink(pid_file.c_str());
  cohort::Log(cohort::LogLevel::kInfo, "node", "stopped");
  return outcome;
}

}  // namespace

int main(int argc, char** argv) {
  // The data plane allocates and frees frame buffers (64 KiB to 1 MiB) thousands of times a
  // second. By default glibc hands such memory back to the kernel (heap trimming, mmap for
  // large blocks), and takes every page again through a page fault: about 16 faults per
  // 64 KiB chunk relayed. Keeping it in the heap lets the buffers be reused.
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  // A viewer that leaves in the middle of a body makes sendfile(2) fail with EPIPE, which
  // also raises SIGPIPE, whose default ends the process: the error is wanted as a return
  // value (socket writes pass MSG_NOSIGNAL; sendfile has no such flag). Children get the
  // default back before exec (io/child.cc, dcm/etcd_server.cc).
  ::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"cohortd: the cohort cluster daemon"};
  std::string config_path, data_dir, log_level, log_format;
  bool dev = false;
  app.add_option("--config", config_path, "configuration file (TOML)");
  app.add_flag("--dev", dev, "single-node cluster with built-in defaults");
  app.add_option("--data-dir", data_dir,
                 "with --dev: the node's data folder (default ./cohort-dev)");
  app.add_option("--log-level", log_level, "debug, info, warn or error (overrides the config)");
  app.add_option("--log-format", log_format, "text or json (overrides the config)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    return Fail(2, std::string(e.what()) + " (see --help)");
  }
  if (dev == !config_path.empty()) return Fail(2, "give exactly one of --config FILE or --dev");
  if (!dev && !data_dir.empty())
    return Fail(2, "--data-dir goes with --dev; set node.data_dir in the config");

  cohort::Config config;
  if (dev) {
    config = cohort::DevConfig(data_dir.empty() ? "cohort-dev" : data_dir);
    config.data_dir = std::filesystem::absolute(config.data_dir).string();
    config.key_file = config.data_dir + "/cluster.key";
    if (auto s = cohort::io::MakeDirs(config.data_dir); !s) return Fail(1, s.error().message());
    if (!cohort::io::ReadFile(config.key_file)) {
      auto s = cohort::io::WriteFileAtomic(
          config.key_file, cohort::wire::KeyToText(cohort::wire::GenerateKey()) + "\n", 0600);
      if (!s) return Fail(1, s.error().message());
    }
  } else {
    auto loaded = cohort::LoadConfig(config_path);
    if (!loaded) return Fail(2, loaded.error().message());
    config = std::move(*loaded);
  }
  if (!log_level.empty()) config.log_level = log_level;
  if (!log_format.empty()) config.log_format = log_format;
  cohort::LogLevel level;
  if (!cohort::ParseLogLevel(config.log_level, &level)) {
    return Fail(2, "--log-level: expected debug, info, warn or error");
  }
  if (config.log_format != "text" && config.log_format != "json") {
    return Fail(2, "--log-format: expected text or json");
  }
  cohort::SetLogLevel(level);
  cohort::SetLogFormat(config.log_format == "json" ? cohort::LogFormat::kJson
                                                   : cohort::LogFormat::kText);

  // The cluster it runs in comes from local storage and its file (dcm/clusters.h).
  auto plan = cohort::dcm::PlanStart(config);
  if (!plan) return Fail(2, plan.error().message());
  Outcome outcome;
  switch (plan->kind) {
    case cohort::dcm::StartPlan::Kind::kWait:
      outcome = RunStandby(config);
      break;
    case cohort::dcm::StartPlan::Kind::kRun:
      ::unlink((config.data_dir + "/dcm/join.token").c_str());  // used up, if it was
      outcome = RunNode(plan->config, config, std::nullopt);
      break;
    case cohort::dcm::StartPlan::Kind::kMove:
      outcome = RunNode(plan->config, config, plan->deadline);
      if (outcome.exit_code != 0 && !outcome.restart) {  // it could not run there: go back
        auto s = cohort::dcm::CallOffMove(config, "exit " + std::to_string(outcome.exit_code));
        if (!s) return Fail(1, s.error().message());
        outcome.restart = true;
      }
      break;
  }
  if (outcome.restart) {
    cohort::Log(cohort::LogLevel::kInfo, "node", "starting again in place");
    // Nothing of this run may outlive it: Asio's sockets are not close-on-exec.
    if (::close_range(3, ~0U, 0) != 0) {  // kernels before 5.9
      for (int fd = 3; fd < 65536; ++fd) ::close(fd);
    }
    // By its own path, not /proc/self/exe: the process keeps its name ("cohortd", not "exe").
    std::error_code ec;
    const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    ::execv(ec ? "/proc/self/exe" : self.c_str(), argv);
    return Fail(1, std::string("cannot start again: ") + std::strerror(errno));
  }
  return outcome.exit_code;
}
