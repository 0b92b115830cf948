// The built-in resource classes over HTTP (RM1, C9; README "HTTP API"):
//   GET  /v1/resource-classes     every class: its attributes with their types, its actions
//   GET  /v1/inventory            every node's built-in resources (node, adapter, disk,
//                                 content) with their state; ?class=NAME and ?node=N narrow
// Changes (the API token):
//   POST /v1/inventory/rescan     this node discovers its resources again now
#pragma once

#include <string>

#include "api/handlers.h"

namespace cohort::node {
class Node;
class ResourceService;
}  // namespace cohort::node

namespace cohort::api {

bool HandleInventory(node::ResourceService* resources, const node::Node& node, const HttpRequest& r,
                     const std::string& path, const Respond& respond);

}  // namespace cohort::api
