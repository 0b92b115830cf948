// MediaServer: a node's streams (W2) over HTTP/1.1, on a listener and a thread of its own so
// that viewers never stall the protocol loop. `GET|HEAD /media/<path>?session=ID&kbps=K
// [&disk=D]` serves a file of the content root (or of disk D's mount) with what players
// use: byte ranges (206, 416; If-Range against the ETag "sha256-<hex>"), keep-alive, the
// content type by extension, CORS for players on other origins. The body goes out by
// sendfile(2), from the page cache to the socket without a copy.
//
// A session is what one viewer reads: its id comes from the placement (or is made here for
// a request that names none), it lasts while it has connections and `linger` after, and
// its offset is the end of the last range served. A node at its stated capacity refuses new
// sessions with 503 and Retry-After (the supervisor places within capacity; this is the
// node's own check, for clients that come without a placement).
//
// Every request is checked here: the path as distribution checks one, the file resolved
// under its root without following a symlink out of it, the head bounded (8 KiB).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/endpoint.h"
#include "base/result.h"
#include "base/time.h"
#include "workload/catalog.h"

namespace cohort::io {

struct MediaRoot {
  std::string disk;  // "" for the content root
  std::string path;
};

struct MediaOptions {
  Endpoint listen;
  std::vector<MediaRoot> roots;
  uint64_t capacity_kbps = 0;  // 0: no limit here
  uint64_t default_bitrate_kbps = 4000;
  Duration linger = Duration::Seconds(5);
  Duration idle_timeout = Duration::Seconds(30);  // a connection with no request
  size_t max_connections = 4096;
};

struct MediaSession {
  uint64_t id = 0;
  std::string path;
  std::string disk;
  uint64_t bitrate_kbps = 0;
  uint64_t offset = 0;  // the end of the last range served
  uint64_t bytes_sent = 0;
  uint32_t connections = 0;
};

struct MediaMetrics {
  uint64_t requests = 0;
  uint64_t range_requests = 0;
  uint64_t bytes_sent = 0;
  uint64_t sessions_opened = 0;
  uint64_t refused_capacity = 0;
  uint64_t not_found = 0;
  uint64_t bad_requests = 0;
  uint64_t connections = 0;  // open now
};

class MediaServer {
 public:
  // Binds and starts the server's thread; fails with a message naming the address.
  static Result<std::unique_ptr<MediaServer>> Start(MediaOptions options);
  ~MediaServer();  // stops the thread and closes every connection
  MediaServer(const MediaServer&) = delete;
  MediaServer& operator=(const MediaServer&) = delete;

  Endpoint address() const;
  // Any thread: a snapshot of the sessions and counters.
  std::vector<MediaSession> Sessions() const;
  MediaMetrics metrics() const;
  // Any thread: the digests of the files, for ETags (from the catalog feed).
  void SetDigests(const std::map<std::pair<std::string, std::string>, workload::Item>& items);
  void SetCapacity(uint64_t capacity_kbps);

  struct Impl;  // media_server.cc's, shared with its connections

 private:
  explicit MediaServer(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace cohort::io
