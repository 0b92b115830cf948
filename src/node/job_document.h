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
// `upload_bytes` the client's progress for an upload job (nullopt for any other).
nlohmann::json JobDocument(const distribution::JobTracker& tracker, const FileDigests& digests,
                           Instant started, Instant now, std::optional<uint64_t> upload_bytes);

// What a saved document of a running job says, for the base that saved it (`self`).
struct SavedJob {
  distribution::Manifest manifest;
  std::vector<NodeId> servers;
  std::vector<std::string> sources;  // the client's paths on the base (not an upload)
  bool upload = false;
  double elapsed_s = 0;
  FileDigests digests;
};
Result<SavedJob> ParseSavedJob(const nlohmann::json& doc, NodeId self);

}  // namespace cohort::node
