#include "io/media_server.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <unordered_map>

#include "base/log.h"
#include "io/asio.h"
#include "io/content.h"
#include "io/media_request.h"
#include "wire/sha256.h"
#include "workload/sessions.h"

namespace cohort::io {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr size_t kChunk = 1 << 20;                      // bytes per sendfile call
constexpr auto kStallLimit = std::chrono::seconds(60);  // a reader that takes nothing

std::string DigestKey(std::string_view disk, std::string_view path) {
  return std::string(disk) + '\0' + std::string(path);
}

class Conn;

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

struct MediaServer::Impl : std::enable_shared_from_this<Impl> {
  explicit Impl(MediaOptions o) : options(std::move(o)), acceptor(io), sweep(io) {
    capacity_kbps = options.capacity_kbps;
  }

  MediaOptions options;
  asio::io_context io;
  tcp::acceptor acceptor;
  asio::steady_timer sweep;
  std::thread thread;
  struct Root {
    std::string disk;
    ContentRoot content;
  };
  std::vector<Root> roots;
  std::atomic<uint64_t> capacity_kbps{0};
  Endpoint bound;
  // ---- the server's thread only ----
  std::mt19937_64 ids{std::random_device{}()};
  std::vector<std::weak_ptr<Conn>> conns;  // to close them all at the end
  bool stopping = false;

  mutable std::mutex mu;  // guards what other threads read
  struct Entry {
    MediaSession s;
    int64_t idle_since_ms = 0;
  };
  std::map<uint64_t, Entry> sessions;
  MediaMetrics metrics;
  std::shared_ptr<const std::unordered_map<std::string, std::string>> etags =
      std::make_shared<std::unordered_map<std::string, std::string>>();

  const Root* RootOf(const std::string& disk) const {
    for (const Root& root : roots) {
      if (root.disk == disk) return &root;
    }
    return nullptr;
  }

  // The file under the root, opened read-only; -1 with errno. openat2 with RESOLVE_BENEATH
  // opens a path that stays under the root with one resolution in the kernel, where
  // resolving it first took a readlink per component. What it refuses (EXDEV: a symlink
  // leading out, or an absolute one, even back into the root; ELOOP: the file itself a
  // symlink; EAGAIN: a rename raced it), and everything where openat2 is missing (Linux
  // < 5.6) or filtered, is resolved as distribution resolves a path. The root is opened
  // per request, by its path: a disk mounted there after the start is what is served, and
  // no descriptor held here keeps a mount point busy.
  static int OpenUnder(const Root& root, const std::string& relative) {
    const int dir = ::open(root.content.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) return -1;
    open_how how{};
    how.flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    const long fd = ::syscall(SYS_openat2, dir, relative.c_str(), &how, sizeof how);
    const int error = errno;
    ::close(dir);
    if (fd >= 0) return static_cast<int>(fd);
    if (error != EXDEV && error != ELOOP && error != EAGAIN && error != ENOSYS && error != EPERM) {
      errno = error;
      return -1;
    }
    auto file = root.content.Resolve(relative);
    if (!file) {
      errno = ENOENT;
      return -1;
    }
    return ::open(file->c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  }

  std::string EtagOf(const std::string& disk, const std::string& path) const {
    std::lock_guard lock(mu);
    auto it = etags->find(DigestKey(disk, path));
    return it == etags->end() ? "" : it->second;
  }

  // A connection starts reading `id`: false if that is a new session and the node is full.
  bool Admit(uint64_t id, const MediaTarget& t, uint64_t kbps) {
    std::lock_guard lock(mu);
    auto it = sessions.find(id);
    if (it == sessions.end()) {
      uint64_t load = 0;
      for (const auto& [sid, e] : sessions) load += e.s.bitrate_kbps;
      const uint64_t cap = capacity_kbps.load();
      if (cap > 0 && (kbps > cap || load > cap - kbps)) {
        ++metrics.refused_capacity;
        return false;
      }
      ++metrics.sessions_opened;
      it = sessions.emplace(id, Entry{MediaSession{id, t.path, t.disk, kbps, 0, 0, 0}, 0}).first;
    }
    ++it->second.s.connections;
    return true;
  }

  void Release(uint64_t id) {
    std::lock_guard lock(mu);
    auto it = sessions.find(id);
    if (it == sessions.end() || it->second.s.connections == 0) return;
    if (--it->second.s.connections == 0) it->second.idle_since_ms = SteadyMs();
  }

  void Sent(uint64_t id, uint64_t bytes, uint64_t offset) {
    std::lock_guard lock(mu);
    metrics.bytes_sent += bytes;
    if (auto it = sessions.find(id); it != sessions.end()) {
      it->second.s.bytes_sent += bytes;
      it->second.s.offset = offset;
    }
  }

  template <typename F>
  void Count(F f) {
    std::lock_guard lock(mu);
    f(metrics);
  }

  void Sweep() {
    sweep.expires_after(std::chrono::seconds(1));
    sweep.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      // A wait that expired as Shutdown ran comes here without an error: stop anyway.
      if (ec || self->stopping) return;
      const int64_t now = SteadyMs();
      {
        std::lock_guard lock(self->mu);
        std::erase_if(self->sessions, [&](const auto& kv) {
          return kv.second.s.connections == 0 &&
                 now - kv.second.idle_since_ms > self->options.linger.millis();
        });
      }
      self->Sweep();
    });
  }

