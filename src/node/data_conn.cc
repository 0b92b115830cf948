#include "node/data_conn.h"

#include <sodium.h>

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
    : socket_(std::move(socket)), keyring_(keyring), self_(self) {
  incarnation_ = Random<uint64_t>() | 1;
}

void DataConn::Dial(NodeId expected, std::function<void(bool)> ready) {
  peer_ = expected;
  auto self = shared_from_this();
  boost::asio::async_read(socket_, boost::asio::buffer(peer_challenge_),
                          [this, self, ready](const boost::system::error_code& ec, size_t) {
                            if (ec) return Fail(ready);
                            my_challenge_ = Random<distribution::Challenge>();
                            Send(distribution::Hello{peer_challenge_, my_challenge_});
                            ReadFrame([this, ready](Message& m) {
                              auto* ok = std::get_if<distribution::HelloOk>(&m);
                              if (!ok || ok->echo != my_challenge_) return Fail(ready);
                              authed_ = true;
                              ready(true);
                              ReadLoop();
                            });
                          });
}

void DataConn::Accept(std::function<void()> ready) {
  my_challenge_ = Random<distribution::Challenge>();
  auto self = shared_from_this();
  boost::asio::async_write(socket_, boost::asio::buffer(my_challenge_),
                           [this, self, ready](const boost::system::error_code& ec, size_t) {
                             if (ec) return Close();
                             ReadFrame([this, ready](Message& m) {
                               auto* hello = std::get_if<distribution::Hello>(&m);
                               if (!hello || hello->echo != my_challenge_) return Close();
                               authed_ = true;
                               Send(distribution::HelloOk{hello->challenge});
                               ready();
                               ReadLoop();
                             });
                           });
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

void DataConn::Fail(const std::function<void(bool)>& ready) {
  closed_ = true;
  boost::system::error_code ignored;
  socket_.close(ignored);
  ready(false);
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
                           [this, self, count](const boost::system::error_code& ec, size_t) {
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
  boost::asio::async_read(socket_, boost::asio::buffer(length_),
                          [this, self, fn](const boost::system::error_code& ec, size_t) {
                            if (ec || closed_) return Close();
                            uint32_t n = 0;
                            for (int i = 0; i < 4; ++i)
                              n |= static_cast<uint32_t>(length_[i]) << (8 * i);
                            if (n > distribution::kMaxFrame || n < wire::kSealOverhead)
                              return Close();
                            body_.resize(n);
                            boost::asio::async_read(
                                socket_, boost::asio::buffer(body_),
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

void DataConn::ReadLoop() {
  if (closed_) return;
  ReadFrame([this](Message& m) {
    auto fn = on_message_;  // the handler may replace itself
    if (fn) fn(m);
    ReadLoop();
  });
}

}  // namespace cohort::node
