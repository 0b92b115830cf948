#include "io/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>

#include "base/chunked.h"

namespace cohort::io {
namespace {

// The request line and headers, then the body.
std::string RequestText(const Endpoint& server, const std::string& method,
                        const std::string& target, const std::string& body,
                        const std::string& bearer, const std::string& node,
                        bool keep_alive = false) {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: " + server.ToString() +
                    (keep_alive ? "\r\nConnection: keep-alive" : "\r\nConnection: close") +
                    "\r\nAccept: application/json\r\n"
                    "Content-Type: application/json\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n";
  if (!bearer.empty()) req += "Authorization: Bearer " + bearer + "\r\n";
  if (!node.empty()) req += "Cohort-Node: " + node + "\r\n";
  return req + "\r\n" + body;
}

std::string Where(const Endpoint& server) { return "the API at " + server.ToString(); }

// The head's parts are sent as given: a line break in one would add a header.
Status CheckHead(const std::string& method, const std::string& target, const std::string& bearer,
                 const std::string& node) {
  for (const std::string* s : {&method, &target, &bearer, &node}) {
    if (s->find_first_of("\r\n") != std::string::npos) {
      return Error(Errc::kInvalidArgument,
                   "a request's method, target or header holds a line break");
    }
  }
  return OkStatus();
}

}  // namespace

// A connected non-blocking socket; `wait_ms` says how long each wait may last.
Result<UniqueFd> ConnectTo(const Endpoint& server, const std::function<int()>& wait_ms) {
  const std::string where = Where(server);
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) return Error(Errc::kIo, std::string("socket: ") + std::strerror(errno));
  const int one = 1;  // a request is one small write; nothing to gain by holding it
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(server.port);
  addr.sin_addr.s_addr = htonl(server.ip);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 &&
      errno != EINPROGRESS) {
    return Error(Errc::kUnavailable, "cannot reach " + where + ": " + std::strerror(errno));
  }
  pollfd p{fd.get(), POLLOUT, 0};
  if (::poll(&p, 1, wait_ms()) != 1) {
    return Error(Errc::kUnavailable, "cannot reach " + where + ": timed out");
  }
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) {
    return Error(Errc::kUnavailable, "cannot reach " + where + ": " + std::strerror(err) +
                                         " (is cohortd running? see --api)");
  }
  return fd;
}

Status SendAll(int fd, const std::string& bytes, const std::string& where,
               const std::function<int()>& wait_ms) {
  for (size_t sent = 0; sent < bytes.size();) {
    pollfd w{fd, POLLOUT, 0};
    if (::poll(&w, 1, wait_ms()) != 1) return Error(Errc::kTimeout, where + " did not read");
    const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      return Error(Errc::kIo, "sending to " + where + ": " + std::strerror(errno));
    }
    if (n > 0) sent += static_cast<size_t>(n);
  }
  return OkStatus();
}

Result<HttpReply> HttpCall(const Endpoint& server, const std::string& method,
                           const std::string& target, const std::string& body,
                           const std::string& bearer, int timeout_ms, int total_ms,
                           size_t max_reply, const std::string& node) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(total_ms > 0 ? total_ms : 0);
  // Each wait: the per-read timeout, or what is left of the whole call if that is less.
  auto wait_ms = [&]() -> int {
    if (total_ms <= 0) return timeout_ms;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    return static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(timeout_ms, left)));
  };
  const std::string where = Where(server);
  COHORT_TRY(CheckHead(method, target, bearer, node));
  auto fd = ConnectTo(server, wait_ms);
  if (!fd) return fd.error();
  COHORT_TRY(
      SendAll(fd->get(), RequestText(server, method, target, body, bearer, node), where, wait_ms));
  std::string raw;
  char buf[16384];
  while (true) {
    pollfd r{fd->get(), POLLIN, 0};
    if (::poll(&r, 1, wait_ms()) != 1) return Error(Errc::kTimeout, where + " did not answer");
    const ssize_t n = ::recv(fd->get(), buf, sizeof buf, 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return Error(Errc::kIo, "reading from " + where + ": " + std::strerror(errno));
    }
    raw.append(buf, static_cast<size_t>(n));
    if (max_reply != SIZE_MAX && raw.size() > max_reply) {
      return Error(Errc::kMalformed,
                   where + " sent an answer over " + std::to_string(max_reply) + " bytes");
    }
  }
  const size_t head_end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.", 0) != 0 || head_end == std::string::npos || raw.size() < 12) {
    return Error(Errc::kMalformed, where + " sent something that is not HTTP");
  }
  HttpReply reply;
  reply.status = std::atoi(raw.c_str() + 9);
  reply.body = raw.substr(head_end + 4);
  return reply;
}

}  // namespace cohort::io

