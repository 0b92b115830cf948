#include "node/distributor_impl.h"

namespace cohort::node {

// The job's folder relative to the root: a base that is not one of the job's servers
// keeps its copy in its own staging area.
std::string Distributor::Impl::RelativeDir(const std::string& dest, bool staging,
                                           const std::string& id) {
  return staging ? ".cohort/staging/" + id + "/" + dest : dest;
}

// Creates the job's local state; with `resume`, picks up what an earlier run of this
// daemon left (D13): completed commands from the job's state file, then the partial file
// after them (rehashed).
Result<Job*> Distributor::Impl::CreateJob(const Manifest& manifest, bool is_base, bool staging,
                                          bool resume) {
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

std::string Distributor::Impl::StatePath(const std::string& id) const {
  return root.path() + "/.cohort/jobs/" + id + ".json";
}

// A receiving server's copy of the job's manifest (wire-encoded, as its offer brought
// it): after a restart, a cancel of a job it no longer holds in memory finds the job's
// partial files through it. Removed once the job completes here or is dropped.
std::string Distributor::Impl::ManifestPath(const std::string& id) const {
  return root.path() + "/.cohort/jobs/" + id + ".manifest";
}

void Distributor::Impl::SaveManifest(Job& job) {
  if (job.is_base || job.completed() || !job.cancelled.empty()) return;
  WriteOnDisk(job, ManifestPath(job.manifest.job), ManifestFileText(job.manifest),
              "the job's manifest");
}

// The write and its fsync run on the disk pool, in order with the other writes, removals
// and installs there (one thread): an fsync may wait for a journal commit that carries
// gigabytes of a file just installed (a 609 ms stall of the loop was seen). The loop hears
// how it went.
void Distributor::Impl::WriteOnDisk(Job& job, std::string path, std::string text,
                                    std::string what) {
  boost::asio::post(disk, [this, ioc = &io, alive = alive, id = job.manifest.job,
                           path = std::move(path), text = std::move(text), what = std::move(what)] {
    Status s = io::MakeDirs(fs::path(path).parent_path().string());
    if (s) s = io::WriteFileAtomic(path, text);
    boost::asio::post(*ioc, [this, alive, id, s, what] {
      if (!*alive) return;
      if (Job* j = FindJob(id)) Persisted(*j, s, what);
    });
  });
}

// In order after the writes on the disk pool, so none of them brings the file back.
void Distributor::Impl::RemoveOnDisk(std::string path) {
  boost::asio::post(disk, [path = std::move(path)] { ::unlink(path.c_str()); });
}

void Distributor::Impl::Persisted(Job& job, const Status& written, const std::string& what) {
  if (written) return;
  Fail(job, "cannot save " + what + ": " + written.error().message());
}

void Distributor::Impl::Resume(Job& job) {
  auto saved = io::ReadFile(StatePath(job.manifest.job));
  json doc = saved ? json::parse(*saved, nullptr, false) : json::object();
  const bool whole = doc.is_object() && (!doc.contains("done") || doc["done"].is_number_unsigned());
  if (!whole) {  // the files on disk are verified again as they are received
    Log(LogLevel::kWarn, "distribution", "damaged job state; receiving the job from its start",
        {{"job", job.manifest.job}, {"file", StatePath(job.manifest.job)}});
  }
  const size_t done = whole ? doc.value("done", size_t{0}) : 0;
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
      job.received = job.have;
    }
    job.done = i + 1;
  }
  // The partial file of the next command: rehash what is there (on the disk pool: it may
  // be gigabytes) and continue after it.
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
    const int hashing = ::dup(fd);  // its own: a cancel may close f.fd meanwhile
    if (hashing < 0) return Fail(job, f.temp_path + ": " + std::strerror(errno));
    job.resuming = true;
    boost::asio::post(disk, [ioc = &io, alive = alive, id = job.manifest.job, i = job.done,
                             size = job.manifest.commands[job.done].size, hashing, this] {
      wire::Sha256 sha;
      const uint64_t at = Rehash(hashing, size, &sha);
      ::close(hashing);
      boost::asio::post(*ioc, [alive, id, i, at, sha, this] {
        if (*alive) Resumed(id, i, at, sha);
      });
    });
  }
}

// What of a partial file is there, hashed into `sha`, and the file cut to it. Disk pool.
uint64_t Distributor::Impl::Rehash(int fd, uint64_t size, wire::Sha256* sha) {
  std::vector<uint8_t> buf(1 << 20);
  uint64_t at = 0;
  while (at < size) {
    ssize_t n =
        ::pread(fd, buf.data(), std::min<uint64_t>(buf.size(), size - at), static_cast<off_t>(at));
    if (n <= 0) break;
    sha->Update(buf.data(), static_cast<size_t>(n));
    at += static_cast<uint64_t>(n);
  }
  if (::ftruncate(fd, static_cast<off_t>(at)) != 0) {
    sha->Reset();
    return 0;
  }
  return at;
}

