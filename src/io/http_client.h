// A minimal HTTP/1.1 client of a daemon's API: one request per connection (the CLI, and a
// member defining a node, C7), a connection kept for many (a group member), or a stream.
// Plain POSIX sockets keep Beast out of the CLI's build.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "base/endpoint.h"
#include "base/result.h"

namespace cohort::io {

struct HttpReply {
  int status = 0;
  std::string body;
};

// Sends the request and reads the whole reply. `timeout_ms` bounds connect and each read;
// `total_ms` (0: none) the whole call, and `max_reply` the reply's size — for a peer that
// is not trusted to answer briefly (a node being defined, C7). `node` (the Cohort-Node
// header): the path of a node anywhere in the tree the server relays it to; "" for itself.
Result<HttpReply> HttpCall(const Endpoint& server, const std::string& method,
                           const std::string& target, const std::string& body = "",
                           const std::string& bearer = "", int timeout_ms = 10000, int total_ms = 0,
                           size_t max_reply = SIZE_MAX, const std::string& node = "");

// An owned file descriptor.
class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  ~UniqueFd();
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  int get() const { return fd_; }

 private:
  int fd_;
};

// A connected non-blocking TCP socket; `wait_ms` says how long each wait may last.
Result<UniqueFd> ConnectTo(const Endpoint& server, const std::function<int()>& wait_ms);
// Sends every byte, waiting at most `wait_ms` for room each time.
Status SendAll(int fd, const std::string& bytes, const std::string& where,
               const std::function<int()>& wait_ms);

// A connection kept alive for many small requests to one daemon's API (a group member's
// votes and proposals): no connect, accept and close per request. Not thread-safe.
class HttpConnection {
 public:
  HttpConnection(const Endpoint& server, std::string bearer, int timeout_ms = 10000)
      : server_(server), bearer_(std::move(bearer)), timeout_ms_(timeout_ms) {}
  // Sends the request and reads its answer. A kept connection the daemon closed (it drops
  // one idle for 30 s; it restarted) is replaced before use, or when sending on it fails;
  // a request sent whole is never sent again (the daemon may have acted on it).
  Result<HttpReply> Call(const std::string& method, const std::string& target,
                         const std::string& body = "");

 private:
  bool Usable() const;
  // One exchange on the connection; `*sent` says whether the request went out whole.
  Result<HttpReply> Exchange(const std::string& request, bool* sent);
  Result<std::string> ReadHead(size_t* end);
  Status ReadMore();
  static constexpr size_t kMaxHead = 64 << 10;
  static constexpr size_t kMaxBody = 16 << 20;
  Endpoint server_;
  std::string bearer_;
  int timeout_ms_;
  UniqueFd fd_;
  std::chrono::steady_clock::time_point last_used_;
  std::string raw_;  // received and not yet consumed
};

// A streamed answer read line by line (the API's JSON-lines feeds): the request is sent,
// the head read, and each line handed out as it comes. Closing it hangs up, which the
// daemon takes as the end of what the stream stood for (a group session).
class HttpLineStream {
 public:
  // Fails unless the daemon answers 200; the error carries the daemon's message.
  static Result<std::unique_ptr<HttpLineStream>> Open(
      const Endpoint& server, const std::string& method, const std::string& target,
      const std::string& body, const std::string& bearer, int timeout_ms = 10000,
      const std::string& node = "");
  // The next line without its newline; nothing if none came within `timeout_ms` (-1: wait
  // as long as it takes); an error once the stream has ended or broken.
  Result<std::optional<std::string>> NextLine(int timeout_ms);

 private:
  HttpLineStream(UniqueFd fd, std::string where) : fd_(std::move(fd)), where_(std::move(where)) {}
  Result<bool> Fill(int timeout_ms);
  Status ReadHead(int timeout_ms);
  Status Decode();
  static constexpr size_t kMaxBuffered = 8 << 20;
  UniqueFd fd_;
  std::string where_;
  std::string raw_;   // as received
  std::string text_;  // the body, decoded
  bool chunked_ = false;
  bool ended_ = false;
};

}  // namespace cohort::io
