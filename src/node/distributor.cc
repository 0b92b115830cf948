#include "node/distributor.h"

#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
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
#include "node/job_document.h"
#include "wire/seal.h"
#include "wire/sha256.h"

namespace cohort::node {
namespace {

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
constexpr uint64_t kCompletedAck = UINT64_MAX;
// Target -> a source it switched away from (D8, or a dead relay's replacement): the feed
// is over and nothing is to be handed on, as after kCompletedAck.
constexpr uint64_t kSwitchedAck = UINT64_MAX - 1;
const Duration kTick = Duration::Millis(250);
const Duration kReportEvery = Duration::Millis(500);
const Duration kQueryTimeout = Duration::Seconds(2);
const char* const kNoJobHere = "no such job here";
constexpr size_t kMaxUnauthenticated = 64;

struct FileState {
  // Open only while the file is being received: a job may hold more files than the process
  // may open, and the disk thread may be installing many behind the receiving one.
  // Downstream feeds read complete files through descriptors of their own
  // (Downstream::reading); installs open the temporary file themselves.
  int fd = -1;
  std::string final_path, temp_path;
  wire::Sha256 sha;
  std::optional<std::array<uint8_t, 32>> digest;  // the origin's, as announced
  uint64_t inode = 0;       // of the temporary file, then the installed one; 0: not created yet
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
  Manifest manifest;
  bool is_base = false;
  std::unique_ptr<distribution::JobTracker> tracker;
  std::unique_ptr<distribution::NodeAgent> agent;
  std::string rel_dir;           // destination folder under the content root
  std::string dir;               // absolute destination folder
  std::vector<FileState> files;  // per command
  uint64_t have = 0;
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
  bool completed() const { return manifest.ended() && done == manifest.commands.size(); }
};

}  // namespace

struct Distributor::Impl {
  Node& node;
  boost::asio::io_context& io;
  io::ContentRoot root;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  boost::asio::steady_timer timer;
  std::map<std::string, std::unique_ptr<Job>> jobs;
  std::map<std::string, std::string> finished_docs;  // jobs of earlier runs, from disk
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
  bool stopped = false;
  size_t unauthenticated = 0;  // accepted connections still in their handshake
  bool refusing_logged = false;
  // Blocking disk work (file installs) off the loop; `alive` tells its completions, posted
  // back to the loop, whether this object still exists.
  boost::asio::thread_pool disk{1};
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);
  ~Impl() { *alive = false; }

  Impl(Node& n, boost::asio::io_context& i)
      : node(n), io(i), root(n.config().distribution_root), timer(i) {}

  NodeId self() const { return node.config().node_id; }
  const wire::Keyring& keyring() const { return node.transport().keyring(); }
  std::string JobsDir() const { return node.config().data_dir + "/jobs"; }
  double UploadLimit() const { return node.config().distribution_upload_mbps * 125000.0; }
  double OfferedRate() const {
    double limit = UploadLimit();
    return limit > 0 ? limit : upload_peak;
  }

  std::optional<Endpoint> EndpointOf(NodeId id) const {
    std::optional<Endpoint> first;
    for (const auto& n : node.transport().View()) {
      if (n.id != id) continue;
      for (const auto& a : n.addresses) {
        if (a.preferred && a.reachable) return a.info.address;
        if (!first && a.reachable) first = a.info.address;
      }
      if (!first && !n.addresses.empty()) first = n.addresses.front().info.address;
    }
    return first;
  }

  // ---- connections ----
  void Dial(NodeId peer, std::function<void(std::shared_ptr<DataConn>)> ready) {
    auto ep = EndpointOf(peer);
    if (!ep) return ready(nullptr);
    tcp::endpoint to(boost::asio::ip::address_v4(ep->ip), ep->port);
    DataConn::Connect(io, to, keyring(), self(), peer,
                      [this, ready](std::shared_ptr<DataConn> conn) {
                        if (conn && stopped) conn->Abandon();
                        ready(stopped ? nullptr : conn);
                      });
  }

  // Dials, sends one request and hands the first answer (or nullopt) to `done`.
  void Request(NodeId peer, Message request, std::function<void(std::optional<Message>)> done) {
    auto answered = std::make_shared<bool>(false);
    auto finish = [answered, done](std::optional<Message> m) {
      if (*answered) return;
      *answered = true;
      done(std::move(m));
    };
    auto deadline = std::make_shared<boost::asio::steady_timer>(io);
    Dial(peer, [this, request, finish, deadline](std::shared_ptr<DataConn> conn) {
      if (!conn) return finish(std::nullopt);
      conn->SetHandlers(
          [conn, finish, deadline](Message& m) {
            deadline->cancel();
            finish(std::move(m));
            conn->CloseAfterSend();
          },
          [finish, deadline] {
            deadline->cancel();
            finish(std::nullopt);
          });
      deadline->expires_after(std::chrono::nanoseconds(kQueryTimeout.nanos()));
      deadline->async_wait([conn](const boost::system::error_code& ec) {
        if (!ec) conn->Close();
      });
      conn->Send(request);
    });
  }

  Status Listen() {
    for (const auto& a : node.config().adapters) {
      auto acc = std::make_unique<tcp::acceptor>(io);
      tcp::endpoint at(boost::asio::ip::address_v4(a.listen.ip), a.listen.port);
      boost::system::error_code ec;
      acc->open(at.protocol(), ec);
      if (!ec) acc->set_option(tcp::acceptor::reuse_address(true), ec);
      if (!ec) acc->bind(at, ec);
      if (!ec) acc->listen(64, ec);
      if (ec) {
        return Error(Errc::kUnavailable, "data plane: cannot listen on tcp " + a.listen.ToString() +
                                             ": " + ec.message());
      }
      acceptors.push_back(std::move(acc));
      AcceptNext(*acceptors.back());
    }
    return OkStatus();
  }

  void AcceptNext(tcp::acceptor& acc) {
    acc.async_accept([this, &acc](const boost::system::error_code& ec, tcp::socket socket) {
      if (ec == boost::asio::error::operation_aborted || stopped) return;
      if (ec) {  // e.g. out of file descriptors: try again shortly rather than spin
        auto t = std::make_shared<boost::asio::steady_timer>(io, std::chrono::milliseconds(100));
        t->async_wait([this, &acc, t](const boost::system::error_code& e) {
          if (!e && !stopped) AcceptNext(acc);
        });
        return;
      }
      if (unauthenticated >= kMaxUnauthenticated) {
        // Peers that have not proved the key yet hold at most this many sockets.
        boost::system::error_code ignored;
        socket.close(ignored);
        if (!refusing_logged) {
          Log(LogLevel::kWarn, "distribution", "refusing data-plane connections",
              {{"reason", std::to_string(kMaxUnauthenticated) + " handshakes under way"}});
        }
        refusing_logged = true;
        return AcceptNext(acc);
      }
      refusing_logged = false;
      boost::system::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      auto conn = std::make_shared<DataConn>(std::move(socket), keyring(), self());
      std::weak_ptr<DataConn> weak = conn;
      conn->SetHandlers(
          [this, weak](Message& m) {
            if (auto c = weak.lock()) OnFirstMessage(c, m);
          },
          nullptr);
      ++unauthenticated;
      conn->Accept([this, alive = alive](bool) {
        if (*alive) --unauthenticated;
      });
      AcceptNext(acc);
    });
  }

