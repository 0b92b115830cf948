// A distribution job's content as the client sees it: the files and folders it names,
// collected into job commands (with each one's source path), and the JSON form of a
// command shared by the API (a client's upload entries), the job documents and the CLI.
// Plain functions; CollectPath makes blocking file system calls.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/result.h"
#include "distribution/core.h"

namespace cohort::io {

// Appends commands for the file or folder at `path` (a folder recursively, names in byte
// order), named `rel` under the job's destination, with each one's source path in
// `sources`. Fails on anything but regular files and folders, or unreadable files.
Status CollectPath(const std::string& path, const std::string& rel,
                   std::vector<distribution::Command>* out, std::vector<std::string>* sources);

// A file name under `key`: as it is if it is valid UTF-8; otherwise shown escaped
// (base/text.h) with its exact bytes in hex under `key` + "_hex".
void SetPath(nlohmann::json& j, const std::string& path, const char* key = "path");
// The exact bytes SetPath stored (`key`_hex if there, else `key`); fails for a field of the
// wrong type or bad hex.
Result<std::string> PathOf(const nlohmann::json& j, const char* key = "path");

// {"id", "kind", "path" (and "path_hex", see SetPath), "mode", "mtime_ns", "uid", "gid", "size"};
// an end command has only the id and kind, a folder no size.
nlohmann::json CommandJson(const distribution::Command& c);
// The inverse; refuses an unknown kind, a path distribution::CheckCommand refuses, or missing
// or mistyped fields. The id is optional (0 when absent).
Result<distribution::Command> CommandFromJson(const nlohmann::json& j);

}  // namespace cohort::io
