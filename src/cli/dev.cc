// `cohort dev up|down`: a local cluster of real daemons on 127.0.0.1 for trying cohort out
// and for the integration tests. Node k: transport 127.0.0.a:P+k for adapter a, API
// 127.0.0.1:P+100+k, streams (--streams) 127.0.0.1:P+600+k, files in DIR/n<k>/ with the pid in
// DIR/n<k>/cohortd.pid.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "cli/call.h"
#include "cli/cli.h"
#include "cli/dev_up.h"
#include "cli/progress.h"
#include "dcm/core.h"
#include "io/files.h"
#include "io/http_client.h"
#include "wire/seal.h"

namespace cohort::cli {
namespace devup {

using nlohmann::json;
namespace fs = std::filesystem;

std::string CohortdPath() {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path beside = self.parent_path() / "cohortd";
    if (fs::exists(beside)) return beside.string();
  }
  return "cohortd";  // from PATH
}

std::string TimingConfig(const DevUpOptions& o) {
  std::string t;
  if (o.period_ms > 0) t += "period_ms = " + std::to_string(o.period_ms) + "\n";
  if (o.miss_limit > 0) t += "miss_limit = " + std::to_string(o.miss_limit) + "\n";
  if (o.notify_ms > 0) t += "notify_ms = " + std::to_string(o.notify_ms) + "\n";
  if (!o.disks.empty()) t += "disk_check_ms = 250\n";
  return t.empty() ? "" : "\n[timing]\n" + t;
}

std::string DiskConfigs(int k, const DevUpOptions& o, const std::string& dir) {
  std::string out;
  for (const std::string& id : o.disks) {
    const std::string mount = dir + "/n" + std::to_string(k) + "/disks/" + id;
    out += "\n[[disk]]\nid = \"" + id + "\"\nmount = \"" + mount + "\"\nprobe = \"" + mount +
           "/.cohort-probe-n" + std::to_string(k) + "\"\n";
  }
  return out;
}

// The shared disk folders and each node's access path to them (a symlink).
Status MakeDisks(const DevUpOptions& o, const std::string& dir) {
  for (const std::string& id : o.disks) {
    COHORT_TRY(io::MakeDirs(dir + "/disks/" + id));
    for (int k = 1; k <= o.nodes; ++k) {
      const std::string paths = dir + "/n" + std::to_string(k) + "/disks";
      COHORT_TRY(io::MakeDirs(paths));
      std::error_code ec;
      fs::remove(paths + "/" + id, ec);
      fs::create_directory_symlink(dir + "/disks/" + id, paths + "/" + id, ec);
      if (ec)
        return Error(Errc::kInternal, "cannot link " + paths + "/" + id + ": " + ec.message());
    }
  }
  return OkStatus();
}

// The first o.registry_servers nodes run etcd: client port P+200+k, peer port P+300+k.
std::string RegistryConfig(const DevUpOptions& o) {
  const int servers = std::min(o.nodes, o.registry_servers);
  if (servers == 0) return "";
  std::string ids, entries;
  for (int k = 1; k <= servers; ++k) {
    ids += (k > 1 ? ", " : "") + std::to_string(k);
    entries += "\n[[registry.server]]\nid = " + std::to_string(k) +
               "\nclient = \"127.0.0.1:" + std::to_string(o.base_port + 200 + k) +
               "\"\npeer = \"127.0.0.1:" + std::to_string(o.base_port + 300 + k) + "\"\n";
  }
  // Tuned raft timings for one machine: a lost leader is replaced within half a second.
  return "\n[registry]\nservers = [" + ids + "]\nheartbeat_ms = 30\nelection_ms = 300\n" + entries;
}

std::string DistributionConfig(const DevUpOptions& o) {
  std::string lines;
  if (o.upload_mbps > 0) lines += "upload_mbps = " + std::to_string(o.upload_mbps) + "\n";
  if (o.upload_idle_s > 0) lines += "upload_idle_s = " + std::to_string(o.upload_idle_s) + "\n";
  if (o.forget_after_s > 0) {
    lines += "forget_after_s = " + std::to_string(o.forget_after_s) + "\n";
  }
  return lines.empty() ? "" : "\n[distribution]\n" + lines;
}

// Each node's OCF agents keep their state in its own folder (on one machine, the default
// /run/resource-agents would be every node's); a one-second lease, as the tuned registry
// allows, and fast takeover on a 600 ms alive key, so a dead node's resources move in well
// under a second (the margin suits the quick stops of Dummy and process resources).
std::string ResourcesConfig(int k, const DevUpOptions& o, const std::string& dir) {
  if (o.registry_servers == 0) return "";
  return "\n[resources]\nlease_ttl_s = 1\nfence_margin_ms = 300\nalive_ttl_ms = 600\n"
         "state_dir = \"" +
         dir + "/n" + std::to_string(k) + "/ocf-run\"\n";
}

std::string NodeConfig(int k, const DevUpOptions& o, const std::string& dir) {
  std::string listen, seeds;
  for (int a = 1; a <= o.adapters; ++a) {
    listen += std::string(a > 1 ? ", " : "") + "\"127.0.0." + std::to_string(a) + ":" +
              std::to_string(o.base_port + k) + "\"";
  }
  seeds = "\"127.0.0.1:" + std::to_string(o.base_port + 1) + "\"";
  std::string priority;
  for (int i = 1; i <= o.nodes; ++i) priority += (i > 1 ? ", " : "") + std::to_string(i);
  return "# written by `cohort dev up`\n[node]\nid = " + std::to_string(k) + "\nname = \"n" +
         std::to_string(k) + "\"\ndata_dir = \"" + dir + "/n" + std::to_string(k) +
         "\"\nuid_file = \"machine-id\"\n" +
         (o.stream_capacity_mbps > 0
              ? "stream_capacity_mbps = " + std::to_string(o.stream_capacity_mbps) + "\n"
              : "") +
         "\n[cluster]\nname = \"" + o.cluster_name + "\"\nkey_file = \"" + dir +
         "/cluster.key\"\npriority = [" + priority + "]\nseeds = [" + seeds + "]\n" +
         (o.multicast.empty() ? "" : "multicast = \"" + o.multicast + "\"\n") +
         ParentConfigs(k, o) + "\n[transport]\nlisten = [" + listen +
         "]\n\n[api]\nlisten = \"127.0.0.1:" + std::to_string(o.base_port + 100 + k) + "\"\n" +
         (o.streams
              ? "\n[stream]\nlisten = \"127.0.0.1:" + std::to_string(o.base_port + 600 + k) + "\"\n"
              : "") +
         TimingConfig(o) + DiskConfigs(k, o, dir) + RegistryConfig(o) + DistributionConfig(o) +
         ResourcesConfig(k, o, dir);
}

// Every node of a dev cluster is a machine of its own (C4): its unique id, made once and
// kept across `dev up`s like /etc/machine-id.
Status MakeUidFile(const std::string& path) {
  if (io::ReadFile(path)) return OkStatus();
  return io::WriteFileAtomic(path, wire::RandomHex(16) + "\n");
}

// True while `pid` is a cohortd of the dev cluster in `dir` (its config lies there): a pid
// file outlives its process, and the pid may by now be another program's, or another
// cluster's daemon.
bool IsOurCohortd(pid_t pid, const std::string& dir) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline");
  std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return cmd.find("cohortd") != std::string::npos && cmd.find(dir + "/") != std::string::npos;
}

