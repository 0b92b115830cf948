#include "io/disk_probe.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "io/asio.h"
#include "io/clock.h"

namespace cohort::io {
namespace {

std::string Errno(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

// Writes, flushes and reads back the probe file; empty on success, else why it failed.
std::string ProbeFile(const std::string& path, uint64_t nonce) {
  const std::string content = "cohort disk probe " + std::to_string(nonce) + "\n";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("cannot write", path);
  const ssize_t wrote = ::write(fd, content.data(), content.size());
  if (wrote != static_cast<ssize_t>(content.size())) {
    std::string e = wrote < 0 ? Errno("cannot write", path) : "short write to " + path;
    ::close(fd);
    return e;
  }
  if (::fdatasync(fd) != 0) {
    std::string e = Errno("cannot flush", path);
    ::close(fd);
    return e;
  }
  if (::close(fd) != 0) return Errno("cannot close", path);
  fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot read", path);
  std::string back(content.size() + 1, '\0');
  const ssize_t got = ::read(fd, back.data(), back.size());
  ::close(fd);
  if (got < 0) return Errno("cannot read", path);
  back.resize(static_cast<size_t>(got));
  if (back != content) return "read back different content from " + path;
  return {};
}

// Milliseconds the block device behind `mount` has spent doing I/O (field 10 of its sysfs
// stat); nothing for filesystems without a block device (tmpfs, overlay).
std::optional<uint64_t> IoTicks(const std::string& mount) {
  struct stat st {};
  if (::stat(mount.c_str(), &st) != 0 || major(st.st_dev) == 0) return std::nullopt;
  std::ifstream in("/sys/dev/block/" + std::to_string(major(st.st_dev)) + ":" +
                   std::to_string(minor(st.st_dev)) + "/stat");
  uint64_t field[10] = {};
  for (uint64_t& f : field) {
    if (!(in >> f)) return std::nullopt;
  }
  return field[9];
}

}  // namespace

DiskCheck CheckDisk(const DiskConfig& disk, uint64_t nonce) {
  const Instant start = SteadyNow();
  DiskCheck c;
  c.disk = disk.id;
  struct statvfs vfs {};
  if (::statvfs(disk.mount.c_str(), &vfs) != 0) {
    c.error = Errno("cannot stat mount point", disk.mount);
  } else {
    c.total_bytes = static_cast<uint64_t>(vfs.f_blocks) * vfs.f_frsize;
    c.free_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
    c.error = ProbeFile(disk.probe, nonce);
  }
  c.ok = c.error.empty();
  c.took = SteadyNow() - start;
  return c;
}

// What the checking thread shares with the loop. The thread owns a reference, so a thread
// left stuck in the filesystem at shutdown never touches freed memory.
struct DiskProberShared {
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  bool exited = false;
  std::atomic<int64_t> busy_since_nanos{0};  // start of the check in progress, 0 if none
  std::atomic<size_t> busy_disk{0};
};

struct DiskProber::Impl {
  boost::asio::io_context& loop;
  std::vector<DiskConfig> disks;
  Duration interval;
  Duration timeout;
  OnResult on_result;
  std::shared_ptr<DiskProberShared> shared = std::make_shared<DiskProberShared>();
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);
  boost::asio::steady_timer watch;
  int64_t hang_reported_for = 0;  // busy_since of the stuck check already reported
  std::thread thread;

  Impl(boost::asio::io_context& l, std::vector<DiskConfig> d, Duration i, Duration t, OnResult r)
      : loop(l), disks(std::move(d)), interval(i), timeout(t), on_result(std::move(r)), watch(l) {}