  void Accept();
  void Shutdown();
};

namespace {

class Conn : public std::enable_shared_from_this<Conn> {
 public:
  Conn(tcp::socket socket, std::shared_ptr<MediaServer::Impl> server)
      : sock_(std::move(socket)), timer_(sock_.get_executor()), server_(std::move(server)) {
    boost::system::error_code ec;
    sock_.native_non_blocking(true, ec);
  }
  ~Conn() {
    CloseFile();
    if (session_ != 0) server_->Release(session_);
    server_->Count([](MediaMetrics& m) { --m.connections; });
  }

  void Close() {
    boost::system::error_code ignored;
    sock_.shutdown(tcp::socket::shutdown_both, ignored);
    sock_.close(ignored);
    Disarm();
  }

  void ReadRequest() {
    parser_.emplace();
    parser_->header_limit(8 * 1024);
    parser_->body_limit(0);
    Arm(std::chrono::milliseconds(server_->options.idle_timeout.millis()));
    http::async_read(sock_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       self->Disarm();
                       if (ec) return self->Close();
                       self->Handle(self->parser_->get());
                     });
  }

 private:
  // Closes the connection unless Disarm() comes first. A wait that expired just as its
  // operation completed may still run without an error: the generation tells it apart.
  void Arm(std::chrono::milliseconds limit) {
    const uint64_t generation = ++timer_generation_;
    timer_.expires_after(limit);
    timer_.async_wait([weak = weak_from_this(), generation](boost::system::error_code ec) {
      auto self = weak.lock();
      if (self && !ec && generation == self->timer_generation_) self->Close();
    });
  }
  void Disarm() {
    ++timer_generation_;
    timer_.cancel();
  }

  void CloseFile() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  void Answer(std::string text, bool then_close) {
    head_ = std::move(text);
    Arm(kStallLimit);  // a client that reads nothing does not hold the connection
    asio::async_write(sock_, asio::buffer(head_),
                      [self = shared_from_this(), then_close](beast::error_code ec, size_t) {
                        self->Disarm();
                        if (ec || then_close) return self->Close();
                        self->ReadRequest();
                      });
  }

  void Refuse(int status, std::string_view reason, const std::string& why,
              std::string_view extra = "") {
    server_->Count([&](MediaMetrics& m) {
      m.not_found += status == 404 ? 1 : 0;
      m.bad_requests += status == 400 || status == 405 ? 1 : 0;
    });
    Answer(MakePlainAnswer(status, reason, why, keep_alive_, extra), !keep_alive_);
  }

