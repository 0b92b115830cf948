// `cohort dev up|down`: a local cluster of real daemons on 127.0.0.1 for trying cohort out
// and for the integration tests. Node k: transport 127.0.0.a:P+k for adapter a, API
// 127.0.0.1:P+100+k, files in DIR/n<k>/ with the pid in DIR/n<k>/cohortd.pid.
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
#include <thread>

#include "cli/cli.h"
#include "cli/http_client.h"
#include "io/files.h"
#include "wire/seal.h"

namespace cohort::cli {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

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
         "\"\n\n[cluster]\nname = \"dev\"\nkey_file = \"" + dir + "/cluster.key\"\npriority = [" +
         priority + "]\nseeds = [" + seeds + "]\n" +
         (o.multicast.empty() ? "" : "multicast = \"" + o.multicast + "\"\n") +
         "\n[transport]\nlisten = [" + listen +
         "]\n\n[api]\nlisten = \"127.0.0.1:" + std::to_string(o.base_port + 100 + k) + "\"\n" +
         TimingConfig(o) + DiskConfigs(k, o, dir) + RegistryConfig(o) + DistributionConfig(o);
}

bool IsCohortd(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline");
  std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return cmd.find("cohortd") != std::string::npos;
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

}  // namespace

int DevUp(const Globals& g, const DevUpOptions& options) {
  DevUpOptions o = options;
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
  const std::string dir = fs::absolute(o.dir).lexically_normal().string();
  if (auto s = io::MakeDirs(dir); !s) return Fail(1, s.error().message());
  for (int k = 1; k <= o.nodes; ++k) {
    const pid_t pid = ReadPid(dir + "/n" + std::to_string(k) + "/cohortd.pid");
    if (pid > 0 && ::kill(pid, 0) == 0 && IsCohortd(pid)) {
      return Fail(1, "node " + std::to_string(k) + " of " + dir + " is already running (pid " +
                         std::to_string(pid) + "); run `cohort dev down --dir " + o.dir +
                         "` first");
    }
  }
  const std::string key_file = dir + "/cluster.key";
  if (!io::ReadFile(key_file)) {
    if (auto s = io::WriteFileAtomic(key_file, wire::KeyToText(wire::GenerateKey()) + "\n", 0600);
        !s) {
      return Fail(1, s.error().message());
    }
  }
  for (const std::string& id : o.disks) {
    if (!ValidDiskId(id)) {
      return Fail(2, "--disk '" + id + "': use 1 to 64 letters, digits, '.', '_' or '-'");
    }
  }
  if (auto s = MakeDisks(o, dir); !s) return Fail(1, s.error().message());
  const std::string binary = CohortdPath();
  std::map<int, pid_t> pids;
  for (int k = 1; k <= o.nodes; ++k) {
    const std::string nd = dir + "/n" + std::to_string(k);
    const std::string config = nd + "/node.toml";
    Status made = io::MakeDirs(nd);
    if (made) made = io::WriteFileAtomic(config, NodeConfig(k, o, dir));
    if (!made) return Fail(1, made.error().message() + StopStarted(pids));
    auto pid = Spawn(binary, config, nd + "/cohortd.log");
    if (!pid) return Fail(1, pid.error().message() + StopStarted(pids));
    pids[k] = *pid;
  }

  // Wait until every node's address table lists all N nodes with one digest and every node
  // is up in one cluster under one supervisor.
  const auto deadline = Clock::now() + std::chrono::seconds(o.timeout_s);
  json tables;
  int agree = 0;
  int supervisor = 0;
  std::string last_progress;
  while (true) {
    for (auto& [k, pid] : pids) {
      int status = 0;
      if (pid > 0 && ::waitpid(pid, &status, WNOHANG) == pid) {
        pid = 0;
        const std::string stopped = StopStarted(pids);
        return Fail(1, "node " + std::to_string(k) + " exited during start" + stopped +
                           "; its log says:\n" +
                           Tail(dir + "/n" + std::to_string(k) + "/cohortd.log", 5));
      }
    }
    tables = json::object();
    std::map<std::string, int> digests;
    for (int k = 1; k <= o.nodes; ++k) {
      auto r = HttpCall(Endpoint{0x7f000001, static_cast<uint16_t>(o.base_port + 100 + k)}, "GET",
                        "/v1/addresses", "", "", 1000);
      if (!r || r->status != 200) continue;
      json doc = json::parse(r->body, nullptr, false);
      if (doc.is_discarded() || doc["nodes"].size() != static_cast<size_t>(o.nodes)) continue;
      auto m = HttpCall(Endpoint{0x7f000001, static_cast<uint16_t>(o.base_port + 100 + k)}, "GET",
                        "/v1/members", "", "", 1000);
      if (!m || m->status != 200) continue;
      json members = json::parse(m->body, nullptr, false);
      if (members.is_discarded() || members["supervisor"].is_null()) continue;
      int up = 0;
      for (const auto& x : members["members"]) up += x["state"] == "up";
      if (up != o.nodes) continue;
      tables[std::to_string(k)] = doc;
      ++digests[doc["digest"].get<std::string>() + "/" + members["map_digest"].get<std::string>()];
      supervisor = members["supervisor"].get<int>();
    }
    agree = 0;
    for (auto& [d, n] : digests) agree = std::max(agree, n);
    if (agree == o.nodes) break;
    const std::string progress = "waiting: " + std::to_string(agree) + " of " +
                                 std::to_string(o.nodes) +
                                 " nodes agree on the address table and the cluster map";
    if (progress != last_progress && !g.json) std::fprintf(stderr, "%s\n", progress.c_str());
    last_progress = progress;
    if (Clock::now() > deadline) {
      return Fail(1, "the nodes did not agree within " + std::to_string(o.timeout_s) +
                         " s (logs in " + dir +
                         "/n*/cohortd.log; stop them with `cohort dev "
                         "down --dir " +
                         o.dir + "`)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // The registry (issue 4): every node's client reaches a leader and knows the cluster id.
  for (int k = 1; k <= o.nodes && o.registry_servers > 0; ++k) {
    for (;;) {
      auto r = HttpCall(Endpoint{0x7f000001, static_cast<uint16_t>(o.base_port + 100 + k)}, "GET",
                        "/v1/registry/status", "", "", 1000);
      json doc = r && r->status == 200 ? json::parse(r->body, nullptr, false) : json();
      if (doc.is_object() && doc["phase"] == "read-write" && doc["cluster_id"] != "") break;
      const std::string progress =
          "waiting: node " + std::to_string(k) + "'s registry client to reach a leader";
      if (progress != last_progress && !g.json) std::fprintf(stderr, "%s\n", progress.c_str());
      last_progress = progress;
      if (Clock::now() > deadline) {
        return Fail(1, "the registry did not become writable within " +
                           std::to_string(o.timeout_s) + " s (etcd logs in " + dir +
                           "/n*/registry/etcd.log; stop with `cohort dev down --dir " + o.dir +
                           "`)");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  const json& any = tables["1"];
  json nodes = json::array();
  for (int k = 1; k <= o.nodes; ++k) {
    json addrs = json::array();
    for (int a = 1; a <= o.adapters; ++a) {
      addrs.push_back("127.0.0." + std::to_string(a) + ":" + std::to_string(o.base_port + k));
    }
    nodes.push_back({{"id", k},
                     {"pid", pids[k]},
                     {"addresses", addrs},
                     {"api", "127.0.0.1:" + std::to_string(o.base_port + 100 + k)},
                     {"dir", dir + "/n" + std::to_string(k)}});
  }
  json registry = json::array();
  for (int k = 1; k <= std::min(o.nodes, o.registry_servers); ++k) {
    registry.push_back({{"id", k},
                        {"client", "127.0.0.1:" + std::to_string(o.base_port + 200 + k)},
                        {"peer", "127.0.0.1:" + std::to_string(o.base_port + 300 + k)}});
  }
  const json out{{"dir", dir},
                 {"nodes", nodes},
                 {"version", any["version"]},
                 {"digest", any["digest"]},
                 {"registry_servers", registry}};
  if (g.json) {
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("%-5s %-8s %-22s %-16s %s\n", "NODE", "PID", "API", "TRANSPORT", "");
  for (const auto& n : nodes) {
    std::string addrs;
    for (const auto& a : n["addresses"])
      addrs += (addrs.empty() ? "" : ", ") + a.get<std::string>();
    std::printf("%-5d %-8d %-22s %s\n", n["id"].get<int>(), n["pid"].get<int>(),
                n["api"].get<std::string>().c_str(), addrs.c_str());
  }
  std::printf(
      "%d nodes form one cluster under supervisor %d; address table version %llu, "
      "digest %s\n",
      o.nodes, supervisor, any["version"].get<unsigned long long>(),
      any["digest"].get<std::string>().c_str());
  if (!registry.empty()) {
    std::printf("registry: read-write on %zu etcd servers (nodes 1-%zu, client ports %d-%zu)\n",
                registry.size(), registry.size(), o.base_port + 201,
                o.base_port + 200 + registry.size());
  }
  return 0;
}

int DevDown(const Globals& g, const std::string& dir_arg) {
  const std::string dir = fs::absolute(dir_arg).lexically_normal().string();
  if (!fs::is_directory(dir)) return Fail(1, dir + " is not a dev cluster folder");
  std::map<std::string, pid_t> running;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string pid_file = entry.path().string() + "/cohortd.pid";
    const pid_t pid = ReadPid(pid_file);
    if (pid > 0 && ::kill(pid, 0) == 0 && IsCohortd(pid)) {
      ::kill(pid, SIGTERM);
      running[entry.path().filename().string()] = pid;
    }
  }
  // Graceful first; anything still alive after 10 s is killed.
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  json stopped = json::array();
  for (auto& [name, pid] : running) {
    while (::kill(pid, 0) == 0 && IsCohortd(pid) && Clock::now() < deadline) {
      ::waitpid(pid, nullptr, WNOHANG);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    const bool killed = ::kill(pid, 0) == 0 && IsCohortd(pid);
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

}  // namespace cohort::cli
