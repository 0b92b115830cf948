// Content operations of the distribution runtime that touch files but make no decisions:
// applying a command's attributes and serving CTP requests (D3) inside the node's content
// root. Plain functions; blocking file system calls, run on whichever thread calls them.
#pragma once

#include <array>
#include <ctime>
#include <string>
#include <vector>

#include "base/result.h"
#include "distribution/core.h"
#include "distribution/messages.h"
#include "io/content.h"

namespace cohort::node {

// utimensat/futimens arguments: access and modification time both `ns` after the epoch.
std::array<struct timespec, 2> TimesOf(int64_t ns);

// Sets an open file's owner (only when running as root: "where permitted"), mode and mtime.
// Returns false with errno set.
bool SetAttributes(int fd, const distribution::Command& c);
// The same for a folder by path (its mtime is set last, once nothing more is written in it).
bool SetFolderAttributes(const std::string& path, const distribution::Command& c);

// One CTP operation (ls, stat, get, put, mkdir, rm, chmod) on `root`.
distribution::ResultMsg ServeCtp(const io::ContentRoot& root, const distribution::CtpMsg& m);

}  // namespace cohort::node
