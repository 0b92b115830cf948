// Content operations of the distribution runtime that touch files but make no decisions:
// applying a command's attributes and serving CTP requests (D3) inside the node's content
// root. Plain functions; blocking file system calls, run on whichever thread calls them.
#pragma once

#include <array>
#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>
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

// The latest listing ServeCtp made: a listing answers in pages, and the pages after the
// first (asked within kListingKept) are cut from it instead of walking the tree again (a
// tree of 100,000 entries is 20 pages). Used by one thread.
struct ListingCache {
  static constexpr std::chrono::seconds kListingKept{60};
  std::string path;
  bool recursive = false;
  std::chrono::steady_clock::time_point made;
  nlohmann::json list;
};

// One CTP operation (ls, stat, get, put, mkdir, rm, chmod) on `root`; `listings` may be
// null (every page walks again).
distribution::ResultMsg ServeCtp(const io::ContentRoot& root, const distribution::CtpMsg& m,
                                 ListingCache* listings = nullptr);

}  // namespace cohort::node
