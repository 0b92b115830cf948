#include "io/http_fetch.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/text.h"
#include "io/http_client.h"

namespace cohort::io {
namespace {

constexpr size_t kMaxHead = 16 * 1024;
constexpr size_t kMaxText = 64 * 1024;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return s;
}

// The value of header `name` (lower case) in `head`, trimmed; "" if absent.
std::string Header(const std::string& head, const std::string& lower_head,
                   const std::string& name) {
  const size_t at = lower_head.find("\r\n" + name + ":");
  if (at == std::string::npos) return "";
  size_t begin = at + 2 + name.size() + 1;
  const size_t end = head.find("\r\n", begin);
  while (begin < end && head[begin] == ' ') ++begin;
  return head.substr(begin, end - begin);
}

// "bytes first-last/total" → first and total.
void ParseContentRange(const std::string& v, FetchReply& r) {
  if (!v.starts_with("bytes ")) return;
  const size_t dash = v.find('-'), slash = v.find('/');
  if (dash == std::string::npos || slash == std::string::npos || dash > slash) return;
  if (auto first = ParseUnsigned(v.substr(6, dash - 6))) r.range_start = *first;
  if (auto total = ParseUnsigned(v.substr(slash + 1))) r.total = *total;
}

Status WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Error(Errc::kIo, std::string("writing the file: ") + std::strerror(errno));
    data += n;
    size -= static_cast<size_t>(n);
  }
  return OkStatus();
}

}  // namespace

Result<std::pair<Endpoint, std::string>> ParseHttpUrl(const std::string& url) {
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme)) return Error(Errc::kInvalidArgument, "not an http:// URL: " + url);
  const size_t slash = url.find('/', kScheme.size());
  auto server = Endpoint::Parse(url.substr(kScheme.size(), slash - kScheme.size()));
  if (!server) return Error(Errc::kInvalidArgument, "bad server in URL " + url);
  return std::pair{*server, slash == std::string::npos ? "/" : url.substr(slash)};
}

Result<FetchReply> HttpFetch(const Endpoint& server, const std::string& target, uint64_t from,
                             const std::string& if_range, int out_fd, int timeout_ms,
                             const std::function<void(uint64_t)>& progress) {
  if (target.find_first_of("\r\n") != std::string::npos ||
      if_range.find_first_of("\r\n") != std::string::npos) {
    return Error(Errc::kInvalidArgument, "a line break in the request");
  }
  const std::function<int()> wait_ms = [timeout_ms] { return timeout_ms; };
  const std::string where = server.ToString();
  auto fd = ConnectTo(server, wait_ms);
  if (!fd) return fd.error();
  std::string request = "GET " + target + " HTTP/1.1\r\nHost: " + where +
                        "\r\nUser-Agent: cohort\r\nConnection: close\r\n";
  if (from > 0) request += "Range: bytes=" + std::to_string(from) + "-\r\n";
  if (from > 0 && !if_range.empty()) request += "If-Range: " + if_range + "\r\n";
  request += "\r\n";
  COHORT_TRY(SendAll(fd->get(), request, where, wait_ms));

  FetchReply r;
  std::string raw;
  std::optional<uint64_t> length;
  bool head_done = false;
  char buf[256 * 1024];
  for (;;) {
    pollfd p{fd->get(), POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) != 1) {
      if (!head_done) return Error(Errc::kTimeout, where + " sent no answer");
      r.ended = "no bytes for " + std::to_string(timeout_ms) + " ms";
      break;
    }
    const ssize_t n = ::recv(fd->get(), buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) {
      if (!head_done) return Error(Errc::kUnavailable, where + " closed without an answer");
      r.ended = n == 0 ? "the server closed the connection" : std::strerror(errno);
      break;
    }
    const char* body = buf;
    size_t body_size = static_cast<size_t>(n);
    if (!head_done) {
      raw.append(buf, static_cast<size_t>(n));
      const size_t end = raw.find("\r\n\r\n");
      if (end == std::string::npos) {
        if (raw.size() > kMaxHead) return Error(Errc::kMalformed, where + " sent a head too long");
        continue;
      }
      if (!raw.starts_with("HTTP/1.") || end < 12) {
        return Error(Errc::kMalformed, where + " sent something that is not HTTP");
      }
      head_done = true;
      const std::string head = raw.substr(0, end), lower = Lower(head);
      r.status = std::atoi(raw.c_str() + 9);
      r.etag = Header(head, lower, "etag");
      r.location = Header(head, lower, "location");
      ParseContentRange(Header(head, lower, "content-range"), r);
      if (auto l = ParseUnsigned(Header(head, lower, "content-length"))) length = *l;
      if (r.status == 200 && length) r.total = *length;
      body = raw.data() + end + 4;
      body_size = raw.size() - end - 4;
      raw = std::string(body, body_size);
      body = raw.data();
    }
    if (r.status / 100 != 2) {
      r.text.append(body, std::min(body_size, kMaxText - std::min(kMaxText, r.text.size())));
    } else if (body_size > 0) {
      COHORT_TRY(WriteAll(out_fd, body, body_size));
      r.written += body_size;
      if (progress) progress(body_size);
    }
    if (length && (r.status / 100 == 2 ? r.written : r.text.size()) >= *length) break;
  }
  r.complete = r.status / 100 == 2 && length && r.written == *length;
  return r;
}

}  // namespace cohort::io
