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
// The base's own copy of a job document also holds the client's source paths, exactly, as
// "sources_hex" (removed before the document is shown).
void AddSources(nlohmann::json& doc, const std::vector<std::string>& sources);
Result<SavedJob> ParseSavedJob(const nlohmann::json& doc, NodeId self);

struct JobContent;  // node/distributor.h
// The commands of a request's or an addition's content, with ids from `next_id`, and the
// client's paths behind its files appended to `sources` (not for an upload). Refuses a file
// named twice, within the content or in `existing` (the job's commands so far).
Result<std::vector<distribution::Command>> CollectCommands(
    const JobContent& content, const std::vector<distribution::Command>& existing, uint32_t next_id,
    std::vector<std::string>* sources);

// A receiving server's copy of a job's manifest, in the encoding of the offer that brought
// it; Load gives nullopt for a missing or damaged file, or one of another job.
// A manifest copy's bytes (an encoded offer), as LoadManifestFile reads them back.
std::string ManifestFileText(const distribution::Manifest& manifest);
std::optional<distribution::Manifest> LoadManifestFile(const std::string& path,
                                                       const std::string& job);

}  // namespace cohort::node