  static void Run(std::shared_ptr<DiskProberShared> shared, std::vector<DiskConfig> disks,
                  Duration interval, Duration timeout, boost::asio::io_context* loop,
                  std::shared_ptr<bool> alive, OnResult* on_result) {
    std::map<std::string, std::pair<uint64_t, Instant>> last_ticks;
    uint64_t nonce = static_cast<uint64_t>(SteadyNow().nanos());
    for (;;) {
      for (size_t i = 0; i < disks.size(); ++i) {
        const Instant start = SteadyNow();
        shared->busy_disk = i;
        shared->busy_since_nanos = start.nanos();
        DiskCheck c = CheckDisk(disks[i], ++nonce);
        shared->busy_since_nanos = 0;
        if (c.ok && c.took > timeout) {
          c.ok = false;
          c.error = "check took " + std::to_string(c.took.millis()) + " ms, over the " +
                    std::to_string(timeout.millis()) + " ms timeout";
        }
        if (auto ticks = IoTicks(disks[i].mount)) {
          const Instant now = SteadyNow();
          auto it = last_ticks.find(disks[i].id);
          if (it != last_ticks.end() && now > it->second.second) {
            const double busy = static_cast<double>(*ticks - it->second.first) /
                                (static_cast<double>((now - it->second.second).micros()) / 1000.0);
            c.busy_permille = static_cast<uint16_t>(std::min(1000.0, busy * 1000.0));
          }
          last_ticks[disks[i].id] = {*ticks, now};
        }
        std::unique_lock lock(shared->mu);
        if (shared->stop) break;
        boost::asio::post(*loop, [alive, on_result, c = std::move(c)]() mutable {
          if (*alive) (*on_result)(std::move(c));
        });
      }
      std::unique_lock lock(shared->mu);
      shared->cv.wait_for(lock, std::chrono::nanoseconds(interval.nanos()),
                          [&] { return shared->stop; });
      if (shared->stop) break;
    }
    std::lock_guard lock(shared->mu);
    shared->exited = true;
    shared->cv.notify_all();
  }

  // From the loop: a check stuck past the timeout is a failed disk, reported once.
  void Watch() {
    const int64_t since = shared->busy_since_nanos;
    if (since != 0 && since != hang_reported_for &&
        SteadyNow() - Instant::FromNanos(since) > timeout) {
      hang_reported_for = since;
      DiskCheck c;
      c.disk = disks[shared->busy_disk].id;
      c.error = "check has not finished after " + std::to_string(timeout.millis()) +
                " ms (filesystem hung?)";
      c.took = SteadyNow() - Instant::FromNanos(since);
      on_result(std::move(c));
    }
    watch.expires_after(std::chrono::nanoseconds((timeout / 4).nanos()));
    watch.async_wait([this, alive = alive](boost::system::error_code ec) {
      if (!ec && *alive) Watch();
    });
  }
};

DiskProber::DiskProber(boost::asio::io_context& loop, std::vector<DiskConfig> disks,
                       Duration interval, Duration timeout, OnResult on_result)
    : impl_(std::make_unique<Impl>(loop, std::move(disks), interval, timeout,
                                   std::move(on_result))) {}

void DiskProber::Start() {
  if (impl_->disks.empty() || impl_->thread.joinable()) return;
  impl_->thread = std::thread(&Impl::Run, impl_->shared, impl_->disks, impl_->interval,
                              impl_->timeout, &impl_->loop, impl_->alive, &impl_->on_result);
  impl_->Watch();
}

DiskProber::~DiskProber() {
  *impl_->alive = false;
  impl_->watch.cancel();
  if (!impl_->thread.joinable()) return;
  std::unique_lock lock(impl_->shared->mu);
  impl_->shared->stop = true;
  impl_->shared->cv.notify_all();
  const bool exited = impl_->shared->cv.wait_for(lock, std::chrono::seconds(1),
                                                 [&] { return impl_->shared->exited; });
  lock.unlock();
  if (exited) {
    impl_->thread.join();
  } else {
    impl_->thread.detach();
  }
}

// ---- usage ----

std::optional<NetCounters> ReadNetCounters(const std::string& interface) {
  NetCounters c;
  const std::string base = "/sys/class/net/" + interface + "/statistics/";
  std::ifstream rx(base + "rx_bytes"), tx(base + "tx_bytes");
  if (!(rx >> c.rx_bytes) || !(tx >> c.tx_bytes)) return std::nullopt;
  return c;
}

uint32_t LinkSpeedMbps(const std::string& interface) {
  std::ifstream in("/sys/class/net/" + interface + "/speed");
  int64_t speed = 0;
  if (!(in >> speed) || speed <= 0 || speed > UINT32_MAX) return 0;
  return static_cast<uint32_t>(speed);
}

uint32_t LoadAverageMilli() {
  double load[1] = {0};
  if (::getloadavg(load, 1) != 1) return 0;
  return static_cast<uint32_t>(load[0] * 1000.0);
}

}  // namespace cohort::io
