#include "dcm/storage.h"

#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "io/clock.h"
#include "io/files.h"

namespace cohort::dcm {

using nlohmann::json;

Result<LocalStorage> LocalStorage::Open(const std::string& data_dir) {
  for (const char* dir : {"/dcm/configuration", "/dcm/logs", "/clusters", "/registry"}) {
    COHORT_TRY(io::MakeDirs(data_dir + dir));
  }
  return LocalStorage(data_dir);
}

std::string LocalStorage::configuration_file() const {
  return root_ + "/dcm/configuration/local.json";
}
std::string LocalStorage::audit_file() const { return root_ + "/dcm/logs/audit.log"; }
std::string LocalStorage::registry_data_dir() const { return root_ + "/registry/etcd"; }
std::string LocalStorage::registry_log_file() const { return root_ + "/registry/etcd.log"; }

Result<LocalConfiguration> LocalStorage::Load() const {
  auto text = io::ReadFile(configuration_file());
  if (!text) {
    if (text.error().code() == Errc::kNotFound) return LocalConfiguration{};
    return text.error();
  }
  const json doc = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  auto bad = [&](const std::string& what) {
    return Error(Errc::kInvalidArgument, configuration_file() + ": " + what);
  };
  if (!doc.is_object() || doc.value("schema", 0) != 1) return bad("not a version 1 document");
  LocalConfiguration c;
  for (const json& cl : doc.value("clusters", json::array())) {
    if (!cl.is_object() || !cl.contains("name") || !cl.contains("id")) return bad("bad cluster");
    c.clusters.push_back({cl["name"].get<std::string>(), cl["id"].get<std::string>()});
  }
  c.current = doc.value("current", "");
  c.target = doc.value("target", "");
  for (const json& s : doc.value("registry_servers", json::array())) {
    auto client = Endpoint::Parse(s.value("client", ""));
    auto peer = Endpoint::Parse(s.value("peer", ""));
    if (!client || !peer || !s.contains("id")) return bad("bad registry server");
    c.registry_servers.push_back({s["id"].get<NodeId>(), *client, *peer});
  }
  c.primary = doc.value("primary", NodeId{kNoNode});
  c.server_defined = doc.value("server_defined", false);
  c.server_removed = doc.value("server_removed", false);
  c.server_removed_revision = doc.value("server_removed_revision", int64_t{0});
  return c;
}

Status LocalStorage::Save(const LocalConfiguration& c) const {
  json clusters = json::array();
  for (const auto& cl : c.clusters) clusters.push_back({{"name", cl.name}, {"id", cl.id}});
  json servers = json::array();
  for (const auto& s : c.registry_servers) {
    servers.push_back({{"id", s.id}, {"client", s.client.ToString()}, {"peer", s.peer.ToString()}});
  }
  const json doc{{"schema", 1},
                 {"clusters", clusters},
                 {"current", c.current},
                 {"target", c.target},
                 {"registry_servers", servers},
                 {"primary", c.primary},
                 {"server_defined", c.server_defined},
                 {"server_removed", c.server_removed},
                 {"server_removed_revision", c.server_removed_revision}};
  return io::WriteFileAtomic(configuration_file(), doc.dump(2) + "\n");
}

Status LocalStorage::Audit(const std::string& event,
                           const std::map<std::string, std::string>& fields) const {
  json line{{"time_ms", io::WallMillis()}, {"event", event}};
  for (const auto& [k, v] : fields) line[k] = v;
  const std::string text = line.dump() + "\n";
  const int fd = ::open(audit_file().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Error(Errc::kUnavailable, "cannot open " + audit_file() + ": " + std::strerror(errno));
  }
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (!ok) return Error(Errc::kUnavailable, "cannot append to " + audit_file());
  return OkStatus();
}

Result<std::string> LocalStorage::ClusterDir(const std::string& cluster_id) const {
  const std::string dir = root_ + "/clusters/" + cluster_id;
  for (const char* sub : {"/locks", "/logs", "/core", "/config"}) {
    COHORT_TRY(io::MakeDirs(dir + sub));
  }
  return dir;
}

}  // namespace cohort::dcm
