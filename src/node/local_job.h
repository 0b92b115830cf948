// The state one daemon keeps for each distribution job it takes part in, as the base, a
// relay or a receiver: the job's manifest, its files on disk, its upstream connection and
// downstream feeds, its progress and, at the base, its tracker. Plain data, owned by the
// Distributor (distributor_impl.h) and used on the node's loop thread only.
// Private to node/.
#pragma once

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "distribution/core.h"
#include "io/files.h"
#include "node/data_conn.h"
#include "wire/sha256.h"

namespace cohort::node {

// What the write pool alone changes of a file it writes (Distributor::Impl::QueueWrite):
// the hash of the bytes written so far and the inode of the temporary file it created.
// The loop reads it only once every write of the file is done, and replaces it when the
// file starts anew.
struct FileWriting {
  wire::Sha256 sha;
  uint64_t inode = 0;
};

struct FileState {
  // No descriptor is held per file: a job may hold more files than the process may open.
  // The write pool opens the temporary file by path for each write (creating it with the
  // first), downstream feeds read through descriptors of their own (Downstream::reading),
  // installs open the file themselves.
  std::string final_path, temp_path;
  std::shared_ptr<FileWriting> writing = std::make_shared<FileWriting>();
  bool created = false;  // its creation is queued or done: there may be a temporary file
  std::optional<std::array<uint8_t, 32>> digest;  // the origin's, as announced
  // Of the temporary file (once its first write is done), then of the installed one; 0:
  // not known yet.
  uint64_t inode = 0;
  // The command's bytes in the job's stream: [start, end) (end == start but for a file).
  // Kept here (SyncFiles) so that finding a stream offset's file is a binary search, not a
  // walk of the manifest per chunk: a job may hold millions of commands.
  uint64_t start = 0, end = 0;
  bool installing = false;  // verified; attributes, sync and rename running on the disk pool
  bool installed = false;
};

struct Downstream {
  std::shared_ptr<DataConn> conn;
  bool accepted = false;
  uint64_t sent = 0;
  size_t commands_sent = 0;
  size_t digest_next = 0;
  // The files it is sent, one open at a time; used on the `reads` pool, one read at a time.
  std::shared_ptr<io::FileReader> reader = std::make_shared<io::FileReader>();
  bool read_pending = false;
};

struct Job {
  distribution::Manifest manifest;
  bool is_base = false;
  std::unique_ptr<distribution::JobTracker> tracker;
  std::unique_ptr<distribution::NodeAgent> agent;
  std::string rel_dir;           // destination folder under the content root
  std::string dir;               // absolute destination folder
  std::vector<FileState> files;  // per command
  uint64_t have = 0;             // stream bytes written to disk, in order (what is sent on, acked)
  uint64_t received = 0;         // stream bytes taken for writing (>= have; the rest are queued)
  uint64_t writing = 0;          // bytes queued on the write pool
  uint64_t write_epoch = 0;      // bumped when the stream restarts at a file: late writes ignored
  // Upload answers waiting for their bytes to be written: (stream offset, answer).
  std::vector<std::pair<uint64_t, std::function<void(Result<uint64_t>)>>> write_waiters;
  size_t done = 0;  // commands completed in order
  std::string error;
  std::shared_ptr<DataConn> upstream;
  std::map<NodeId, Downstream> downs;
  // base only: the client's files, copied in as the origin, or streamed in by the client
  std::vector<std::string> sources;
  bool upload = false;
  Instant last_upload;  // the client's last bytes (or the job's start): idle uploads cancel
  int source_fd = -1;
  size_t copying = 0;
  bool copy_active = false;  // a CopyIn turn is posted
  // progress
  uint64_t window_bytes = 0;
  Instant window_start;
  double rate = 0;
  uint64_t acked_upstream = 0;
  Instant started, finished;
  Instant last_report;
  std::shared_ptr<DataConn> report_conn;
  bool reporting = false;
  // base only: callers waiting for a server or the job to change state (long polls)
  std::vector<std::shared_ptr<std::function<void()>>> waiters;  // empty once called
  std::string summary;                                          // the states they were told last
  Instant saved_at;                                             // the job document was last written
  bool saved_final = false;
  // base only: how much of the job its log holds (SaveJobDocument): the first
  // `logged_commands` commands, and the digests of the files among the first
  // `logged_digests`.
  size_t logged_commands = 0, logged_digests = 0;
  bool forgetting = false;    // ForgetIdle reads its final document back from disk
  size_t manifest_saved = 0;  // receivers: commands in the saved manifest copy (SaveManifest)
  std::string cancelled;      // why, once cancelled: nothing more is received, sent or reported
  std::optional<Instant> idle_since;  // finished (or unconnected) and idle: ForgetIdle
  std::optional<Instant> ended_at;    // base only: when the tracker became final
  // A partial file of an earlier run is being rehashed on the disk pool (Resume): until
  // then nothing is written to it and what needs `have` waits in `after_resume`.
  bool resuming = false;
  std::vector<std::function<void()>> after_resume;
  bool completed() const { return manifest.ended() && done == manifest.commands.size(); }
  uint64_t stream_size() const { return files.empty() ? 0 : files.back().end; }
};

}  // namespace cohort::node
