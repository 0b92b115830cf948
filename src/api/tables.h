// The supervisor tables (SPEC M12) as JSON documents: the cluster map, the topology table
// (each node's connectivity and each disk's access status from every node), the disk usage
// table and the node usage table. Shapes in docs/design/membership.md ("Supervisor tables").
#pragma once

#include <nlohmann/json.hpp>
#include <optional>

#include "node/node.h"

namespace cohort::api {

// `cohort members`: the cluster map with every member's addresses.
nlohmann::json MembersDocument(const node::Node& node);
// `cohort tables`. `usage` is the supervisor's answer, or nothing if it did not answer.
nlohmann::json TablesDocument(const node::Node& node,
                              const std::optional<membership::UsageReply>& usage);

}  // namespace cohort::api
