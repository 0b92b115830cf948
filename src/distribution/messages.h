// Data-plane messages (D): what daemons send each other over their TCP streams, inside
// sealed frames (docs/design/distribution.md). Decoding is total: any byte string gives a
// message or nullopt. Plain values.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "distribution/core.h"
#include "wire/codec.h"

namespace cohort::distribution {

inline constexpr size_t kChallengeSize = 16;
using Challenge = std::array<uint8_t, kChallengeSize>;
inline constexpr size_t kMaxChunk = 256 * 1024;   // data bytes per frame
inline constexpr size_t kMaxFrame = 1024 * 1024;  // sealed frame, header included
// Commands one message may carry when decoded: far above what a frame holds (a frame is
// bounded by kMaxFrame), for the receivers' saved manifests, which hold a whole job.
inline constexpr size_t kMaxCommands = size_t{1} << 22;
// What a sender puts in one Offer or Commands message at most, encoded: a job's commands
// beyond it follow in further Commands messages, so no frame exceeds kMaxFrame.
inline constexpr size_t kCommandBytesPerMessage = kMaxFrame / 2;
// A CTP listing answers in pages of at most this much JSON: {"entries": [...], "next": N}
// with N the index to ask from next (CtpMsg::offset), or null after the last page.
inline constexpr size_t kCtpPageBytes = kMaxFrame / 2;

// Opens every connection, after the listener's plain challenge: proves the key and that
// this is not a replayed session (the listener's challenge is echoed), and challenges back.
struct Hello {
  Challenge echo{};
  Challenge challenge{};
};
struct HelloOk {
  Challenge echo{};
};
// Source -> target: feed this job (D5: `list` = servers the target is to approach).
struct OfferMsg {
  Manifest manifest;
  std::vector<NodeId> list;
  uint64_t rate = 0;          // bytes/s
  NodeId replaces = kNoNode;  // Offer::replaces
};
// Target -> source: accepted at `offset`, or declined (the list is taken either way).
struct AcceptMsg {
  bool accepted = false;
  uint64_t offset = 0;
  bool completed = false;  // declined because it holds everything
};
struct DataMsg {
  uint64_t offset = 0;
  wire::Bytes bytes;
};
struct DigestMsg {
  uint32_t command = 0;
  std::array<uint8_t, 32> sha256{};
};
struct CommandsMsg {  // D10: commands added while the job runs
  std::vector<Command> commands;
};
struct AckMsg {  // target -> source: stream bytes held, or that the feed is over
  // Offsets no stream reaches: the target completed the job (kCompleted), or it took
  // another source (kSwitched: D8, or a dead relay's replacement). Either way the feed is
  // over and nothing is to be handed on.
  static constexpr uint64_t kCompleted = UINT64_MAX;
  static constexpr uint64_t kSwitched = UINT64_MAX - 1;
  uint64_t offset = 0;
  bool ends_feed() const { return offset == kCompleted || offset == kSwitched; }
};
// Node -> base: a ServerReport; also the answer to QueryMsg.
struct ReportMsg {
  std::string job;
  ServerReport report;
};
struct QueryMsg {  // base -> node (D12)
  std::string job;
};
struct FeedMsg {  // base -> source: feed `target` (repair, D12; or a switch offer, D8)
  std::string job;
  NodeId target = kNoNode;
  bool switch_offer = false;
  NodeId replaces = kNoNode;  // the target's source that sends nothing (offered in its place)
};
// Why a source does not feed as a FeedMsg asked, carried in its ResultMsg's error as the
// text FeedRefusalText gives (the wire's; a peer's unknown text reads as kOther).
enum class FeedRefusal : uint8_t { kNone = 0, kNoJob, kCancelled, kBusy, kOther };
const char* FeedRefusalText(FeedRefusal r);  // "" for kNone
FeedRefusal FeedRefusalFromText(const std::string& text);
struct ResultMsg {  // generic answer: empty error = ok; `body` is a JSON text (CTP)
  std::string error;
  std::string body;
  wire::Bytes data;
};
// Base -> node: the job is cancelled (by the operator, or its upload was abandoned): stop
// feeding and being fed, delete the partial files, keep what is installed. Answered by a
// ResultMsg.
struct CancelMsg {
  std::string job;
  std::string reason;
};
// CTP (D3): one operation on the node's content root.
struct CtpMsg {
  std::string op;  // ls, stat, get, put, mkdir, rm, chmod
  std::string path;
  uint32_t mode = 0;
  int64_t mtime_ns = 0;
  uint64_t offset = 0;
  bool recursive = false;
  bool last = false;  // put: this chunk ends the file
  wire::Bytes data;
};

using Message = std::variant<Hello, HelloOk, OfferMsg, AcceptMsg, DataMsg, DigestMsg, CommandsMsg,
                             AckMsg, ReportMsg, QueryMsg, FeedMsg, ResultMsg, CtpMsg, CancelMsg>;

wire::Bytes Encode(const Message& m);
// How many of `commands` from index `from` fit in one message: their encoded size stays
// within kCommandBytesPerMessage (at least one command, if any is left; one command is at
// most ~4.2 KiB).
size_t CommandsThatFit(const std::vector<Command>& commands, size_t from);
// The encoding of DataMsg{offset, <size bytes>} with the bytes left for the caller to write
// (e.g. read from a file straight into place): returns where they go in `out`.
// REQUIRES: size <= kMaxChunk; `out` is empty.
uint8_t* EncodeDataInPlace(uint64_t offset, size_t size, wire::Bytes* out);
std::optional<Message> Decode(wire::ByteView bytes);

}  // namespace cohort::distribution