namespace cohort::io {

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

Result<std::unique_ptr<HttpLineStream>> HttpLineStream::Open(
    const Endpoint& server, const std::string& method, const std::string& target,
    const std::string& body, const std::string& bearer, int timeout_ms, const std::string& node) {
  const std::function<int()> wait_ms = [timeout_ms] { return timeout_ms; };
  COHORT_TRY(CheckHead(method, target, bearer, node));
  auto fd = ConnectTo(server, wait_ms);
  if (!fd) return fd.error();
  COHORT_TRY(SendAll(fd->get(), RequestText(server, method, target, body, bearer, node),
                     Where(server), wait_ms));
  std::unique_ptr<HttpLineStream> s(new HttpLineStream(std::move(*fd), Where(server)));
  COHORT_TRY(s->ReadHead(timeout_ms));
  return s;
}

// Reads more bytes into raw_: false at the end of the stream.
Result<bool> HttpLineStream::Fill(int timeout_ms) {
  pollfd r{fd_.get(), POLLIN, 0};
  const int ready = ::poll(&r, 1, timeout_ms);
  if (ready == 0) return Error(Errc::kTimeout, where_ + " sent nothing in time");
  if (ready < 0 && errno != EINTR)
    return Error(Errc::kIo, std::string("poll: ") + std::strerror(errno));
  char buf[16384];
  const ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
  if (n == 0) return false;
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return true;
    return Error(Errc::kIo, "reading from " + where_ + ": " + std::strerror(errno));
  }
  raw_.append(buf, static_cast<size_t>(n));
  if (raw_.size() > kMaxBuffered) {
    return Error(Errc::kMalformed,
                 where_ + " sent a line over " + std::to_string(kMaxBuffered) + " bytes");
  }
  return true;
}

Status HttpLineStream::ReadHead(int timeout_ms) {
  size_t end;
  while ((end = raw_.find("\r\n\r\n")) == std::string::npos) {
    auto more = Fill(timeout_ms);
    if (!more) return more.error();
    if (!*more) break;
  }
  if (raw_.rfind("HTTP/1.", 0) != 0 || end == std::string::npos || raw_.size() < 12) {
    return Error(Errc::kMalformed, where_ + " sent something that is not HTTP");
  }
  const int status = std::atoi(raw_.c_str() + 9);
  std::string head = raw_.substr(0, end);
  for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  raw_.erase(0, end + 4);
  chunked_ = head.find("transfer-encoding: chunked") != std::string::npos;
  if (status == 200) return OkStatus();
  // An error document: read it whole and hand its message on.
  while (true) {
    auto more = Fill(timeout_ms);
    if (!more || !*more) break;
  }
  if (chunked_) (void)Decode();  // what came of it, if anything
  std::string message = chunked_ ? text_ : raw_;
  return Error(status == 401   ? Errc::kPermission
               : status == 404 ? Errc::kNotFound
                               : Errc::kUnavailable,
               where_ + " answered " + std::to_string(status) + ": " + message);
}

// Moves what has come of the body from raw_ to text_.
Status HttpLineStream::Decode() {
  if (!chunked_) {
    text_ += raw_;
    raw_.clear();
    return OkStatus();
  }
  if (ended_) return OkStatus();
  auto step = DecodeChunks(raw_, text_, kMaxBuffered);
  if (!step)
    return Error(Errc::kMalformed, where_ + " sent a broken stream: " + step.error().message());
  ended_ = *step == ChunkStep::kEnded;
  return OkStatus();
}

Result<std::optional<std::string>> HttpLineStream::NextLine(int timeout_ms) {
  while (true) {
    COHORT_TRY(Decode());
    const size_t nl = text_.find('\n');
    if (nl != std::string::npos) {
      std::string line = text_.substr(0, nl);
      text_.erase(0, nl + 1);
      return std::optional<std::string>(std::move(line));
    }
    if (text_.size() > kMaxBuffered) {
      return Error(Errc::kMalformed,
                   where_ + " sent a line over " + std::to_string(kMaxBuffered) + " bytes");
    }
    if (ended_) return Error(Errc::kUnavailable, where_ + " ended the stream");
    auto more = Fill(timeout_ms);
    if (!more) {
      if (more.error().code() == Errc::kTimeout) return std::optional<std::string>();
      return more.error();
    }
    if (!*more) return Error(Errc::kUnavailable, where_ + " closed the stream");
  }
}

}  // namespace cohort::io

