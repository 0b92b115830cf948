#include "node/catalog_feed.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "base/log.h"
#include "io/asio.h"
#include "node/inventory_scan.h"
#include "wire/sha256.h"

namespace cohort::node {

namespace asio = boost::asio;
namespace {

// A node's listing is sent to the supervisor in pages (workload::kMaxListingPages of
// kMaxListingPage items); far more files than any media server holds.
constexpr size_t kMaxFeedItems = 500'000;
constexpr size_t kMaxWalkEntries = 2'000'000;

using Key = std::pair<std::string, std::string>;  // (path, disk)

struct Cached {
  uint64_t bytes = 0;
  int64_t mtime_ns = 0;
  uint64_t inode = 0;
  wire::Sha256Digest sha256{};
};

// The SHA-256 of the file, if it could be read whole and did not change meanwhile.
std::optional<wire::Sha256Digest> HashFile(const std::string& path, const FoundFile& f,
                                           const std::atomic<bool>& stop) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  wire::Sha256 sha;
  std::vector<uint8_t> buffer(1 << 20);
  uint64_t total = 0;
  bool ok = true;
  for (;;) {
    if (stop.load(std::memory_order_relaxed)) {
      ok = false;
      break;
    }
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) ok = false;
    if (n <= 0) break;
    sha.Update(buffer.data(), static_cast<size_t>(n));
    total += static_cast<uint64_t>(n);
  }
  struct stat st {};
  ok = ok && ::fstat(fd, &st) == 0 && static_cast<uint64_t>(st.st_size) == f.bytes &&
       total == f.bytes &&
       int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec == f.mtime_ns;
  ::close(fd);
  if (!ok) return std::nullopt;
  return sha.Digest();
}

}  // namespace

struct CatalogFeed::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io_context, std::vector<CatalogRoot> r, Duration p)
      : io(io_context), roots(std::move(r)), period(p) {}

  asio::io_context& io;
  const std::vector<CatalogRoot> roots;
  const Duration period;
  std::function<void(const std::vector<workload::Change>&)> changed;

  // ---- the worker's ----
  std::thread worker;
  std::mutex mu;
  std::condition_variable cv;
  bool poke = false;
  std::atomic<bool> stop{false};
  std::map<Key, Cached> cache;
  bool warned_truncated = false;

  // ---- the loop's ----
  std::map<Key, workload::Item> items;
  uint64_t seq = 0;
  uint64_t digest = 0;
  bool scanned = false;

  std::vector<workload::Item> Walk() {
    std::map<Key, Cached> seen;
    std::vector<workload::Item> out;
    bool truncated = false;
    for (const CatalogRoot& root : roots) {
      const ContentWalk walk = WalkContent(root.path, stop, kMaxWalkEntries, [&](FoundFile f) {
        if (out.size() >= kMaxFeedItems) {
          truncated = true;
          return;
        }
        const std::string abs = root.path + "/" + f.path;
        if (!root.skip.empty() && abs == root.skip) return;
        Key key{f.path, root.disk};
        auto known = cache.find(key);
        Cached c{f.bytes, f.mtime_ns, f.inode, {}};
        if (known != cache.end() && known->second.bytes == f.bytes &&
            known->second.mtime_ns == f.mtime_ns && known->second.inode == f.inode) {
          c.sha256 = known->second.sha256;
        } else if (auto sha = HashFile(abs, f, stop)) {
          c.sha256 = *sha;
        } else {
          return;  // being written, or unreadable: the next walk tries again
        }
        out.push_back(workload::Item{f.path, root.disk, {f.bytes, f.mtime_ns, c.sha256}});
        seen.emplace(std::move(key), c);
      });
      truncated |= walk.truncated;
      if (!walk.error.empty() && !stop) {
        Log(LogLevel::kWarn, "catalog", "content walk failed", {{"error", walk.error}});
      }
    }
    if (truncated && !warned_truncated) {
      warned_truncated = true;
      Log(LogLevel::kWarn, "catalog", "content listing truncated",
          {{"max_items", std::to_string(kMaxFeedItems)}});
    }
    cache = std::move(seen);
    return out;
  }

  void Run() {
    std::unique_lock lock(mu);
    while (!stop) {
      lock.unlock();
      std::vector<workload::Item> listing = Walk();
      lock.lock();
      if (stop) break;
      asio::post(io, [weak = weak_from_this(), listing = std::move(listing)] {
        if (auto self = weak.lock()) self->Apply(listing);
      });
      cv.wait_for(lock, std::chrono::milliseconds(period.millis()), [&] { return stop || poke; });
      poke = false;
    }
  }

  // On the loop: the differences from the last walk, numbered.
  void Apply(const std::vector<workload::Item>& listing) {
    if (stop) return;
    std::vector<workload::Change> changes;
    std::map<Key, workload::Item> next;
    for (const workload::Item& item : listing) {
      Key key{item.path, item.disk};
      auto old = items.find(key);
      if (old == items.end() || !(old->second.version == item.version)) {
        if (old != items.end()) digest -= workload::Catalog::ItemDigest(old->second);
        digest += workload::Catalog::ItemDigest(item);
        changes.push_back(workload::Change{workload::Change::Kind::kPut, item});
      }
      next.emplace(std::move(key), item);
    }
    for (const auto& [key, item] : items) {
      if (next.contains(key)) continue;
      digest -= workload::Catalog::ItemDigest(item);
      changes.push_back(workload::Change{workload::Change::Kind::kRemove, item});
    }
    items = std::move(next);
    seq += changes.size();
    const bool first = !scanned;
    scanned = true;
    if ((first || !changes.empty()) && changed) changed(changes);
  }
};

CatalogFeed::CatalogFeed(asio::io_context& io, std::vector<CatalogRoot> roots, Duration period)
    : impl_(std::make_shared<Impl>(io, std::move(roots), period)) {}

CatalogFeed::~CatalogFeed() { Stop(); }

void CatalogFeed::Start(std::function<void(const std::vector<workload::Change>&)> changed) {
  impl_->changed = std::move(changed);
  impl_->worker = std::thread([impl = impl_] { impl->Run(); });
}

void CatalogFeed::Stop() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stop = true;
  }
  impl_->cv.notify_all();
  if (impl_->worker.joinable()) impl_->worker.join();
}

void CatalogFeed::ScanSoon() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->poke = true;
  }
  impl_->cv.notify_all();
}

const std::map<std::pair<std::string, std::string>, workload::Item>& CatalogFeed::items() const {
  return impl_->items;
}
uint64_t CatalogFeed::seq() const { return impl_->seq; }
uint64_t CatalogFeed::digest() const { return impl_->digest; }
bool CatalogFeed::scanned() const { return impl_->scanned; }

}  // namespace cohort::node
