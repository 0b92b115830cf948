// Disk checks (SPEC M11) and the usage figures of the supervisor tables (M12).
//
// CheckDisk() is one check: the mount point answers statvfs, and the probe file (the disk's
// failure detection location) can be written, flushed to the device and read back intact.
// DiskProber runs the checks on a thread of its own, so a hung filesystem never stalls the
// node's event loop; results are posted to the loop. A check still running after the
// timeout is reported failed from the loop while the thread is stuck, and a check that
// finishes late counts as failed too.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/config.h"
#include "base/time.h"

namespace boost::asio {
class io_context;
}

namespace cohort::io {

struct DiskCheck {
  std::string disk;
  bool ok = false;
  std::string error;  // why the check failed
  Duration took;
  uint64_t total_bytes = 0;
  uint64_t free_bytes = 0;
  // Share of time the device was busy since the last check, in ‰; none for filesystems
  // without a block device (tmpfs, overlay) and at the first check.
  std::optional<uint16_t> busy_permille;
};

DiskCheck CheckDisk(const DiskConfig& disk, uint64_t nonce);

class DiskProber {
 public:
  using OnResult = std::function<void(DiskCheck)>;
  // `on_result` runs on the loop thread, once per check of each disk.
  DiskProber(boost::asio::io_context& loop, std::vector<DiskConfig> disks, Duration interval,
             Duration timeout, OnResult on_result);
  // Stops the thread; call on the loop thread. Waits up to a second for a check in
  // progress, then leaves a thread stuck in the filesystem behind (it touches nothing else).
  ~DiskProber();
  void Start();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// ---- node usage (M12) ----
struct NetCounters {
  uint64_t rx_bytes = 0;
  uint64_t tx_bytes = 0;
};
// Byte counters of an OS network interface (sysfs).
std::optional<NetCounters> ReadNetCounters(const std::string& interface);
// The interface's link speed in Mbit/s, 0 if the OS does not know it (loopback, virtual).
uint32_t LinkSpeedMbps(const std::string& interface);
// The 1-minute load average × 1000.
uint32_t LoadAverageMilli();

}  // namespace cohort::io
