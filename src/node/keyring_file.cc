#include "node/keyring_file.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "io/files.h"

namespace cohort::node {
namespace {

using nlohmann::json;

bool WholeKeyring(const json& doc) {
  return doc.is_object() && doc.contains("keys") && doc["keys"].is_array() &&
         doc.contains("in_use") && doc["in_use"].is_string() &&
         std::all_of(doc["keys"].begin(), doc["keys"].end(),
                     [](const json& k) { return k.is_string(); });
}

Result<wire::Keyring> FromKeyFile(const Config& config) {
  auto text = io::ReadFile(config.key_file);
  if (!text) {
    return Error(Errc::kInvalidArgument,
                 config.source + ": key 'cluster.key_file': cannot read '" + config.key_file +
                     "' (make one with `cohort keygen > " + config.key_file + "`)");
  }
  auto key = wire::KeyFromText(*text);
  if (!key) {
    return Error(Errc::kInvalidArgument, config.source + ": key 'cluster.key_file': '" +
                                             config.key_file + "': " + key.error().message());
  }
  wire::Keyring ring;
  ring.Install(*key);
  return ring;
}

}  // namespace

std::string KeyringPath(const Config& config) {
  // A node may be defined to several clusters (C10): each one defined at run time keeps
  // its own keys; the file's [cluster] keeps the data folder's.
  if (config.defined_at_run_time && !config.cluster_id.empty()) {
    return config.data_dir + "/clusters/" + config.cluster_id + "/keyring.json";
  }
  return config.data_dir + "/keyring.json";
}

Result<wire::Keyring> LoadKeyring(const Config& config) {
  const std::string path = KeyringPath(config);
  auto saved = io::ReadFile(path);
  if (!saved) return FromKeyFile(config);
  const json doc = json::parse(*saved, nullptr, false);
  if (!WholeKeyring(doc)) {
    return Error(Errc::kInvalidArgument,
                 path + " is damaged: remove it to start again from cluster.key_file");
  }
  wire::Keyring ring;
  for (const auto& text : doc["keys"]) {
    auto key = wire::KeyFromText(text.get<std::string>());
    if (!key) return Error(Errc::kInvalidArgument, path + ": " + key.error().message());
    ring.Install(*key);
  }
  for (wire::KeyId id : ring.Ids()) {
    if (wire::KeyIdToText(id) == doc["in_use"].get<std::string>()) (void)ring.Use(id);
  }
  if (ring.empty()) return FromKeyFile(config);
  return ring;
}

Status SaveKeyring(const Config& config, const wire::Keyring& ring) {
  json doc{{"in_use", wire::KeyIdToText(ring.in_use())}, {"keys", json::array()}};
  for (wire::KeyId id : ring.Ids()) doc["keys"].push_back(wire::KeyToText(*ring.Find(id)));
  return io::WriteFileAtomic(KeyringPath(config), doc.dump(2) + "\n", 0600);
}

Result<std::string> LoadApiToken(const std::string& data_dir) {
  const std::string path = data_dir + "/api.token";
  if (auto t = io::ReadFile(path); t && !t->empty()) {
    std::string token = *t;
    while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) {
      token.pop_back();
    }
    return token;
  }
  const std::string token = wire::RandomHex(24);
  COHORT_TRY(io::WriteFileAtomic(path, token + "\n", 0600));
  return token;
}

}  // namespace cohort::node
