// Distributor::Impl: the distributor's state and every operation on it, shared by the files
// that implement it, one responsibility each:
//   distributor.cc    the public interface, listening, dialing and what a connection is for
//   job_install.cc    a job's files on disk: creating, receiving bytes, verifying, installing,
//                     resuming after a restart (D13)
//   job_receive.cc    offers taken or declined, the upstream's messages, cancels and drops
//   job_feed.cc       feeding downstream servers: offers, the send window, the upload limit
//   job_tracking.cc   reports to the base, the base's tracking, queries and repairs (D9, D12),
//                     long polls, forgetting idle jobs
//   base_jobs.cc      jobs at the base: submit, add, the client's upload, job documents
// Runs on the node's loop thread; blocking installs run on the `disk` pool. Private to node/.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <unordered_map>

#include "base/log.h"
#include "distribution/core.h"
#include "distribution/messages.h"
#include "distribution/validate.h"
#include "io/asio.h"
#include "io/clock.h"
#include "io/content.h"
#include "io/files.h"
#include "io/job_content.h"
#include "node/content_ops.h"
#include "node/data_conn.h"
#include "node/distributor.h"
#include "node/job_document.h"
#include "node/local_job.h"
#include "wire/seal.h"
#include "wire/sha256.h"

namespace cohort::node {

namespace fs = std::filesystem;
using boost::asio::ip::tcp;
using distribution::Command;
using distribution::CommandKind;
using distribution::Manifest;
using distribution::Message;
using json = nlohmann::json;
using wire::Bytes;

constexpr size_t kChunk = 32 * 1024;     // forwarded once whole: one chunk time per hop
constexpr size_t kSendWindow = 1 << 20;  // bytes queued per connection before waiting
constexpr size_t kAckEvery = 1 << 20;    // receivers acknowledge this often
// Bytes a job may have queued for its disk before it stops reading its source (the
// upstream connection, or the base's files), resuming below half of it.
constexpr uint64_t kWriteBehind = 16 << 20;
const Duration kTick = Duration::Millis(250);
const Duration kReportEvery = Duration::Millis(500);
const Duration kQueryTimeout = Duration::Seconds(2);
// A CTP request may walk a large tree, or move a large file, before it answers.
const Duration kCtpTimeout = Duration::Seconds(30);
constexpr size_t kMaxUnauthenticated = 64;

struct Distributor::Impl {
  Node& node;
  boost::asio::io_context& io;
  io::ContentRoot root;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  boost::asio::steady_timer timer;
  std::map<std::string, std::unique_ptr<Job>> jobs;
  std::map<std::string, std::string> finished_docs;       // jobs of earlier runs, from disk
  std::map<std::string, std::string> finished_summaries;  // the same without "commands"
  std::map<NodeId, double> upload_rates;  // D7: bytes/s each server uploaded, measured here
  uint64_t sent = 0, received = 0;
  uint64_t next_job = 1;
  // D13 upload limit: a token bucket over every content byte sent.
  double tokens = 0;
  Instant tokens_at;
  bool pump_scheduled = false;
  uint64_t sent_window = 0;
  Instant sent_window_start;
  double upload_peak = 0;
  std::map<uint32_t, std::shared_ptr<uint64_t>> sent_by_adapter;
  // Counts what `conn` writes under the local address it runs from.
  void CountByAdapter(DataConn& conn) {
    auto& counter = sent_by_adapter[conn.local_ip()];
    if (!counter) counter = std::make_shared<uint64_t>(0);
    conn.CountSentInto(counter);
  }
  bool stopped = false;
  size_t unauthenticated = 0;  // accepted connections still in their handshake
  bool refusing_logged = false;
  // Blocking disk work (file installs) off the loop; `alive` tells its completions, posted
  // back to the loop, whether this object still exists.
  boost::asio::thread_pool disk{1};
  // CTP operations (a recursive listing or removal may walk a large tree) run here, so
  // they neither block the loop nor hold up installs.
  boost::asio::thread_pool files{1};
  ListingCache listings;  // used on the `files` pool only
  // The data of the files being received or copied in: reads of the base's sources and
  // every write, in order (Append, CopyIn).
  boost::asio::thread_pool writes{1};
  // What the downstream feeds send, read from the files (ReadForFeed).
  boost::asio::thread_pool reads{1};
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);
  ~Impl() { *alive = false; }

