#include "io/content.h"

#include <filesystem>
#include <system_error>

#include "distribution/validate.h"
#include "io/files.h"

namespace cohort::io {

namespace fs = std::filesystem;

Status ContentRoot::Prepare() {
  COHORT_TRY(MakeDirs(root_));
  std::error_code ec;
  const fs::path canonical = fs::weakly_canonical(root_, ec);
  if (ec) return Error(Errc::kIo, root_ + ": " + ec.message());
  canonical_ = canonical.string();
  return OkStatus();
}

Result<std::string> ContentRoot::Resolve(const std::string& relative) const {
  if (auto s = distribution::CheckPath(relative, /*allow_root=*/true); !s) return s.error();
  std::error_code ec;
  fs::path root = canonical_.empty() ? fs::weakly_canonical(root_, ec) : fs::path(canonical_);
  if (ec) return Error(Errc::kIo, root_ + ": " + ec.message());
  if (relative.empty() || relative == ".") return root.string();
  // weakly_canonical follows every symlink that exists, so a link pointing outside shows.
  fs::path full = fs::weakly_canonical(root / relative, ec);
  if (ec) return Error(Errc::kIo, relative + ": " + ec.message());
  const std::string r = root.string() + "/";
  const std::string f = full.string();
  if (f.compare(0, r.size(), r) != 0 && f != root.string()) {
    return Error(Errc::kPermission,
                 "'" + relative + "' leads out of the content root (through a symlink)");
  }
  return f;
}

}  // namespace cohort::io
