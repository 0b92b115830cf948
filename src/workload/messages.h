// The workload's messages (W1, W2, M13) between a node's daemon and the supervisor, carried
// as transport Data on channel kChannel (the sender's node id comes from the sealed
// header). Decoding is total: anything malformed or over a limit is nullopt, and every
// path is checked as distribution checks one (relative, no "..", not in ".cohort").
//
// The catalog feed: each node sends its Summary every period; a supervisor whose catalog
// disagrees (another epoch, a change missed, another digest) sends Pull, and the node
// answers with its whole listing in Listing pages; after that, each change as it happens.
// Sessions: a node's API asks the supervisor to Place a session; the node serving sessions
// Reports them every period. Queries carry the API's reads of the supervisor's tables.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "wire/codec.h"
#include "workload/catalog.h"
#include "workload/placement.h"
#include "workload/sessions.h"

namespace cohort::workload {

inline constexpr uint8_t kChannel = 8;
inline constexpr size_t kMaxListingPage = 256;         // items in one Listing page
inline constexpr uint32_t kMaxListingPages = 4096;     // a listing of about a million items
inline constexpr size_t kMaxReported = 8192;           // sessions in one Report page
inline constexpr size_t kMaxReportBytes = 400 * 1024;  // a page; paths carry 497 KiB whole
inline constexpr uint32_t kMaxReportPages = 64;        // a report of 170,000 sessions or more
inline constexpr size_t kMaxHoldersInReply = 64;       // holders a refusal names
inline constexpr size_t kMaxAddressBytes = 64;         // "host:port"
inline constexpr size_t kMaxQueryBody = 256 * 1024;    // a query's JSON answer

// node → supervisor, every period.
struct SummaryMsg {
  uint64_t epoch = 0;  // the feed's incarnation: a new one at every daemon start
  uint64_t seq = 0;    // the last change it made
  uint64_t digest = 0;
  uint64_t items = 0;
  std::string stream_address;  // where its media server listens ("" none)
  uint64_t capacity_kbps = 0;  // its streaming capacity (0: not stated)
  bool operator==(const SummaryMsg&) const = default;
};

// supervisor → node: send the whole listing.
struct PullMsg {
  uint64_t epoch = 0;  // the epoch the supervisor last saw (0 none)
  bool operator==(const PullMsg&) const = default;
};

// node → supervisor: page `page` of `pages` of the listing as of change `seq`.
struct ListingMsg {
  uint64_t epoch = 0;
  uint64_t seq = 0;
  uint32_t page = 0;
  uint32_t pages = 1;
  std::vector<Item> items;
  bool operator==(const ListingMsg&) const = default;
};

// node → supervisor: one change after the listing.
struct ChangeMsg {
  uint64_t epoch = 0;
  uint64_t seq = 0;
  Change change;
  bool operator==(const ChangeMsg&) const = default;
};

// a node's API → supervisor.
struct PlaceRequestMsg {
  uint64_t nonce = 0;
  OpenRequest request;
  bool operator==(const PlaceRequestMsg&) const = default;
};

// supervisor → the asking node.
struct PlaceReplyMsg {
  uint64_t nonce = 0;
  PlaceOutcome outcome = PlaceOutcome::kNoHolder;
  SessionId session = kNoSession;
  NodeId node = kNoNode;
  std::string disk;
  uint32_t rank = 0;
  std::string stream_address;   // the chosen node's
  std::vector<Holder> holders;  // a refusal's: the loads seen
  bool operator==(const PlaceReplyMsg&) const = default;
};

// serving node → supervisor, every period: every session it serves, in pages that each fit
// one message. The supervisor takes a report when it has all of its pages.
struct ReportMsg {
  uint32_t report = 0;  // the node's count of reports sent
  uint32_t page = 0;
  uint32_t pages = 1;
  std::vector<ReportedSession> sessions;
  bool operator==(const ReportMsg&) const = default;
};

// The report numbered `report` of `sessions`, in pages of at most kMaxReported sessions and
// about kMaxReportBytes; what does not fit in kMaxReportPages is left out (*left_out).
std::vector<ReportMsg> PageReport(uint32_t report, std::vector<ReportedSession> sessions,
                                  size_t* left_out);

enum class QueryKind : uint8_t { kContent = 1, kWhere = 2, kStreams = 3 };

// a node's API → supervisor: a read of its tables, answered in JSON.
struct QueryMsg {
  uint64_t nonce = 0;
  QueryKind kind = QueryKind::kContent;
  std::string path;       // kWhere: the path; kContent: the prefix
  std::string after;      // kContent: the page starts after this path
  NodeId node = kNoNode;  // kContent, kStreams: only this node's
  uint32_t limit = 0;
  bool operator==(const QueryMsg&) const = default;
};

struct QueryReplyMsg {
  uint64_t nonce = 0;
  uint16_t status = 200;  // HTTP status of the answer
  std::string body;       // JSON
  bool operator==(const QueryReplyMsg&) const = default;
};

using Message = std::variant<SummaryMsg, PullMsg, ListingMsg, ChangeMsg, PlaceRequestMsg,
                             PlaceReplyMsg, ReportMsg, QueryMsg, QueryReplyMsg>;

wire::Bytes Encode(const Message& m);
std::optional<Message> Decode(wire::ByteView bytes);

}  // namespace cohort::workload