  void Handle(const http::request<http::empty_body>& req) {
    server_->Count([&](MediaMetrics& m) { ++m.requests; });
    keep_alive_ = req.keep_alive();
    const bool head_only = req.method() == http::verb::head;
    if (req.method() != http::verb::get && !head_only) {
      return Refuse(405, "Method Not Allowed", "only GET and HEAD", "Allow: GET, HEAD\r\n");
    }
    const auto raw_target = req.target();
    auto target = ParseMediaTarget(std::string_view(raw_target.data(), raw_target.size()));
    if (!target) {
      const bool missing = target.error().code() == Errc::kNotFound;
      return Refuse(missing ? 404 : 400, missing ? "Not Found" : "Bad Request",
                    target.error().message());
    }
    const MediaServer::Impl::Root* root = server_->RootOf(target->disk);
    if (root == nullptr) return Refuse(404, "Not Found", "no disk '" + target->disk + "' here");
    CloseFile();
    fd_ = MediaServer::Impl::OpenUnder(*root, target->path);
    struct stat st {};
    if (fd_ < 0 || ::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
      return Refuse(404, "Not Found", "no file '" + target->path + "' here");
    }
    ::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
    const auto size = static_cast<uint64_t>(st.st_size);
    const std::string etag = server_->EtagOf(target->disk, target->path);
    const auto range_header = req[http::field::range];
    workload::ByteRange range =
        workload::ParseRange(std::string_view(range_header.data(), range_header.size()), size);
    // A client resuming an older version gets the whole new one (RFC 9110 §13.1.5).
    const auto if_range = req[http::field::if_range];
    if (!if_range.empty() &&
        (etag.empty() || std::string_view(if_range.data(), if_range.size()) != etag)) {
      range = {};
    }
    if (range.kind == workload::ByteRange::Kind::kPartial) {
      server_->Count([](MediaMetrics& m) { ++m.range_requests; });
    }
    // A request that names no session continues this connection's (a player's seeks).
    const uint64_t id = target->session != 0 ? target->session
                        : session_ != 0      ? session_
                                             : (server_->ids() & workload::kMaxSessionId) | 1;
    MediaHead h = MakeMediaHead(range, size, target->path, etag, id, keep_alive_);
    // Only a body makes a session: a HEAD or a 416 takes no capacity.
    if (h.status == 416 || head_only) return Answer(std::move(h.text), !keep_alive_);
    if (id != session_) {
      const uint64_t kbps =
          target->kbps != 0 ? target->kbps : server_->options.default_bitrate_kbps;
      if (!server_->Admit(id, *target, kbps)) {
        return Refuse(503, "Service Unavailable", "this node is at its streaming capacity",
                      "Retry-After: 1\r\n");
      }
      if (session_ != 0) server_->Release(session_);
      session_ = id;
    }
    offset_ = h.first;
    end_ = h.first + h.length;
    head_ = std::move(h.text);
    SendHeadThenBody();
  }

  // The head goes with MSG_MORE: the kernel holds it for the body's first bytes and sends
  // them in the same segments (nginx's tcp_nopush does it with TCP_CORK): 1 MiB segments
  // on loopback went from 71% to 97% of nginx's rate (bench/streams_vs_nginx.py). What the
  // socket does not take at once is written as any other answer.
  void SendHeadThenBody() {
    const ssize_t n = ::send(sock_.native_handle(), head_.data(), head_.size(),
                             (end_ > offset_ ? MSG_MORE : 0) | MSG_NOSIGNAL);
    if (n == static_cast<ssize_t>(head_.size())) return Pump();
    if (n < 0 && errno != EAGAIN && errno != EINTR) return Close();
    if (n > 0) head_.erase(0, static_cast<size_t>(n));
    Arm(kStallLimit);
    asio::async_write(sock_, asio::buffer(head_),
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        self->Disarm();
                        if (ec) return self->Close();
                        self->Pump();
                      });
  }

  // The body, by sendfile, a chunk at a time; other connections run between chunks.
  void Pump() {
    if (offset_ >= end_) return Done();
    auto off = static_cast<off_t>(offset_);
    const ssize_t n = ::sendfile(sock_.native_handle(), fd_, &off,
                                 static_cast<size_t>(std::min<uint64_t>(end_ - offset_, kChunk)));
    if (n > 0) {
      offset_ += static_cast<uint64_t>(n);
      server_->Sent(session_, static_cast<uint64_t>(n), offset_);
      asio::post(sock_.get_executor(), [self = shared_from_this()] { self->Pump(); });
      return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      Arm(kStallLimit);
      sock_.async_wait(tcp::socket::wait_write,
                       [self = shared_from_this()](boost::system::error_code ec) {
                         self->Disarm();
                         if (ec) return self->Close();
                         self->Pump();
                       });
      return;
    }
    Close();  // the client went, or the file shrank under us (n == 0)
  }

  void Done() {
    CloseFile();
    if (!keep_alive_) return Close();
    ReadRequest();
  }

  tcp::socket sock_;
  asio::steady_timer timer_;
  std::shared_ptr<MediaServer::Impl> server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> parser_;
  std::string head_;
  int fd_ = -1;
  uint64_t offset_ = 0, end_ = 0;
  uint64_t session_ = 0;
  bool keep_alive_ = true;
  uint64_t timer_generation_ = 0;
};

}  // namespace

