#include "io/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

namespace cohort::io {
namespace {

Error SysError(const std::string& what) {
  return Error(Errc::kIo, what + ": " + std::strerror(errno));
}

}  // namespace

namespace {

Status WriteAll(int fd, const std::string& content, const std::string& what) {
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return SysError("cannot write " + what);
    done += static_cast<size_t>(n);
  }
  return OkStatus();
}

void SyncFolderOf(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace

Status WriteFileAtomic(const std::string& path, const std::string& content, int mode) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return SysError("cannot create " + tmp);
  if (auto s = WriteAll(fd, content, tmp); !s) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return s;
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    Error e = SysError("cannot sync " + tmp);
    ::unlink(tmp.c_str());
    return e;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Error e = SysError("cannot rename " + tmp + " to " + path);
    ::unlink(tmp.c_str());
    return e;
  }
  SyncFolderOf(path);
  return OkStatus();
}

Status AppendFileSynced(const std::string& path, const std::string& content, int mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, mode);
  if (fd < 0) return SysError("cannot open " + path);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    Error e = SysError("cannot stat " + path);
    ::close(fd);
    return e;
  }
  Status s = WriteAll(fd, content, path);
  if (s && ::fdatasync(fd) != 0) s = SysError("cannot sync " + path);
  if (!s && ::ftruncate(fd, st.st_size) != 0) {
    s = Error(s.error().code(),
              s.error().message() + ", and cannot cut the partial append: " + std::strerror(errno));
  }
  ::close(fd);
  if (s && st.st_size == 0) SyncFolderOf(path);  // the file is new: its name too
  return s;
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(Errc::kNotFound, "cannot read '" + path + "'");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::optional<std::pair<uint64_t, uint64_t>> WritebackStep(uint64_t before, uint64_t after) {
  constexpr uint64_t kStep = 8 << 20;
  if (after / kStep == before / kStep) return std::nullopt;
  return std::make_pair(after / kStep * kStep - kStep, kStep);
}

void StartWriteback(int fd, uint64_t offset, uint64_t length) {
  // Advisory: an error here shows again in the install's fdatasync, which fails the job.
  (void)::sync_file_range(fd, static_cast<off_t>(offset), static_cast<off_t>(length),
                          SYNC_FILE_RANGE_WRITE);
}

Status MakeDirs(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return Error(Errc::kIo, "cannot create folder '" + path + "': " + ec.message());
  return OkStatus();
}

FileReader::FileReader(FileReader&& o) noexcept : fd_(std::exchange(o.fd_, -1)), index_(o.index_) {}

FileReader& FileReader::operator=(FileReader&& o) noexcept {
  if (this != &o) {
    Close();
    fd_ = std::exchange(o.fd_, -1);
    index_ = o.index_;
  }
  return *this;
}

int FileReader::Open(size_t index, const File& file) {
  if (fd_ >= 0 && index_ == index) return fd_;
  Close();
  index_ = index;
  fd_ = ::open(file.path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd_ < 0 && !file.other_path.empty()) {
    fd_ = ::open(file.other_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  }
  struct stat st {};
  if (fd_ >= 0 && (::fstat(fd_, &st) != 0 || st.st_ino != file.inode ||
                   static_cast<uint64_t>(st.st_size) < file.size)) {
    Close();
  }
  return fd_;
}

void FileReader::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Status PwriteAll(int fd, const void* data, size_t size, uint64_t offset, const std::string& what) {
  const auto* p = static_cast<const uint8_t*>(data);
  while (size > 0) {
    const ssize_t w = ::pwrite(fd, p, size, static_cast<off_t>(offset));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      return Error(Errc::kIo, what + ": write failed: " + std::strerror(w == 0 ? ENOSPC : errno));
    }
    p += w;
    size -= static_cast<size_t>(w);
    offset += static_cast<uint64_t>(w);
  }
  return OkStatus();
}

}  // namespace cohort::io
