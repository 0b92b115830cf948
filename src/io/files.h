// Local files: atomic replace and whole-file read (ARCHITECTURE.md §5).
// WriteFileAtomic writes a temporary file beside `path`, fsyncs it, renames it over `path`
// and fsyncs the folder, so a crash leaves either the old or the new content. Thread-safe
// for distinct paths.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "base/result.h"

namespace cohort::io {

Status WriteFileAtomic(const std::string& path, const std::string& content, int mode = 0644);
// Appends `content` and syncs it; on failure the file is cut back to what it held, so a
// later append does not follow a partial one.
Status AppendFileSynced(const std::string& path, const std::string& content, int mode = 0644);
Result<std::string> ReadFile(const std::string& path);
// Creates `path` and its parents (mode 0755) if missing.
Status MakeDirs(const std::string& path);
// Writes all `size` bytes at `offset` (a short write is continued, so a full disk reports
// ENOSPC rather than a stale errno); the error names `what`.
Status PwriteAll(int fd, const void* data, size_t size, uint64_t offset, const std::string& what);
// A file being written from offset `before` up to `after`: the full 8 MiB step just
// completed, if any, as (offset, length), to hand to the disk now (StartWriteback) so a
// later fdatasync has little left to write.
std::optional<std::pair<uint64_t, uint64_t>> WritebackStep(uint64_t before, uint64_t after);
// Asks the kernel to start writing that range (sync_file_range). It may block while the
// device's queue is full: call it off the event loop. Errors are left to the fdatasync.
void StartWriteback(int fd, uint64_t offset, uint64_t length);

// Reads a sequence of files through one descriptor, opening each by path when it is asked
// for and checking it is still the file it was (its inode and size): e.g. a job's files,
// read in order for one receiver, whatever their number. Move-only.
class FileReader {
 public:
  struct File {
    std::string path;
    std::string other_path;  // tried if `path` is gone (the file was renamed meanwhile)
    uint64_t inode = 0;
    uint64_t size = 0;  // at least this many bytes must be there (it may still be written)
  };
  FileReader() = default;
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;
  FileReader(FileReader&& o) noexcept;
  FileReader& operator=(FileReader&& o) noexcept;
  ~FileReader() { Close(); }

  // The descriptor of file number `index`, opened unless it is the one held; -1 if it
  // cannot be opened, is another file now (replaced since) or is shorter than `size` (cut
  // since), so nothing else is read as it.
  int Open(size_t index, const File& file);
  void Close();

 private:
  int fd_ = -1;
  size_t index_ = 0;
};

}  // namespace cohort::io
