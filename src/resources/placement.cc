#include "resources/placement.h"

#include <algorithm>
#include <functional>

namespace cohort::resources {
namespace {

std::string NodeName(NodeId n) { return "node " + std::to_string(n); }

// What the resources placed so far (in this placement) take of a node.
struct NodeLoad {
  int64_t resources = 0;
  int64_t mbps = 0;
};
using Loads = std::map<NodeId, NodeLoad>;

// Definitions in an order where every resource comes after those named in its `with`;
// resources in (or behind) a cycle, or naming a resource that is not defined, come out in
// `broken` with the reason.
std::vector<std::string> ColocationOrder(const std::map<std::string, ResourceSpec>& specs,
                                         const std::map<std::string, NodeId>& running,
                                         std::map<std::string, std::string>& broken) {
  std::vector<std::string> order;
  std::map<std::string, int> mark;  // 1: being visited, 2: done
  std::function<bool(const std::string&)> visit = [&](const std::string& name) -> bool {
    if (mark[name] == 2) return broken.count(name) == 0;
    if (mark[name] == 1) return false;
    mark[name] = 1;
    bool ok = true;
    for (const std::string& other : specs.at(name).with) {
      if (specs.count(other) == 0) {
        broken.emplace(name, "it must run with " + other + ", which is not defined");
        ok = false;
      } else if (!visit(other)) {
        broken.emplace(name, "its colocation with " + other + " cannot be met (a cycle)");
        ok = false;
      }
    }
    mark[name] = 2;
    order.push_back(name);
    return ok;
  };
  for (const auto& [name, spec] : specs) {
    if (running.count(name) != 0) visit(name);
  }
  for (const auto& [name, spec] : specs) visit(name);
  return order;
}

// Why `node` cannot run `spec`, or "" if it can.
// The content and capacity it needs, or "".
std::string Lacks(const ResourceSpec& spec, const NodeFacts& node, const Loads& load) {
  for (const std::string& path : spec.content) {
    if (node.content.count(path) == 0) return "it does not hold content " + path;
  }
  if (spec.needs_mbps == 0) return "";
  if (node.capacity_mbps == 0) return "its streaming capacity is unknown";
  auto l = load.find(node.id);
  const int64_t used = l == load.end() ? 0 : l->second.mbps;
  if (used + spec.needs_mbps > node.capacity_mbps) {
    return "it needs " + std::to_string(spec.needs_mbps) + " Mbit/s; " +
           std::to_string(std::max<int64_t>(0, node.capacity_mbps - used)) + " of " +
           std::to_string(node.capacity_mbps) + " are free there";
  }
  return "";
}

std::string Excluded(const ResourceSpec& spec, const NodeFacts& node, const PlacementInput& in,
                     const std::map<std::string, Placement>& placed, const Loads& load) {
  if (!node.up) return "down";
  if (!spec.allowed.empty() &&
      std::find(spec.allowed.begin(), spec.allowed.end(), node.id) == spec.allowed.end()) {
    return "not among the allowed nodes";
  }
  for (const std::string& disk : spec.disks) {
    if (node.disks_ok.count(disk) == 0) return "disk " + disk + " is not healthy there";
  }
  if (std::string lacks = Lacks(spec, node, load); !lacks.empty()) return lacks;
  if (spec.migration_threshold != 0) {
    auto r = in.fail_counts.find(spec.name);
    if (r != in.fail_counts.end()) {
      auto f = r->second.find(node.id);
      if (f != r->second.end() && f->second >= spec.migration_threshold) {
        return "failed " + std::to_string(f->second) + " times there (migration threshold " +
               std::to_string(spec.migration_threshold) + "; `cohort resource clear` resets)";
      }
    }
  }
  for (const std::string& other : spec.with) {
    const NodeId at = placed.at(other).node;
    if (at == kNoNode) return "it must run with " + other + ", which runs nowhere";
    if (at != node.id) return "it must run with " + other + ", which is on " + NodeName(at);
  }
  return "";
}

NodeScore Score(const ResourceSpec& spec, const NodeFacts& node, const PlacementInput& in,
                const std::map<std::string, Placement>& placed, const Loads& load) {
  NodeScore s;
  s.node = node.id;
  s.why = Excluded(spec, node, in, placed, load);
  if (!s.why.empty()) return s;
  s.eligible = true;
  std::vector<std::string> parts;
  if (spec.moved_to == node.id) {
    s.score += kMovedTo;
    parts.push_back("moved here by the operator");
  }
  if (auto p = spec.prefer.find(node.id); p != spec.prefer.end()) {
    s.score += p->second;
    parts.push_back("preference " + std::to_string(p->second));
  }
  if (auto r = in.running.find(spec.name); r != in.running.end() && r->second == node.id) {
    s.score += kStickiness;
    parts.push_back("runs here now +" + std::to_string(kStickiness));
  }
  if (auto l = load.find(node.id); l != load.end() && l->second.resources > 0) {
    const int64_t n = l->second.resources;
    s.score -= kPerResourceHere * n;
    parts.push_back(std::to_string(n) + " other resource(s) here -" +
                    std::to_string(kPerResourceHere * n));
  }
  for (size_t i = 0; i < parts.size(); ++i) s.why += (i ? ", " : "") + parts[i];
  if (s.why.empty()) s.why = "no preference";
  return s;
}

Placement PlaceOne(const ResourceSpec& spec, const PlacementInput& in,
                   const std::map<std::string, Placement>& placed, const Loads& load) {
  Placement p;
  if (spec.target == TargetRole::kStopped) {
    p.reason = "its target role is stopped";
    return p;
  }
  const NodeScore* best = nullptr;
  for (const NodeFacts& node : in.nodes) p.scores.push_back(Score(spec, node, in, placed, load));
  for (const NodeScore& s : p.scores) {
    if (s.eligible && (best == nullptr || s.score > best->score)) best = &s;
  }
  if (best == nullptr) {
    p.reason = in.nodes.empty() ? "no node is known" : "no node can run it";
    return p;
  }
  p.node = best->node;
  p.reason = "on " + NodeName(best->node) + ": highest score " + std::to_string(best->score) +
             " (" + best->why + ")";
  return p;
}

}  // namespace

std::map<std::string, Placement> Place(const PlacementInput& input) {
  PlacementInput in = input;
  std::sort(in.nodes.begin(), in.nodes.end(),
            [](const NodeFacts& a, const NodeFacts& b) { return a.id < b.id; });
  std::map<std::string, std::string> broken;
  const std::vector<std::string> order = ColocationOrder(in.specs, in.running, broken);
  std::map<std::string, Placement> placed;
  Loads load;
  for (const std::string& name : order) {
    if (auto b = broken.find(name); b != broken.end()) {
      placed[name] = Placement{kNoNode, "it cannot run: " + b->second, {}};
      continue;
    }
    Placement p = PlaceOne(in.specs.at(name), in, placed, load);
    if (p.node != kNoNode) {
      ++load[p.node].resources;
      load[p.node].mbps += in.specs.at(name).needs_mbps;
    }
    placed[name] = std::move(p);
  }
  return placed;
}

}  // namespace cohort::resources
