// ResourceService, C9: this node discovers its built-in resources at its first sync, every
// discovery period and on `rescan`, and writes its inventory at its join and whenever it
// differs from the registry's; every node turns each inventory change the watch brings into a
// configuration-changed event.
#include <boost/asio/post.hpp>

#include "base/log.h"
#include "io/clock.h"
#include "node/inventory_scan.h"
#include "node/node.h"
#include "node/resource_service_impl.h"

namespace cohort::node {

namespace asio = boost::asio;
using resources::RecordKey;

namespace {

constexpr Duration kDiscoveryPeriod = Duration::Seconds(10);
constexpr size_t kChangesKept = 200;

std::string Joined(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size() && i < 8; ++i) out += (i ? ", " : "") + items[i];
  if (items.size() > 8) out += ", … (" + std::to_string(items.size()) + ")";
  return out;
}

}  // namespace

void ResourceService::Impl::Discover() {
  const Instant now = io::SteadyNow();
  if (!synced || stopping || Where().backend == nullptr) return;
  if (discovering) return;
  if (now < next_discovery && !rediscover) return;
  discovering = true;
  rediscover = false;
  next_discovery = now + kDiscoveryPeriod;
  resources::Inventory own = DiscoverOwn(node, node.config().node_name);
  own.joined_ms = joined_ms;
  const std::string root = node.config().distribution_root;
  if (root.empty()) {
    discovering = false;
    return WriteInventory(own);
  }
  asio::post(scan_pool, [this, ioc = &io, alive = alive, cancel = cancel_scan, own = std::move(own),
                         root]() mutable {
    ContentScan scan = ScanContent(root, *cancel);
    asio::post(*ioc, [this, alive, own = std::move(own), scan = std::move(scan)]() mutable {
      if (!*alive) return;
      discovering = false;
      ContentFound(own, std::move(scan));
      WriteInventory(own);
    });
  });
}

// What the walk found becomes the content; what it could not see (it failed, or stopped at
// its limit before reaching it) is not known to be gone: what was present stays present,
// what was missing stays missing (Merge keeps it so).
void ResourceService::Impl::ContentFound(resources::Inventory& own, ContentScan scan) {
  auto kept = mirror.inventories.find(node.config().node_id);
  const resources::Inventory* before = kept == mirror.inventories.end() ? nullptr : &kept->second;
  const bool failed = !scan.error.empty();
  if (failed) {
    Log(LogLevel::kWarn, "resources", "content root not read; its inventory is kept",
        {{"error", scan.error}});
    scan.items.clear();
  }
  own.content = std::move(scan.items);
  own.content_truncated = failed ? before != nullptr && before->content_truncated : scan.truncated;
  if (!(failed || scan.truncated) || before == nullptr) return;
  const std::string last = own.content.empty() ? "" : own.content.rbegin()->first;
  for (const auto& [path, item] : before->content) {
    if (own.content.size() >= resources::kMaxInventoryContent) break;
    if (item.presence.present && (failed || path > last)) own.content.emplace(path, item);
  }
}

void ResourceService::Impl::WriteInventory(const resources::Inventory& found) {
  const Records where = Where();
  if (where.backend == nullptr) return;
  const NodeId self = node.config().node_id;
  auto stored = mirror.inventories.find(self);
  const resources::Inventory before =
      stored == mirror.inventories.end() ? resources::Inventory{} : stored->second;
  const int64_t now_ms = static_cast<int64_t>(io::WallMillis());
  ++metrics.discoveries;
  resources::Inventory own = found;
  own.capacity_mbps = std::min(own.capacity_mbps, resources::kMaxMbps);
  if (own.name.size() > 255) own.name.resize(255);
  for (auto& [id, disk] : own.disks) {
    // A disk whose check failed (or has not run) keeps the size it was last seen with.
    auto was = before.disks.find(id);
    if (disk.total_bytes == 0 && was != before.disks.end())
      disk.total_bytes = was->second.total_bytes;
  }
  resources::Inventory merged = resources::Merge(before, own, now_ms);
  if (stored != mirror.inventories.end() && merged == before) return;
  merged.discovered_ms = now_ms;
  const std::string text = resources::EncodeInventory(merged);
  // What every node would refuse is not written (and said once).
  if (auto check = resources::ParseInventory(text); !check) {
    if (!inventory_refused) {
      Log(LogLevel::kError, "resources", "this node's inventory cannot be written",
          {{"error", check.error().message()}});
    }
    inventory_refused = true;
    return;
  }
  inventory_refused = false;
  where.backend->Put(where.prefix + resources::KeyOf({RecordKey::Kind::kInventory, "", self}), text,
                     Later([this](Result<int64_t> r) {
                       if (!r) {
                         ++metrics.registry_errors;
                         next_discovery = io::SteadyNow();  // the next tick tries again
                         return;
                       }
                       ++metrics.inventory_writes;
                       Wrote(*r);
                     }));
}

void ResourceService::Impl::ApplyInventory(NodeId id, const registry::KeyValue& kv, bool deleted) {
  auto before = mirror.inventories.find(id);
  const bool known = before != mirror.inventories.end();
  if (deleted) {
    mirror.inventories.erase(id);
    // This node's own: written again at the next discovery.
    if (id == node.config().node_id) rediscover = true;
    return;
  }
  auto inventory = resources::ParseInventory(kv.value);
  if (!inventory || inventory->node != id) {
    Log(LogLevel::kWarn, "resources", "a stored inventory does not decode; ignored",
        {{"key", kv.key},
         {"error", inventory ? "it names another node" : inventory.error().message()}});
    return;
  }
  resources::InventoryChange change =
      resources::Compare(known ? before->second : resources::Inventory{}, *inventory);
  // Changes the watch brings; a read again is compared as a whole (InventoriesReread),
  // joins too. The first read only learns the joins there are.
  if (synced || !probed) change.joined = joins.Joined(*inventory);
  mirror.inventories[id] = std::move(*inventory);
  if (synced) RecordChange(id, change);
}

void ResourceService::Impl::InventoriesReread(
    const std::map<NodeId, resources::Inventory>& before) {
  for (const auto& [id, inventory] : mirror.inventories) {
    auto was = before.find(id);
    resources::InventoryChange change =
        resources::Compare(was == before.end() ? resources::Inventory{} : was->second, inventory);
    change.joined = joins.Joined(inventory);
    RecordChange(id, change);
  }
}

void ResourceService::Impl::RecordChange(NodeId id, const resources::InventoryChange& change) {
  if (change.empty()) return;
  ++metrics.configuration_changes;
  changes.push_back({next_change++, id, static_cast<int64_t>(io::WallMillis()), change});
  if (changes.size() > kChangesKept) changes.pop_front();
  Log(LogLevel::kInfo, "resources", "configuration changed",
      {{"node", std::to_string(id)},
       {"added", Joined(change.added)},
       {"missing", Joined(change.missing)},
       {"changed", Joined(change.changed)},
       {"joined", change.joined ? "yes" : "no"}});
}

const std::map<NodeId, resources::Inventory>& ResourceService::Inventories() const {
  return impl_->mirror.inventories;
}

std::vector<ConfigurationChange> ResourceService::Changes(uint64_t after) const {
  std::vector<ConfigurationChange> out;
  for (const ConfigurationChange& c : impl_->changes) {
    if (c.seq > after) out.push_back(c);
  }
  return out;
}

void ResourceService::Rescan() {
  impl_->rediscover = true;
  impl_->Discover();
}

}  // namespace cohort::node
