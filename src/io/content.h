// ContentRoot: the node's content root (INTERFACE.md `[distribution] root`). Every path a
// distribution job or a CTP command names is resolved here and must stay inside: absolute
// paths, `..` and symlinks leading out are refused with an error naming the path (D3).
// Plain value; thread-compatible.
#pragma once

#include <string>

#include "base/result.h"

namespace cohort::io {

class ContentRoot {
 public:
  explicit ContentRoot(std::string root) : root_(std::move(root)) {}
  const std::string& path() const { return root_; }
  // Creates the root if missing and resolves it once: Resolve, called per file of a job
  // (there may be millions), then resolves only the part under it. Call before any other
  // thread uses this object.
  Status Prepare();
  // The absolute path of `relative` under the root. "" and "." name the root itself.
  // `relative` must pass distribution::CheckPath, and no symlink on the way may lead out.
  Result<std::string> Resolve(const std::string& relative) const;

 private:
  std::string root_;
  std::string canonical_;  // the root with its symlinks resolved (Prepare), else ""
};

}  // namespace cohort::io
