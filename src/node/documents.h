// A node's state as JSON documents, for the API and the registry: the address table, the
// supervisor tables (SPEC M12): the cluster map, the topology table
// (each node's connectivity and each disk's access status from every node), the disk usage
// table and the node usage table. Shapes in docs/design/membership.md ("Supervisor tables").
#pragma once

#include <nlohmann/json.hpp>
#include <optional>

#include "node/node.h"

namespace cohort::node {

// `cohort addresses`: the address table as this node sees it (T1, T5).
nlohmann::json AddressesDocument(const Node& node);
// `cohort members`: the cluster map with every member's addresses.
nlohmann::json MembersDocument(const Node& node);
// `cohort tables`. `usage` is the supervisor's answer, or nothing if it did not answer.
nlohmann::json TablesDocument(const Node& node, const std::optional<membership::UsageReply>& usage);

}  // namespace cohort::node
