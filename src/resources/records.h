// The resource manager's registry records, as JSON an operator can read with `cohort
// registry get`, and their keys under the cluster's resources prefix (schema.h):
//
//   defs/<name>           the definition (ResourceSpec), written by the API
//   placed/<name>         {"node","reason"}: the supervisor's placement
//   owner/<name>          {"node"}: put with the owner's lease; the resource's ownership
//   status/<name>/<node>  {"node","state","error","at_ms","role"}: the resource on that node
//   fails/<name>/<node>   failures of the resource on that node (a decimal number)
//   inventory/<node>      the node's built-in resources (inventory.h), written by the node
//   alive/<node>          {"node","ttl_ms"} or {"node","taken_by"}: put with the node's lease,
//   renewed
//                         by compare-and-swap; the fast takeover's clock (agent.h)
//
// Every decoder takes hostile bytes: a record that does not decode is refused with a line
// that says why, never half read.
#pragma once

#include <optional>
#include <string>

#include "base/result.h"
#include "resources/inventory.h"
#include "resources/spec.h"

namespace cohort::resources {

// A definition from its JSON (the API's body and the registry's record), checked.
Result<ResourceSpec> ParseSpec(const std::string& json);
std::string EncodeSpec(const ResourceSpec& spec);

struct PlacedRecord {
  NodeId node = kNoNode;
  std::string reason;
};
Result<PlacedRecord> ParsePlaced(const std::string& json);
std::string EncodePlaced(const PlacedRecord& r);

Result<NodeId> ParseOwner(const std::string& json);
std::string EncodeOwner(NodeId node);

struct StatusRecord {
  NodeId node = kNoNode;
  std::string state;  // StateName()
  std::string error;  // the last action's failure, if any
  int64_t at_ms = 0;  // when, in Unix milliseconds
  std::string role;   // "promoted" for a promotable resource promoted there, else ""
};
Result<StatusRecord> ParseStatus(const std::string& json);
std::string EncodeStatus(const StatusRecord& r);

// A node's alive key: renewed by the node itself, or marked taken by the node that took one of
// its owner keys after seeing it unchanged for the alive TTL (which ends the node's renewals).
struct AliveRecord {
  NodeId node = kNoNode;
  NodeId taken_by = kNoNode;  // kNoNode: the node's own renewal
  uint32_t ttl_ms = 0;        // the node's alive TTL, which a taker waits at least (0: unstated)
};
Result<AliveRecord> ParseAlive(const std::string& json);
std::string EncodeAlive(const AliveRecord& r);

// A key below the resources prefix, by what it holds.
struct RecordKey {
  enum class Kind { kDef, kPlaced, kOwner, kStatus, kFails, kInventory, kAlive };
  Kind kind = Kind::kDef;
  std::string name;       // "" for kInventory and kAlive
  NodeId node = kNoNode;  // kFails, kStatus, kInventory, kAlive
};
std::optional<RecordKey> ParseKey(const std::string& relative);
std::string KeyOf(const RecordKey& key);

// A node's inventory (inventory.h), checked against its limits.
Result<Inventory> ParseInventory(const std::string& json);
std::string EncodeInventory(const Inventory& inventory);

}  // namespace cohort::resources