  // The first message after the handshake says what the connection is for.
  void OnFirstMessage(const std::shared_ptr<DataConn>& conn, Message& m) {
    if (auto* offer = std::get_if<distribution::OfferMsg>(&m)) return OnOffer(conn, *offer);
    if (auto* report = std::get_if<distribution::ReportMsg>(&m)) {
      // A server's report channel to this base: every later message is a report too.
      OnReport(*report);
      conn->SetHandlers(
          [this](Message& more) {
            if (auto* r = std::get_if<distribution::ReportMsg>(&more)) OnReport(*r);
          },
          nullptr);
      return;
    }
    if (auto* query = std::get_if<distribution::QueryMsg>(&m)) {
      conn->Send(distribution::ReportMsg{query->job, ReportOf(query->job)});
      return conn->CloseAfterSend();
    }
    if (auto* feed = std::get_if<distribution::FeedMsg>(&m)) {
      conn->Send(distribution::ResultMsg{
          FeedFromHere(feed->job, feed->target, feed->switch_offer, feed->replaces), "", {}});
      return conn->CloseAfterSend();
    }
    if (auto* ctp = std::get_if<distribution::CtpMsg>(&m)) {
      conn->Send(ServeCtp(root, *ctp));
      return conn->CloseAfterSend();
    }
    if (auto* cancel = std::get_if<distribution::CancelMsg>(&m)) {
      if (Job* job = FindJob(cancel->job); job && !job->tracker) {
        DropJob(*job, cancel->reason);
      } else if (!job) {
        DropFromDisk(cancel->job, cancel->reason);
      }
      conn->Send(distribution::ResultMsg{});
      return conn->CloseAfterSend();
    }
    conn->Close();
  }

  // ---- receiving ----
  Job* FindJob(const std::string& id) {
    auto it = jobs.find(id);
    return it == jobs.end() ? nullptr : it->second.get();
  }

  distribution::ServerReport ReportOf(const std::string& id) {
    distribution::ServerReport r;
    r.server = self();
    Job* job = FindJob(id);
    if (!job) {
      r.has_job = false;
      return r;
    }
    r.offset = job->have;
    r.source = job->is_base ? self() : job->upstream ? job->upstream->peer() : kNoNode;
    r.rate = job->rate;
    r.commands_done = static_cast<uint32_t>(job->done);
    r.completed = job->completed();
    r.error = job->error;
    return r;
  }

  // The job's folder relative to the root: a base that is not one of the job's servers
  // keeps its copy in its own staging area.
  static std::string RelativeDir(const std::string& dest, bool staging, const std::string& id) {
    return staging ? ".cohort/staging/" + id + "/" + dest : dest;
  }

  // Creates the job's local state; with `resume`, picks up what an earlier run of this
  // daemon left (D13): completed commands from the job's state file, then the partial file
  // after them (rehashed).
  Result<Job*> CreateJob(const Manifest& manifest, bool is_base, bool staging, bool resume = true) {
    auto job = std::make_unique<Job>();
    job->manifest = manifest;
    job->is_base = is_base;
    distribution::AgentOptions options;
    options.fanout = node.config().distribution_fanout;
    job->agent = std::make_unique<distribution::NodeAgent>(self(), options);
    if (auto s = distribution::CheckManifest(manifest); !s) return s.error();
    job->rel_dir = RelativeDir(manifest.dest, staging, manifest.job);
    auto dir = root.Resolve(job->rel_dir);
    if (!dir) return dir.error();
    job->dir = *dir;
    if (auto s = SyncFiles(*job); !s) return s.error();
    job->started = node.Now();
    job->window_start = job->started;
    Job* raw = job.get();
    jobs[manifest.job] = std::move(job);
    if (resume) Resume(*raw);
    return raw;
  }

  std::string StatePath(const std::string& id) const {
    return root.path() + "/.cohort/jobs/" + id + ".json";
  }
  // A receiving server's copy of the job's manifest (wire-encoded, as its offer brought
  // it): after a restart, a cancel of a job it no longer holds in memory finds the job's
  // partial files through it. Removed once the job completes here or is dropped.
  std::string ManifestPath(const std::string& id) const {
    return root.path() + "/.cohort/jobs/" + id + ".manifest";
  }
  void SaveManifest(const Job& job) {
    if (job.is_base || job.completed() || !job.cancelled.empty()) return;
    io::MakeDirs(root.path() + "/.cohort/jobs").value();
    (void)SaveManifestFile(ManifestPath(job.manifest.job), job.manifest);
  }