namespace cohort::io {
namespace {

// The value of header `name` (lower case) in a lower-cased head; "" if absent.
std::string HeaderValue(const std::string& head, const std::string& name) {
  const size_t at = head.find("\r\n" + name + ":");
  if (at == std::string::npos) return "";
  size_t from = at + name.size() + 3;
  const size_t to = head.find("\r\n", from);
  while (from < to && (head[from] == ' ' || head[from] == '\t')) ++from;
  std::string value = head.substr(from, to == std::string::npos ? to : to - from);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
  return value;
}

}  // namespace

Result<HttpReply> HttpConnection::Call(const std::string& method, const std::string& target,
                                       const std::string& body) {
  COHORT_TRY(CheckHead(method, target, bearer_, ""));
  if (fd_.get() >= 0 && !Usable()) fd_ = UniqueFd();
  const std::string request = RequestText(server_, method, target, body, bearer_, "", true);
  const bool reused = fd_.get() >= 0;
  bool sent = false;
  auto reply = Exchange(request, &sent);
  if (!reply && reused && !sent) {
    fd_ = UniqueFd();
    reply = Exchange(request, &sent);  // on a new connection
  }
  if (!reply) fd_ = UniqueFd();
  return reply;
}

// Whether the kept connection may carry a request: well inside the daemon's 30 s of
// idleness, and nothing pending on it — a close (the daemon dropped it, or restarted) or
// bytes no request asked for.
bool HttpConnection::Usable() const {
  if (std::chrono::steady_clock::now() - last_used_ > std::chrono::seconds(20)) return false;
  pollfd p{fd_.get(), POLLIN | POLLRDHUP, 0};
  return raw_.empty() && ::poll(&p, 1, 0) == 0;
}

Result<HttpReply> HttpConnection::Exchange(const std::string& request, bool* sent) {
  const std::function<int()> wait_ms = [this] { return timeout_ms_; };
  const std::string where = Where(server_);
  *sent = false;
  if (fd_.get() < 0) {
    auto fd = ConnectTo(server_, wait_ms);
    if (!fd) return fd.error();
    fd_ = std::move(*fd);
    raw_.clear();
  }
  COHORT_TRY(SendAll(fd_.get(), request, where, wait_ms));
  *sent = true;  // from here the daemon may act on it: never sent again
  size_t end = 0;
  auto head = ReadHead(&end);
  if (!head) return head.error();
  HttpReply reply;
  reply.status = std::atoi(raw_.c_str() + 9);
  const std::string length = HeaderValue(*head, "content-length");
  const bool close = HeaderValue(*head, "connection") == "close";
  char* stop = nullptr;
  const unsigned long long size = std::strtoull(length.c_str(), &stop, 10);
  if (length.empty() || *stop != '\0' || size > kMaxBody) {
    return Error(Errc::kMalformed, where + " sent an answer without a usable Content-Length");
  }
  raw_.erase(0, end + 4);
  while (raw_.size() < size) COHORT_TRY(ReadMore());
  reply.body = raw_.substr(0, size);
  raw_.erase(0, size);
  last_used_ = std::chrono::steady_clock::now();
  if (close) fd_ = UniqueFd();
  return reply;
}

// Reads until the answer's head is whole; returns it lower-cased, `*end` where it ends.
Result<std::string> HttpConnection::ReadHead(size_t* end) {
  const std::string where = Where(server_);
  while ((*end = raw_.find("\r\n\r\n")) == std::string::npos) {
    if (raw_.size() > kMaxHead) return Error(Errc::kMalformed, where + " sent an endless head");
    COHORT_TRY(ReadMore());
  }
  if (raw_.rfind("HTTP/1.", 0) != 0 || raw_.size() < 12) {
    return Error(Errc::kMalformed, where + " sent something that is not HTTP");
  }
  std::string head = raw_.substr(0, *end + 2);
  for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return head;
}

// Appends what comes next on the connection to raw_ (perhaps nothing: interrupted); an
// error when nothing comes in time or the daemon closed the connection.
Status HttpConnection::ReadMore() {
  const std::string where = Where(server_);
  pollfd r{fd_.get(), POLLIN, 0};
  if (::poll(&r, 1, timeout_ms_) != 1) return Error(Errc::kTimeout, where + " did not answer");
  char buf[16384];
  const ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
  if (n == 0) return Error(Errc::kIo, where + " closed the connection");
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return OkStatus();
    return Error(Errc::kIo, "reading from " + where + ": " + std::strerror(errno));
  }
  raw_.append(buf, static_cast<size_t>(n));
  return OkStatus();
}

}  // namespace cohort::io
