#include "node/inventory_scan.h"

#include <sys/stat.h>

#include <bit>
#include <filesystem>

#include "base/text.h"
#include "distribution/validate.h"
#include "node/node.h"
#include "resources/spec.h"

namespace cohort::node {

namespace fs = std::filesystem;

resources::Inventory DiscoverOwn(const Node& node, const std::string& name) {
  resources::Inventory inv;
  inv.node = node.config().node_id;
  inv.name = name;
  inv.capacity_mbps = node.capacity_mbps();
  const std::vector<std::string> interfaces = node.adapter_interfaces();
  const auto& adapters = node.transport().options().adapters;
  for (size_t i = 0; i < adapters.size() && i < resources::kMaxInventoryAdapters; ++i) {
    resources::AdapterItem a;
    a.address = adapters[i].info.address.ToString();
    a.prefix_len = static_cast<uint8_t>(std::popcount(adapters[i].info.mask));
    if (i < interfaces.size()) a.interface = interfaces[i];
    inv.adapters[a.address] = a;
  }
  for (const DiskConfig& d : node.config().disks) {
    if (inv.disks.size() >= resources::kMaxInventoryDisks) break;
    resources::DiskItem item{d.id, d.mount, 0, {}};
    if (auto c = node.disk_checks().find(d.id); c != node.disk_checks().end() && c->second.ok) {
      item.total_bytes = c->second.total_bytes;
    }
    inv.disks[d.id] = item;
  }
  return inv;
}

namespace {

bool Skipped(const fs::path& name) {
  const std::string n = name.filename().string();
  return distribution::IsTemporaryName(n) || n == distribution::kReservedFolder;
}

}  // namespace

ContentWalk WalkContent(const std::string& root, const std::atomic<bool>& cancel,
                        size_t max_entries, const std::function<void(FoundFile)>& found) {
  ContentWalk walk;
  std::error_code ec;
  // No root (yet): no content. A root that went (a disk unmounted) is no content either,
  // and what it held is marked missing.
  if (!fs::exists(root, ec) && !ec) return walk;
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec);
  if (ec) {
    walk.error = root + ": " + ec.message();
    return walk;
  }
  size_t visited = 0;
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) {
      walk.error = root + ": " + ec.message();
      break;
    }
    if (cancel.load(std::memory_order_relaxed)) {
      walk.error = "the walk was cancelled";
      break;
    }
    if (++visited > max_entries) {
      walk.truncated = true;
      break;
    }
    const fs::directory_entry& entry = *it;
    if (Skipped(entry.path())) {
      if (entry.is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    struct stat st {};
    if (::lstat(entry.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    std::string rel = entry.path().lexically_relative(root).generic_string();
    if (!IsValidUtf8(rel) || !resources::ValidContentPath(rel)) {
      ++walk.skipped;
      continue;
    }
    found(FoundFile{std::move(rel), static_cast<uint64_t>(st.st_size),
                    int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec,
                    static_cast<uint64_t>(st.st_ino)});
  }
  return walk;
}

ContentScan ScanContent(const std::string& root, const std::atomic<bool>& cancel,
                        size_t max_entries) {
  ContentScan scan;
  const ContentWalk walk = WalkContent(root, cancel, max_entries, [&](FoundFile f) {
    scan.items[f.path] = {f.path, f.bytes, {}};
    // Keeps the first ones in path order, whatever order the walk came in.
    if (scan.items.size() > resources::kMaxInventoryContent) {
      scan.items.erase(std::prev(scan.items.end()));
      scan.truncated = true;
    }
  });
  scan.truncated |= walk.truncated;
  scan.skipped = walk.skipped;
  scan.error = walk.error;
  return scan;
}

}  // namespace cohort::node
