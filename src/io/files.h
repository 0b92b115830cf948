// Local files: atomic replace and whole-file read (ARCHITECTURE.md §5).
// WriteFileAtomic writes a temporary file beside `path`, fsyncs it, renames it over `path`
// and fsyncs the folder, so a crash leaves either the old or the new content. Thread-safe
// for distinct paths.
#pragma once

#include <string>

#include "base/result.h"

namespace cohort::io {

Status WriteFileAtomic(const std::string& path, const std::string& content, int mode = 0644);
Result<std::string> ReadFile(const std::string& path);
// Creates `path` and its parents (mode 0755) if missing.
Status MakeDirs(const std::string& path);

}  // namespace cohort::io