  void Resume(Job& job) {
    auto saved = io::ReadFile(StatePath(job.manifest.job));
    json doc = saved ? json::parse(*saved, nullptr, false) : json::object();
    size_t done = doc.is_object() ? doc.value("done", size_t{0}) : 0;
    for (size_t i = 0; i < done && i < job.manifest.commands.size(); ++i) {
      const Command& c = job.manifest.commands[i];
      if (c.kind == CommandKind::kFile) {
        struct stat st {};
        if (::stat(job.files[i].final_path.c_str(), &st) != 0 ||
            static_cast<uint64_t>(st.st_size) != c.size) {
          break;  // gone or changed since: receive it again
        }
        job.files[i].installed = true;
        job.files[i].inode = st.st_ino;
        job.have += c.size;
      }
      job.done = i + 1;
    }
    // The partial file of the next command: rehash what is there and continue after it.
    if (job.done < job.manifest.commands.size() &&
        job.manifest.commands[job.done].kind == CommandKind::kFile) {
      FileState& f = job.files[job.done];
      int fd = ::open(f.temp_path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
      struct stat st {};
      if (fd < 0 || ::fstat(fd, &st) != 0) {
        if (fd >= 0) ::close(fd);
        return;
      }
      f.fd = fd;
      f.inode = st.st_ino;
      f.sha.Reset();
      std::vector<uint8_t> buf(1 << 20);
      uint64_t at = 0;
      const uint64_t size = job.manifest.commands[job.done].size;
      while (at < size) {
        ssize_t n = ::pread(fd, buf.data(), std::min<uint64_t>(buf.size(), size - at),
                            static_cast<off_t>(at));
        if (n <= 0) break;
        f.sha.Update(buf.data(), static_cast<size_t>(n));
        at += static_cast<uint64_t>(n);
      }
      if (::ftruncate(fd, static_cast<off_t>(at)) != 0) at = 0;
      job.have += at;
      if (at == size) ::close(std::exchange(f.fd, -1));  // complete: only to verify, install
    }
  }

  // Each new command's paths, resolved inside the root: a symlinked folder on the way that
  // leads out fails the command's job before anything is written.
  Status SyncFiles(Job& job) {
    job.files.resize(job.manifest.commands.size());
    for (size_t i = 0; i < job.files.size(); ++i) {
      FileState& f = job.files[i];
      if (!f.final_path.empty()) continue;
      const Command& c = job.manifest.commands[i];
      if (c.kind == CommandKind::kEnd) continue;
      auto path = root.Resolve(job.rel_dir + "/" + c.path);
      if (!path) return path.error();
      f.final_path = *path;
      fs::path p(f.final_path);
      f.temp_path = (p.parent_path() / ("." + p.filename().string() + ".cohort-part")).string();
    }
    return OkStatus();
  }

  void SaveState(Job& job) {
    io::MakeDirs(root.path() + "/.cohort/jobs").value();
    (void)io::WriteFileAtomic(StatePath(job.manifest.job), json{{"done", job.done}}.dump());
  }

  void Fail(Job& job, const std::string& why) {
    if (job.error.empty()) {
      Log(LogLevel::kWarn, "distribution", "job failed here",
          {{"job", job.manifest.job}, {"error", why}});
    }
    job.error = why;
    SendReport(job, true);
  }

  // Stream bytes [offset, offset + size) arrived (or were copied in at the base).
  void Append(Job& job, uint64_t offset, const uint8_t* data, size_t size) {
    if (offset > job.have || !job.cancelled.empty()) return;  // a gap: the source is confused
    size_t skip = static_cast<size_t>(std::min<uint64_t>(job.have - offset, size));
    data += skip;
    size -= skip;
    while (size > 0) {
      size_t idx = CommandAt(job, job.have);
      if (idx >= job.manifest.commands.size()) return;
      const Command& c = job.manifest.commands[idx];
      FileState& f = job.files[idx];
      uint64_t start = job.manifest.FileOffset(idx);
      if (f.fd < 0 && !OpenTemp(job, idx)) return;
      size_t n = static_cast<size_t>(std::min<uint64_t>(size, start + c.size - job.have));
      ssize_t w = ::pwrite(f.fd, data, n, static_cast<off_t>(job.have - start));
      if (w != static_cast<ssize_t>(n)) {
        return Fail(job, f.temp_path + ": write failed: " + std::strerror(errno));
      }
      f.sha.Update(data, n);
      job.have += n;
      data += n;
      size -= n;
      // The install's fdatasync would otherwise write the whole file at its end, when every
      // server of the job does the same at once.
      io::StartWriteback(f.fd, job.have - start - n, job.have - start);
      if (job.have == start + c.size) ::close(std::exchange(f.fd, -1));  // all here
    }
    PumpAll(job);  // forward first: installing may wait for a digest or the disk
    Apply(job);
    PumpAll(job);
  }

  // Index of the file command holding stream byte `offset` (the first one not finished).
  size_t CommandAt(const Job& job, uint64_t offset) const {
    uint64_t at = 0;
    for (size_t i = 0; i < job.manifest.commands.size(); ++i) {
      const Command& c = job.manifest.commands[i];
      if (c.kind != CommandKind::kFile) continue;
      if (offset < at + c.size) return i;
      at += c.size;
    }
    return job.manifest.commands.size();
  }

  bool OpenTemp(Job& job, size_t idx) {
    FileState& f = job.files[idx];
    auto parent = fs::path(f.final_path).parent_path().string();
    // Checked again as it is created: a symlink may have appeared since the job began.
    if (auto s = StillInside(job, idx); !s) {
      Fail(job, s.error().message());
      return false;
    }
    if (auto s = io::MakeDirs(parent); !s) {
      Fail(job, s.error().message());
      return false;
    }
    f.fd = ::open(f.temp_path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    struct stat st {};
    if (f.fd < 0 || ::fstat(f.fd, &st) != 0) {
      Fail(job, f.temp_path + ": " + std::strerror(errno));
      return false;
    }
    f.inode = st.st_ino;
    f.sha.Reset();
    return true;
  }

  Status StillInside(const Job& job, size_t idx) const {
    auto path = root.Resolve(job.rel_dir + "/" + job.manifest.commands[idx].path);
    if (!path) return path.error();
    if (*path != job.files[idx].final_path) {
      return Error(Errc::kPermission, job.manifest.commands[idx].path + ": changed on disk");
    }
    return OkStatus();
  }

  // Completes commands in order: folders made, files verified and installed (D13).
  void Apply(Job& job) {
    bool progressed = false;
    while (job.error.empty() && job.cancelled.empty() && job.done < job.manifest.commands.size()) {
      const size_t i = job.done;
      const Command& c = job.manifest.commands[i];
      FileState& f = job.files[i];
      if (c.kind == CommandKind::kMkdir) {
        if (auto s = StillInside(job, i); !s) return Fail(job, s.error().message());
        if (auto s = io::MakeDirs(f.final_path); !s) return Fail(job, s.error().message());
      } else if (c.kind == CommandKind::kEnd) {
        // Folders' attributes last: their mode may forbid writing into them, and every file
        // installed in one changes its mtime.
        for (size_t k = i; k-- > 0;) {
          const Command& dir = job.manifest.commands[k];
          if (dir.kind == CommandKind::kMkdir &&
              !SetFolderAttributes(job.files[k].final_path, dir)) {
            return Fail(job, job.files[k].final_path + ": " + std::strerror(errno));
          }
        }
      } else if (c.kind == CommandKind::kFile) {
        if (job.have < job.manifest.FileOffset(i) + c.size || f.installing) break;
        if (!f.installed) {
          if (Verify(job, i)) StartInstall(job, i);
          break;
        }
      }
      job.done = i + 1;
      progressed = true;
    }
    if (!progressed) return;
    SaveState(job);
    if (job.completed()) {
      job.finished = node.Now();
      if (!job.is_base) ::unlink(ManifestPath(job.manifest.job).c_str());
      Log(LogLevel::kInfo, "distribution", "job complete here",
          {{"job", job.manifest.job},
           {"bytes", std::to_string(job.have)},
           {"seconds", std::to_string((job.finished - job.started).seconds())}});
      if (job.upstream) job.upstream->Send(distribution::AckMsg{kCompletedAck});
      SendReport(job, true);
      CloseSource(job);
    }
  }

  // A file's bytes are all here: true if they match the origin's digest. False while the
  // digest has not arrived (or on a mismatch: the file is received again from its start).
  bool Verify(Job& job, size_t i) {
    const Command& c = job.manifest.commands[i];
    FileState& f = job.files[i];
    if (c.size == 0 && f.inode == 0) {  // an empty file: nothing made it yet
      if (!OpenTemp(job, i)) return false;
      ::close(std::exchange(f.fd, -1));
    }
    const wire::Sha256Digest mine = f.sha.Digest();
    if (job.is_base && !f.digest) f.digest = mine;  // the origin's own reading
    if (!f.digest) return false;                    // wait for the announced digest
    if (*f.digest == mine) return true;
    // Corrupt somewhere: drop the file and ask for it again from its first byte.
    job.have = job.manifest.FileOffset(i);  // Append makes the temporary file anew
    f.sha.Reset();
    if (job.upstream) job.upstream->Close();
    Log(LogLevel::kWarn, "distribution", "digest mismatch, receiving the file again",
        {{"job", job.manifest.job}, {"file", c.path}});
    return false;
  }

  // Mode, mtime, data sync and rename (D13) run on the disk pool, so the loop keeps moving
  // bytes while the file's pages are flushed; Apply continues when it is done.
  void StartInstall(Job& job, size_t i) {
    FileState& f = job.files[i];
    const Command c = job.manifest.commands[i];
    f.installing = true;
    boost::asio::post(disk, [ioc = &io, alive = alive, id = job.manifest.job, i, c, inode = f.inode,
                             temp = f.temp_path, final_path = f.final_path, this] {
      std::string error;
      const int fd = ::open(temp.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
      struct stat st {};
      if (fd < 0 || ::fstat(fd, &st) != 0 || st.st_ino != inode) {
        error = temp + ": the received file is gone or was replaced";
      } else if (!SetAttributes(fd, c) || ::fdatasync(fd) != 0 ||
                 ::rename(temp.c_str(), final_path.c_str()) != 0) {
        error = final_path + ": cannot install: " + std::strerror(errno);
      }
      if (fd >= 0) ::close(fd);
      boost::asio::post(*ioc, [alive, id, i, error, this] {
        if (!*alive) return;
        Job* j = FindJob(id);
        if (!j || i >= j->files.size() || !j->files[i].installing) return;
        FileState& file = j->files[i];
        file.installing = false;
        if (!error.empty()) return Fail(*j, error);
        file.installed = true;
        Apply(*j);
        PumpAll(*j);
      });
    });
  }

  // The job is cancelled: every connection of it closed, the partial files deleted; what
  // is installed stays (verified, and maybe in use). Its state stays so that a late offer
  // is declined and a report shows why.
  void DropJob(Job& job, const std::string& reason) {
    if (!job.cancelled.empty()) return;
    job.cancelled = reason.empty() ? "cancelled" : reason;
    if (!job.completed()) job.error = job.cancelled;
    Log(LogLevel::kInfo, "distribution", "job cancelled here",
        {{"job", job.manifest.job}, {"reason", job.cancelled}});
    for (size_t i = job.done; i < job.files.size(); ++i) {
      const FileState& f = job.files[i];
      // An install in flight completes; an uncreated file has nothing to delete.
      if (!f.installing && !f.installed && f.inode != 0) ::unlink(f.temp_path.c_str());
    }
    if (!job.is_base) ::unlink(ManifestPath(job.manifest.job).c_str());
    Release(job);
  }

  // A cancel for a job this server does not hold in memory (it was down, and restarted):
  // the job is taken up from its files on disk as an offer would, so that DropJob deletes
  // its partial files, and later offers of it are declined.
  void DropFromDisk(const std::string& id, const std::string& reason) {
    auto manifest = LoadManifestFile(ManifestPath(id), id);
    if (!manifest) return;  // never received here, completed, or dropped already
    auto created = CreateJob(*manifest, false, false, /*resume=*/false);  // no rehash to delete
    if (!created) return;
    Job& job = **created;
    // Any of its temporary files may be there (the one being received, those verified and
    // installing when the daemon stopped); each is this job's unless another job in memory
    // is writing that same file.
    for (FileState& f : job.files) {
      struct stat st {};
      if (f.temp_path.empty() || ::lstat(f.temp_path.c_str(), &st) != 0) continue;
      auto writing = [&](const auto& other) {
        return std::any_of(
            other.second->files.begin(), other.second->files.end(),
            [&](const FileState& o) { return o.inode == st.st_ino && o.temp_path == f.temp_path; });
      };
      if (std::none_of(jobs.begin(), jobs.end(), writing)) f.inode = st.st_ino;
    }
    DropJob(job, reason);
  }

  // Every connection and descriptor of the job closed (it is cancelled, forgotten, or the
  // daemon stops).
  void Release(Job& job) {
    if (job.upstream) job.upstream->Abandon();
    job.upstream = nullptr;
    for (auto& [target, d] : job.downs) {
      if (d.conn) d.conn->Abandon();
    }
    job.downs.clear();
    if (job.report_conn) job.report_conn->Close();
    for (auto& f : job.files) {
      if (f.fd >= 0) ::close(std::exchange(f.fd, -1));
    }
    if (job.source_fd >= 0) ::close(std::exchange(job.source_fd, -1));
  }

  // At the base: cancels the job everywhere (the tracker tells the servers).
  Status CancelJob(Job& job, const std::string& reason) {
    if (job.tracker->Final()) {
      return Error(Errc::kInvalidArgument, "job " + job.manifest.job + " has ended " +
                                               distribution::JobStateName(job.tracker->State()));
    }
    Log(LogLevel::kWarn, "distribution", "job cancelled",
        {{"job", job.manifest.job}, {"reason", reason}});
    job.tracker->Cancel(reason, node.Now());
    DropJob(job, reason);
    NotifyIfChanged(job);
    TrackerTick(job, node.Now());  // the servers are told now, and the document written
    return OkStatus();
  }

  void CloseSource(Job& job) {
    if (!job.upstream) return;
    auto up = std::move(job.upstream);
    job.agent->OnSourceLost(up->peer());
    up->CloseAfterSend();
  }

  void OnOffer(const std::shared_ptr<DataConn>& conn, distribution::OfferMsg& offer) {
    Job* job = FindJob(offer.manifest.job);
    if (job && !job->cancelled.empty()) {
      conn->Send(distribution::AcceptMsg{false, job->have, false});
      return conn->CloseAfterSend();
    }
    if (!job) {
      auto created = CreateJob(offer.manifest, false, false);
      if (!created) {
        Log(LogLevel::kWarn, "distribution", "refused an offer",
            {{"job", offer.manifest.job},
             {"from", std::to_string(conn->peer())},
             {"reason", created.error().message()}});
        conn->Send(distribution::ResultMsg{"refused: " + created.error().message(), "", {}});
        return conn->CloseAfterSend();
      }
      job = *created;
      SaveManifest(*job);
    } else if (offer.manifest.commands.size() > job->manifest.commands.size()) {
      std::vector<Command> more(offer.manifest.commands.begin() +
                                    static_cast<std::ptrdiff_t>(job->manifest.commands.size()),
                                offer.manifest.commands.end());
      AppendCommands(*job, more);
    }
    const std::string id = job->manifest.job;
    std::vector<distribution::NodeAgent::Action> actions;
    bool accepted = job->agent->OnOffer(
        {conn->peer(), offer.list, static_cast<double>(offer.rate), offer.replaces}, {}, &actions,
        job->completed() || job->is_base);
    if (!accepted) {
      conn->Send(distribution::AcceptMsg{false, job->have, job->completed()});
      conn->CloseAfterSend();
    } else {
      if (job->upstream && job->upstream != conn) {
        job->upstream->Send(distribution::AckMsg{kSwitchedAck});
        job->upstream->Abandon(/*after_send=*/true);
      }
      job->error.clear();
      job->upstream = conn;
      job->acked_upstream = job->have;
      std::weak_ptr<DataConn> weak = conn;
      conn->SetHandlers(
          [this, id, weak](Message& m) {
            Job* j = FindJob(id);
            if (j) OnUpstream(*j, m);
          },
          [this, id, weak] {
            Job* j = FindJob(id);
            auto c = weak.lock();
            if (!j || !c || j->upstream != c) return;
            j->upstream = nullptr;
            j->agent->OnSourceLost(c->peer());
            if (!j->completed()) SendReport(*j, true);  // "my source is gone"
          });
      conn->Send(distribution::AcceptMsg{true, job->have, false});
      SendReport(*job, true);  // D9: job receipt
    }
    Run(id, actions);
  }

  void OnUpstream(Job& job, Message& m) {
    if (auto* data = std::get_if<distribution::DataMsg>(&m)) {
      received += data->bytes.size();
      job.window_bytes += data->bytes.size();
      Append(job, data->offset, data->bytes.data(), data->bytes.size());
      if (job.upstream && job.have >= job.acked_upstream + kAckEvery) {
        job.acked_upstream = job.have;
        job.upstream->Send(distribution::AckMsg{job.have});
      }
    } else if (auto* digest = std::get_if<distribution::DigestMsg>(&m)) {
      for (size_t i = 0; i < job.manifest.commands.size(); ++i) {
        if (job.manifest.commands[i].id == digest->command) job.files[i].digest = digest->sha256;
      }
      Apply(job);
      PumpAll(job);
    } else if (auto* more = std::get_if<distribution::CommandsMsg>(&m)) {
      std::vector<Command> fresh;
      for (const auto& c : more->commands) {
        if (c.id > (job.manifest.commands.empty() ? 0 : job.manifest.commands.back().id)) {
          fresh.push_back(c);
        }
      }
      AppendCommands(job, fresh);
    }
  }

  void AppendCommands(Job& job, const std::vector<Command>& more) {
    if (auto s = distribution::CheckCommands(job.manifest.commands, more); !s) {
      return Fail(job, "refused commands: " + s.error().message());
    }
    if (!job.manifest.Append(more)) return;
    if (job.tracker) job.tracker->Append(more);
    SaveManifest(job);
    if (auto s = SyncFiles(job); !s) return Fail(job, s.error().message());
    Apply(job);
    PumpAll(job);
  }

  // ---- feeding ----
  void Run(const std::string& id, std::vector<distribution::NodeAgent::Action> actions) {
    // StopFeed needs nothing here: OnOffer tells the old source (kSwitchedAck) and closes
    // its connection when it accepts the new one.
    for (auto& a : actions) {
      if (auto* start = std::get_if<distribution::NodeAgent::StartFeed>(&a)) {
        StartFeed(id, start->target, start->list, start->replaces);
      } else if (auto* drop = std::get_if<distribution::NodeAgent::DropFeed>(&a)) {
        DropFeed(id, drop->target);
      }
    }
  }

  void DropFeed(const std::string& id, NodeId target) {
    Job* job = FindJob(id);
    if (!job || !job->downs.count(target)) return;
    if (auto conn = job->downs[target].conn) conn->Abandon();
    job->downs.erase(target);
    Log(LogLevel::kWarn, "distribution", "stopped feeding a server the base found failed",
        {{"job", id}, {"server", std::to_string(target)}});
  }

  void FeedEnded(const std::string& id, NodeId target, bool completed) {
    Job* job = FindJob(id);
    if (!job) return;
    job->downs.erase(target);
    std::vector<distribution::NodeAgent::Action> actions;
    job->agent->OnFeedEnded(target, completed, &actions);
    Run(id, actions);
  }

  void StartFeed(const std::string& id, NodeId target, std::vector<NodeId> list,
                 NodeId replaces = kNoNode) {
    Job* job = FindJob(id);
    if (!job) return;
    job->downs[target] = Downstream{};
    Dial(target, [this, id, target, list, replaces](std::shared_ptr<DataConn> conn) {
      Job* j = FindJob(id);
      if (!j) return;
      if (!conn) return FeedEnded(id, target, false);
      j->downs[target].conn = conn;
      std::weak_ptr<DataConn> weak = conn;
      conn->SetHandlers(
          [this, id, target](Message& m) {
            Job* jj = FindJob(id);
            if (jj) OnDownstream(*jj, target, m);
          },
          [this, id, target, weak] {
            Job* jj = FindJob(id);
            if (!jj) return;
            auto it = jj->downs.find(target);
            if (it == jj->downs.end() || it->second.conn != weak.lock()) return;
            FeedEnded(id, target, false);
          });
      conn->OnDrain([this, id, target] {
        Job* jj = FindJob(id);
        if (jj) Pump(*jj, target);
      });
      // The offer carries the manifest as it stands; commands added before the target
      // accepts follow it in a CommandsMsg (Pump), or the target would never complete.
      j->downs[target].commands_sent = j->manifest.commands.size();
      conn->Send(distribution::OfferMsg{j->manifest, list, static_cast<uint64_t>(OfferedRate()),
                                        replaces});
    });
  }

  void OnDownstream(Job& job, NodeId target, Message& m) {
    auto it = job.downs.find(target);
    if (it == job.downs.end()) return;
    Downstream& d = it->second;
    if (auto* refused = std::get_if<distribution::ResultMsg>(&m)) {
      Log(LogLevel::kWarn, "distribution", "a server refused the job",
          {{"job", job.manifest.job},
           {"server", std::to_string(target)},
           {"reason", refused->error}});
      return d.conn->Close();  // the close handler ends the feed
    }
    if (auto* accept = std::get_if<distribution::AcceptMsg>(&m)) {
      if (!accept->accepted) {
        d.conn->Abandon();
        job.downs.erase(it);
        std::vector<distribution::NodeAgent::Action> actions;
        job.agent->OnFeedEnded(target, true, &actions);  // it took the list
        return Run(job.manifest.job, actions);
      }
      d.accepted = true;
      d.sent = accept->offset;
      Pump(job, target);
    } else if (auto* ack = std::get_if<distribution::AckMsg>(&m)) {
      if (ack->offset == kCompletedAck || ack->offset == kSwitchedAck) {
        d.conn->Abandon(/*after_send=*/true);
        FeedEnded(job.manifest.job, target, true);
      }
    }
  }

  void PumpAll(Job& job) {
    for (auto& [target, d] : job.downs) Pump(job, target);
  }

  void Pump(Job& job, NodeId target) {
    auto it = job.downs.find(target);
    if (it == job.downs.end() || !it->second.accepted || !it->second.conn) return;
    Downstream& d = it->second;
    DataConn& conn = *d.conn;
    const auto& cmds = job.manifest.commands;
    if (d.commands_sent < cmds.size()) {
      conn.Send(distribution::CommandsMsg{
          {cmds.begin() + static_cast<std::ptrdiff_t>(d.commands_sent), cmds.end()}});
      d.commands_sent = cmds.size();
    }
    while (d.digest_next < cmds.size()) {
      const Command& c = cmds[d.digest_next];
      if (c.kind == CommandKind::kFile) {
        if (!job.files[d.digest_next].digest) break;
        conn.Send(distribution::DigestMsg{c.id, *job.files[d.digest_next].digest});
      }
      ++d.digest_next;
    }
    while (conn.queued() < kSendWindow && d.sent < job.have) {
      size_t idx = CommandAt(job, d.sent);
      if (idx >= cmds.size()) break;
      uint64_t start = job.manifest.FileOffset(idx);
      uint64_t n = std::min<uint64_t>({kChunk, job.have - d.sent, start + cmds[idx].size - d.sent});
      if (!TakeTokens(n)) return SchedulePump();
      Bytes payload;
      uint8_t* data = distribution::EncodeDataInPlace(d.sent, n, &payload);
      // The file still being received or installed is read through its writer's
      // descriptor; an installed one through the feed's own.
      const FileState& f = job.files[idx];
      const int fd = f.fd >= 0 ? f.fd
                               : d.reading.Open(idx, {f.installed ? f.final_path : f.temp_path,
                                                      f.installed ? f.temp_path : f.final_path,
                                                      f.inode, cmds[idx].size});
      ssize_t r = fd < 0 ? -1 : ::pread(fd, data, n, static_cast<off_t>(d.sent - start));
      if (r != static_cast<ssize_t>(n)) return conn.Close();
      conn.SendEncoded(payload);
      d.sent += n;
      sent += n;
      sent_window += n;
    }
  }

  bool TakeTokens(uint64_t n) {
    double limit = UploadLimit();
    if (limit <= 0) return true;
    Instant now = node.Now();
    tokens = std::min(limit * 0.1, tokens + (now - tokens_at).seconds() * limit);
    tokens_at = now;
    if (tokens < static_cast<double>(n)) return false;
    tokens -= static_cast<double>(n);
    return true;
  }

  void SchedulePump() {
    if (pump_scheduled) return;
    pump_scheduled = true;
    auto t = std::make_shared<boost::asio::steady_timer>(io, std::chrono::milliseconds(5));
    t->async_wait([this, t](const boost::system::error_code& ec) {
      pump_scheduled = false;
      if (ec || stopped) return;
      for (auto& [id, job] : jobs) PumpAll(*job);
    });
  }

  std::string FeedFromHere(const std::string& id, NodeId target, bool switch_offer,
                           NodeId replaces = kNoNode) {
    Job* job = FindJob(id);
    if (!job) return kNoJobHere;
    if (!job->cancelled.empty()) return "the job is cancelled";
    std::vector<distribution::NodeAgent::Action> actions;
    if (!job->agent->AddFeed(target, {}, &actions, switch_offer, replaces)) return "busy";
    Run(id, actions);
    return "";
  }

  // ---- reports and the base's tracking ----
  void SendReport(Job& job, bool now_please) {
    if (!job.cancelled.empty() && !job.is_base) return;  // the base knows
    Instant now = node.Now();
    if (!now_please && now - job.last_report < kReportEvery) return;
    job.last_report = now;
    if (job.is_base) {
      if (job.tracker) {
        job.tracker->OnReport(ReportOf(job.manifest.job), now);
        NotifyIfChanged(job);
      }
      return;
    }
    distribution::ReportMsg msg{job.manifest.job, ReportOf(job.manifest.job)};
    if (job.report_conn && !job.report_conn->closed()) return job.report_conn->Send(msg);
    if (job.reporting) return;
    job.reporting = true;
    const std::string id = job.manifest.job;
    Dial(job.manifest.base, [this, id](std::shared_ptr<DataConn> conn) {
      Job* j = FindJob(id);
      if (!j) return;
      j->reporting = false;
      j->report_conn = conn;
      if (conn) conn->Send(distribution::ReportMsg{id, ReportOf(id)});
    });
  }

  void OnReport(const distribution::ReportMsg& m) {
    Job* job = FindJob(m.job);
    if (!job || !job->tracker) return;
    job->tracker->OnReport(m.report, node.Now());
    NotifyIfChanged(*job);
  }

  // Wakes the long polls when the job's or a server's state changed; true if it did.
  bool NotifyIfChanged(Job& job) {
    std::string summary = distribution::JobStateName(job.tracker->State());
    for (const auto& [id, v] : job.tracker->servers()) {
      summary += " " + std::to_string(id) + distribution::ServerStateName(v.state);
    }
    if (summary == job.summary) return false;
    if (job.tracker->Final() && !job.ended_at) job.ended_at = node.Now();
    job.summary = std::move(summary);
    auto waiters = std::move(job.waiters);
    job.waiters.clear();
    for (auto& w : waiters) {
      if (auto fn = std::exchange(*w, nullptr)) fn();
    }
    return true;
  }

  void WaitForChange(const std::string& id, Duration timeout, std::function<void()> done) {
    Job* job = FindJob(id);
    if (!job || !job->tracker || job->tracker->Final()) return done();
    // Polls that timed out leave empty entries; drop them so a quiet job does not collect them.
    std::erase_if(job->waiters, [](const auto& w) { return !*w; });
    auto deadline = std::make_shared<boost::asio::steady_timer>(io);
    auto once = std::make_shared<std::function<void()>>([deadline, done = std::move(done)] {
      deadline->cancel();
      done();
    });
    job->waiters.push_back(once);
    deadline->expires_after(std::chrono::nanoseconds(timeout.nanos()));
    deadline->async_wait([once](const boost::system::error_code& ec) {
      if (auto fn = std::exchange(*once, nullptr); !ec && fn) fn();
    });
  }

  void Tick() {
    if (stopped) return;
    Instant now = node.Now();
    double window = (now - sent_window_start).seconds();
    if (window >= 1.0) {
      upload_peak = std::max(upload_peak * 0.9, sent_window / window);
      sent_window = 0;
      sent_window_start = now;
    }
    for (auto& [id, job] : jobs) {
      double w = (now - job->window_start).seconds();
      if (w >= 1.0) {
        job->rate = job->window_bytes / w;
        job->window_bytes = 0;
        job->window_start = now;
        if (job->upstream) job->agent->SetSourceRate(job->rate);
      }
      if (!job->completed() || job->tracker) SendReport(*job, false);
      if (job->tracker) {
        CancelIfAbandoned(*job, now);
        TrackerTick(*job, now);
      }
    }
    ForgetIdle(now);
    timer.expires_after(std::chrono::nanoseconds(kTick.nanos()));
    timer.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) Tick();
    });
  }

