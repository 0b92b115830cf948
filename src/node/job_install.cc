#include "node/distributor_impl.h"

namespace cohort::node {

// The job's folder relative to the root: a base that is not one of the job's servers
// keeps its copy in its own staging area.
std::string Distributor::Impl::RelativeDir(const std::string& dest, bool staging,
                                           const std::string& id) {
  return staging ? ".cohort/staging/" + id + "/" + dest : dest;
}

Result<Job*> Distributor::Impl::CreateJob(Manifest manifest, bool is_base, bool staging,
                                          bool resume) {
  auto job = MakeJob(root, self(), node.config().distribution_fanout, std::move(manifest), is_base,
                     staging);
  if (!job) return job.error();
  return AddJob(std::move(*job), resume);
}

Result<std::unique_ptr<Job>> Distributor::Impl::MakeJob(const io::ContentRoot& root, NodeId self,
                                                        size_t fanout, Manifest manifest,
                                                        bool is_base, bool staging) {
  if (auto s = distribution::CheckManifest(manifest); !s) return s.error();
  auto job = std::make_unique<Job>();
  job->manifest = std::move(manifest);
  job->is_base = is_base;
  distribution::AgentOptions options;
  options.fanout = fanout;
  job->agent = std::make_unique<distribution::NodeAgent>(self, options);
  job->rel_dir = RelativeDir(job->manifest.dest, staging, job->manifest.job);
  auto dir = root.Resolve(job->rel_dir);
  if (!dir) return dir.error();
  job->dir = *dir;
  if (auto s = SyncFiles(root, *job); !s) return s.error();
  return job;
}

Job* Distributor::Impl::AddJob(std::unique_ptr<Job> job, bool resume) {
  job->started = node.Now();
  job->window_start = job->started;
  Job* raw = job.get();
  jobs[raw->manifest.job] = std::move(job);
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
  const auto& commands = job.manifest.commands;
  if (job.manifest_saved == 0) {  // this run's first: the file starts anew
    WriteOnDisk(job, ManifestPath(job.manifest.job), ManifestFileText(job.manifest),
                "the job's manifest");
  } else if (job.manifest_saved < commands.size()) {
    AppendOnDisk(
        job, ManifestPath(job.manifest.job),
        [text =
             ManifestMoreText({commands.begin() + static_cast<std::ptrdiff_t>(job.manifest_saved),
                               commands.end()})] { return text; },
        "the job's manifest");
  }
  job.manifest_saved = commands.size();
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

void Distributor::Impl::AppendOnDisk(Job& job, std::string path, std::function<std::string()> text,
                                     std::string what) {
  boost::asio::post(disk, [this, ioc = &io, alive = alive, id = job.manifest.job,
                           path = std::move(path), text = std::move(text), what = std::move(what)] {
    Status s = io::MakeDirs(fs::path(path).parent_path().string());
    if (s) s = io::AppendFileSynced(path, text());
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

// The job's state file says how many commands were done; each file among them is checked
// (still there, same size) and the partial file after them rehashed, all on the disk pool:
// a job may hold 100,000 files, and a partial file gigabytes.
void Distributor::Impl::Resume(Job& job) {
  auto saved = io::ReadFile(StatePath(job.manifest.job));
  json doc = saved ? json::parse(*saved, nullptr, false) : json::object();
  const bool whole = doc.is_object() && (!doc.contains("done") || doc["done"].is_number_unsigned());
  if (!whole) {  // the files on disk are verified again as they are received
    Log(LogLevel::kWarn, "distribution", "damaged job state; receiving the job from its start",
        {{"job", job.manifest.job}, {"file", StatePath(job.manifest.job)}});
  }
  const size_t done = std::min(whole ? doc.value("done", size_t{0}) : 0, job.files.size());
  // What the pool needs, copied: the job's vectors may grow on the loop meanwhile.
  auto on_disk = std::make_shared<std::vector<ResumeFile>>();
  for (size_t i = 0; i < done + 1 && i < job.files.size(); ++i) {
    const Command& c = job.manifest.commands[i];
    on_disk->push_back(
        {c.kind == CommandKind::kFile, c.size, job.files[i].final_path, job.files[i].temp_path});
  }
  job.resuming = true;
  OffLoop<ResumePoint>(
      disk, [on_disk, done] { return FindResumePoint(*on_disk, done); },
      [this, id = job.manifest.job](ResumePoint point) { Resumed(id, std::move(point)); });
}

// Disk pool. The first of `done` commands whose file is gone or changed, and what of its
// partial file is there (hashed, the file cut to it).
Distributor::Impl::ResumePoint Distributor::Impl::FindResumePoint(
    const std::vector<ResumeFile>& files, size_t done) {
  ResumePoint point;
  for (; point.done < done; ++point.done) {
    const ResumeFile& f = files[point.done];
    struct stat st {};
    if (f.file &&
        (::stat(f.final_path.c_str(), &st) != 0 || static_cast<uint64_t>(st.st_size) != f.size)) {
      break;  // gone or changed since: receive it again
    }
    point.inodes.push_back(f.file ? st.st_ino : 0);
  }
  if (point.done >= files.size() || !files[point.done].file) return point;
  const ResumeFile& partial = files[point.done];
  const int fd = ::open(partial.temp_path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) != 0) {
    if (fd >= 0) ::close(fd);
    return point;
  }
  std::vector<uint8_t> buf(1 << 20);
  while (point.at < partial.size) {
    ssize_t n = ::pread(fd, buf.data(), std::min<uint64_t>(buf.size(), partial.size - point.at),
                        static_cast<off_t>(point.at));
    if (n <= 0) break;
    point.partial.sha.Update(buf.data(), static_cast<size_t>(n));
    point.at += static_cast<uint64_t>(n);
  }
  if (::ftruncate(fd, static_cast<off_t>(point.at)) != 0) {
    point.partial.sha.Reset();
    point.at = 0;
  }
  point.partial.inode = st.st_ino;
  ::close(fd);
  return point;
}

void Distributor::Impl::Resumed(const std::string& id, ResumePoint point) {
  Job* job = FindJob(id);
  if (!job || !job->resuming) return;
  job->resuming = false;
  for (size_t i = 0; i < point.done; ++i) {
    const Command& c = job->manifest.commands[i];
    if (c.kind != CommandKind::kFile) continue;
    job->files[i].installed = true;
    job->files[i].inode = point.inodes[i];
    job->have += c.size;
  }
  job->done = point.done;
  if (point.partial.inode != 0 && job->cancelled.empty()) {
    FileState& f = job->files[point.done];
    f.created = true;
    f.inode = point.partial.inode;
    *f.writing = point.partial;  // the writes go on after what is there
    job->have += point.at;
    if (point.at > 0) {
      Log(LogLevel::kInfo, "distribution", "resumed a partial file",
          {{"job", id},
           {"file", job->manifest.commands[point.done].path},
           {"bytes", std::to_string(point.at)}});
    }
  }
  job->received = job->have;
  for (auto& next : std::exchange(job->after_resume, {})) next();
  Apply(*job);
}

// Each new command's paths, resolved inside the root: a symlinked folder on the way that
// leads out fails the command's job before anything is written.
Status Distributor::Impl::SyncFiles(const io::ContentRoot& root, Job& job) {
  const size_t from = job.files.size();
  job.files.resize(job.manifest.commands.size());
  // Each folder is resolved once: a job of 100,000 files in 100 folders resolves 100
  // paths here, not 100,000 (this runs on the loop, as do the strings made per file).
  Folders folders;
  for (size_t i = from; i < job.files.size(); ++i) {
    const Command& c = job.manifest.commands[i];
    FileState& f = job.files[i];
    f.start = i == 0 ? 0 : job.files[i - 1].end;
    f.end = f.start + (c.kind == CommandKind::kFile ? c.size : 0);
    if (c.kind == CommandKind::kEnd) continue;
    auto path = ResolveIn(root, job.rel_dir, c, &folders);
    if (!path) return path.error();
    f.final_path = std::move(*path);
    const size_t slash = f.final_path.rfind('/');
    f.temp_path.reserve(f.final_path.size() + 14);
    f.temp_path.append(f.final_path, 0, slash + 1).append(".");
    f.temp_path.append(f.final_path, slash + 1).append(".cohort-part");
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

Result<std::string> Distributor::Impl::ResolveCommand(const Job& job, size_t idx,
                                                      Folders* folders) const {
  return ResolveIn(root, job.rel_dir, job.manifest.commands[idx], folders);
}

Result<std::string> Distributor::Impl::ResolveIn(const io::ContentRoot& root,
                                                 const std::string& rel_dir, const Command& c,
                                                 Folders* folders) {
  const bool file = c.kind == CommandKind::kFile;
  const size_t slash = file ? c.path.rfind('/') : std::string::npos;
  const std::string_view folder = !file ? std::string_view(c.path)
                                  : slash == std::string::npos
                                      ? std::string_view()
                                      : std::string_view(c.path).substr(0, slash);
  auto resolve = [&] {
    return root.Resolve(folder.empty() ? rel_dir : rel_dir + "/" + std::string(folder));
  };
  std::optional<Result<std::string>> own;  // without a cache
  const Result<std::string>* resolved = nullptr;
  if (folders) {
    auto it = folders->find(folder);
    if (it == folders->end()) it = folders->emplace(std::string(folder), resolve()).first;
    resolved = &it->second;
  } else {
    resolved = &own.emplace(resolve());
  }
  if (!*resolved || !file) return *resolved;
  std::string path;
  const std::string_view name =
      std::string_view(c.path).substr(slash == std::string::npos ? 0 : slash + 1);
  path.reserve((*resolved)->size() + 1 + name.size());
  return path.append(**resolved).append("/").append(name);
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
  if (job.resuming) return;  // what is done is not known yet (Resumed applies)
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
    if (job.upstream) job.upstream->Send(distribution::AckMsg{distribution::AckMsg::kCompleted});
    SendReport(job, true);
    CloseSource(job);
  }
}

// A file's bytes are all here: true if they match the origin's digest. False while the
// digest has not arrived (or on a mismatch: the file is received again from its start).
bool Distributor::Impl::Verify(Job& job, size_t i) {
  const Command& c = job.manifest.commands[i];
  FileState& f = job.files[i];
  // An empty file is created by its install (no write made it).
  const wire::Sha256Digest mine = f.writing->sha.Digest();
  if (job.is_base && !f.digest) f.digest = mine;  // the origin's own reading
  if (!f.digest) return false;                    // wait for the announced digest
  if (*f.digest == mine) return true;
  // Corrupt somewhere: drop the file and ask for it again from its first byte.
  job.have = job.received = f.start;  // Append makes the file anew
  job.writing = 0;
  ++job.write_epoch;  // writes of later files still queued count no more
  f.writing = std::make_shared<FileWriting>();
  f.inode = 0;
  if (job.upstream) job.upstream->Close();
  Log(LogLevel::kWarn, "distribution", "digest mismatch, receiving the file again",
      {{"job", job.manifest.job}, {"file", c.path}});
  return false;
}

// Mode, mtime, data sync and rename (D13) run on the disk pool, so the loop keeps moving
// bytes while the file's pages are flushed; Apply continues when it is done.
void Distributor::Impl::StartInstall(Job& job, size_t i) {
  FileState& f = job.files[i];
  const Command& c = job.manifest.commands[i];
  f.installing = true;
  std::optional<TempFile> create;  // an empty file: no write made it
  if (c.size == 0 && !f.created) {
    create = TempFile{job.rel_dir, c, f.final_path, f.temp_path};
    f.created = true;
  }
  OffLoop<Result<uint64_t>>(
      disk,
      [this, c, inode = f.inode, temp = f.temp_path, final_path = f.final_path,
       create = std::move(create)]() -> Result<uint64_t> {
        uint64_t made = inode;
        int fd = -1;
        if (create) {
          auto created = CreateTemp(root, *create, &made);
          if (!created) return created.error();
          fd = *created;
        } else {
          fd = ::open(temp.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
          struct stat st {};
          if (fd < 0 || ::fstat(fd, &st) != 0 || st.st_ino != inode) {
            if (fd >= 0) ::close(fd);
            return Error(Errc::kIo, temp + ": the received file is gone or was replaced");
          }
        }
        const bool ok = SetAttributes(fd, c) && ::fdatasync(fd) == 0 &&
                        ::rename(temp.c_str(), final_path.c_str()) == 0;
        const std::string why = ok ? "" : final_path + ": cannot install: " + std::strerror(errno);
        ::close(fd);
        if (!ok) return Error(Errc::kIo, why);
        return made;
      },
      [this, id = job.manifest.job, i](Result<uint64_t> installed) {
        Job* j = FindJob(id);
        if (!j || i >= j->files.size() || !j->files[i].installing) return;
        FileState& file = j->files[i];
        file.installing = false;
        if (!installed) return Fail(*j, installed.error().message());
        file.installed = true;
        file.inode = *installed;
        Apply(*j);
        PumpAll(*j);
      });
}

}  // namespace cohort::node