void Distributor::Impl::Resumed(const std::string& id, size_t i, uint64_t at,
                                const wire::Sha256& sha) {
  Job* job = FindJob(id);
  if (!job || !job->resuming) return;
  job->resuming = false;
  if (job->cancelled.empty() && i < job->files.size() && job->files[i].fd >= 0) {
    FileState& f = job->files[i];
    *f.sha = sha;
    job->have += at;
    job->received = job->have;
    if (at == job->manifest.commands[i].size) ::close(std::exchange(f.fd, -1));  // to verify
    Log(LogLevel::kInfo, "distribution", "resumed a partial file",
        {{"job", id}, {"file", job->manifest.commands[i].path}, {"bytes", std::to_string(at)}});
  }
  for (auto& next : std::exchange(job->after_resume, {})) next();
}

// Each new command's paths, resolved inside the root: a symlinked folder on the way that
// leads out fails the command's job before anything is written.
Status Distributor::Impl::SyncFiles(Job& job) {
  job.files.resize(job.manifest.commands.size());
  uint64_t at = 0;
  for (size_t i = 0; i < job.files.size(); ++i) {
    const Command& c = job.manifest.commands[i];
    job.files[i].start = at;
    at += c.kind == CommandKind::kFile ? c.size : 0;
    job.files[i].end = at;
  }
  for (size_t i = 0; i < job.files.size(); ++i) {
    FileState& f = job.files[i];
    if (!f.final_path.empty()) continue;
    const Command& c = job.manifest.commands[i];
    if (c.kind == CommandKind::kEnd) continue;
    auto path = ResolveCommand(job, i);
    if (!path) return path.error();
    f.final_path = *path;
    fs::path p(f.final_path);
    f.temp_path = (p.parent_path() / ("." + p.filename().string() + ".cohort-part")).string();
  }
  return OkStatus();
}

void Distributor::Impl::SaveState(Job& job) {
  WriteOnDisk(job, StatePath(job.manifest.job), json{{"done", job.done}}.dump(), "the job's state");
}

void Distributor::Impl::Fail(Job& job, const std::string& why) {
  if (job.error.empty()) {
    Log(LogLevel::kWarn, "distribution", "job failed here",
        {{"job", job.manifest.job}, {"error", why}});
  }
  job.error = why;
  AnswerWriteWaiters(job);
  SendReport(job, true);
}

void Distributor::Impl::WhenWritten(const std::string& id, uint64_t offset,
                                    std::function<void(Result<uint64_t>)> done) {
  Job* job = FindJob(id);
  if (!job) return done(Error(Errc::kNotFound, "no job '" + id + "' running here"));
  job->write_waiters.emplace_back(offset, std::move(done));
  AnswerWriteWaiters(*job);
}

// Answers the waiters whose bytes are written, or all of them once the job failed or was
// cancelled.
void Distributor::Impl::AnswerWriteWaiters(Job& job) {
  const std::string& why = !job.error.empty() ? job.error : job.cancelled;
  auto& waiters = job.write_waiters;
  for (auto it = waiters.begin(); it != waiters.end();) {
    if (why.empty() && it->first > job.have) {
      ++it;
      continue;
    }
    auto done = std::move(it->second);
    it = waiters.erase(it);
    if (why.empty()) {
      done(job.have);
    } else {
      done(Error(Errc::kIo, why));
    }
  }
}

// Stream bytes [offset, offset + size) arrived (or were copied in at the base).
void Distributor::Impl::Append(Job& job, uint64_t offset, const uint8_t* data, size_t size) {
  if (offset > job.received || !job.cancelled.empty()) return;  // a gap: the source is confused
  size_t skip = static_cast<size_t>(std::min<uint64_t>(job.received - offset, size));
  data += skip;
  size -= skip;
  while (size > 0) {
    size_t idx = CommandAt(job, job.received);
    if (idx >= job.manifest.commands.size()) return;
    const Command& c = job.manifest.commands[idx];
    FileState& f = job.files[idx];
    uint64_t start = f.start;
    if (f.fd < 0 && !OpenTemp(job, idx)) return;
    size_t n = static_cast<size_t>(std::min<uint64_t>(size, start + c.size - job.received));
    QueueWrite(job, idx, data, n, job.received - start);
    job.received += n;
    data += n;
    size -= n;
    // The write thread opens the file by path for each write: a job of many small files
    // queued for the disk must not hold a descriptor each (a daemon may have 128).
    if (job.received == f.end) ::close(std::exchange(f.fd, -1));
  }
}