  // A daemon runs job after job for months: a job is dropped from memory once it has been
  // idle for forget_after_s. At the base that is a final job, whose document is kept as
  // text; elsewhere any job without connections (finished, cancelled, or left unfed): if it
  // is offered again, its state file and partial file take it up where it was.
  void ForgetIdle(Instant now) {
    const Duration after = Duration::Seconds(node.config().distribution_forget_after_s);
    for (auto it = jobs.begin(); it != jobs.end();) {
      Job& job = *it->second;
      const bool installing = std::any_of(job.files.begin(), job.files.end(),
                                          [](const FileState& f) { return f.installing; });
      const bool settled = !job.tracker || (job.tracker->Final() && job.saved_final &&
                                            !job.tracker->drops_pending());
      const bool idle =
          settled && !job.upstream && job.downs.empty() && !job.copy_active && !installing;
      if (!idle) {
        job.idle_since.reset();
        ++it;
        continue;
      }
      if (!job.idle_since) job.idle_since = now;
      if (now - *job.idle_since < after) {
        ++it;
        continue;
      }
      if (job.tracker) finished_docs[it->first] = Document(job).dump();
      Release(job);
      it = jobs.erase(it);
    }
  }

  // D4: an upload whose client has sent nothing for upload_idle_s will not finish; its
  // servers would otherwise wait for the rest forever.
  void CancelIfAbandoned(Job& job, Instant now) {
    const uint32_t idle_s = node.config().distribution_upload_idle_s;
    if (!job.upload || idle_s == 0 || job.tracker->Final() || !job.cancelled.empty() ||
        job.have >= job.manifest.StreamSize() ||
        now - job.last_upload < Duration::Seconds(idle_s)) {
      return;
    }
    (void)CancelJob(job, "upload abandoned: the client sent nothing for " + std::to_string(idle_s) +
                             " s (" + std::to_string(job.have) + " of " +
                             std::to_string(job.manifest.StreamSize()) + " bytes)");
  }

