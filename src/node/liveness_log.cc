#include "node/liveness_log.h"

#include "io/asio.h"
#include "io/clock.h"

namespace cohort::node {

struct LivenessLog::Waiter {
  uint64_t after = 0;
  std::function<void(LivenessChanges)> done;
  std::unique_ptr<boost::asio::steady_timer> timer;
};

LivenessLog::LivenessLog(boost::asio::io_context& loop) : loop_(loop) {}

LivenessLog::~LivenessLog() {
  for (auto& [id, w] : waiters_) w->timer->cancel();
}

uint64_t LivenessLog::Follow(std::function<void(const LivenessChange&)> follower) {
  const uint64_t id = next_follower_++;
  followers_[id] = std::move(follower);
  return id;
}

void LivenessLog::Add(const liveness::Output& change) {
  kept_.push_back({next_seq_++, io::WallMillis(), change});
  const LivenessChange added = kept_.back();
  if (kept_.size() > kKept) kept_.pop_front();
  const auto followers = followers_;  // a follower may unfollow
  for (const auto& [id, follower] : followers) follower(added);
  auto waiters = std::move(waiters_);
  waiters_.clear();
  for (auto& [id, w] : waiters) {
    w->timer->cancel();
    w->done(Since(w->after));
  }
}

LivenessChanges LivenessLog::Since(uint64_t after) const {
  LivenessChanges r;
  r.seq = seq();
  r.missed = !kept_.empty() && after + 1 < kept_.front().seq;
  for (const LivenessChange& c : kept_) {
    if (c.seq > after) r.changes.push_back(c);
  }
  return r;
}

void LivenessLog::Wait(uint64_t after, Duration timeout,
                       std::function<void(LivenessChanges)> done) {
  if (after < seq()) return done(Since(after));
  if (after > seq()) {  // a number from before this node started: read the matrix again
    LivenessChanges r = Since(after);
    r.missed = true;
    return done(std::move(r));
  }
  auto w = std::make_shared<Waiter>();
  w->after = after;
  w->done = std::move(done);
  w->timer = std::make_unique<boost::asio::steady_timer>(loop_);
  const uint64_t id = next_waiter_++;
  waiters_[id] = w;
  w->timer->expires_after(std::chrono::nanoseconds(timeout.nanos()));
  w->timer->async_wait([this, id](boost::system::error_code ec) {
    if (ec) return;
    auto it = waiters_.find(id);
    if (it == waiters_.end()) return;
    auto waiter = it->second;
    waiters_.erase(it);
    waiter->done(Since(waiter->after));
  });
}

}  // namespace cohort::node
