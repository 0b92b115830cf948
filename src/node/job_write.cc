// A job's bytes onto the disk: what arrives (or is copied in at the base) is queued for the
// write pool, which creates each temporary file with its first write, writes, hashes and
// hints writeback, in order; the loop hears of each write (Written) and moves on.
#include "node/distributor_impl.h"

namespace cohort::node {

// Stream bytes [offset, offset + size) arrived (or were copied in at the base).
void Distributor::Impl::Append(Job& job, uint64_t offset, const uint8_t* data, size_t size) {
  if (offset > job.received || !job.cancelled.empty()) return;  // a gap: the source is confused
  size_t skip = static_cast<size_t>(std::min<uint64_t>(job.received - offset, size));
  data += skip;
  size -= skip;
  while (size > 0) {
    size_t idx = CommandAt(job, job.received);
    if (idx >= job.manifest.commands.size()) return;
    const FileState& f = job.files[idx];
    size_t n = static_cast<size_t>(std::min<uint64_t>(size, f.end - job.received));
    QueueWrite(job, idx, data, n, job.received - f.start);
    job.received += n;
    data += n;
    size -= n;
  }
}

// pwrite may block for hundreds of milliseconds when the kernel throttles writers of dirty
// pages (a 248 ms stall of the loop was seen writing 2 GiB), and creating a file waits for
// the file system's journal (30 % of the base's loop time in a job of 20,000 small files):
// the creation, the writes, their hash and the writeback hint run on the write pool, in
// order; the loop hears of each (Written).
void Distributor::Impl::QueueWrite(Job& job, size_t idx, const uint8_t* data, size_t n,
                                   uint64_t at) {
  FileState& f = job.files[idx];
  job.writing += n;
  auto task = std::make_shared<WriteTask>();
  task->writing = f.writing;
  task->bytes.assign(data, data + n);
  task->at = at;
  task->temp_path = f.temp_path;
  if (at == 0) {  // the file's first bytes (again, after a digest mismatch): made anew
    task->create = TempFile{job.rel_dir, job.manifest.commands[idx], f.final_path, f.temp_path};
    f.created = true;
  }
  boost::asio::post(writes, [this, ioc = &io, alive = alive, id = job.manifest.job,
                             epoch = job.write_epoch, idx, task] {
    const Status s = WriteChunk(root, *task);
    const uint64_t inode = task->writing->inode;
    boost::asio::post(*ioc, [this, alive, id, epoch, idx, inode, size = task->bytes.size(), s] {
      if (*alive) Written(id, epoch, idx, inode, size, s);
    });
  });
}

// Write pool.
Status Distributor::Impl::WriteChunk(const io::ContentRoot& root, const WriteTask& t) {
  int fd = -1;
  if (t.create) {
    auto created = CreateTemp(root, *t.create, &t.writing->inode);
    if (!created) return created.error();
    fd = *created;
    t.writing->sha.Reset();
  } else {
    fd = ::open(t.temp_path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st {};
    if (fd < 0 || ::fstat(fd, &st) != 0 || st.st_ino != t.writing->inode) {
      if (fd >= 0) ::close(fd);
      return Error(Errc::kIo, t.temp_path + ": the file being received is gone or was replaced");
    }
  }
  Status s = io::PwriteAll(fd, t.bytes.data(), t.bytes.size(), t.at, t.temp_path);
  if (s) {
    t.writing->sha.Update(t.bytes.data(), t.bytes.size());
    // The install's fdatasync would otherwise write the whole file at its end, when every
    // server of the job does the same at once.
    if (auto step = io::WritebackStep(t.at, t.at + t.bytes.size())) {
      io::StartWriteback(fd, step->first, step->second);
    }
  }
  ::close(fd);
  return s;
}

// Write or disk pool. Checked again as it is created: a symlink may have appeared on the
// way since the job began.
Result<int> Distributor::Impl::CreateTemp(const io::ContentRoot& root, const TempFile& t,
                                          uint64_t* inode) {
  auto path = ResolveIn(root, t.rel_dir, t.command, nullptr);
  if (!path) return path.error();
  if (*path != t.final_path) {
    return Error(Errc::kPermission, t.command.path + ": changed on disk");
  }
  if (auto s = io::MakeDirs(fs::path(t.final_path).parent_path().string()); !s) return s.error();
  const int fd =
      ::open(t.temp_path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) != 0) {
    const std::string why = t.temp_path + ": " + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return Error(Errc::kIo, why);
  }
  *inode = st.st_ino;
  return fd;
}

void Distributor::Impl::Written(const std::string& id, uint64_t epoch, size_t idx, uint64_t inode,
                                uint64_t n, const Status& s) {
  Job* job = FindJob(id);
  if (!job || epoch != job->write_epoch) return;  // the stream restarted since
  job->writing -= n;
  if (!s) return Fail(*job, s.error().message());
  if (!job->cancelled.empty()) return;
  job->files[idx].inode = inode;  // before `have` passes the file's start: feeds read it
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

}  // namespace cohort::node