  void TrackerTick(Job& job, Instant now) {
    const std::string id = job.manifest.job;
    for (auto& action : job.tracker->Tick(now)) {
      if (auto* q = std::get_if<distribution::JobTracker::Query>(&action)) {
        NodeId server = q->server;
        if (server == self()) {
          job.tracker->OnReport(ReportOf(id), now);
          continue;
        }
        Request(server, distribution::QueryMsg{id}, [this, id, server](std::optional<Message> m) {
          Job* j = FindJob(id);
          if (!j || !j->tracker) return;
          auto* r = m ? std::get_if<distribution::ReportMsg>(&*m) : nullptr;
          if (r) {
            r->report.server = server;
            j->tracker->OnReport(r->report, node.Now());
          } else {
            j->tracker->OnSilent(server, "not answering", node.Now());
          }
          NotifyIfChanged(*j);
        });
      } else if (auto* feed = std::get_if<distribution::JobTracker::Feed>(&action)) {
        if (feed->source == self()) {
          FeedFromHere(id, feed->target, feed->switch_offer, feed->replaces);
          continue;
        }
        // A source that no longer holds the job (restarted, or it forgot the job after
        // forget_after_s) cannot feed it: the base, which holds it, does (not for a mere
        // switch offer).
        const NodeId target = feed->target;
        const bool repair = !feed->switch_offer;
        Request(feed->source, distribution::FeedMsg{id, target, feed->switch_offer, feed->replaces},
                [this, id, target, repair](std::optional<Message> m) {
                  auto* r = m ? std::get_if<distribution::ResultMsg>(&*m) : nullptr;
                  if (repair && FindJob(id) && (!r || r->error == kNoJobHere)) {
                    FeedFromHere(id, target, false);
                  }
                });
      } else if (auto* drop = std::get_if<distribution::JobTracker::Drop>(&action)) {
        NodeId server = drop->server;
        if (server == self()) {
          job.tracker->OnDropped(server);  // DropJob ran when the job was cancelled
          continue;
        }
        Request(server, distribution::CancelMsg{id, job.tracker->cancel_reason()},
                [this, id, server](std::optional<Message> m) {
                  Job* j = FindJob(id);
                  if (j && j->tracker && m && std::holds_alternative<distribution::ResultMsg>(*m)) {
                    j->tracker->OnDropped(server);
                  }
                });
      }
    }
    // D7: what each server uploaded at best in its latest job orders the next jobs' lists.
    for (const auto& [source, peak] : job.tracker->peak_upload_rates()) upload_rates[source] = peak;
    // The document on disk follows state changes at once and progress once a second; a
    // final job is written once more and then left alone (each write syncs the disk).
    const bool changed = NotifyIfChanged(job);
    if (job.saved_final) return;
    if (changed || now - job.saved_at >= Duration::Seconds(1)) {
      SaveJobDocument(job);
      job.saved_at = now;
      job.saved_final = job.tracker->Final();
    }
  }