pid_t ReadPid(const std::string& path) {
  auto text = io::ReadFile(path);
  if (!text) return -1;
  return static_cast<pid_t>(std::atol(text->c_str()));
}

Result<pid_t> Spawn(const std::string& binary, const std::string& config, const std::string& log) {
  const pid_t pid = ::fork();
  if (pid < 0) return Error(Errc::kIo, "fork failed");
  if (pid == 0) {
    ::setsid();
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    if (devnull >= 0) ::dup2(devnull, 0);
    ::execl(binary.c_str(), binary.c_str(), "--config", config.c_str(), nullptr);
    ::execlp("cohortd", "cohortd", "--config", config.c_str(), nullptr);
    std::_Exit(127);
  }
  return pid;
}

std::string Tail(const std::string& path, size_t lines) {
  auto text = io::ReadFile(path);
  if (!text) return "";
  size_t pos = text->size(), seen = 0;
  while (pos > 0 && seen <= lines) {
    if ((*text)[--pos] == '\n') ++seen;
  }
  return text->substr(pos);
}

// A failed start leaves nothing running: the daemons this call started are stopped (by
// the PIDs it spawned), SIGTERM then, after 5 s, SIGKILL. Says which, for the message.
std::string StopStarted(const std::map<int, pid_t>& pids) {
  std::string which;
  for (const auto& [k, pid] : pids) {
    if (pid <= 0) continue;
    ::kill(pid, SIGTERM);
    which += (which.empty() ? "" : ", ") + std::to_string(k);
  }
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  for (const auto& [k, pid] : pids) {
    if (pid <= 0) continue;
    int status = 0;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      if (Clock::now() > deadline) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  return which.empty() ? "" : " (stopped the nodes it started with it: " + which + ")";
}

// The options as given, completed and checked; an exit code when they cannot be used.
std::optional<int> Complete(DevUpOptions& o) {
  if (o.registry_servers < 0) {
    o.registry_servers = std::min(o.nodes, 3);
  } else if (o.registry_servers > o.nodes) {
    return Fail(2, "--registry " + std::to_string(o.registry_servers) +
                       ": more registry servers than nodes (--nodes " + std::to_string(o.nodes) +
                       ")");
  }
  if (o.registry_servers > 0 && ::access("/usr/bin/etcd", X_OK) != 0) {
    std::fprintf(stderr,
                 "warning: /usr/bin/etcd is missing (Debian package etcd-server): starting "
                 "without the registry\n");
    o.registry_servers = 0;
  }
  for (const std::string& id : o.disks) {
    if (!ValidDiskId(id)) {
      return Fail(2, "--disk '" + id + "': use 1 to 64 letters, digits, '.', '_' or '-'");
    }
  }
  return std::nullopt;
}

// The folder, its key and disks, ready for the daemons; none of its nodes may be running.
Status Prepare(const DevUpOptions& o, const std::string& dir) {
  if (auto s = io::MakeDirs(dir); !s) return s;
  for (int k = 1; k <= o.nodes; ++k) {
    const pid_t pid = ReadPid(dir + "/n" + std::to_string(k) + "/cohortd.pid");
    if (pid > 0 && ::kill(pid, 0) == 0 && IsOurCohortd(pid, dir)) {
      return Error(Errc::kAlreadyExists, "node " + std::to_string(k) + " of " + dir +
                                             " is already running (pid " + std::to_string(pid) +
                                             "); run `cohort dev down --dir " + o.dir + "` first");
    }
  }
  const std::string key_file = dir + "/cluster.key";
  if (!io::ReadFile(key_file)) {
    auto s = io::WriteFileAtomic(key_file, wire::KeyToText(wire::GenerateKey()) + "\n", 0600);
    if (!s) return s;
  }
  return MakeDisks(o, dir);
}

// Starts every node; on a failure the ones started are stopped again.
Status StartNodes(const DevUpOptions& o, const std::string& dir, std::map<int, pid_t>& pids) {
  const std::string binary = CohortdPath();
  for (int k = 1; k <= o.nodes; ++k) {
    const std::string nd = dir + "/n" + std::to_string(k);
    const std::string config = nd + "/node.toml";
    Status made = io::MakeDirs(nd);
    if (made) made = MakeUidFile(nd + "/machine-id");
    if (made) made = io::WriteFileAtomic(config, NodeConfig(k, o, dir));
    if (!made) return Error(Errc::kIo, made.error().message() + StopStarted(pids));
    auto pid = Spawn(binary, config, nd + "/cohortd.log");
    if (!pid) return Error(Errc::kIo, pid.error().message() + StopStarted(pids));
    pids[k] = *pid;
  }
  return OkStatus();
}

Result<json> GetFromNode(const DevUpOptions& o, int k, const std::string& target) {
  auto r = io::HttpCall(Endpoint{0x7f000001, static_cast<uint16_t>(o.base_port + 100 + k)}, "GET",
                        target, "", "", 1000);
  if (!r || r->status != 200) return Error(Errc::kUnavailable, "no answer");
  json doc = json::parse(r->body, nullptr, false);
  if (!doc.is_object()) return Error(Errc::kUnavailable, "not a JSON object");
  return doc;
}

// The waiting line (cli/progress.h): one for the whole `dev up`.
void Waiting(const Globals& g, const std::string& line) {
  static cli::Progress progress(g);
  if (line.empty()) return progress.Done();
  progress.Say(line);
}

// Waits until every node's address table lists all N nodes with one digest and every node
// is up in one cluster under one supervisor.
Result<Agreement> WaitAgreement(const Globals& g, const DevUpOptions& o, const std::string& dir,
                                std::map<int, pid_t>& pids, Clock::time_point deadline) {
  for (;;) {
    for (auto& [k, pid] : pids) {
      int status = 0;
      if (pid > 0 && ::waitpid(pid, &status, WNOHANG) == pid) {
        pid = 0;
        const std::string stopped = StopStarted(pids);
        return Error(Errc::kUnavailable,
                     "node " + std::to_string(k) + " exited during start" + stopped +
                         "; its log says:\n" +
                         Tail(dir + "/n" + std::to_string(k) + "/cohortd.log", 5));
      }
    }
    Agreement a;
    std::map<std::string, int> digests;
    for (int k = 1; k <= o.nodes; ++k) {
      auto table = GetFromNode(o, k, "/v1/addresses");
      if (!table || (*table)["nodes"].size() != static_cast<size_t>(o.nodes)) continue;
      auto members = GetFromNode(o, k, "/v1/members");
      if (!members || (*members)["supervisor"].is_null()) continue;
      int up = 0;
      for (const auto& x : (*members)["members"]) up += x["state"] == "up";
      if (up != o.nodes) continue;
      a.table = *table;
      a.supervisor = (*members)["supervisor"].get<int>();
      ++digests[(*table)["digest"].get<std::string>() + "/" +
                (*members)["map_digest"].get<std::string>()];
    }
    int agree = 0;
    for (auto& [d, n] : digests) agree = std::max(agree, n);
    if (agree == o.nodes) return a;
    Waiting(g, "waiting: " + std::to_string(agree) + " of " + std::to_string(o.nodes) +
                   " nodes agree on the address table and the cluster map");
    if (Clock::now() > deadline) {
      return Error(Errc::kTimeout, "the nodes did not agree within " + std::to_string(o.timeout_s) +
                                       " s (logs in " + dir +
                                       "/n*/cohortd.log; stop them with `cohort dev down --dir " +
                                       o.dir + "`)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

// The registry: every node's client reaches a leader and knows the cluster id.
Status WaitRegistry(const Globals& g, const DevUpOptions& o, const std::string& dir,
                    Clock::time_point deadline) {
  for (int k = 1; k <= o.nodes && o.registry_servers > 0; ++k) {
    for (;;) {
      auto doc = GetFromNode(o, k, "/v1/registry/status");
      if (doc && (*doc)["phase"] == "read-write" && (*doc)["cluster_id"] != "") break;
      Waiting(g, "waiting: node " + std::to_string(k) + "'s registry client to reach a leader");
      if (Clock::now() > deadline) {
        return Error(Errc::kTimeout, "the registry did not become writable within " +
                                         std::to_string(o.timeout_s) + " s (etcd logs in " + dir +
                                         "/n*/registry/etcd.log; stop with `cohort dev down "
                                         "--dir " +
                                         o.dir + "`)");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  return OkStatus();
}

json DevUpDocument(const DevUpOptions& o, const std::string& dir, std::map<int, pid_t>& pids,
                   const Agreement& a) {
  json nodes = json::array();
  for (int k = 1; k <= o.nodes; ++k) {
    json addrs = json::array();
    for (int n = 1; n <= o.adapters; ++n) {
      addrs.push_back("127.0.0." + std::to_string(n) + ":" + std::to_string(o.base_port + k));
    }
    nodes.push_back(
        {{"id", k},
         {"pid", pids[k]},
         {"addresses", addrs},
         {"api", "127.0.0.1:" + std::to_string(o.base_port + 100 + k)},
         {"stream",
          o.streams ? json("127.0.0.1:" + std::to_string(o.base_port + 600 + k)) : json(nullptr)},
         {"dir", dir + "/n" + std::to_string(k)}});
  }
  json registry = json::array();
  for (int k = 1; k <= std::min(o.nodes, o.registry_servers); ++k) {
    registry.push_back({{"id", k},
                        {"client", "127.0.0.1:" + std::to_string(o.base_port + 200 + k)},
                        {"peer", "127.0.0.1:" + std::to_string(o.base_port + 300 + k)}});
  }
  return json{{"dir", dir},
              {"nodes", nodes},
              {"version", a.table["version"]},
              {"digest", a.table["digest"]},
              {"supervisor", a.supervisor},
              {"registry_servers", registry}};
}

void PrintDevUp(const json& out, int base_port) {
  std::printf("%-5s %-8s %-22s %-16s %s\n", "NODE", "PID", "API", "TRANSPORT", "");
  for (const auto& n : out["nodes"]) {
    std::string addrs;
    for (const auto& a : n["addresses"]) {
      addrs += (addrs.empty() ? "" : ", ") + a.get<std::string>();
    }
    std::printf("%-5d %-8d %-22s %s\n", n["id"].get<int>(), n["pid"].get<int>(),
                n["api"].get<std::string>().c_str(), addrs.c_str());
  }
  std::printf(
      "%zu nodes form one cluster under supervisor %d; address table version %llu, "
      "digest %s\n",
      out["nodes"].size(), out["supervisor"].get<int>(), out["version"].get<unsigned long long>(),
      out["digest"].get<std::string>().c_str());
  const size_t servers = out["registry_servers"].size();
  if (servers > 0) {
    std::printf("registry: read-write on %zu etcd servers (nodes 1-%zu, client ports %d-%zu)\n",
                servers, servers, base_port + 201, base_port + 200 + servers);
  }
}

}  // namespace devup

using namespace devup;

int DevUp(const Globals& g, const DevUpOptions& options) {
  DevUpOptions o = options;
  if (auto rc = Complete(o)) return *rc;
  const std::string dir = fs::absolute(o.dir).lexically_normal().string();
  if (!o.shape.empty()) return DevUpShape(g, o, dir);
  if (auto s = Prepare(o, dir); !s) return Fail(1, s.error().message());
  std::map<int, pid_t> pids;
  if (auto s = StartNodes(o, dir, pids); !s) return Fail(1, s.error().message());
  const auto deadline = Clock::now() + std::chrono::seconds(o.timeout_s);
  auto agreement = WaitAgreement(g, o, dir, pids, deadline);
  Waiting(g, "");  // the waiting line ends before the outcome
  if (!agreement) return Fail(1, agreement.error().message());
  auto registry = WaitRegistry(g, o, dir, deadline);
  Waiting(g, "");
  if (!registry) return Fail(1, registry.error().message());
  const json out = DevUpDocument(o, dir, pids, *agreement);
  if (g.json) {
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    PrintDevUp(out, o.base_port);
  }
  return 0;
}

int DevDown(const Globals& g, const std::string& dir_arg) {
  const std::string dir = fs::absolute(dir_arg).lexically_normal().string();
  if (!fs::is_directory(dir)) return Fail(1, dir + " is not a dev cluster folder");
  std::map<std::string, pid_t> running;
  // The nodes' folders: DIR/n<k>, or DIR/c<i>/n<k> for a shape (M14).
  std::vector<fs::path> folders;
  for (const auto& entry : fs::directory_iterator(dir)) {
    folders.push_back(entry.path());
    const std::string name = entry.path().filename().string();
    const bool cluster_folder = name.size() > 1 && name[0] == 'c' &&
                                name.find_first_not_of("0123456789", 1) == std::string::npos;
    if (entry.is_directory() && cluster_folder) {
      std::error_code ec;
      for (const auto& sub : fs::directory_iterator(entry.path(), ec))
        folders.push_back(sub.path());
    }
  }
  for (const fs::path& folder : folders) {
    const pid_t pid = ReadPid(folder.string() + "/cohortd.pid");
    if (pid > 0 && ::kill(pid, 0) == 0 && IsOurCohortd(pid, dir)) {
      ::kill(pid, SIGTERM);
      running[fs::relative(folder, dir).string()] = pid;
    }
  }
  // Graceful first; anything still alive after 10 s is killed.
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  json stopped = json::array();
  for (auto& [name, pid] : running) {
    while (::kill(pid, 0) == 0 && IsOurCohortd(pid, dir) && Clock::now() < deadline) {
      ::waitpid(pid, nullptr, WNOHANG);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    const bool killed = ::kill(pid, 0) == 0 && IsOurCohortd(pid, dir);
    if (killed) ::kill(pid, SIGKILL);
    stopped.push_back({{"node", name}, {"pid", pid}, {"forced", killed}});
    if (!g.json)
      std::printf("stopped %s (pid %d)%s\n", name.c_str(), pid, killed ? " by SIGKILL" : "");
  }
  if (g.json)
    std::printf("%s\n", json{{"dir", dir}, {"stopped", stopped}}.dump(2).c_str());
  else if (running.empty())
    std::printf("no daemons running in %s\n", dir.c_str());
  return 0;
}

void AddDevCommands(CLI::App& app, const Globals& g, int& rc) {
  static DevUpOptions up;
  static std::string down_dir = "cohort-dev";
  auto* dev = app.add_subcommand("dev", "a local development cluster on 127.0.0.1");
  dev->require_subcommand(1);
  auto* u = dev->add_subcommand("up", "start N daemons and wait until they agree");
  u->add_option("--nodes", up.nodes, "number of nodes")->check(CLI::Range(1, 100));
  u->add_option("--name", up.cluster_name, "the cluster's name (default dev)")
      ->check([](const std::string& v) {
        return dcm::ValidClusterName(v) ? std::string()
                                        : "1 to 64 letters, digits, '.', '_' or '-'";
      });
  u->add_option("--dir", up.dir, "folder for the nodes' files");
  u->add_option("--base-port", up.base_port, "node k: transport P+k, API P+100+k, streams P+600+k")
      ->check(CLI::Range(1024, 65000));
  u->add_option("--adapters", up.adapters,
                "addresses per node: 127.0.0.1, 127.0.0.2, ... (2 shows failover)")
      ->check(CLI::Range(1, 4));
  u->add_option("--timeout", up.timeout_s, "seconds to wait for agreement")
      ->check(CLI::Range(1, 600));
  u->add_option("--disk", up.disks,
                "a disk every node checks (repeatable): DIR/disks/ID, reached by node k "
                "through DIR/n<k>/disks/ID");
  u->add_option("--upload-mbps", up.upload_mbps,
                "limit each node's content uploads (distribution) to this rate");
  u->add_flag("--streams", up.streams,
              "every node serves streams of its content on 127.0.0.1:P+600+k (W2)");
  u->add_option("--stream-capacity-mbps", up.stream_capacity_mbps,
                "each node's streaming capacity: sessions past it are refused (W2)")
      ->check(CLI::Range(1, 100'000'000));
  u->add_option("--upload-idle-s", up.upload_idle_s,
                "cancel an upload job whose client sent nothing for this long")
      ->check(CLI::Range(1, 86400));
  u->add_option("--forget-after-s", up.forget_after_s,
                "drop a finished job from the daemons' memory after this long")
      ->check(CLI::Range(1, 86400));
  u->add_option("--multicast", up.multicast,
                "GROUP:PORT: the bus uses this IP multicast group (default: unicast)");
  u->add_option("--period-ms", up.period_ms, "[timing] period_ms for every node")
      ->check(CLI::Range(1, 600000));
  u->add_option("--miss-limit", up.miss_limit, "[timing] miss_limit for every node")
      ->check(CLI::Range(1, 1000));
  u->add_option("--notify-ms", up.notify_ms, "[timing] notify_ms for every node")
      ->check(CLI::Range(1, 600000));
  u->add_option("--shape", up.shape,
                "SxN: S clusters of N nodes, each one node of a parent cluster; GxSxN: G such "
                "parents under one root (M14)");
  u->add_option("--level-factor", up.level_factor,
                "with --shape: each level's period and notification time, × the level below's")
      ->check(CLI::Range(1, 100));
  u->add_option("--registry", up.registry_servers,
                "registry servers: the first N nodes run etcd (default: up to 3; 0: none)")
      ->default_str("")
      ->check(CLI::Range(0, 7));
  u->callback([&g, &rc] { rc = DevUp(g, up); });
  auto* down = dev->add_subcommand("down", "stop the daemons of a dev cluster");
  down->add_option("--dir", down_dir, "the folder given to `dev up`");
  down->callback([&g, &rc] { rc = DevDown(g, down_dir); });
}

}  // namespace cohort::cli
