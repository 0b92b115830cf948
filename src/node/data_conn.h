// DataConn: one authenticated, encrypted TCP connection of the distribution data plane.
//
// Handshake: the listener sends 16 random bytes; the dialer's first frame echoes them and
// carries its own 16; the listener's first frame echoes those. Every frame is
// `u32 length ‖ sealed payload`, sealed like datagrams (docs/design/wire.md) with a random
// incarnation per connection and direction and a sequence that must grow by one, so nothing
// is plaintext and frames cannot be replayed, reordered or spliced between connections. A
// frame that fails any check closes the connection. Until the peer proved the key, frames
// over kMaxHandshakeFrame are refused and the handshake must end within kHandshakeTimeout
// (the dial included), so an unauthenticated peer holds neither memory nor the socket.
// A message that decodes but names what distribution::CheckMessage refuses (a path leading
// out, a malformed job id, ...) is answered with a ResultMsg naming why, logged, and the
// connection closed: it never reaches the handler.
//
// Lifecycle: made from a connected socket, then Accept(), or made by Connect(); messages go to the
// handler set by SetHandlers(); Close() (or any error) calls the close handler once. Owned
// by shared_ptr (pending operations keep it alive). Runs on the node's loop thread only.
// Private to node/: included only by its .cc files, as it pulls in Asio.
#pragma once

#include <array>
#include <deque>
#include <functional>
#include <memory>

#include "distribution/messages.h"
#include "io/asio.h"
#include "wire/seal.h"

namespace cohort::node {

inline constexpr size_t kMaxHandshakeFrame = 256;
inline constexpr std::chrono::seconds kHandshakeTimeout{5};

class DataConn : public std::enable_shared_from_this<DataConn> {
 public:
  using OnMessage = std::function<void(distribution::Message&)>;
  DataConn(boost::asio::ip::tcp::socket socket, const wire::Keyring& keyring, NodeId self);

  // Connects to `to` and runs the dialer's handshake with `peer`, all within
  // kHandshakeTimeout; `ready` gets the authenticated connection or nullptr.
  static void Connect(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& to,
                      const wire::Keyring& keyring, NodeId self, NodeId peer,
                      std::function<void(std::shared_ptr<DataConn>)> ready);

  NodeId peer() const { return peer_; }
  bool closed() const { return closed_; }
  size_t queued() const { return queued_; }  // bytes handed to Send and not yet written
  // The local address the connection runs from (0 if unknown): which adapter it uses (RM3).
  uint32_t local_ip() const;
  // Bytes written to the socket are added to `counter` from now on.
  void CountSentInto(std::shared_ptr<uint64_t> counter) { sent_counter_ = std::move(counter); }

  // Listener: sends the challenge, checks the echo, answers the dialer's challenge;
  // `done(true)` once the dialer proved the key, `done(false)` on any failure or timeout.
  void Accept(std::function<void(bool)> done);
  void SetHandlers(OnMessage on_message, std::function<void()> on_close);
  // Called whenever everything queued has been written (flow control for bulk senders).
  void OnDrain(std::function<void()> fn) { on_drain_ = std::move(fn); }

  // Flow control for a receiver whose disk is behind: no frame is read while paused (the
  // peer's sends then wait on TCP's window). Resuming reads on from where it stopped.
  void PauseReading() { paused_ = true; }
  void ResumeReading();
  bool paused() const { return paused_; }

  void Send(const distribution::Message& m);
  // Sends an already encoded message (distribution::Encode*), saving a copy for bulk data.
  void SendEncoded(wire::ByteView payload);
  // Closes once everything queued is written.
  void CloseAfterSend();
  // Answers with a ResultMsg "refused: <why>" and closes once it is written.
  void Refuse(const std::string& why);
  void Close();
  // Closes without telling the owner: at once, or once everything queued is written.
  void Abandon(bool after_send = false) {
    SetHandlers(nullptr, nullptr);
    after_send ? CloseAfterSend() : Close();
  }

 private:
  void StartHandshakeDeadline();
  // Refuses what CheckMessage refuses; true if `m` may go to the handler.
  bool Admit(const distribution::Message& m);
  // Dialer: reads the challenge, proves the key, waits for the echo of its own challenge;
  // `ready(true)` once the peer proved it too, `ready(false)` on any failure.
  void Dial(NodeId expected, std::function<void(bool)> ready);
  void WriteNext();
  void ReadFrame(std::function<void(distribution::Message&)> fn);
  void ReadLoop();

  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer handshake_timer_;
  const wire::Keyring& keyring_;
  NodeId self_;
  NodeId peer_ = kNoNode;
  uint64_t incarnation_ = 0, sequence_ = 0;
  uint64_t peer_incarnation_ = 0, sequence_in_ = 0;
  distribution::Challenge my_challenge_{}, peer_challenge_{};
  bool authed_ = false, closed_ = false, writing_ = false, close_after_send_ = false;
  bool paused_ = false, stalled_ = false;  // stalled_: ReadLoop stopped for the pause
  std::deque<std::shared_ptr<wire::Bytes>> out_;
  size_t queued_ = 0;
  std::shared_ptr<uint64_t> sent_counter_;
  std::array<uint8_t, 4> length_{};
  wire::Bytes body_;
  OnMessage on_message_;
  std::function<void()> on_close_, on_drain_;
};

}  // namespace cohort::node
