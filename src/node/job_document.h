// A distribution job's document at its base server: the JSON of `cohort job show` and
// `GET /v1/jobs/<id>` (INTERFACE.md), which is also what the base saves in
// `<data_dir>/jobs/<id>.json`, and what a restarted base reads back from the saved one to
// track the job again.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/time.h"
#include "distribution/core.h"
#include "wire/sha256.h"

namespace cohort::node {

using FileDigests = std::vector<std::optional<wire::Sha256Digest>>;  // per command

// The document of the job `tracker` follows. `digests` are the origin's, announced so far;
// `upload_bytes` the client's progress for an upload job (nullopt for any other). Without
// `with_commands`, the summary: the same but for the "commands" array ("command_count"
// is in both), for a progress display that polls a job of many files.
nlohmann::json JobDocument(const distribution::JobTracker& tracker, const FileDigests& digests,
                           Instant started, Instant now, std::optional<uint64_t> upload_bytes,
                           bool with_commands = true);

// What a saved document of a running job says, for the base that saved it (`self`).
struct SavedJob {
  distribution::Manifest manifest;
  std::vector<NodeId> servers;
  std::vector<std::string> sources;  // the client's paths on the base (not an upload)
  bool upload = false;
  double elapsed_s = 0;
  FileDigests digests;
};
// A job document as text. Names and errors are escaped where they enter it (base/text.h);
// anything that is still not UTF-8 is replaced rather than throwing.
std::string DocumentText(const nlohmann::json& doc, int indent = -1);
// The base saves a job as two files in `<data_dir>/jobs/`: `<id>.json`, the summary
// (rewritten as the job progresses), and `<id>.log`, what never changes once known,
// appended as it becomes known: a line per batch of commands (with the client's source
// paths, exactly, hex-encoded) and a line per batch of the origin's digests. A job of
// 100,000 files is thus not written whole once a second. Documents of earlier versions
// hold their commands and "sources_hex" inline.
// One line of the log: commands [from, end) and their sources (none for an upload).
std::string CommandsLogLine(const std::vector<distribution::Command>& commands, size_t from,
                            const std::vector<std::string>& sources);
// One line of the log: digests announced, by command id.
std::string DigestsLogLine(const std::vector<std::pair<uint32_t, wire::Sha256Digest>>& digests);
// The saved document `<dir>/<id>.json` with its log merged in: "commands" (with each one's
// "sha256" once known and its "state") and "sources_hex", as ParseSavedJob reads them. A
// last log line cut short (the daemon stopped while writing it) is left out; damage
// elsewhere is an error. Blocking file reads.
Result<nlohmann::json> ReadSavedJob(const std::string& dir, const std::string& id);
// What a saved document shows once its job is final: the whole document and the summary,
// without the sources.
std::pair<std::string, std::string> FinishedTexts(nlohmann::json doc);
Result<SavedJob> ParseSavedJob(const nlohmann::json& doc, NodeId self);

struct JobContent;  // node/distributor.h
// The commands of a request's or an addition's content (ids still 0), and the client's
// paths behind its files appended to `sources` (not for an upload). Walks the client's
// folders: blocking, run off the loop.
Result<std::vector<distribution::Command>> CollectContent(const JobContent& content,
                                                          std::vector<std::string>* sources);
// Gives `commands` ids from `next_id`. Refuses a file named twice, within them or in
// `existing` (the job's commands so far).
Status NumberCommands(std::vector<distribution::Command>& commands,
                      const std::vector<distribution::Command>& existing, uint32_t next_id);

// A receiving server's copy of a job's manifest: records of a 4-byte little-endian length
// and an encoded message, the first an offer (the manifest as far as it is known), then a
// Commands message per batch of commands that followed, appended as they arrive (a job of
// 100,000 files is not encoded whole per batch). Load gives nullopt for a missing or
// damaged file, or one of another job; a last record cut short is left out.
std::string ManifestFileText(const distribution::Manifest& manifest);
std::string ManifestMoreText(const std::vector<distribution::Command>& more);
std::optional<distribution::Manifest> LoadManifestFile(const std::string& path,
                                                       const std::string& job);

}  // namespace cohort::node
