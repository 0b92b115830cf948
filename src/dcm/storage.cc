#include "dcm/storage.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
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
Status LocalStorage::UseClusterRegistry(const std::string& id) {
  registry_ = root_ + "/clusters/" + id + "/registry";
  return io::MakeDirs(registry_);
}
std::string LocalStorage::registry_data_dir() const { return registry_ + "/etcd"; }
std::string LocalStorage::registry_tls_dir() const { return registry_ + "/tls"; }
std::string LocalStorage::registry_log_file() const { return registry_ + "/etcd.log"; }

Result<LocalConfiguration> LocalStorage::Load() const {
  auto file = io::ReadFile(configuration_file());
  if (!file) {
    if (file.error().code() == Errc::kNotFound) return LocalConfiguration{};
    return file.error();
  }
  const json doc = json::parse(*file, nullptr, /*allow_exceptions=*/false);
  auto bad = [&](const std::string& what) {
    return Error(Errc::kInvalidArgument, configuration_file() + ": " + what);
  };
  // Every field is checked for its type: a damaged file is an error, never a crash.
  auto text = [](const json& o, const char* k) {
    return o.contains(k) && o[k].is_string() ? o[k].get<std::string>() : std::string();
  };
  auto flag = [](const json& o, const char* k) {
    return o.contains(k) && o[k].is_boolean() && o[k].get<bool>();
  };
  auto number = [](const json& o, const char* k) -> int64_t {
    return o.contains(k) && o[k].is_number_integer() ? o[k].get<int64_t>() : 0;
  };
  if (!doc.is_object() || number(doc, "schema") != 1) return bad("not a version 1 document");
  LocalConfiguration c;
  if (doc.contains("clusters") && doc["clusters"].is_array()) {
    for (const json& cl : doc["clusters"]) {
      if (!cl.is_object() || text(cl, "name").empty() || text(cl, "id").empty()) {
        return bad("bad cluster entry " + cl.dump());
      }
      const int64_t node = number(cl, "node");
      if (node < 0 || node > 65535) return bad("bad node number in " + cl.dump());
      c.clusters.push_back({text(cl, "name"), text(cl, "id"), static_cast<NodeId>(node),
                            text(cl, "uid"), flag(cl, "founder")});
    }
  }
  c.current = text(doc, "current");
  c.target = text(doc, "target");
  if (doc.contains("registry_servers") && doc["registry_servers"].is_array()) {
    for (const json& s : doc["registry_servers"]) {
      auto client = Endpoint::Parse(s.is_object() ? text(s, "client") : "");
      auto peer = Endpoint::Parse(s.is_object() ? text(s, "peer") : "");
      const int64_t id = s.is_object() ? number(s, "id") : 0;
      if (!client || !peer || id < 1 || id > 65535) {
        return bad("bad registry server " + s.dump());
      }
      c.registry_servers.push_back({static_cast<NodeId>(id), *client, *peer});
    }
  }
  const int64_t primary = number(doc, "primary");
  c.primary = primary >= 0 && primary <= 65535 ? static_cast<NodeId>(primary) : kNoNode;
  c.server_defined = flag(doc, "server_defined");
  c.server_removed = flag(doc, "server_removed");
  c.server_removed_revision = number(doc, "server_removed_revision");
  c.server_offline = flag(doc, "server_offline");
  c.registry_cluster = text(doc, "registry_cluster");
  c.offline = flag(doc, "offline");
  c.move_deadline_ms = std::clamp<int64_t>(number(doc, "move_deadline_ms"), 0, 600'000);
  c.control_ms = number(doc, "control_ms");
  return c;
}

Status LocalStorage::Save(const LocalConfiguration& c) const {
  json clusters = json::array();
  for (const auto& cl : c.clusters) {
    clusters.push_back({{"name", cl.name},
                        {"id", cl.id},
                        {"node", cl.node},
                        {"uid", cl.uid},
                        {"founder", cl.founder}});
  }
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
                 {"server_removed_revision", c.server_removed_revision},
                 {"server_offline", c.server_offline},
                 {"registry_cluster", c.registry_cluster},
                 {"offline", c.offline},
                 {"move_deadline_ms", c.move_deadline_ms},
                 {"control_ms", c.control_ms}};
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