  // ---- jobs at the base ----
  Result<std::string> Submit(const JobRequest& request) {
    if (request.dest.empty()) return Error(Errc::kInvalidArgument, "--dest must not be empty");
    if (auto s = distribution::CheckWritablePath(request.dest); !s) {
      return Error(s.error().code(), "--dest " + s.error().message());
    }
    if (request.content.paths.empty() && request.content.entries.empty() && !request.open) {
      return Error(Errc::kInvalidArgument, "no paths to distribute");
    }
    std::vector<std::string> sources;
    auto collected = CollectCommands(request.content, {}, 1, &sources);
    if (!collected) return collected.error();
    std::vector<Command> commands = std::move(*collected);
    std::vector<NodeId> servers = request.servers;
    if (servers.empty()) {
      servers = node.membership().map().Ring();
      if (servers.empty()) servers.push_back(self());
    }
    for (NodeId n : servers) {
      if (n != self() && !EndpointOf(n)) {
        return Error(Errc::kNotFound,
                     "server " + std::to_string(n) + " is not in the address table");
      }
    }
    Manifest m;
    m.job = std::to_string(self()) + "-" + std::to_string(next_job++);
    m.base = self();
    m.dest = request.dest;
    if (!request.open) {
      commands.push_back(Command{static_cast<uint32_t>(commands.size() + 1), CommandKind::kEnd});
    }
    m.Append(commands);
    const bool staging = std::find(servers.begin(), servers.end(), self()) == servers.end();
    auto created = CreateJob(m, true, staging);
    if (!created) return created.error();
    Job& job = **created;
    job.sources = sources;
    job.upload = request.content.upload;
    job.last_upload = node.Now();
    distribution::TrackerOptions options;
    job.tracker = std::make_unique<distribution::JobTracker>(m, servers, options, node.Now());
    Log(LogLevel::kInfo, "distribution", "job accepted",
        {{"job", m.job},
         {"commands", std::to_string(commands.size())},
         {"bytes", std::to_string(m.StreamSize())},
         {"servers", std::to_string(servers.size())}});
    std::vector<NodeId> others;
    for (NodeId n : servers) {
      if (n != self()) others.push_back(n);
    }
    // D7: the servers in descending order of the upload rates measured in earlier jobs; the
    // relays keep that order as they hand the list on.
    others = distribution::OrderByRate(others, upload_rates);
    std::string order;
    for (NodeId n : others) order += (order.empty() ? "" : ",") + std::to_string(n);
    Log(LogLevel::kInfo, "distribution", "approach order", {{"job", m.job}, {"servers", order}});
    std::vector<distribution::NodeAgent::Action> actions;
    for (auto& share : distribution::SplitList(others, node.config().distribution_fanout)) {
      job.agent->AddFeed(share.target, share.list, &actions);
    }
    Run(m.job, actions);
    CopyIn(m.job);
    SaveJobDocument(job);
    return m.job;
  }

