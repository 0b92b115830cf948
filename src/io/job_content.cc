#include "io/job_content.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "base/text.h"
#include "distribution/validate.h"
#include "io/content.h"

namespace cohort::io {

namespace fs = std::filesystem;
using distribution::Command;
using distribution::CommandKind;
using json = nlohmann::json;

Status CollectPath(const std::string& path, const std::string& rel, std::vector<Command>* out,
                   std::vector<std::string>* sources) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    return Error(Errc::kNotFound, path + ": " + std::strerror(errno));
  }
  Command c;
  c.path = rel;
  c.mode = st.st_mode & 07777;
  c.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
  c.uid = st.st_uid;
  c.gid = st.st_gid;
  if (S_ISDIR(st.st_mode)) {
    c.kind = CommandKind::kMkdir;
    out->push_back(c);
    sources->push_back(path);
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(path, ec)) names.push_back(e.path().filename());
    if (ec) return Error(Errc::kPermission, path + ": " + ec.message());
    std::sort(names.begin(), names.end());
    for (const auto& n : names) {
      if (auto s = CollectPath(path + "/" + n, rel + "/" + n, out, sources); !s) return s;
    }
    return OkStatus();
  }
  if (!S_ISREG(st.st_mode)) {
    return Error(Errc::kInvalidArgument, path + ": only regular files and folders are sent");
  }
  if (::access(path.c_str(), R_OK) != 0) {
    return Error(Errc::kPermission, path + ": " + std::strerror(errno));
  }
  c.kind = CommandKind::kFile;
  c.size = static_cast<uint64_t>(st.st_size);
  out->push_back(c);
  sources->push_back(path);
  return OkStatus();
}

json CommandJson(const Command& c) {
  json j{{"id", c.id}, {"kind", distribution::CommandKindName(c.kind)}};
  if (c.kind == CommandKind::kEnd) return j;
  SetPath(j, c.path);
  j["mode"] = c.mode;
  j["mtime_ns"] = c.mtime_ns;
  j["uid"] = c.uid;
  j["gid"] = c.gid;
  if (c.kind == CommandKind::kFile) j["size"] = c.size;
  return j;
}

void SetPath(json& j, const std::string& path, const char* key) {
  if (IsValidUtf8(path)) {
    j[key] = path;
    return;
  }
  j[key] = EscapeInvalidUtf8(path);
  j[std::string(key) + "_hex"] = ToHex(path);
}

Result<std::string> PathOf(const json& j, const char* key) {
  const std::string hex_key = std::string(key) + "_hex";
  if (j.contains(hex_key)) {
    const json& hex = j.at(hex_key);
    auto bytes = hex.is_string() ? FromHex(hex.get<std::string>()) : std::nullopt;
    if (!bytes) return Error(Errc::kInvalidArgument, "'" + hex_key + "' must be hex digits");
    return *bytes;
  }
  const json& text = j.at(key);
  if (!text.is_string())
    return Error(Errc::kInvalidArgument, std::string("'") + key + "' must be text");
  return text.get<std::string>();
}

Result<Command> CommandFromJson(const json& j) {
  if (!j.is_object()) return Error(Errc::kInvalidArgument, "a command must be a JSON object");
  Command c;
  try {
    c.id = j.value("id", uint32_t{0});
    auto kind = distribution::CommandKindFromName(j.at("kind").get<std::string>());
    if (!kind) {
      return Error(Errc::kInvalidArgument, "unknown command kind " + j.at("kind").dump());
    }
    c.kind = *kind;
    if (c.kind != CommandKind::kEnd) {
      auto path = PathOf(j);
      if (!path) return path.error();
      c.path = std::move(*path);
      c.mode = j.at("mode").get<uint32_t>() & 07777;
      c.mtime_ns = j.at("mtime_ns").get<int64_t>();
      c.uid = j.value("uid", uint32_t{0});
      c.gid = j.value("gid", uint32_t{0});
    }
    if (c.kind == CommandKind::kFile) c.size = j.at("size").get<uint64_t>();
    // A client's entry: bad input (400), named by its path as ids come later.
    if (auto s = distribution::CheckCommand(c); !s) {
      const std::string& why = s.error().message();
      return Error(Errc::kInvalidArgument,
                   c.id == 0 && why.rfind("command 0: ", 0) == 0 ? why.substr(11) : why);
    }
  } catch (const json::exception& e) {
    return Error(Errc::kInvalidArgument, std::string("a command is incomplete: ") + e.what());
  }
  return c;
}

}  // namespace cohort::io
