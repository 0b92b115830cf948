// Value types of the transport: adapter info, the cluster destination address table entries
// (T1), classes of service (T7), and the outputs the sans-I/O core hands to its driver.
// Plain values; thread-compatible.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "base/endpoint.h"
#include "base/ids.h"
#include "base/result.h"
#include "base/time.h"
#include "wire/codec.h"
#include "wire/seal.h"

namespace cohort::transport {

using wire::Bytes;
using wire::ByteView;

enum class AdapterType : uint8_t {
  kUnknown = 0,
  kLoopback,
  kEthernet,
  kWireless,
  kTunnel,
  kOther,
};
inline constexpr uint8_t kAdapterTypeMax = 5;
const char* AdapterTypeName(AdapterType t);

// Class of service of an adapter (T7). It sets the DSCP of every packet sent from it.
enum class Cos : uint8_t { kBestEffort = 0, kBulk, kVideo, kControl };
inline constexpr uint8_t kCosMax = 3;
const char* CosName(Cos c);
Result<Cos> ParseCos(std::string_view name);
// DSCP code point: best_effort 0 (CS0), bulk 10 (AF11), video 34 (AF41), control 48 (CS6).
uint8_t DscpOf(Cos c);

// One address of a node, with the adapter info that node discovered for it (T1, T5).
struct AddressInfo {
  Endpoint address;
  uint32_t mask = 0xffffffff;
  uint16_t mtu = 1500;
  AdapterType type = AdapterType::kUnknown;
  Cos cos = Cos::kControl;
  bool operator==(const AddressInfo&) const = default;
};

// A node's entry in the address table: primary address first, then alternates. Only the node
// itself writes its entry; (incarnation, revision) orders the versions of it.
struct NodeEntry {
  NodeId id = kNoNode;
  Incarnation incarnation = 0;
  uint32_t revision = 0;
  std::vector<AddressInfo> addresses;

  bool NewerThan(Incarnation inc, uint32_t rev) const {
    return incarnation != inc ? incarnation > inc : revision > rev;
  }
  bool operator==(const NodeEntry&) const = default;
};

// Which version of each entry a node holds: what the exchange compares (T5).
struct EntryVersion {
  NodeId id = kNoNode;
  Incarnation incarnation = 0;
  uint32_t revision = 0;
  bool operator==(const EntryVersion&) const = default;
};

// ---- Outputs of TransportCore, appended to a caller-owned Outputs ----

// Send `bytes` (already sealed) from local adapter `adapter` to `to`, marked with `dscp`.
struct SendDatagram {
  uint8_t adapter = 0;
  Endpoint to;
  uint8_t dscp = 0;
  Bytes bytes;
};

enum class RequestKind : uint8_t { kEcho, kTableSync, kProbe };

// A request started by the driver (Echo) finished: answered, or every attempt timed out.
struct RequestDone {
  uint64_t id = 0;
  NodeId node = kNoNode;
  bool ok = false;
  Endpoint answered_by;  // the address that replied (when ok)
  int attempts = 0;      // datagrams sent for it, failover re-sends included
  Duration rtt;          // from the last send to the reply
  Duration elapsed;      // from the first send to the outcome, failover included
  Bytes reply;
};

// A one-way message for an upper layer (membership, ...) arrived, on local adapter
// `adapter` from address `source` (liveness judges the path a heartbeat took).
struct Delivered {
  NodeId from = kNoNode;
  uint8_t channel = 0;
  Bytes bytes;
  uint8_t adapter = 0;
  Endpoint source;
};

// Something an operator should see in the log. kNodeRestarted: the table took `node`'s
// entry at a newer `incarnation` than it held, so the process that ran it before was
// superseded (membership acts on that at once: see MembershipCore::OnPeerRestarted).
struct TransportEvent {
  enum class Kind {
    kAddressUnreachable,
    kAddressReachable,
    kPreferredChanged,
    kTableChanged,
    kNodeRestarted
  };
  Kind kind;
  NodeId node = kNoNode;
  Endpoint address;
  Incarnation incarnation = 0;
  uint64_t table_version = 0;
  uint64_t table_digest = 0;
};

using Output = std::variant<SendDatagram, RequestDone, Delivered, TransportEvent>;
using Outputs = std::vector<Output>;

struct TransportMetrics {
  uint64_t datagrams_sent = 0;
  uint64_t datagrams_received = 0;  // authenticated and accepted
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  std::array<uint64_t, wire::kRejectCount> rejected{};
  uint64_t failovers = 0;  // a request re-sent to an alternate address after a timeout
  uint64_t requests = 0;
  uint64_t requests_failed = 0;
  uint64_t fragments_sent = 0;
  uint64_t messages_too_large = 0;  // dropped at the sender: see kMaxMessageOnAnyPath
  uint64_t messages_reassembled = 0;
  uint64_t table_changes = 0;
  // RM3: bytes of sealed datagrams sent, by (local adapter, channel): where each layer's
  // traffic went (channel 0: the transport's own exchange, probes and echoes).
  std::map<std::pair<uint8_t, uint8_t>, uint64_t> bytes_sent_by;
};

}  // namespace cohort::transport
