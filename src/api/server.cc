#include "api/server.h"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <deque>
#include <optional>

#include "io/asio.h"

namespace cohort::api {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<const Handler> handler)
      : stream_(std::move(socket)), handler_(std::move(handler)) {
    boost::system::error_code ec;
    const auto remote = stream_.socket().remote_endpoint(ec);
    if (!ec) peer_ = remote.address().to_string() + ":" + std::to_string(remote.port());
    // Streamed answers are many small writes (a group session's events): Nagle's algorithm
    // would hold each behind the client's delayed acknowledgement of the one before.
    stream_.socket().set_option(tcp::no_delay(true), ec);
  }

  // Reads the next request: the first, or one more on a connection kept alive (a group
  // member's votes and proposals, a browser's requests), idle for at most 30 s.
  void Start() {
    parser_.emplace();
    parser_->body_limit(1 << 20);
    keep_alive_ = false;
    head_only_ = false;
    stream_.expires_after(std::chrono::seconds(30));
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

 private:
  void OnRead(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      // Said rather than a dropped connection; the client may still be sending, so the
      // answer may not reach it, but most clients read it.
      return Write(
          {413, "application/json", "{\"error\": \"request body over the API's 1 MiB limit\"}\n"});
    }
    if (ec) return;
    const auto& req = parser_->get();
    keep_alive_ = req.keep_alive();
    // HEAD is a GET whose answer keeps its headers only: handlers see GET (a redirect from
    // /v1/streams/ still reserves its session, which ends unopened after 5 s).
    head_only_ = req.method() == http::verb::head;
    HttpRequest r{head_only_ ? std::string("GET") : std::string(req.method_string()),
                  std::string(req.target()),
                  req.body(),
                  std::string(req[http::field::authorization]),
                  peer_,
                  std::string(req["Cohort-Node"]),
                  std::string(req[http::field::accept])};
    // Ping can take as long as its requests do.
    stream_.expires_never();
    // A handler that throws (say, a JSON field of the wrong type) answers 500 instead of
    // taking the daemon down.
    try {
      (*handler_)(r,
                  [self = shared_from_this()](HttpResponse resp) { self->Write(std::move(resp)); });
    } catch (const std::exception& e) {
      Write({500, "application/json",
             std::string("{\"error\": \"internal error: ") + e.what() + "\"}\n"});
    }
  }

  void Write(HttpResponse resp) {
    if (resp.stream) return StartStream(std::move(resp));
    res_ = {};
    res_.result(static_cast<http::status>(resp.status));
    res_.set(http::field::content_type, resp.content_type);
    res_.set(http::field::server, "cohortd");
    for (const auto& [name, value] : resp.headers) res_.set(name, value);
    res_.keep_alive(keep_alive_);
    res_.body() = std::move(resp.body);
    res_.prepare_payload();
    if (head_only_) {
      const size_t length = res_.body().size();
      res_.body().clear();
      res_.content_length(length);  // what a GET would have carried
    }
    stream_.expires_after(std::chrono::seconds(30));
    http::async_write(stream_, res_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (!ec && self->keep_alive_) return self->Start();
      beast::error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    });
  }

  // A streamed body: headers with chunked encoding, then each Write() as one chunk. A read
  // that completes (the client closed or sent something) ends the stream.
  class Sink : public StreamSink {
   public:
    explicit Sink(std::shared_ptr<Session> s) : session_(std::move(s)) {}
    void Write(std::string chunk) override {
      if (closed_ || chunk.empty()) return;
      // A client that reads nothing may not make the node hold its stream forever.
      queued_ += chunk.size();
      if (queued_ > kMaxQueued) return Ended();
      queue_.push_back(std::move(chunk));
      Pump();
    }
    void Close() override {
      if (closed_ || ending_) return;
      ending_ = true;
      Pump();
    }
    void OnClosed(std::function<void()> fn) override {
      if (closed_) return fn();
      on_closed_.push_back(std::move(fn));
    }
    void Ended() {
      if (closed_) return;
      closed_ = true;
      queue_.clear();
      auto fns = std::move(on_closed_);
      for (auto& fn : fns) fn();
      beast::error_code ignored;
      session_->stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
      session_->stream_.socket().close(ignored);
    }
    void Pump() {
      if (writing_ || closed_) return;
      if (queue_.empty()) {
        if (!ending_) return;
        writing_ = true;
        asio::async_write(session_->stream_, http::make_chunk_last(),
                          [self = self_.lock()](beast::error_code, size_t) {
                            if (self) self->Ended();
                          });
        return;
      }
      writing_ = true;
      current_ = std::move(queue_.front());
      queue_.pop_front();
      queued_ -= current_.size();
      asio::async_write(session_->stream_, http::make_chunk(asio::buffer(current_)),
                        [self = self_.lock()](beast::error_code ec, size_t) {
                          if (!self) return;
                          self->writing_ = false;
                          if (ec) return self->Ended();
                          self->Pump();
                        });
    }
    std::weak_ptr<Sink> self_;

   private:
    std::shared_ptr<Session> session_;
    static constexpr size_t kMaxQueued = 4 << 20;
    std::deque<std::string> queue_;
    size_t queued_ = 0;  // bytes in queue_
    std::string current_;
    bool writing_ = false, ending_ = false, closed_ = false;
    std::vector<std::function<void()>> on_closed_;
  };

  void StartStream(HttpResponse resp) {
    auto head = std::make_shared<http::response<http::empty_body>>(
        static_cast<http::status>(resp.status), 11);
    head->set(http::field::content_type, resp.content_type);
    head->set(http::field::server, "cohortd");
    for (const auto& [name, value] : resp.headers) head->set(name, value);
    head->chunked(true);
    head->keep_alive(false);  // the stream's end is the connection's
    auto serializer = std::make_shared<http::response_serializer<http::empty_body>>(*head);
    auto sink = std::make_shared<Sink>(shared_from_this());
    sink->self_ = sink;
    stream_.expires_never();
    http::async_write_header(stream_, *serializer,
                             [self = shared_from_this(), head, serializer, sink,
                              start = std::move(resp.stream)](beast::error_code ec, size_t) {
                               if (ec || self->head_only_) return sink->Ended();
                               self->WatchForHangUp(sink);
                               start(sink);
                             });
  }

  void WatchForHangUp(const std::shared_ptr<Sink>& sink) {
    stream_.socket().async_read_some(
        asio::buffer(hangup_buffer_),
        [sink, self = shared_from_this()](beast::error_code, size_t) { sink->Ended(); });
  }

  char hangup_buffer_[64];
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;  // one per request
  http::response<http::string_body> res_;
  // Shared: a kept connection may bring a request after the server stopped.
  std::shared_ptr<const Handler> handler_;
  std::string peer_;  // the client's address
  bool head_only_ = false;
  bool keep_alive_ = false;  // the request asked to keep the connection (HTTP/1.1's default)
};

}  // namespace

