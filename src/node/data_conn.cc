#include "node/data_conn.h"

#include <sodium.h>

#include "base/log.h"
#include "distribution/validate.h"

namespace cohort::node {
namespace {

using boost::asio::ip::tcp;
using distribution::Message;
using wire::Bytes;

template <typename T>
T Random() {
  T v;
  randombytes_buf(&v, sizeof v);
  return v;
}

}  // namespace

DataConn::DataConn(tcp::socket socket, const wire::Keyring& keyring, NodeId self)
    : socket_(std::move(socket)),
      handshake_timer_(socket_.get_executor()),
      keyring_(keyring),
      self_(self) {
  incarnation_ = Random<uint64_t>() | 1;
}

void DataConn::Connect(boost::asio::io_context& io, const tcp::endpoint& to,
                       const wire::Keyring& keyring, NodeId self, NodeId peer,
                       std::function<void(std::shared_ptr<DataConn>)> ready) {
  auto conn = std::make_shared<DataConn>(tcp::socket(io), keyring, self);
  conn->peer_ = peer;
  conn->StartHandshakeDeadline();  // covers the connect too
  conn->socket_.async_connect(to, [conn, ready](const boost::system::error_code& ec) {
    if (ec || conn->closed_) {
      conn->handshake_timer_.cancel();
      return ready(nullptr);
    }
    boost::system::error_code ignored;
    conn->socket_.set_option(tcp::no_delay(true), ignored);
    conn->Dial(conn->peer_, [conn, ready](bool ok) { ready(ok ? conn : nullptr); });
  });
}

void DataConn::StartHandshakeDeadline() {
  handshake_timer_.expires_after(kHandshakeTimeout);
  std::weak_ptr<DataConn> weak = weak_from_this();
  handshake_timer_.async_wait([weak](const boost::system::error_code& ec) {
    auto conn = weak.lock();
    if (ec || !conn || conn->authed_ || conn->closed_) return;
    boost::system::error_code ignored;
    conn->socket_.close(ignored);  // the pending operation fails and ends the handshake
  });
}

void DataConn::Dial(NodeId expected, std::function<void(bool)> ready) {
  peer_ = expected;
  auto self = shared_from_this();
  // Until the handshake is over, a close (the listener refused our proof, the deadline
  // passed, a read failed) means it failed: `ready(false)`, once.
  on_close_ = [ready] { ready(false); };
  boost::asio::async_read(socket_, boost::asio::buffer(peer_challenge_),
                          [this, self, ready](const boost::system::error_code& ec, size_t) {
                            if (ec) return Close();
                            my_challenge_ = Random<distribution::Challenge>();
                            Send(distribution::Hello{peer_challenge_, my_challenge_});
                            ReadFrame([this, ready](Message& m) {
                              auto* ok = std::get_if<distribution::HelloOk>(&m);
                              if (!ok || ok->echo != my_challenge_) return Close();
                              authed_ = true;
                              handshake_timer_.cancel();
                              on_close_ = nullptr;
                              ready(true);
                              ReadLoop();
                            });
                          });
}

void DataConn::Accept(std::function<void(bool)> done) {
  my_challenge_ = Random<distribution::Challenge>();
  auto self = shared_from_this();
  StartHandshakeDeadline();
  // Until the handshake is over, a close means it failed.
  on_close_ = [done] { done(false); };
  boost::asio::async_write(socket_, boost::asio::buffer(my_challenge_),
                           [this, self, done](const boost::system::error_code& ec, size_t) {
                             if (ec) return Close();
                             ReadFrame([this, done](Message& m) {
                               auto* hello = std::get_if<distribution::Hello>(&m);
                               if (!hello || hello->echo != my_challenge_) return Close();
                               authed_ = true;
                               handshake_timer_.cancel();
                               on_close_ = nullptr;
                               Send(distribution::HelloOk{hello->challenge});
                               done(true);
                               ReadLoop();
                             });
                           });
}

bool DataConn::Admit(const Message& m) {
  auto s = distribution::CheckMessage(m);
  if (s) return true;
  Log(LogLevel::kWarn, "distribution", "refused a message",
      {{"peer", std::to_string(peer_)}, {"reason", s.error().message()}});
  Refuse(s.error().message());
  return false;
}

void DataConn::Refuse(const std::string& why) {
  Send(distribution::ResultMsg{"refused: " + why, "", {}});
  CloseAfterSend();
}

void DataConn::SetHandlers(OnMessage on_message, std::function<void()> on_close) {
  on_message_ = std::move(on_message);
  on_close_ = std::move(on_close);
}

void DataConn::Send(const Message& m) {
  Bytes payload = distribution::Encode(m);
  SendEncoded(payload);
}

void DataConn::SendEncoded(wire::ByteView payload) {
  if (closed_) return;
  auto frame = std::make_shared<Bytes>(4);
  wire::SealHeader h{keyring_.in_use(), self_, incarnation_, ++sequence_};
  wire::SealAppend(keyring_, h, payload, frame.get());
  const uint32_t n = static_cast<uint32_t>(frame->size() - 4);
  for (int i = 0; i < 4; ++i) (*frame)[i] = static_cast<uint8_t>(n >> (8 * i));
  queued_ += frame->size();
  out_.push_back(std::move(frame));
  if (!writing_) WriteNext();
}

void DataConn::CloseAfterSend() {
  close_after_send_ = true;
  if (!writing_) Close();
}

void DataConn::Close() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  auto fn = std::move(on_close_);
  on_message_ = nullptr;
  on_drain_ = nullptr;
  if (fn) fn();
}

