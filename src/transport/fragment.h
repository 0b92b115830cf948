// Fragmentation and reassembly (T6): no datagram exceeds the MTU of the adapters it crosses.
//
// A message too large for one datagram is cut into FragmentMsg pieces, each sealed on its
// own. The Reassembler collects pieces per (sender, incarnation, message id) and hands back
// the whole message once every piece is in. Incomplete messages are dropped after a timeout
// and the number of messages and bytes held is bounded, so a hostile or lossy sender cannot
// exhaust memory. Single owner; not thread-safe.
#pragma once

#include <map>
#include <optional>
#include <tuple>
#include <vector>

#include "transport/messages.h"

namespace cohort::transport {

// Splits `message` into fragments whose encoded size is at most `limit` bytes.
// REQUIRES: limit > kFragmentHeaderSize; message needs at most kMaxFragments pieces.
std::vector<Bytes> Fragment(ByteView message, uint32_t message_id, size_t limit);

class Reassembler {
 public:
  static constexpr size_t kMaxPending = 256;
  static constexpr size_t kMaxBytesPending = 8 << 20;

  explicit Reassembler(Duration timeout) : timeout_(timeout) {}

  // Returns the whole message when `f` completes it.
  std::optional<Bytes> Add(Instant now, NodeId sender, Incarnation incarnation,
                           const FragmentMsg& f);
  // Drops messages older than the timeout.
  void Expire(Instant now);
  Instant NextExpiry() const;
  size_t pending() const { return pending_.size(); }

 private:
  using Key = std::tuple<NodeId, Incarnation, uint32_t>;
  struct Partial {
    Instant first_seen;
    uint16_t count = 0;
    size_t bytes = 0;
    std::map<uint16_t, Bytes> pieces;
  };
  void Erase(std::map<Key, Partial>::iterator it);

  Duration timeout_;
  std::map<Key, Partial> pending_;
  size_t bytes_pending_ = 0;
};

}  // namespace cohort::transport
