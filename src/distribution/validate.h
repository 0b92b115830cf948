// Validate: the one place where everything a distribution job names is checked before it
// touches a disk: job ids, destination folders, command paths, sizes (D2, D3). The data
// plane checks every decoded message with CheckMessage(); the API, the job documents read
// back from disk and the CTP server use the same rules. Pure functions; no I/O.
//
// A path is relative to a content root (or to a job's destination folder): not absolute,
// no "..", "." or empty parts, no NUL byte, at most kMaxPathBytes bytes and kMaxNameBytes
// per part. The top-level folder ".cohort" of a content root is the daemon's own (job
// states, staging): nothing from outside may write there. Symlinks are the disk's business:
// io::ContentRoot::Resolve refuses those that lead out.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "distribution/core.h"
#include "distribution/messages.h"

namespace cohort::distribution {

inline constexpr size_t kMaxPathBytes = 4095;  // PATH_MAX less its NUL
// NAME_MAX less what a file's temporary name adds while it is received ("." and
// ".cohort-part"), so every name a job may hold can be made.
inline constexpr size_t kMaxNameBytes = 255 - 13;
// Commands one job may hold: what a receiver's saved manifest can be read back with.
inline constexpr size_t kMaxJobCommands = kMaxCommands;
inline constexpr size_t kMaxJobIdBytes = 32;
// The sum of a job's file sizes: far above any disk, far below what a u64 sum overflows at.
inline constexpr uint64_t kMaxStreamBytes = uint64_t{1} << 60;
inline constexpr std::string_view kReservedFolder = ".cohort";

// Temporary names the daemon gives files while it writes them: ".NAME.cohort-part" (jobs)
// and ".NAME.cohort-put" (CTP). No path may name one, or a job could overwrite another file
// through it.
bool IsTemporaryName(std::string_view name);
// A relative path by the rules above ("" is the root itself and allowed only if
// `allow_root`).
Status CheckPath(std::string_view path, bool allow_root = false);
// CheckPath, and not inside the reserved folder: for anything that writes.
Status CheckWritablePath(std::string_view path, bool allow_root = false);
// "<base node id>-<sequence>", both decimal, as JobTracker's base server makes them.
Status CheckJobId(std::string_view id);
// One command on its own: a known kind, a valid non-empty path (empty for kEnd).
Status CheckCommand(const Command& command);
// Commands that follow `before` (a job's commands so far, validated): ids continue the
// sequence, nothing after kEnd, paths valid and non-empty (empty for kEnd), and the
// stream's size stays within kMaxStreamBytes.
Status CheckCommands(const std::vector<Command>& before, const std::vector<Command>& more);
// A whole manifest: its job id, destination (writable, not the root) and commands.
Status CheckManifest(const Manifest& manifest);
// Everything a data-plane message names, as far as it can be checked without the job it is
// for (a CommandsMsg's sequence is checked against its job by CheckCommands).
Status CheckMessage(const Message& message);

}  // namespace cohort::distribution