  // The origin: copies the client's files in, a megabyte per turn of the loop, so the
  // downstream feeds start at once and run behind it (D4).
  void CopyIn(const std::string& id) {
    Job* job = FindJob(id);
    if (!job || stopped || !job->cancelled.empty()) return;
    job->copy_active = false;
    while (job->copying < job->sources.size() &&
           (job->manifest.commands[job->copying].kind != CommandKind::kFile ||
            job->have >= job->manifest.FileOffset(job->copying) +
                             job->manifest.commands[job->copying].size)) {
      if (job->source_fd >= 0) ::close(job->source_fd);
      job->source_fd = -1;
      ++job->copying;
      Apply(*job);
    }
    if (job->copying >= job->sources.size()) {
      Apply(*job);
      return;
    }
    const size_t i = job->copying;
    if (job->source_fd < 0) {
      job->source_fd = ::open(job->sources[i].c_str(), O_RDONLY | O_CLOEXEC);
      if (job->source_fd < 0) return Fail(*job, job->sources[i] + ": " + std::strerror(errno));
    }
    const uint64_t start = job->manifest.FileOffset(i);
    std::vector<uint8_t> buf(
        std::min<uint64_t>(1 << 20, start + job->manifest.commands[i].size - job->have));
    ssize_t n =
        ::pread(job->source_fd, buf.data(), buf.size(), static_cast<off_t>(job->have - start));
    if (n <= 0) {
      return Fail(*job, job->sources[i] + ": shorter than when the job was created");
    }
    Append(*job, job->have, buf.data(), static_cast<size_t>(n));
    job->copy_active = true;
    boost::asio::post(io, [this, id] { CopyIn(id); });
  }

  // D10: more of the client's files for a job that has not ended.
  Status Add(const std::string& id, const JobContent& content) {
    Job* job = FindJob(id);
    if (!job || !job->tracker) return Error(Errc::kNotFound, "no job '" + id + "' running here");
    if (!job->cancelled.empty()) return Error(Errc::kInvalidArgument, job->cancelled);
    if (job->manifest.ended()) {
      return Error(Errc::kInvalidArgument,
                   "job " + id + " has ended: start a job with --open to add to it");
    }
    if (content.upload != job->upload) {
      return Error(Errc::kInvalidArgument,
                   job->upload ? "job " + id + " takes uploads: send entries, then their bytes"
                               : "job " + id + " reads its files on the base server: send paths");
    }
    if (content.paths.empty() && content.entries.empty()) {
      return Error(Errc::kInvalidArgument, "no paths to add");
    }
    const auto& existing = job->manifest.commands;
    std::vector<std::string> sources;
    auto more =
        CollectCommands(content, existing, existing.empty() ? 1 : existing.back().id + 1, &sources);
    if (!more) return more.error();
    job->sources.insert(job->sources.end(), sources.begin(), sources.end());
    job->last_upload = node.Now();  // the client is here: its bytes follow
    AppendCommands(*job, *more);
    if (!job->copy_active) CopyIn(id);
    SaveJobDocument(*job);
    Log(LogLevel::kInfo, "distribution", "commands added",
        {{"job", id}, {"commands", std::to_string(more->size())}});
    return OkStatus();
  }

  // D4: the client's bytes, written and forwarded as they arrive, like a relay's.
  Result<uint64_t> Stream(const std::string& id, uint64_t offset, const std::string& bytes) {
    Job* job = FindJob(id);
    if (!job || !job->tracker) return Error(Errc::kNotFound, "no job '" + id + "' running here");
    if (!job->upload) {
      return Error(Errc::kInvalidArgument,
                   "job " + id + " reads its files on the base server; it takes no upload");
    }
    if (!job->cancelled.empty()) return Error(Errc::kInvalidArgument, job->cancelled);
    if (!job->error.empty()) return Error(Errc::kIo, job->error);
    job->last_upload = node.Now();
    if (offset > job->have) {
      return Error(Errc::kAlreadyExists, "job " + id + " holds " + std::to_string(job->have) +
                                             " bytes: resume the upload from there");
    }
    if (offset + bytes.size() > job->manifest.StreamSize()) {
      return Error(Errc::kInvalidArgument, "the upload runs past the job's files (" +
                                               std::to_string(job->manifest.StreamSize()) +
                                               " bytes)");
    }
    Append(*job, offset, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    if (!job->error.empty()) return Error(Errc::kIo, job->error);
    return job->have;
  }

  // ---- documents ----
  json Document(const Job& job) const {
    FileDigests digests;
    for (const auto& f : job.files) digests.push_back(f.digest);
    // A final job's elapsed time stops where it ended.
    return node::JobDocument(*job.tracker, digests, job.started, job.ended_at.value_or(node.Now()),
                             job.upload ? std::optional<uint64_t>(job.have) : std::nullopt);
  }

  void SaveJobDocument(Job& job) {
    json doc = Document(job);
    AddSources(doc, job.sources);
    (void)io::MakeDirs(JobsDir());
    (void)io::WriteFileAtomic(JobsDir() + "/" + job.manifest.job + ".json", doc.dump(1));
  }

  // Jobs of earlier runs: final ones are answered as saved; one that was running is tracked
  // again (ResumeTracking), or shown failed if its document cannot be resumed.
  void LoadJobDocuments() {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(JobsDir(), ec)) {
      auto text = io::ReadFile(e.path().string());
      if (!text) continue;
      json doc = json::parse(*text, nullptr, false);
      if (!doc.is_object() || !doc.contains("id") || !doc["id"].is_string()) continue;
      const std::string id = doc["id"].get<std::string>();
      auto dash = id.find('-');
      if (dash != std::string::npos && dash + 1 < id.size() && id.size() - dash < 19 &&
          id.find_first_not_of("0123456789", dash + 1) == std::string::npos) {
        next_job = std::max<uint64_t>(next_job, std::stoull(id.substr(dash + 1)) + 1);
      }
      if (doc.value("state", "") == "running") {
        Status resumed = ResumeTracking(doc);
        if (resumed) continue;
        doc["state"] = "failed";
        doc["error"] = "the base server restarted while the job ran and could not resume it: " +
                       resumed.error().message();
      }
      doc.erase("sources");
      doc.erase("sources_hex");
      finished_docs[id] = doc.dump();
    }
  }