// pwrite may block for hundreds of milliseconds when the kernel throttles writers of dirty
// pages (a 248 ms stall of the loop was seen writing 2 GiB): the write, its hash and the
// writeback hint run on the write pool, in order; the loop hears of each (Written).
void Distributor::Impl::QueueWrite(Job& job, size_t idx, const uint8_t* data, size_t n,
                                   uint64_t at) {
  FileState& f = job.files[idx];
  job.writing += n;
  auto bytes = std::make_shared<const std::vector<uint8_t>>(data, data + n);
  boost::asio::post(
      writes, [this, ioc = &io, alive = alive, id = job.manifest.job, epoch = job.write_epoch,
               sha = f.sha, bytes, at, inode = f.inode, path = f.temp_path] {
        const size_t size = bytes->size();
        Status s = OkStatus();
        const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        struct stat st {};
        if (fd < 0 || ::fstat(fd, &st) != 0 || st.st_ino != inode) {
          s = Error(Errc::kIo, path + ": the file being received is gone or was replaced");
        } else {
          s = io::PwriteAll(fd, bytes->data(), size, at, path);
        }
        if (s) {
          sha->Update(bytes->data(), size);
          // The install's fdatasync would otherwise write the whole file at its end, when
          // every server of the job does the same at once.
          if (auto step = io::WritebackStep(at, at + size)) {
            io::StartWriteback(fd, step->first, step->second);
          }
        }
        if (fd >= 0) ::close(fd);
        boost::asio::post(*ioc, [this, alive, id, epoch, size, s] {
          if (*alive) Written(id, epoch, size, s);
        });
      });
}

void Distributor::Impl::Written(const std::string& id, uint64_t epoch, uint64_t n,
                                const Status& s) {
  Job* job = FindJob(id);
  if (!job || epoch != job->write_epoch) return;  // the stream restarted since
  job->writing -= n;
  if (!s) return Fail(*job, s.error().message());
  if (!job->cancelled.empty()) return;
  job->have += n;
  if (job->upstream) {
    if (job->have >= job->acked_upstream + kAckEvery) {
      job->acked_upstream = job->have;
      job->upstream->Send(distribution::AckMsg{job->have});
    }
    if (job->upstream->paused() && job->writing <= kWriteBehind / 2) {
      job->upstream->ResumeReading();
    }
  }
  AnswerWriteWaiters(*job);
  PumpAll(*job);  // forward first: installing may wait for a digest or the disk
  Apply(*job);
  PumpAll(*job);
  if (job->is_base && !job->copy_active && job->copying < job->sources.size()) CopyIn(id);
}

// Index of the file command holding stream byte `offset` (the first one not finished).
size_t Distributor::Impl::CommandAt(const Job& job, uint64_t offset) const {
  // The first command whose end is past `offset`: a file holding that byte (commands that
  // are not files, and empty files, end where they start and are passed over).
  auto it = std::upper_bound(job.files.begin(), job.files.end(), offset,
                             [](uint64_t at, const FileState& f) { return at < f.end; });
  return static_cast<size_t>(it - job.files.begin());
}

bool Distributor::Impl::OpenTemp(Job& job, size_t idx) {
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
  f.sha = std::make_shared<wire::Sha256>();
  return true;
}

Result<std::string> Distributor::Impl::ResolveCommand(const Job& job, size_t idx) const {
  return root.Resolve(job.rel_dir + "/" + job.manifest.commands[idx].path);
}

Status Distributor::Impl::StillInside(const Job& job, size_t idx) const {
  auto path = ResolveCommand(job, idx);
  if (!path) return path.error();
  if (*path != job.files[idx].final_path) {
    return Error(Errc::kPermission, job.manifest.commands[idx].path + ": changed on disk");
  }
  return OkStatus();
}

// Completes commands in order: folders made, files verified and installed (D13).
void Distributor::Impl::Apply(Job& job) {
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
        if (dir.kind == CommandKind::kMkdir && !SetFolderAttributes(job.files[k].final_path, dir)) {
          return Fail(job, job.files[k].final_path + ": " + std::strerror(errno));
        }
      }
    } else if (c.kind == CommandKind::kFile) {
      if (job.have < f.end || f.installing) break;
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
    if (!job.is_base) RemoveOnDisk(ManifestPath(job.manifest.job));
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
bool Distributor::Impl::Verify(Job& job, size_t i) {
  const Command& c = job.manifest.commands[i];
  FileState& f = job.files[i];
  if (c.size == 0 && f.inode == 0) {  // an empty file: nothing made it yet
    if (!OpenTemp(job, i)) return false;
    ::close(std::exchange(f.fd, -1));
  }
  const wire::Sha256Digest mine = f.sha->Digest();
  if (job.is_base && !f.digest) f.digest = mine;  // the origin's own reading
  if (!f.digest) return false;                    // wait for the announced digest
  if (*f.digest == mine) return true;
  // Corrupt somewhere: drop the file and ask for it again from its first byte.
  job.have = job.received = f.start;  // Append makes the file anew
  job.writing = 0;
  ++job.write_epoch;  // writes of later files still queued count no more
  f.sha = std::make_shared<wire::Sha256>();
  if (job.upstream) job.upstream->Close();
  Log(LogLevel::kWarn, "distribution", "digest mismatch, receiving the file again",
      {{"job", job.manifest.job}, {"file", c.path}});
  return false;
}

// Mode, mtime, data sync and rename (D13) run on the disk pool, so the loop keeps moving
// bytes while the file's pages are flushed; Apply continues when it is done.
void Distributor::Impl::StartInstall(Job& job, size_t i) {
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

}  // namespace cohort::node