struct ApiServer::Impl {
  Impl(asio::io_context& io, Handler h)
      : acceptor(io), handler(std::make_shared<const Handler>(std::move(h))) {}
  tcp::acceptor acceptor;
  std::shared_ptr<const Handler> handler;

  void Accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
      if (ec) {  // e.g. out of file descriptors: try again shortly rather than spin
        auto t = std::make_shared<asio::steady_timer>(acceptor.get_executor(),
                                                      std::chrono::milliseconds(100));
        t->async_wait([this, t](beast::error_code e) {
          if (!e && acceptor.is_open()) Accept();
        });
        return;
      }
      std::make_shared<Session>(std::move(socket), handler)->Start();
      Accept();
    });
  }
};

ApiServer::ApiServer(asio::io_context& io, Handler handler)
    : impl_(std::make_unique<Impl>(io, std::move(handler))) {}
ApiServer::~ApiServer() = default;

Status ApiServer::Listen(const Endpoint& address) {
  beast::error_code ec;
  const tcp::endpoint ep(asio::ip::address_v4(address.ip), address.port);
  impl_->acceptor.open(ep.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(ep, ec);
  if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Error(Errc::kUnavailable,
                 "cannot serve the API on " + address.ToString() + ": " + ec.message());
  }
  impl_->Accept();
  return OkStatus();
}

void ApiServer::Stop() {
  beast::error_code ec;
  impl_->acceptor.close(ec);
}

}  // namespace cohort::api
