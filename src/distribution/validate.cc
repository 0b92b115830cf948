#include "distribution/validate.h"

#include <algorithm>

namespace cohort::distribution {
namespace {

Status Refuse(std::string_view path, const std::string& why) {
  // The path is quoted only as far as it is short: it may be 4 KiB of hostile bytes.
  std::string shown(path.substr(0, 120));
  if (path.size() > shown.size()) shown += "...";
  return Error(Errc::kPermission, "'" + shown + "': " + why);
}

bool IsDecimal(std::string_view s) {
  return !s.empty() && s.size() <= 19 && s.find_first_not_of("0123456789") == std::string::npos;
}

}  // namespace

bool IsTemporaryName(std::string_view name) {
  auto ends = [&](std::string_view suffix) {
    return name.size() > suffix.size() + 1 && name.substr(name.size() - suffix.size()) == suffix;
  };
  return !name.empty() && name.front() == '.' && (ends(".cohort-part") || ends(".cohort-put"));
}

Status CheckPath(std::string_view path, bool allow_root) {
  if (path.empty()) {
    return allow_root ? OkStatus() : Error(Errc::kInvalidArgument, "the path is empty");
  }
  if (path.size() > kMaxPathBytes) {
    return Refuse(path, "longer than " + std::to_string(kMaxPathBytes) + " bytes");
  }
  if (path.find('\0') != std::string_view::npos) return Refuse(path, "contains a NUL byte");
  if (path.front() == '/') return Refuse(path, "absolute paths are not allowed");
  if (allow_root && path == ".") return OkStatus();
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view part = path.substr(start, end - start);
    if (part == "..") return Refuse(path, "'..' leads out of the content root");
    if (part.empty() || part == ".") return Refuse(path, "empty or '.' parts are not allowed");
    if (IsTemporaryName(part)) return Refuse(path, "names a temporary file of the daemon");
    if (part.size() > kMaxNameBytes) {
      return Refuse(path, "a part is longer than " + std::to_string(kMaxNameBytes) + " bytes");
    }
    start = end + 1;
  }
  return OkStatus();
}

Status CheckWritablePath(std::string_view path, bool allow_root) {
  if (auto s = CheckPath(path, allow_root); !s) return s;
  const std::string_view first = path.substr(0, path.find('/'));
  if (first == kReservedFolder) {
    return Refuse(path, "the content root's '" + std::string(kReservedFolder) +
                            "' folder is the daemon's own");
  }
  return OkStatus();
}

Status CheckJobId(std::string_view id) {
  const size_t dash = id.find('-');
  if (id.size() > kMaxJobIdBytes || dash == std::string_view::npos ||
      !IsDecimal(id.substr(0, dash)) || !IsDecimal(id.substr(dash + 1))) {
    std::string shown(id.substr(0, 40));
    return Error(Errc::kInvalidArgument,
                 "'" + shown + "' is not a job id (NODE-SEQUENCE, both decimal)");
  }
  return OkStatus();
}

Status CheckCommand(const Command& c) {
  const std::string which = "command " + std::to_string(c.id);
  if (c.kind == CommandKind::kEnd) {
    if (!c.path.empty()) return Error(Errc::kInvalidArgument, which + ": the end names a path");
    return OkStatus();
  }
  if (c.kind != CommandKind::kFile && c.kind != CommandKind::kMkdir) {
    return Error(Errc::kInvalidArgument, which + " is of no known kind");
  }
  if (c.kind == CommandKind::kMkdir && c.size != 0) {
    return Error(Errc::kInvalidArgument, which + ": a folder has no size");
  }
  if (auto s = CheckPath(c.path); !s) {
    return Error(s.error().code(), which + ": " + s.error().message());
  }
  return OkStatus();
}

Status CheckCommands(const std::vector<Command>& before, const std::vector<Command>& more) {
  if (!before.empty() && before.back().kind == CommandKind::kEnd && !more.empty()) {
    return Error(Errc::kInvalidArgument, "commands after the job's end");
  }
  if (more.size() > kMaxJobCommands - std::min(before.size(), kMaxJobCommands)) {
    return Error(Errc::kInvalidArgument,
                 "a job holds at most " + std::to_string(kMaxJobCommands) + " commands");
  }
  uint64_t stream = 0;
  for (const Command& c : before) {
    if (c.kind == CommandKind::kFile) stream += c.size;  // validated: cannot overflow
  }
  uint32_t next = before.empty() ? 1 : before.back().id + 1;
  for (size_t i = 0; i < more.size(); ++i) {
    const Command& c = more[i];
    if (c.id != next + i) {
      return Error(Errc::kInvalidArgument, "command " + std::to_string(c.id) +
                                               " out of sequence (expected " +
                                               std::to_string(next + i) + ")");
    }
    if (auto s = CheckCommand(c); !s) return s;
    if (c.kind == CommandKind::kEnd && i + 1 != more.size()) {
      return Error(Errc::kInvalidArgument, "commands after the end");
    }
    if (c.kind == CommandKind::kFile) {
      if (c.size > kMaxStreamBytes - stream) {
        return Error(Errc::kInvalidArgument, "command " + std::to_string(c.id) +
                                                 ": the job's files would exceed 2^60 bytes");
      }
      stream += c.size;
    }
  }
  return OkStatus();
}

Status CheckManifest(const Manifest& manifest) {
  if (auto s = CheckJobId(manifest.job); !s) return s;
  if (auto s = CheckWritablePath(manifest.dest); !s) {
    return Error(s.error().code(), "destination " + s.error().message());
  }
  return CheckCommands({}, manifest.commands);
}

Status CheckMessage(const Message& message) {
  if (const auto* offer = std::get_if<OfferMsg>(&message)) return CheckManifest(offer->manifest);
  if (const auto* more = std::get_if<CommandsMsg>(&message)) {
    for (const Command& c : more->commands) {
      if (auto s = CheckCommand(c); !s) return s;
    }
    return OkStatus();
  }
  if (const auto* data = std::get_if<DataMsg>(&message)) {
    if (data->offset > kMaxStreamBytes - data->bytes.size()) {
      return Error(Errc::kInvalidArgument, "data beyond any job's end");
    }
    return OkStatus();
  }
  if (const auto* ctp = std::get_if<CtpMsg>(&message)) {
    const bool reads = ctp->op == "ls" || ctp->op == "stat" || ctp->op == "get";
    return reads ? CheckPath(ctp->path, true) : CheckWritablePath(ctp->path, ctp->op == "chmod");
  }
  const std::string* job = nullptr;
  if (const auto* m = std::get_if<ReportMsg>(&message)) job = &m->job;
  if (const auto* m = std::get_if<QueryMsg>(&message)) job = &m->job;
  if (const auto* m = std::get_if<FeedMsg>(&message)) job = &m->job;
  if (const auto* m = std::get_if<CancelMsg>(&message)) job = &m->job;
  return job ? CheckJobId(*job) : OkStatus();
}

}  // namespace cohort::distribution
