// `cohort registry snapshot save|restore` (R6): a backup of the whole registry, and a
// restore into an empty registry data directory. The snapshot is etcd's own format, whose
// last 32 bytes are the SHA-256 of the rest; `save` checks it on arrival and writes FILE
// plus FILE.sha256 (sha256sum's format, so `sha256sum -c FILE.sha256` checks it too);
// `restore` checks both before it touches anything.
#include <sodium.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <future>
#include <optional>

#include "base/config.h"
#include "cli/call.h"
#include "cli/progress.h"
#include "dcm/core.h"
#include "io/files.h"
#include "io/http_client.h"

namespace cohort::cli {
namespace {

namespace fs = std::filesystem;

std::string Sha256Hex(const std::string& data, size_t length) {
  unsigned char h[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(h, reinterpret_cast<const unsigned char*>(data.data()), length);
  char hex[2 * crypto_hash_sha256_BYTES + 1];
  return sodium_bin2hex(hex, sizeof hex, h, sizeof h);
}

// etcd's trailing hash: the SHA-256 of everything before the last 32 bytes.
Status CheckEmbeddedHash(const std::string& blob, const std::string& what) {
  if (blob.size() <= crypto_hash_sha256_BYTES) {
    return Error(Errc::kMalformed, what + " is too short to be a registry snapshot");
  }
  unsigned char h[crypto_hash_sha256_BYTES];
  const size_t body = blob.size() - crypto_hash_sha256_BYTES;
  crypto_hash_sha256(h, reinterpret_cast<const unsigned char*>(blob.data()), body);
  if (std::memcmp(h, blob.data() + body, sizeof h) != 0) {
    return Error(Errc::kMalformed, what + " is damaged: its embedded SHA-256 does not match");
  }
  return OkStatus();
}

int Save(const Globals& g, const std::string& file) {
  Call call{g};
  auto token = call.Token();
  if (!token) return Fail(1, token.error().message());
  std::optional<Progress> progress(g);
  // The call on a thread of its own, so the line counts the seconds while the node works.
  auto pending = std::async(std::launch::async, [&] {
    return io::HttpCall(g.api, "POST", "/v1/registry/snapshot", "", *token, 120000, 0, SIZE_MAX,
                        g.node);
  });
  do {
    progress->Say("the node takes a snapshot of the registry and sends it");
  } while (pending.wait_for(std::chrono::milliseconds(250)) != std::future_status::ready);
  auto reply = pending.get();
  progress.reset();  // the line ends before the outcome's
  if (!reply) return Fail(1, reply.error().message());
  if (reply->status != 200) {
    auto doc = nlohmann::json::parse(reply->body, nullptr, false);
    return Fail(1, doc.is_object() && doc.contains("error")
                       ? doc["error"].get<std::string>()
                       : "HTTP " + std::to_string(reply->status));
  }
  if (auto s = CheckEmbeddedHash(reply->body, "the snapshot received"); !s) {
    return Fail(1, s.error().message());
  }
  const std::string sum = Sha256Hex(reply->body, reply->body.size());
  if (auto s = io::WriteFileAtomic(file, reply->body, 0600); !s) {
    return Fail(1, s.error().message());
  }
  const std::string sum_file = file + ".sha256";
  if (auto s =
          io::WriteFileAtomic(sum_file, sum + "  " + fs::path(file).filename().string() + "\n");
      !s) {
    return Fail(1, s.error().message());
  }
  if (g.json) {
    std::printf("%s\n", nlohmann::json{{"file", file},
                                       {"bytes", reply->body.size()},
                                       {"sha256", sum},
                                       {"checksum_file", sum_file}}
                            .dump(2)
                            .c_str());
  } else {
    std::printf("saved %zu bytes to %s (sha256 %s, in %s)\n", reply->body.size(), file.c_str(),
                sum.c_str(), sum_file.c_str());
  }
  return 0;
}

int Restore(const Globals& g, const std::string& file, const std::string& config_path,
            const std::string& etcdctl) {
  auto config = LoadConfig(config_path);
  if (!config) return Fail(2, config.error().message());
  auto blob = io::ReadFile(file);
  if (!blob) return Fail(1, blob.error().message());
  if (auto s = CheckEmbeddedHash(*blob, file); !s) return Fail(1, s.error().message());
  const std::string sum_file = file + ".sha256";
  if (auto sum = io::ReadFile(sum_file)) {
    if (sum->substr(0, 64) != Sha256Hex(*blob, blob->size())) {
      return Fail(1, file + " does not match its checksum in " + sum_file);
    }
  } else {
    return Fail(1, "no checksum file " + sum_file + " beside the snapshot");
  }
  dcm::EtcdLaunch launch = dcm::LaunchFor(*config);
  launch.binary = etcdctl;
  auto args = dcm::RestoreArguments(launch, file);
  if (!args) return Fail(2, config_path + ": " + args.error().message());
  std::error_code ec;
  if (fs::exists(launch.data_dir, ec) && !fs::is_empty(launch.data_dir, ec)) {
    return Fail(1, launch.data_dir +
                       " is not empty: stop this node's cohortd and move the old registry data "
                       "aside first");
  }
  fs::remove(launch.data_dir, ec);  // etcdctl makes it, and refuses an existing one
  if (auto s = io::MakeDirs(fs::path(launch.data_dir).parent_path().string()); !s) {
    return Fail(1, s.error().message());
  }
  if (::access(etcdctl.c_str(), X_OK) != 0) {
    return Fail(1, "cannot run " + etcdctl + " (Debian package etcd-client)");
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::vector<char*> argv;
    for (auto& a : *args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::setenv("ETCDCTL_API", "3", 1);
    if (g.json) ::dup2(2, 1);  // keep stdout for our one JSON document
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Fail(1, "etcdctl snapshot restore failed for " + launch.data_dir);
  }
  if (g.json) {
    std::printf("%s\n", nlohmann::json{{"file", file},
                                       {"data_dir", launch.data_dir},
                                       {"member", dcm::MemberName(launch.self)}}
                            .dump(2)
                            .c_str());
  } else {
    std::printf("restored %s into %s as member %s; start cohortd with %s\n", file.c_str(),
                launch.data_dir.c_str(), dcm::MemberName(launch.self).c_str(), config_path.c_str());
  }
  return 0;
}

}  // namespace

void AddSnapshotCommands(CLI::App& registry, const Globals& g, int& rc) {
  auto* snap = registry.add_subcommand("snapshot", "back up the registry, or restore a backup");
  snap->require_subcommand(1);
  static std::string file, config, etcdctl = "/usr/bin/etcdctl";
  auto* save = snap->add_subcommand("save", "write the whole registry to FILE and FILE.sha256");
  save->add_option("file", file, "snapshot file")->required();
  save->callback([&g, &rc] { rc = Save(g, file); });
  auto* restore = snap->add_subcommand(
      "restore", "make this node's registry data from FILE (cohortd stopped, data dir empty)");
  restore->add_option("file", file, "snapshot file (FILE.sha256 beside it)")->required();
  restore->add_option("--config", config, "the node's config file")->required();
  restore->add_option("--etcdctl", etcdctl, "etcdctl to run (Debian package etcd-client)");
  restore->callback([&g, &rc] { rc = Restore(g, file, config, etcdctl); });
}

}  // namespace cohort::cli
