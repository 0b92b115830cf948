#include "node/content_ops.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

#include "distribution/validate.h"
#include "io/files.h"
#include "io/job_content.h"

namespace cohort::node {

namespace fs = std::filesystem;
using distribution::Command;
using distribution::CommandKind;
using json = nlohmann::json;

std::array<struct timespec, 2> TimesOf(int64_t ns) {
  struct timespec t {};
  t.tv_sec = ns / 1000000000;
  t.tv_nsec = ns % 1000000000;
  return {t, t};
}

bool SetAttributes(int fd, const Command& c) {
  // Owner first: chown clears set-id bits that fchmod then restores.
  if (::geteuid() == 0 && ::fchown(fd, c.uid, c.gid) != 0) return false;
  const auto times = TimesOf(c.mtime_ns);
  return ::fchmod(fd, c.mode & 07777) == 0 && ::futimens(fd, times.data()) == 0;
}

bool SetFolderAttributes(const std::string& path, const Command& c) {
  if (::geteuid() == 0 && ::lchown(path.c_str(), c.uid, c.gid) != 0) return false;
  const auto times = TimesOf(c.mtime_ns);
  return ::chmod(path.c_str(), c.mode & 07777) == 0 &&
         ::utimensat(AT_FDCWD, path.c_str(), times.data(), AT_SYMLINK_NOFOLLOW) == 0;
}

namespace {

// The entries of `list` from `from` that fit in one answer (at least one), and where the
// next page starts.
json ListingPage(const json& list, uint64_t from) {
  json entries = json::array();
  size_t bytes = 0, i = from;
  for (; i < list.size(); ++i) {
    const size_t size = list[i].dump().size() + 1;
    if (bytes + size > distribution::kCtpPageBytes && i > from) break;
    bytes += size;
    entries.push_back(list[i]);
  }
  return json{{"entries", std::move(entries)}, {"next", i < list.size() ? json(i) : json(nullptr)}};
}

using distribution::CtpMsg;
using distribution::ResultMsg;

// An entry of a listing or stat answer, named `name`; nullopt if it cannot be read.
std::optional<json> StatJson(const std::string& p, const std::string& name) {
  struct stat st {};
  if (::lstat(p.c_str(), &st) != 0) return std::nullopt;
  const char* type = S_ISDIR(st.st_mode)   ? "dir"
                     : S_ISREG(st.st_mode) ? "file"
                     : S_ISLNK(st.st_mode) ? "symlink"
                                           : "other";
  json j{{"type", type},
         {"size", st.st_size},
         {"mode", st.st_mode & 07777},
         {"mtime_ns", int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec},
         {"uid", st.st_uid},
         {"gid", st.st_gid}};
  io::SetPath(j, name, "name");  // a name that is not UTF-8 is shown escaped
  return j;
}

void Failed(const CtpMsg& m, ResultMsg& out) { out.error = m.path + ": " + std::strerror(errno); }

void Stat(const std::string& p, const CtpMsg& m, ResultMsg& out) {
  auto s = StatJson(p, m.path);
  if (!s) return Failed(m, out);
  out.body = s->dump();
}

// The entries under `p` (the whole tree if `recursive`), sorted by their exact names.
Result<json> Walk(const std::string& p, bool recursive, const std::string& shown) {
  std::vector<std::pair<std::string, json>> named;
  std::error_code ec;
  auto add = [&](const fs::path& full) {
    std::string rel = full.string().substr(std::min(full.string().size(), p.size() + 1));
    if (auto s = StatJson(full.string(), rel)) named.emplace_back(std::move(rel), *s);
  };
  // Non-throwing steps: a folder it may not read, or one removed meanwhile, is skipped.
  if (recursive) {
    fs::recursive_directory_iterator it(p, fs::directory_options::skip_permission_denied, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) add(it->path());
  } else {
    fs::directory_iterator it(p, fs::directory_options::skip_permission_denied, ec);
    for (; !ec && it != fs::directory_iterator(); it.increment(ec)) add(it->path());
  }
  if (ec) return Error(Errc::kIo, shown + ": " + ec.message());
  std::sort(named.begin(), named.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  json list = json::array();
  for (auto& [name, entry] : named) list.push_back(std::move(entry));
  return list;
}

void List(const std::string& p, const CtpMsg& m, ListingCache* listings, ResultMsg& out) {
  const auto now = std::chrono::steady_clock::now();
  const bool cached = listings && m.offset > 0 && listings->path == p &&
                      listings->recursive == m.recursive &&
                      now - listings->made < ListingCache::kListingKept;
  if (cached) {
    out.body = ListingPage(listings->list, m.offset).dump();
    return;
  }
  auto list = Walk(p, m.recursive, m.path);
  if (!list) {
    out.error = list.error().message();
    return;
  }
  out.body = ListingPage(*list, m.offset).dump();
  if (listings) *listings = ListingCache{p, m.recursive, now, std::move(*list)};
}

void MakeFolder(const std::string& p, const CtpMsg& m, ResultMsg& out) {
  if (auto s = io::MakeDirs(p); !s) {
    out.error = s.error().message();
  } else if (m.mode && ::chmod(p.c_str(), m.mode & 07777) != 0) {
    Failed(m, out);
  }
}

void Remove(const io::ContentRoot& root, const std::string& p, const CtpMsg& m, ResultMsg& out) {
  std::error_code ec;
  if (p == fs::weakly_canonical(root.path()).string()) {
    out.error = "refusing to remove the content root";
  } else if (m.recursive ? fs::remove_all(p, ec) == 0 : !fs::remove(p, ec)) {
    out.error = m.path + ": " + (ec ? ec.message() : "no such file or directory");
  }
}

void SetModeTime(const std::string& p, const CtpMsg& m, ResultMsg& out) {
  if (m.mode && ::chmod(p.c_str(), m.mode & 07777) != 0) Failed(m, out);
  if (m.mtime_ns) {
    const auto times = TimesOf(m.mtime_ns);
    if (::utimensat(AT_FDCWD, p.c_str(), times.data(), AT_SYMLINK_NOFOLLOW) != 0) Failed(m, out);
  }
}

void Get(const std::string& p, const CtpMsg& m, ResultMsg& out) {
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return Failed(m, out);
  out.data.resize(distribution::kMaxChunk);
  ssize_t n = ::pread(fd, out.data.data(), out.data.size(), static_cast<off_t>(m.offset));
  if (n < 0) Failed(m, out);
  ::close(fd);
  out.data.resize(n < 0 ? 0 : static_cast<size_t>(n));
  if (auto s = StatJson(p, m.path)) out.body = s->dump();
}

// Chunks land in a temporary file; the last one installs it (atomic, with attributes).
void Put(const std::string& p, const CtpMsg& m, ResultMsg& out) {
  fs::path fp(p);
  std::string temp = (fp.parent_path() / ("." + fp.filename().string() + ".cohort-put")).string();
  const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (m.offset == 0 ? O_TRUNC : 0);
  const Status made = io::MakeDirs(fp.parent_path().string());
  const int fd = made ? ::open(temp.c_str(), flags, 0600) : -1;
  if (!made) {
    out.error = made.error().message();
  } else if (fd < 0) {
    Failed(m, out);
  } else if (auto w = io::PwriteAll(fd, m.data.data(), m.data.size(), m.offset, m.path); !w) {
    out.error = w.error().message();
  } else if (m.last) {
    const auto times = TimesOf(m.mtime_ns);
    if (::fchmod(fd, (m.mode ? m.mode : 0644) & 07777) != 0 ||
        (m.mtime_ns && ::futimens(fd, times.data()) != 0) || ::fdatasync(fd) != 0 ||
        ::rename(temp.c_str(), p.c_str()) != 0) {
      Failed(m, out);
    }
  }
  if (fd >= 0) ::close(fd);
}

}  // namespace

distribution::ResultMsg ServeCtp(const io::ContentRoot& root, const distribution::CtpMsg& m,
                                 ListingCache* listings) {
  ResultMsg out;
  if (auto s = distribution::CheckMessage(m); !s) {
    out.error = s.error().message();
    return out;
  }
  auto path = root.Resolve(m.path);
  if (!path) {
    out.error = path.error().message();
    return out;
  }
  const std::string& p = *path;
  if (m.op == "stat") {
    Stat(p, m, out);
  } else if (m.op == "ls") {
    List(p, m, listings, out);
  } else if (m.op == "mkdir") {
    MakeFolder(p, m, out);
  } else if (m.op == "rm") {
    Remove(root, p, m, out);
  } else if (m.op == "chmod") {
    SetModeTime(p, m, out);
  } else if (m.op == "get") {
    Get(p, m, out);
  } else if (m.op == "put") {
    Put(p, m, out);
  } else {
    out.error = "unknown CTP operation '" + m.op + "'";
  }
  return out;
}

}  // namespace cohort::node
