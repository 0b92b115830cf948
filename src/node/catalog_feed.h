// CatalogFeed: this node's content for the catalog (W1): the files under its content root
// (where distribution installs them, D1–D13) and under each [[disk]] mount, each with its
// size, modification time and SHA-256.
//
// A worker thread walks the roots every period, and at once when asked (after an install),
// and hashes only what is new or changed: a file is known by its path, size, modification
// time and inode, so an unchanged file is read once per daemon run. The loop gets every
// complete walk and turns the differences into numbered changes (workload::Change): the
// feed the supervisor's catalog follows. Copies, installs, removals made by hand or by
// distribution are all seen within a period.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/time.h"
#include "workload/catalog.h"

namespace boost::asio {
class io_context;
}

namespace cohort::node {

struct CatalogRoot {
  std::string disk;  // "" for the content root
  std::string path;
  std::string skip;  // a file the daemon keeps there (a disk's probe), absolute; "" none
};

class CatalogFeed {
 public:
  CatalogFeed(boost::asio::io_context& io, std::vector<CatalogRoot> roots, Duration period);
  ~CatalogFeed();  // stops the worker
  CatalogFeed(const CatalogFeed&) = delete;
  CatalogFeed& operator=(const CatalogFeed&) = delete;

  // `changed` runs on the loop after each walk that changed the listing, with the changes
  // already applied to items().
  void Start(std::function<void(const std::vector<workload::Change>&)> changed);
  void Stop();
  void ScanSoon();

  // The listing, by (path, disk); `seq` counts its changes since start.
  const std::map<std::pair<std::string, std::string>, workload::Item>& items() const;
  uint64_t seq() const;
  uint64_t digest() const;  // Catalog::ItemDigest summed over items()
  bool scanned() const;     // a first walk has finished

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace cohort::node