  // A job that was running when this base stopped: tracked again from its saved document.
  // The servers still hold what they verified; those that lost their source (this node)
  // report it, or are queried after the stall period, and are repaired from where they are.
  Status ResumeTracking(const json& doc) {
    auto saved = ParseSavedJob(doc, self());
    if (!saved) return saved.error();
    const Manifest& m = saved->manifest;
    const std::vector<NodeId>& servers = saved->servers;
    const bool staging = std::find(servers.begin(), servers.end(), self()) == servers.end();
    auto created = CreateJob(m, true, staging);
    if (!created) return created.error();
    Job& job = **created;
    job.sources = std::move(saved->sources);
    job.upload = saved->upload;
    job.last_upload = node.Now();
    // The digests announced before: the servers verified their files against them.
    for (size_t i = 0; i < saved->digests.size() && i < job.files.size(); ++i) {
      job.files[i].digest = saved->digests[i];
    }
    job.started = node.Now() - Duration::Millis(static_cast<int64_t>(saved->elapsed_s * 1000));
    job.tracker = std::make_unique<distribution::JobTracker>(
        m, servers, distribution::TrackerOptions{}, node.Now());
    Log(LogLevel::kInfo, "distribution", "tracking a job again after a restart",
        {{"job", m.job}, {"servers", std::to_string(servers.size())}});
    CopyIn(m.job);
    return OkStatus();
  }
};

Distributor::Distributor(Node& node, boost::asio::io_context& io)
    : impl_(std::make_unique<Impl>(node, io)) {}

Distributor::~Distributor() { Stop(); }

Status Distributor::Start() {
  if (auto s = impl_->root.Prepare(); !s) return s;
  impl_->LoadJobDocuments();
  if (auto s = impl_->Listen(); !s) return s;
  impl_->sent_window_start = impl_->node.Now();
  impl_->tokens_at = impl_->node.Now();
  impl_->Tick();
  return OkStatus();
}

void Distributor::Stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  impl_->timer.cancel();
  impl_->disk.join();  // installs in flight finish before their files are closed
  for (auto& a : impl_->acceptors) {
    boost::system::error_code ignored;
    a->close(ignored);
  }
  for (auto& [id, job] : impl_->jobs) impl_->Release(*job);
}

Result<std::string> Distributor::Submit(const JobRequest& request) {
  return impl_->Submit(request);
}

Result<uint64_t> Distributor::Stream(const std::string& id, uint64_t offset,
                                     const std::string& bytes) {
  return impl_->Stream(id, offset, bytes);
}

Status Distributor::Add(const std::string& id, const JobContent& content) {
  return impl_->Add(id, content);
}

Status Distributor::End(const std::string& id) {
  Job* job = impl_->FindJob(id);
  if (!job || !job->tracker) {
    if (impl_->finished_docs.count(id)) return OkStatus();
    return Error(Errc::kNotFound, "no job '" + id + "' on this base server");
  }
  if (!job->manifest.ended()) {
    impl_->AppendCommands(*job, {Command{static_cast<uint32_t>(job->manifest.commands.size() + 1),
                                         CommandKind::kEnd}});
    impl_->SaveJobDocument(*job);
  }
  return OkStatus();
}

Status Distributor::Cancel(const std::string& id, const std::string& reason) {
  Job* job = impl_->FindJob(id);
  if (!job || !job->tracker) {
    if (impl_->finished_docs.count(id)) {
      return Error(Errc::kInvalidArgument, "job " + id + " has ended");
    }
    return Error(Errc::kNotFound, "no job '" + id + "' on this base server");
  }
  return impl_->CancelJob(*job, reason);
}

std::vector<std::string> Distributor::JobIds() const {
  std::vector<std::string> ids;
  for (const auto& [id, doc] : impl_->finished_docs) ids.push_back(id);
  for (const auto& [id, job] : impl_->jobs) {
    if (job->tracker && !impl_->finished_docs.count(id)) ids.push_back(id);
  }
  return ids;
}

std::optional<std::string> Distributor::JobDocument(const std::string& id) const {
  auto it = impl_->jobs.find(id);
  if (it != impl_->jobs.end() && it->second->tracker) return impl_->Document(*it->second).dump();
  auto d = impl_->finished_docs.find(id);
  if (d != impl_->finished_docs.end()) return d->second;
  return std::nullopt;
}

void Distributor::WaitForChange(const std::string& id, Duration timeout,
                                std::function<void()> done) {
  impl_->WaitForChange(id, timeout, std::move(done));
}

void Distributor::Ctp(NodeId node, CtpRequest request,
                      std::function<void(Result<std::string>)> done) {
  distribution::CtpMsg m;
  m.op = request.op;
  m.path = request.path;
  m.mode = request.mode;
  m.mtime_ns = request.mtime_ns;
  m.recursive = request.recursive;
  m.offset = request.offset;
  m.last = request.last;
  m.data.assign(request.data.begin(), request.data.end());
  auto answer = [](const distribution::ResultMsg& r) -> Result<std::string> {
    if (!r.error.empty()) return Error(Errc::kInvalidArgument, r.error);
    json body = r.body.empty() ? json::object() : json::parse(r.body, nullptr, false);
    if (!r.data.empty()) {
      std::string b64(sodium_base64_ENCODED_LEN(r.data.size(), sodium_base64_VARIANT_ORIGINAL),
                      '\0');
      sodium_bin2base64(b64.data(), b64.size(), r.data.data(), r.data.size(),
                        sodium_base64_VARIANT_ORIGINAL);
      b64.resize(std::strlen(b64.c_str()));
      if (!body.is_object()) body = json::object();
      body["data_base64"] = b64;
    }
    return body.dump();
  };
  if (node == impl_->self()) return done(answer(ServeCtp(impl_->root, m)));
  impl_->Request(node, m, [done, answer, node](std::optional<Message> reply) {
    auto* r = reply ? std::get_if<distribution::ResultMsg>(&*reply) : nullptr;
    if (!r)
      return done(Error(Errc::kUnavailable, "node " + std::to_string(node) + " did not answer"));
    done(answer(*r));
  });
}

size_t Distributor::jobs_held() const { return impl_->jobs.size(); }
uint64_t Distributor::bytes_sent() const { return impl_->sent; }
uint64_t Distributor::bytes_received() const { return impl_->received; }

}  // namespace cohort::node