void MediaServer::Impl::Accept() {
  acceptor.async_accept(
      [self = shared_from_this()](boost::system::error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted || !self->acceptor.is_open()) return;
        if (!ec) {
          bool room = false;
          self->Count([&](MediaMetrics& m) {
            room = m.connections < self->options.max_connections;
            m.connections += room ? 1 : 0;
          });
          if (room) {
            std::erase_if(self->conns, [](const std::weak_ptr<Conn>& c) { return c.expired(); });
            auto conn = std::make_shared<Conn>(std::move(socket), self);
            self->conns.push_back(conn);
            conn->ReadRequest();
          }
        }
        if (ec) {  // out of file descriptors, say: try again shortly rather than spin
          auto t = std::make_shared<asio::steady_timer>(self->io, std::chrono::milliseconds(100));
          t->async_wait([self, t](boost::system::error_code) { self->Accept(); });
          return;
        }
        self->Accept();
      });
}

// Closing everything leaves the loop without work: its thread ends, and with it the last
// handler holding a connection (and the connections' hold on this).
void MediaServer::Impl::Shutdown() {
  stopping = true;
  boost::system::error_code ignored;
  acceptor.close(ignored);
  sweep.cancel();
  for (const auto& weak : conns) {
    if (auto c = weak.lock()) c->Close();
  }
  conns.clear();
}

Result<std::unique_ptr<MediaServer>> MediaServer::Start(MediaOptions options) {
  auto impl = std::make_shared<Impl>(std::move(options));
  for (const MediaRoot& r : impl->options.roots) {
    ContentRoot root(r.path);
    if (auto s = root.Prepare(); !s) return s.error();
    impl->roots.push_back({r.disk, std::move(root)});
  }
  const Endpoint& at = impl->options.listen;
  const tcp::endpoint ep(asio::ip::address_v4(at.ip), at.port);
  boost::system::error_code ec;
  impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Error(Errc::kUnavailable,
                 "cannot serve streams on " + at.ToString() + ": " + ec.message());
  }
  impl->bound = Endpoint{impl->acceptor.local_endpoint().address().to_v4().to_uint(),
                         impl->acceptor.local_endpoint().port()};
  impl->Accept();
  impl->Sweep();
  impl->thread = std::thread([impl] {
    for (;;) {
      try {
        impl->io.run();
        return;
      } catch (const std::exception& e) {  // none expected; the server keeps serving
        Log(LogLevel::kError, "stream", "handler failed", {{"error", e.what()}});
      }
    }
  });
  return std::unique_ptr<MediaServer>(new MediaServer(std::move(impl)));
}

MediaServer::MediaServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

MediaServer::~MediaServer() {
  asio::post(impl_->io, [impl = impl_] { impl->Shutdown(); });
  if (impl_->thread.joinable()) impl_->thread.join();
}

Endpoint MediaServer::address() const { return impl_->bound; }

std::vector<MediaSession> MediaServer::Sessions() const {
  std::lock_guard lock(impl_->mu);
  std::vector<MediaSession> out;
  out.reserve(impl_->sessions.size());
  for (const auto& [id, e] : impl_->sessions) out.push_back(e.s);
  return out;
}

MediaMetrics MediaServer::metrics() const {
  std::lock_guard lock(impl_->mu);
  return impl_->metrics;
}

void MediaServer::SetDigests(
    const std::map<std::pair<std::string, std::string>, workload::Item>& items) {
  auto etags = std::make_shared<std::unordered_map<std::string, std::string>>();
  for (const auto& [key, item] : items) {
    (*etags)[DigestKey(item.disk, item.path)] =
        "\"sha256-" + wire::DigestToHex(item.version.sha256) + "\"";
  }
  std::lock_guard lock(impl_->mu);
  impl_->etags = std::move(etags);
}

void MediaServer::SetCapacity(uint64_t capacity_kbps) { impl_->capacity_kbps = capacity_kbps; }

}  // namespace cohort::io
