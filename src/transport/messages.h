// Transport messages: the plaintext inside a sealed datagram (see wire/seal.h).
//
// Every message starts with a kind byte. Requests carry a request id that the reply echoes.
// Layouts (little-endian) are in docs/design/wire.md. Decoding is total: any byte string
// yields either a message or nullopt, never a crash. Plain values.
#pragma once

#include <optional>
#include <variant>
#include <vector>

#include "transport/types.h"
#include "wire/seal.h"

namespace cohort::transport {

enum class Kind : uint8_t {
  kProbe = 1,
  kProbeAck = 2,
  kEcho = 3,
  kEchoReply = 4,
  kTableSync = 5,
  kTableSyncReply = 6,
  kTablePush = 7,
  kData = 8,
  kFragment = 9,
};

inline constexpr size_t kMaxAddressesPerNode = 16;
inline constexpr size_t kMaxMessageSize = 1 << 20;  // reassembled messages
inline constexpr size_t kMaxFragments = 1024;

struct ProbeMsg {
  uint64_t req = 0;
};
struct ProbeAckMsg {
  uint64_t req = 0;
};
struct EchoMsg {
  uint64_t req = 0;
  Bytes payload;
};
struct EchoReplyMsg {
  uint64_t req = 0;
  Bytes payload;
};
// "Here is my entry and the digest of my table" (T5). With `full`, the summary of what the
// sender holds follows, and the responder sends back what the sender lacks; without it (the
// usual, cheap round) the responder only answers whether the digests agree.
struct TableSyncMsg {
  uint64_t req = 0;
  NodeEntry sender;
  uint64_t digest = 0;
  bool full = false;
  std::vector<EntryVersion> summary;  // empty unless full
};
// Entries newer at the responder than in the request's summary (full requests only), and
// the responder's summary — empty when the digests agree — so the requester can push back
// what the responder lacks and ask for a full round if it lacks something itself.
struct TableSyncReplyMsg {
  uint64_t req = 0;
  std::vector<NodeEntry> entries;
  std::vector<EntryVersion> summary;
};
struct TablePushMsg {
  std::vector<NodeEntry> entries;
};
struct DataMsg {
  uint8_t channel = 0;
  Bytes payload;
};
struct FragmentMsg {
  uint32_t message_id = 0;
  uint16_t index = 0;
  uint16_t count = 0;
  Bytes chunk;
};

using Message = std::variant<ProbeMsg, ProbeAckMsg, EchoMsg, EchoReplyMsg, TableSyncMsg,
                             TableSyncReplyMsg, TablePushMsg, DataMsg, FragmentMsg>;

Bytes Encode(const Message& m);
std::optional<Message> Decode(ByteView bytes);

// Size of a FragmentMsg header; a fragment carries at most (limit - this) bytes of chunk.
inline constexpr size_t kFragmentHeaderSize = 1 + 4 + 2 + 2;

inline constexpr size_t kIpUdpOverhead = 28;  // IPv4 (20) + UDP (8): the MTU holds them too
inline constexpr size_t kMinPathMtu = 576;    // what every IPv4 path carries
// The largest message every path carries whole: kMaxFragments fragments at the smallest
// path MTU (about 497 KiB). A larger one, up to kMaxMessageSize, passes only a path with a
// larger MTU; the sender drops, and counts (messages_too_large), what a path cannot carry.
inline constexpr size_t kMaxMessageOnAnyPath =
    kMaxFragments * (kMinPathMtu - kIpUdpOverhead - wire::kSealOverhead - kFragmentHeaderSize);

}  // namespace cohort::transport