  Impl(Node& n, boost::asio::io_context& i)
      : node(n), io(i), root(n.config().distribution_root), timer(i) {
    // The pools' threads yield the CPU to the loop's: on a busy machine the kernel's work
    // for their file creations and writes (counted to them) otherwise starves the loop,
    // which runs membership (stalls of 50-300 ms with the loop using no CPU were seen).
    for (auto* pool : {&disk, &files, &writes, &reads}) {
      boost::asio::post(*pool,
                        [] { ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10); });
    }
  }

  NodeId self() const { return node.config().node_id; }
  const wire::Keyring& keyring() const { return node.transport().keyring(); }
  std::string JobsDir() const { return node.config().data_dir + "/jobs"; }
  double UploadLimit() const { return node.config().distribution_upload_mbps * 125000.0; }

  double OfferedRate() const;

  std::optional<Endpoint> EndpointOf(NodeId id) const;

  // ---- connections ----
  void Dial(NodeId peer, std::function<void(std::shared_ptr<DataConn>)> ready);

  // Dials, sends one request and hands the first answer (or nullopt) to `done`.
  void Request(NodeId peer, Message request, std::function<void(std::optional<Message>)> done,
               Duration timeout = kQueryTimeout);

  Status Listen();

  void AcceptNext(tcp::acceptor& acc);

  // The first message after the handshake says what the connection is for.
  void OnFirstMessage(const std::shared_ptr<DataConn>& conn, Message& m);

  // ---- receiving ----
  Job* FindJob(const std::string& id);

  distribution::ServerReport ReportOf(const std::string& id);

  // The job's folder relative to the root: a base that is not one of the job's servers
  // keeps its copy in its own staging area.
  static std::string RelativeDir(const std::string& dest, bool staging, const std::string& id);

  // Creates the job's local state; with `resume`, picks up what an earlier run of this
  // daemon left (D13): completed commands from the job's state file, then the partial file
  // after them (rehashed).
  Result<Job*> CreateJob(Manifest manifest, bool is_base, bool staging, bool resume = true);
  // CreateJob's two halves: the job's state made (thread-safe: it touches nothing of this
  // object's), and held from now on (`started` now), resumed (see Resume) if asked.
  static Result<std::unique_ptr<Job>> MakeJob(const io::ContentRoot& root, NodeId self,
                                              size_t fanout, Manifest manifest, bool is_base,
                                              bool staging);
  Job* AddJob(std::unique_ptr<Job> job, bool resume);
  struct ResumeFile {
    bool file = false;
    uint64_t size = 0;
    std::string final_path, temp_path;
  };
  struct ResumePoint {
    size_t done = 0;               // commands still done
    std::vector<uint64_t> inodes;  // of their installed files
    // The partial file after them: its inode (0: none) and the bytes in it, hashed.
    FileWriting partial;
    uint64_t at = 0;
  };
  static ResumePoint FindResumePoint(const std::vector<ResumeFile>& files, size_t done);
  void Resumed(const std::string& id, ResumePoint point);

  std::string StatePath(const std::string& id) const;
  // A receiving server's copy of the job's manifest (wire-encoded, as its offer brought
  // it): after a restart, a cancel of a job it no longer holds in memory finds the job's
  // partial files through it. Removed once the job completes here or is dropped.
  std::string ManifestPath(const std::string& id) const;
  void SaveManifest(Job& job);
  // Every write of a job's state ends here: one that failed (a full or failing disk) fails
  // the job here with the reason, and the base hears of it.
  void Persisted(Job& job, const Status& written, const std::string& what);

  void Resume(Job& job);

  // Each new command's paths, resolved inside the root: a symlinked folder on the way that
  // leads out fails the command's job before anything is written.
  static Status SyncFiles(const io::ContentRoot& root, Job& job);

  void WriteOnDisk(Job& job, std::string path, std::string text, std::string what);
  // `text()` appended to `path` and synced, on the disk pool in order with the rest (it is
  // made there too: it must not throw, nor touch what the loop changes).
  void AppendOnDisk(Job& job, std::string path, std::function<std::string()> text,
                    std::string what);
  void RemoveOnDisk(std::string path);
  void SaveState(Job& job);

  void Fail(Job& job, const std::string& why);

  // Stream bytes [offset, offset + size) arrived (or were copied in at the base).
  void Append(Job& job, uint64_t offset, const uint8_t* data, size_t size);
  void QueueWrite(Job& job, size_t idx, const uint8_t* data, size_t n, uint64_t at);
  // A command's temporary file as the pools create it: `final_path` is where the job put
  // the command (SyncFiles), checked again.
  struct TempFile {
    std::string rel_dir;
    Command command;
    std::string final_path, temp_path;
  };
  struct WriteTask {
    std::shared_ptr<FileWriting> writing;
    std::vector<uint8_t> bytes;
    uint64_t at = 0;
    std::string temp_path;
    std::optional<TempFile> create;  // the file's first write creates it
  };
  static Status WriteChunk(const io::ContentRoot& root, const WriteTask& task);
  // The temporary file created empty (replacing one there), its descriptor returned and its
  // inode stored in `inode`.
  static Result<int> CreateTemp(const io::ContentRoot& root, const TempFile& t, uint64_t* inode);
  void Written(const std::string& id, uint64_t epoch, size_t idx, uint64_t inode, uint64_t n,
               const Status& s);

  // Index of the file command holding stream byte `offset` (the first one not finished).
  size_t CommandAt(const Job& job, uint64_t offset) const;

  // Command `idx`'s path, resolved inside the root (no symlink on the way leads out): a
  // folder's whole, a file's folder with its name appended (its install renames over what
  // is there, a symlink included). `folders` keeps the folders resolved so far.
  struct FolderHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Folders = std::unordered_map<std::string, Result<std::string>, FolderHash, std::equal_to<>>;
  Result<std::string> ResolveCommand(const Job& job, size_t idx, Folders* folders = nullptr) const;
  // The same for a command of the job at `rel_dir`; thread-safe.
  static Result<std::string> ResolveIn(const io::ContentRoot& root, const std::string& rel_dir,
                                       const Command& c, Folders* folders);
  // ResolveCommand still gives the path the command's file was given: nothing changed it.
  Status StillInside(const Job& job, size_t idx) const;

  // Completes commands in order: folders made, files verified and installed (D13).
  void Apply(Job& job);

  // A file's bytes are all here: true if they match the origin's digest. False while the
  // digest has not arrived (or on a mismatch: the file is received again from its start).
  bool Verify(Job& job, size_t i);

  // Mode, mtime, data sync and rename (D13) run on the disk pool, so the loop keeps moving
  // bytes while the file's pages are flushed; Apply continues when it is done.
  void StartInstall(Job& job, size_t i);

  // The job is cancelled: every connection of it closed, the partial files deleted; what
  // is installed stays (verified, and maybe in use). Its state stays so that a late offer
  // is declined and a report shows why.
  void DropJob(Job& job, const std::string& reason);

  // A cancel for a job this server does not hold in memory (it was down, and restarted):
  // the job is taken up from its files on disk as an offer would, so that DropJob deletes
  // its partial files, and later offers of it are declined.
  void DropFromDisk(const std::string& id, const std::string& reason);

  // Every connection and descriptor of the job closed (it is cancelled, forgotten, or the
  // daemon stops).
  void Release(Job& job);

  // At the base: cancels the job everywhere (the tracker tells the servers).
  Status CancelJob(Job& job, const std::string& reason);

  void CloseSource(Job& job);

  void OnOffer(const std::shared_ptr<DataConn>& conn, distribution::OfferMsg& offer);

  void OnUpstream(Job& job, Message& m);

  void AppendCommands(Job& job, const std::vector<Command>& more);

  // ---- feeding ----
  void Run(const std::string& id, std::vector<distribution::NodeAgent::Action> actions);

  void DropFeed(const std::string& id, NodeId target);

  void FeedEnded(const std::string& id, NodeId target, bool completed);

  void StartFeed(const std::string& id, NodeId target, std::vector<NodeId> list,
                 NodeId replaces = kNoNode);

  void OnDownstream(Job& job, NodeId target, Message& m);

  void PumpAll(Job& job);

  void Pump(Job& job, NodeId target);
  // A chunk a feed sends: stream bytes [offset, offset + n), at `at` in file `idx`.
  struct FeedPiece {
    size_t idx = 0;
    io::FileReader::File file;
    uint64_t at = 0, n = 0, offset = 0;
  };
  struct FeedRead {
    std::vector<std::pair<Bytes, uint64_t>> payloads;  // encoded DataMsgs and their sizes
    bool whole = true;                                 // false: a piece could not be read
  };
  void ReadForFeed(Job& job, NodeId target, Downstream& d);

  bool TakeTokens(uint64_t n);

  void SchedulePump();

  distribution::FeedRefusal FeedFromHere(const std::string& id, NodeId target, bool switch_offer,
                                         NodeId replaces = kNoNode);

  // ---- reports and the base's tracking ----
  void SendReport(Job& job, bool now_please);

  void OnReport(const distribution::ReportMsg& m);

  // Wakes the long polls when the job's or a server's state changed; true if it did.
  bool NotifyIfChanged(Job& job);

  void WaitForChange(const std::string& id, Duration timeout, std::function<void()> done);

  void Tick();

  // A daemon runs job after job for months: a job is dropped from memory once it has been
  // idle for forget_after_s. At the base that is a final job, whose document is kept as
  // text; elsewhere any job without connections (finished, cancelled, or left unfed): if it
  // is offered again, its state file and partial file take it up where it was.
  void ForgetIdle(Instant now);
  void Forget(Job& job);

  // D4: an upload whose client has sent nothing for upload_idle_s will not finish; its
  // servers would otherwise wait for the rest forever.
  void CancelIfAbandoned(Job& job, Instant now);

  void TrackerTick(Job& job, Instant now);

  // Runs `work` on `pool` and hands what it returns to `done` on the loop, unless this
  // object is gone by then. A `work` whose result can carry an Error may throw (the file
  // system's iterators do): the exception becomes that error, prefixed by `failing`. Any
  // other `work` must not throw (a throw on a pool thread ends the process).
  template <typename T>
  void OffLoop(boost::asio::thread_pool& pool, std::function<T()> work, std::function<void(T)> done,
               std::string failing = "failed") {
    boost::asio::post(pool, [ioc = &io, alive = alive, work = std::move(work),
                             done = std::move(done), failing = std::move(failing)]() mutable {
      auto result = std::make_shared<T>(Guarded(work, failing));
      boost::asio::post(*ioc, [alive, result, done = std::move(done)] {
        if (*alive) done(std::move(*result));
      });
    });
  }
  template <typename T>
  static T Guarded(const std::function<T()>& work, const std::string& failing) {
    if constexpr (std::is_constructible_v<T, Error>) {
      try {
        return work();
      } catch (const std::exception& e) {
        return T(Error(Errc::kIo, failing + ": " + e.what()));
      }
    } else {
      return work();
    }
  }

  // ---- jobs at the base ----
  // The client's folders are walked on the `files` pool (a job may hold millions of
  // files); the job starts on the loop once they are.
  void Submit(JobRequest request, std::function<void(Result<std::string>)> done);
  Result<std::vector<NodeId>> ServersOf(const JobRequest& request) const;
  // Every server but this node must be in the address table.
  Status ServersKnown(const std::vector<NodeId>& servers) const;
  struct Prepared {
    std::unique_ptr<Job> job;
    std::string log_line;  // its commands, the first line of its log
  };
  Result<Prepared> PrepareJob(const JobRequest& request, const std::string& id,
                              const std::vector<NodeId>& servers, Instant now) const;
  Result<std::string> StartJob(Prepared prepared, const std::vector<NodeId>& servers);
  // CollectContent on the `files` pool, handed to `done` on the loop with its sources.
  using Collected = Result<std::pair<std::vector<Command>, std::vector<std::string>>>;
  void CollectOffLoop(JobContent content, std::function<void(Collected)> done);

  // The origin: copies the client's files in, a megabyte per turn of the loop, so the
  // downstream feeds start at once and run behind it (D4).
  void CopyIn(const std::string& id);
  void CopiedIn(const std::string& id, uint64_t epoch, uint64_t offset,
                Result<std::vector<uint8_t>> bytes);

  // D10: more of the client's files for a job that has not ended.
  void Add(const std::string& id, JobContent content, std::function<void(Status)> done);
  Status CanAdd(const std::string& id, bool upload);
  Status AddCollected(const std::string& id, bool upload, std::vector<Command> more,
                      std::vector<std::string> sources);

  // D4: the client's bytes, written and forwarded as they arrive, like a relay's.
  Result<uint64_t> Stream(const std::string& id, uint64_t offset, const std::string& bytes);
  // `done(have)` once the job's bytes up to `offset` are written, or its error.
  void WhenWritten(const std::string& id, uint64_t offset,
                   std::function<void(Result<uint64_t>)> done);
  void AnswerWriteWaiters(Job& job);

  // ---- documents ----
  json Document(const Job& job, bool with_commands = true) const;

  void SaveJobDocument(Job& job);

  // Jobs of earlier runs: final ones are answered as saved; one that was running is tracked
  // again (ResumeTracking), or shown failed if its document cannot be resumed.
  void LoadJobDocuments();
  // One CTP request to `to` (this node's own root is served off the loop); nullopt: no
  // answer.
  void CtpOnce(NodeId to, distribution::CtpMsg m,
               std::function<void(std::optional<distribution::ResultMsg>)> done);
  // A whole listing, asked for page by page (kCtpPageBytes each) and gathered in `entries`.
  void ListPages(NodeId to, distribution::CtpMsg m, std::shared_ptr<json> entries,
                 std::function<void(Result<std::string>)> done);
  static Result<std::optional<uint64_t>> GatherPage(const std::string& body, json& entries);
  // Serves `m` on the `files` pool; `done` runs on the loop, unless this object is gone.
  void ServeCtpOffLoop(distribution::CtpMsg m, std::function<void(distribution::ResultMsg)> done);
  json DamagedDocument(const std::string& id, const std::string& why) const;

  // A job that was running when this base stopped: tracked again from its saved document.
  // The servers still hold what they verified; those that lost their source (this node)
  // report it, or are queried after the stall period, and are repaired from where they are.
  Status ResumeTracking(const json& doc);
};

}  // namespace cohort::node