uint32_t DataConn::local_ip() const {
  boost::system::error_code ec;
  const auto local = socket_.local_endpoint(ec);
  return !ec && local.address().is_v4() ? local.address().to_v4().to_uint() : 0;
}

void DataConn::WriteNext() {
  if (out_.empty()) {
    writing_ = false;
    if (close_after_send_) return Close();
    if (on_drain_) on_drain_();
    return;
  }
  writing_ = true;
  // Everything queued goes in one gathered write: one system call for many frames.
  std::vector<boost::asio::const_buffer> buffers;
  size_t count = std::min<size_t>(out_.size(), 64);
  for (size_t i = 0; i < count; ++i) buffers.emplace_back(out_[i]->data(), out_[i]->size());
  auto self = shared_from_this();
  boost::asio::async_write(socket_, buffers,
                           [this, self, count](const boost::system::error_code& ec, size_t n) {
                             if (sent_counter_) *sent_counter_ += n;
                             for (size_t i = 0; i < count && !out_.empty(); ++i) {
                               queued_ -= out_.front()->size();
                               out_.pop_front();
                             }
                             if (ec) return Close();
                             WriteNext();
                           });
}

void DataConn::ReadFrame(std::function<void(Message&)> fn) {
  auto self = shared_from_this();
  boost::asio::async_read(
      socket_, boost::asio::buffer(length_),
      [this, self, fn](const boost::system::error_code& ec, size_t) {
        if (ec || closed_) return Close();
        uint32_t n = 0;
        for (int i = 0; i < 4; ++i) n |= static_cast<uint32_t>(length_[i]) << (8 * i);
        const size_t limit = authed_ ? distribution::kMaxFrame : kMaxHandshakeFrame;
        if (n > limit || n < wire::kSealOverhead) return Close();
        body_.resize(n);
        boost::asio::async_read(socket_, boost::asio::buffer(body_),
                                [this, self, fn](const boost::system::error_code& ec2, size_t) {
                                  if (ec2 || closed_) return Close();
                                  auto opened = wire::Open(keyring_, body_);
                                  auto* o = std::get_if<wire::Opened>(&opened);
                                  if (!o) return Close();
                                  const wire::SealHeader& h = o->header;
                                  if (!authed_ && sequence_in_ == 0) {
                                    if (peer_ != kNoNode && h.sender != peer_) return Close();
                                    peer_ = h.sender;
                                    peer_incarnation_ = h.incarnation;
                                  } else if (h.sender != peer_ ||
                                             h.incarnation != peer_incarnation_ ||
                                             h.sequence != sequence_in_ + 1) {
                                    return Close();  // reordered, replayed or spliced in
                                  }
                                  sequence_in_ = h.sequence;
                                  auto m = distribution::Decode(o->payload);
                                  if (!m) return Close();
                                  fn(*m);
                                });
      });
}

void DataConn::ResumeReading() {
  paused_ = false;
  if (!stalled_) return;
  stalled_ = false;
  ReadLoop();
}

void DataConn::ReadLoop() {
  if (closed_) return;
  if (paused_) {
    stalled_ = true;
    return;
  }
  ReadFrame([this](Message& m) {
    if (!Admit(m)) return;
    auto fn = on_message_;  // the handler may replace itself
    if (fn) fn(m);
    ReadLoop();
  });
}

}  // namespace cohort::node
