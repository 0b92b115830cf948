// Distributor: the content distribution runtime (SPEC D) of one cohortd. It binds the
// distribution cores (distribution/core.h) to TCP streams and files:
// - listens on TCP at every transport adapter's address (same port number as the UDP
//   control plane), so every node already knows where to reach the others;
// - every connection is authenticated and encrypted with the cluster keys: the listener
//   sends a random challenge, the dialer's first sealed frame echoes it and challenges back,
//   and every frame after is sealed (XChaCha20-Poly1305) with a per-connection incarnation and
//   a strictly increasing sequence, so nothing travels in plaintext and nothing replays;
// - receives job content into `<root>/<dest>/` as temporary files, SHA-256 verified before
//   each is renamed into place with its mode and mtime (D13), while forwarding what it has
//   to its own downstream servers (pipelined, D4);
// - as base server (D1): accepts jobs from the API and is their origin: it reads the
//   client's files from its own disk, or takes the bytes the client streams in (D4); tracks every
//   server (JobTracker), queries and repairs (D12), and keeps each job's document in
//   `<data_dir>/jobs/` so a restarted base still answers for it.
// Runs on the node's loop thread; every method must be called there.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "distribution/core.h"
#include "node/node.h"

namespace boost::asio {
class io_context;
}

namespace cohort::node {
namespace health {
struct JobBrief;
}

// What a job request or addition brings: paths on the base server's own disk, which it
// reads itself, or (`upload`) the client's entries, whose file bytes the client streams in
// with Stream() afterwards (D4: they flow on to the servers while still arriving).
struct JobContent {
  std::vector<std::string> paths;              // absolute files or folders on the base
  bool upload = false;                         // the client sends the bytes: `entries`
  std::vector<distribution::Command> entries;  // files and folders; ids are given here
};

struct JobRequest {
  JobContent content;
  std::string dest;             // folder under every server's content root
  std::vector<NodeId> servers;  // empty: every member that is up
  bool open = false;            // no end command yet: Add() may follow, then End() (D10)
};

class Distributor {
 public:
  Distributor(Node& node, boost::asio::io_context& io);
  ~Distributor();
  Status Start();
  void Stop();

  // D1/D2: a new job with this node as base; `done` gets its id, on the loop, once the
  // client's folders are walked (off the loop). Fails for unreadable paths, a destination
  // outside the root, or unknown servers.
  void Submit(JobRequest request, std::function<void(Result<std::string>)> done);
  // D10: appends the client's further files to a job that has not ended; their content
  // follows the job's stream to every server. Fails for an ended or unknown job, unreadable
  // paths, content of the other kind than the job's (paths or upload), or a file already in
  // the job. `done` runs on the loop, after the walk of the client's folders.
  void Add(const std::string& id, JobContent content, std::function<void(Status)> done);
  // D4: the client's bytes of an upload job from stream offset `offset` (every file's bytes
  // in command order); `done` gets the bytes the base holds once these are written, so
  // what it answers survives a crash of the daemon. An offset beyond what it has taken
  // fails (kAlreadyExists names the offset to resume from); bytes it has are skipped.
  void Stream(const std::string& id, uint64_t offset, const std::string& bytes,
              std::function<void(Result<uint64_t>)> done);
  // D11: ends the job (no more commands); a finished job with repairs pending stops them.
  Status End(const std::string& id);
  // Stops the job everywhere before it finished: the servers delete their partial files
  // (installed ones stay), nothing is repaired, and the job ends failed with `reason`.
  // Fails for an unknown job or one that has ended.
  Status Cancel(const std::string& id, const std::string& reason);
  std::vector<std::string> JobIds() const;
  // The jobs in memory (running, or finished lately), as health judges them.
  std::vector<health::JobBrief> JobBriefs() const;
  // The job document of INTERFACE.md (JSON text), or nullopt for an unknown id.
  // Without `with_commands`: the summary, the same but for the "commands" array.
  std::optional<std::string> JobDocument(const std::string& id, bool with_commands = true) const;
  // Calls `done` once: when the job or one of its servers changes state, when `timeout`
  // passes, or at once if the job is unknown or final (a long poll).
  void WaitForChange(const std::string& id, Duration timeout, std::function<void()> done);
  // `done` once the job's progress is read back from disk after a restart (at once if it
  // is not being read): until then its document would show nothing held yet.
  void WhenResumed(const std::string& id, std::function<void()> done);

  // CTP (D3): one operation on `node`'s content root; `done` gets the JSON answer as text,
  // indented as the API answers (or an error). get answers up to 256 KiB from `offset`,
  // base64 in "data_base64", with the file's stat; put writes a chunk to a temporary file,
  // installed by the `last` chunk.
  struct CtpRequest {
    std::string op;
    std::string path;
    uint32_t mode = 0;
    int64_t mtime_ns = 0;
    bool recursive = false;
    uint64_t offset = 0;  // get/put: where in the file
    bool last = true;     // put: this chunk ends the file (it is installed then)
    std::string data;     // put: the bytes
  };
  void Ctp(NodeId node, CtpRequest request, std::function<void(Result<std::string>)> done);

  size_t jobs_held() const;  // in memory: running, or finished less than forget_after_s ago
  uint64_t bytes_sent() const;
  uint64_t bytes_received() const;
  // RM3: bytes the data plane wrote, by the local address (IPv4, host order) they left from.
  std::map<uint32_t, uint64_t> bytes_sent_by_adapter() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cohort::node
