#include "dcm/stored_parent.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/log.h"
#include "io/files.h"

namespace cohort::dcm {
namespace {

using nlohmann::json;

std::string PathIn(const std::string& data_dir) { return data_dir + "/parent.json"; }

}  // namespace

Result<std::vector<ParentConfig>> StoreParent(const Config& running, const std::string& toml) {
  auto parents = ParseParents(toml, "the parent's definition", running);
  if (!parents) return parents.error();
  // A key the daemon cannot read would only fail later, at every start of the level.
  for (const ParentConfig& p : *parents) {
    if (!io::ReadFile(p.key_file)) {
      return Error(Errc::kInvalidArgument, "level " + p.name + ": cannot read its key file '" +
                                               p.key_file + "' on this node");
    }
  }
  const json doc{{"cluster", running.cluster_name}, {"toml", toml}};
  COHORT_TRY(io::WriteFileAtomic(PathIn(running.data_dir), doc.dump(2) + "\n", 0600));
  return parents;
}

Result<bool> ForgetParent(const std::string& data_dir) {
  std::error_code ec;
  const bool removed = std::filesystem::remove(PathIn(data_dir), ec);
  if (ec) return Error(Errc::kIo, "cannot remove " + PathIn(data_dir) + ": " + ec.message());
  return removed;
}

Status ApplyStoredParent(Config& c) {
  const std::string path = PathIn(c.data_dir);
  auto text = io::ReadFile(path);
  if (!text) return OkStatus();
  const json doc = json::parse(*text, nullptr, false);
  if (!doc.is_object() || !doc.contains("cluster") || !doc["cluster"].is_string() ||
      !doc.contains("toml") || !doc["toml"].is_string()) {
    return Error(Errc::kInvalidArgument, path + ": damaged (expected {\"cluster\", \"toml\"}); " +
                                             "remove it to run with the file's [cluster.parent]");
  }
  if (doc["cluster"].get<std::string>() != c.cluster_name) return OkStatus();
  auto parents = ParseParents(doc["toml"].get<std::string>(), path, c);
  if (!parents) {
    // Checked when kept, it may fail after the node's file changed: the node still starts,
    // with its file's levels, and says why.
    Log(LogLevel::kError, "hierarchy",
        "the parent defined at run time no longer fits the node's file: running with the "
        "file's ([cluster.parent]); fix it with `cohort cluster parent set` or `clear`",
        {{"file", path}, {"error", parents.error().message()}});
    return OkStatus();
  }
  c.parents = std::move(*parents);
  c.parents_at_run_time = true;
  return OkStatus();
}

}  // namespace cohort::dcm
