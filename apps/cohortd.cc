// cohortd: the cohort daemon. Loads the config, starts the node and its API, runs the event
// loop until SIGTERM/SIGINT, then stops and exits 0. A bad config exits 2 naming the key.
#include <malloc.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <functional>

#include "api/server.h"
#include "base/config.h"
#include "base/log.h"
#include "dcm/dcm.h"
#include "io/asio.h"
#include "io/files.h"
#include "io/loop_monitor.h"
#include "node/distributor.h"
#include "node/node.h"
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

}  // namespace

int main(int argc, char** argv) {
  // The data plane allocates and frees frame buffers (64 KiB to 1 MiB) thousands of times a
  // second. By default glibc hands such memory back to the kernel (heap trimming, mmap for
  // large blocks), and takes every page again through a page fault: about 16 faults per
  // 64 KiB chunk relayed. Keeping it in the heap lets the buffers be reused.
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
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

  boost::asio::io_context io;
  // Installed before anything starts, so a SIGTERM that arrives early still means a clean
  // stop with exit 0 rather than death by the default action.
  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  std::function<void()> stop = [&io] { io.stop(); };
  std::function<void(const boost::system::error_code&, int)> on_signal = [&](const boost::system::
                                                                                 error_code& ec,
                                                                             int signo) {
    if (ec) return;
    cohort::Log(cohort::LogLevel::kInfo, "node", "stopping", {{"signal", std::to_string(signo)}});
    stop();
    signals.async_wait(on_signal);
  };
  signals.async_wait(on_signal);
  // C1: the configuration manager brings up the registry first (its server on registry
  // server nodes, the client everywhere), then the node's protocols.
  auto dcm = cohort::dcm::Dcm::Create(config, io);
  if (!dcm) return Fail(1, dcm.error().message());
  if (auto s = (*dcm)->Start(); !s) return Fail(1, s.error().message());
  auto node = cohort::node::Node::Create(config, io);
  if (!node) {
    return Fail(node.error().code() == cohort::Errc::kInvalidArgument ? 2 : 1,
                node.error().message());
  }
  if (auto s = (*node)->Start(); !s) return Fail(1, s.error().message());
  (*dcm)->Attach(**node);
  cohort::node::Distributor distributor(**node, io);
  if (auto s = distributor.Start(); !s) return Fail(1, s.error().message());
  cohort::io::LoopMonitor loop_monitor(io);
  loop_monitor.Start();
  cohort::api::Api api(**node, dcm->get(), &distributor, &loop_monitor);
  cohort::api::ApiServer server(
      io, [&api](const cohort::api::HttpRequest& r, cohort::api::Respond respond) {
        api.Handle(r, std::move(respond));
      });
  if (auto s = server.Listen(config.api_listen); !s) return Fail(1, s.error().message());

  const std::string pid_file = config.data_dir + "/cohortd.pid";
  if (auto s = cohort::io::WriteFileAtomic(pid_file, std::to_string(::getpid()) + "\n"); !s) {
    return Fail(1, s.error().message());
  }
  cohort::Log(cohort::LogLevel::kInfo, "api", "serving",
              {{"address", config.api_listen.ToString()}});

  // C8: a clone of another node's machine (or a node number defined to another machine)
  // leaves the cluster and exits 3, saying which node it collides with and what to do.
  int exit_code = 0;
  (*dcm)->OnRefused([&](const std::string& why) {
    std::fprintf(stderr, "error: %s\n", why.c_str());
    exit_code = 3;
    stop();
  });
  bool stopping = false;
  stop = [&] {
    if (stopping) return;  // a second signal while leaving waits for the same stop
    stopping = true;
    // Leave gracefully first (M8), then stop; bounded so a lost cluster cannot hold us.
    (*node)->LeaveGracefully(cohort::Duration::Seconds(2), [&] {
      server.Stop();
      loop_monitor.Stop();
      distributor.Stop();
      (*node)->Stop();
      (*dcm)->Stop();
      io.stop();
    });
  };
  RunLoop(io);
  ::unlink(pid_file.c_str());
  cohort::Log(cohort::LogLevel::kInfo, "node", "stopped");
  return exit_code;
}
