// C6 on the node whose role changes: whether it runs a registry server follows the
// registry's server list and offline marks, checked about once a second.
#include "dcm/dcm_impl.h"

namespace cohort::dcm {

void Dcm::Impl::ReconcileServer() {
  if (reconciling || cluster_id.empty()) return;
  reconciling = true;
  guard->Get(schema::ServersKey(cluster_id), true,
             OnLoop([this](Result<std::optional<registry::KeyValue>> kv) {
               if (!kv || !*kv) {
                 reconciling = false;
                 return;
               }
               auto list = schema::ParseServerList((**kv).value);
               if (!list || list->empty()) {
                 reconciling = false;
                 return;
               }
               guard->Get(schema::OfflineKey(cluster_id, config.node_id), true,
                          OnLoop([this, list = *list, revision = (**kv).mod_revision](
                                     Result<std::optional<registry::KeyValue>> mark) {
                            reconciling = false;
                            if (!mark) return;
                            FollowServerRole(list, revision, mark->has_value());
                          }));
             }));
}

void Dcm::Impl::FollowServerRole(const std::vector<RegistryServerConfig>& list, int64_t revision,
                                 bool offline) {
  FollowServerList(list);
  const bool listed = std::any_of(list.begin(), list.end(), [&](const RegistryServerConfig& s) {
    return s.id == config.node_id;
  });
  if (listed && offline && server) {
    server->Stop();
    server.reset();
    local.server_offline = true;
    SaveLocal();
    Audit("registry_server_offline", {});
    Log(LogLevel::kInfo, "dcm", "registry server taken offline; stopped (its data kept)");
    return;
  }
  if (listed && !offline && !server && local.server_offline) {
    local.server_offline = false;
    SaveLocal();
    Audit("registry_server_online", {});
    Log(LogLevel::kInfo, "dcm", "registry server back online; starting it");
    if (auto st = StartServer(list, /*join_existing=*/true); !st) {
      Log(LogLevel::kError, "dcm", "cannot start the registry server",
          {{"error", st.error().message()}});
    }
    return;
  }
  // Named again after an undefine: only by a newer list (a stale copy read just after the
  // removal still names this node).
  const bool relisted = local.server_removed && revision > local.server_removed_revision;
  if (listed && !offline && !local.server_offline && !server &&
      (!local.server_removed || relisted)) {
    local.server_removed = false;
    local.server_defined = true;
    SaveLocal();
    Audit("registry_server_defined", {});
    if (auto st = StartServer(list, /*join_existing=*/true); !st) {
      Log(LogLevel::kError, "dcm", "cannot start the registry server",
          {{"error", st.error().message()}});
    }
  } else if (!listed && server) {
    server->Stop();
    server.reset();
    const std::string aside =
        storage.registry_data_dir() + ".removed." + std::to_string(io::WallMillis());
    std::error_code ec;
    std::filesystem::rename(storage.registry_data_dir(), aside, ec);
    local.server_defined = false;
    local.server_removed = true;
    local.server_removed_revision = revision;
    SaveLocal();
    Audit("registry_server_undefined", {{"data_moved_to", aside}});
    Log(LogLevel::kInfo, "dcm", "registry server undefined; stopped", {{"data_moved_to", aside}});
  }
}

}  // namespace cohort::dcm
