#include "io/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace cohort::io {
namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

Result<HttpReply> HttpCall(const Endpoint& server, const std::string& method,
                           const std::string& target, const std::string& body,
                           const std::string& bearer, int timeout_ms, int total_ms,
                           size_t max_reply) {
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
  const std::string where = "the API at " + server.ToString();
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) return Error(Errc::kIo, std::string("socket: ") + std::strerror(errno));
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
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: " + server.ToString() +
                    "\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n";
  if (!bearer.empty()) req += "Authorization: Bearer " + bearer + "\r\n";
  req += "\r\n" + body;
  for (size_t sent = 0; sent < req.size();) {
    pollfd w{fd.get(), POLLOUT, 0};
    if (::poll(&w, 1, wait_ms()) != 1) return Error(Errc::kTimeout, where + " did not read");
    const ssize_t n = ::send(fd.get(), req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      return Error(Errc::kIo, "sending to " + where + ": " + std::strerror(errno));
    }
    if (n > 0) sent += static_cast<size_t>(n);
  }
  std::string raw;
  char buf[16384];
  while (true) {
    pollfd r{fd.get(), POLLIN, 0};
    if (::poll(&r, 1, wait_ms()) != 1) return Error(Errc::kTimeout, where + " did not answer");
    const ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
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
