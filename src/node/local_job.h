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

struct FileState {
  // Open only while the file is being received: a job may hold more files than the process
  // may open, and the disk thread may be installing many behind the receiving one.
  // Downstream feeds read complete files through descriptors of their own
  // (Downstream::reading); installs open the temporary file themselves.
  int fd = -1;
  std::string final_path, temp_path;
  // Of the bytes written so far. Shared with the write pool, which updates it as it writes
  // (Distributor::Impl::QueueWrite); the loop reads it only once every write of the file
  // is done, and replaces it when the file starts anew.
  std::shared_ptr<wire::Sha256> sha = std::make_shared<wire::Sha256>();
  std::optional<std::array<uint8_t, 32>> digest;  // the origin's, as announced
  uint64_t inode = 0;  // of the temporary file, then the installed one; 0: not created yet
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
  io::FileReader reading;  // the complete files it is sent, one at a time
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
  std::string cancelled;  // why, once cancelled: nothing more is received, sent or reported
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
