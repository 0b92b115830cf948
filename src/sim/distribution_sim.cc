#include "sim/distribution_sim.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <vector>

#include "base/prng.h"

namespace cohort::sim {
namespace {

using distribution::JobTracker;
using distribution::NodeAgent;

constexpr double kStallSeconds = 2;  // the simulated base's stall period (TrackerOptions)

struct Feed {
  NodeId from = kNoNode;
  NodeId to = kNoNode;
  double moved = 0;  // bytes in the current rate window
};

class World {
 public:
  explicit World(const DistributionSetup& s) : s_(s) {
    distribution::Manifest m;
    m.job = "sim";
    m.base = 1;
    m.Append({{1, distribution::CommandKind::kFile, "content", static_cast<uint64_t>(s.size)},
              {2, distribution::CommandKind::kEnd}});
    std::vector<NodeId> ids;
    for (int i = 1; i <= s.servers; ++i) {
      NodeId id = static_cast<NodeId>(i);
      ids.push_back(id);
      nodes_[id].agent = std::make_unique<NodeAgent>(id, Options());
      rates_[id] = s.upload;
    }
    distribution::TrackerOptions o;
    o.stall = Duration::Seconds(kStallSeconds);
    o.wait = Duration::Seconds(5);
    tracker_ = std::make_unique<JobTracker>(m, ids, o, Now());
    Node& base = nodes_[1];
    base.have = s.size;
    base.has_job = true;
    base.done_at = 0;
    std::vector<NodeId> others(ids.begin() + 1, ids.end());
    std::vector<NodeAgent::Action> actions;
    for (auto& share :
         distribution::SplitList(distribution::OrderByRate(others, rates_), s.fanout)) {
      base.agent->AddFeed(share.target, share.list, &actions);
    }
    Run(1, actions);
  }

  DistributionOutcome Simulate() {
    const double dt = 0.005;
    int step = 0;
    while (t_ < s_.limit_seconds) {
      ++step;
      t_ = step * dt;
      MoveContent(dt);
      if (s_.kill && nodes_[*s_.kill].alive && !killed_ &&
          nodes_[*s_.kill].have >= s_.kill_at * s_.size) {
        Kill(*s_.kill);
      }
      if (s_.mute && !muted_ && nodes_[*s_.mute].have >= s_.mute_at * s_.size) {
        muted_ = true;
        muted_at_ = t_;
        nodes_[*s_.mute].mute = true;
        nodes_[*s_.mute].hung = s_.hang;
      }
      if (s_.hang && nodes_[*s_.mute].hung && t_ >= muted_at_ + s_.hang_seconds) {
        nodes_[*s_.mute].hung = nodes_[*s_.mute].mute = false;
      }
      if (killed_ && s_.restart_killed && !restarted_ && t_ >= killed_at_ + 20) Restart(*s_.kill);
      if (s_.cancel_after && !tracker_->cancelled() && t_ >= *s_.cancel_after) {
        tracker_->Cancel("cancelled by the operator", Now());
        TrackerTick();  // as the base does: the servers are told at once
      }
      if (step % 20 == 0) MeasureRates(0.1);
      if (step % 100 == 0) {
        ReportAll();
        TrackerTick();
        for (auto& [id, v] : tracker_->servers()) {
          if (v.state == distribution::ServerState::kFailed) ever_failed_.insert(id);
        }
        if (tracker_->Final() && !tracker_->drops_pending()) break;
      }
    }
    DistributionOutcome out;
    out.seconds = t_;
    out.state = distribution::JobStateName(tracker_->State());
    out.switches = switches_;
    out.ever_failed = ever_failed_;
    out.feeds_left = feeds_.size();
    out.drops_pending = tracker_->drops_pending();
    for (auto& [id, n] : nodes_) {
      if (n.dropped_at >= 0) out.dropped_at[id] = n.dropped_at;
      out.holds[id] = n.have;
      out.received[id] = n.received;
      if (n.done_at >= 0) out.finished_at[id] = n.done_at;
      out.last_source[id] = n.last_source;
      out.states[id] = tracker_->servers().at(id).state;
    }
    return out;
  }

 private:
  struct Node {
    std::unique_ptr<NodeAgent> agent;
    bool alive = true;
    bool mute = false;  // sends nothing on its feeds
    bool hung = false;  // mute, and receives nothing and answers nothing either
    bool has_job = false;
    double have = 0;
    double received = 0;
    double rate = 0;
    double done_at = -1;
    double dropped_at = -1;  // told of the cancel: takes and starts no feed of the job
    NodeId last_source = kNoNode;
  };

  distribution::AgentOptions Options() const {
    distribution::AgentOptions o;
    o.fanout = s_.fanout;
    return o;
  }
  Instant Now() const { return Instant::FromNanos(static_cast<int64_t>(t_ * 1e9)); }
  size_t FeedsFrom(NodeId n) const {
    return static_cast<size_t>(
        std::count_if(feeds_.begin(), feeds_.end(), [&](const Feed& f) { return f.from == n; }));
  }
  double Capacity(const Feed& f, size_t feeds_from_source) const {
    double cap = s_.upload / static_cast<double>(std::max<size_t>(feeds_from_source, 1));
    auto it = s_.link_limit.find({f.from, f.to});
    return it == s_.link_limit.end() ? cap : std::min(cap, it->second);
  }

  void Run(NodeId at, std::vector<NodeAgent::Action> actions) {
    std::deque<std::pair<NodeId, NodeAgent::Action>> queue;
    for (auto& a : actions) queue.emplace_back(at, std::move(a));
    while (!queue.empty()) {
      auto [who, action] = std::move(queue.front());
      queue.pop_front();
      std::vector<NodeAgent::Action> more;
      NodeId next_who = who;
      if (auto* start = std::get_if<NodeAgent::StartFeed>(&action)) {
        Offer(who, start->target, start->list, start->replaces, &more, &next_who);
      } else if (auto* drop = std::get_if<NodeAgent::DropFeed>(&action)) {
        // `who` gave up feeding its hung receiver: that connection closes, which the
        // receiver sees once it runs again.
        RemoveFeed(who, drop->target);
        nodes_[drop->target].agent->OnSourceLost(who);
      } else if (auto* stop = std::get_if<NodeAgent::StopFeed>(&action)) {
        // `who` (a receiver) switched away from `stop->peer`: that feed ends, done for A.
        RemoveFeed(stop->peer, who);
        std::vector<NodeAgent::Action> freed;
        nodes_[stop->peer].agent->OnFeedEnded(who, true, &freed);
        for (auto& a : freed) queue.emplace_back(stop->peer, std::move(a));
      }
      for (auto& a : more) queue.emplace_back(next_who, std::move(a));
    }
  }

  // `from` offers the job to `to`; actions of whichever agent acted land in `more`.
  void Offer(NodeId from, NodeId to, const std::vector<NodeId>& list, NodeId replaces,
             std::vector<NodeAgent::Action>* more, NodeId* actor) {
    Node& target = nodes_[to];
    if (!nodes_[from].alive || nodes_[from].dropped_at >= 0) return;
    if (!target.alive) {
      *actor = from;
      nodes_[from].agent->OnFeedEnded(to, false, more);
      return;
    }
    double rate = s_.upload / static_cast<double>(FeedsFrom(from) + 1);
    auto it = s_.link_limit.find({from, to});
    if (it != s_.link_limit.end()) rate = std::min(rate, it->second);
    *actor = to;
    NodeId before = target.agent->source();
    // A server that dropped the job declines it without looking at the list.
    bool accepted =
        target.dropped_at < 0 &&
        target.agent->OnOffer({from, list, rate, replaces}, rates_, more, target.have >= s_.size);
    target.has_job = true;
    if (accepted) {
      if (before != kNoNode && before != from) ++switches_;
      feeds_.push_back(Feed{from, to, 0});
      target.last_source = from;
      return;
    }
    // Declined (it had a good source, or holds everything): the list was taken; the feed
    // is over.
    std::vector<NodeAgent::Action> freed;
    nodes_[from].agent->OnFeedEnded(to, true, &freed);
    Run(from, std::move(freed));
  }

  void RemoveFeed(NodeId from, NodeId to) {
    feeds_.erase(std::remove_if(feeds_.begin(), feeds_.end(),
                                [&](const Feed& f) { return f.from == from && f.to == to; }),
                 feeds_.end());
  }

  void MoveContent(double dt) {
    std::map<NodeId, double> have_before;
    for (auto& [id, n] : nodes_) have_before[id] = n.have;
    std::map<NodeId, size_t> out;  // a feed to a hung server takes none of the upload
    for (const auto& f : feeds_) out[f.from] += nodes_[f.to].hung ? 0 : 1;
    std::vector<std::pair<NodeId, NodeId>> finished;
    for (auto& f : feeds_) {
      Node& src = nodes_[f.from];
      Node& dst = nodes_[f.to];
      // Only whole chunks are forwarded; the origin holds everything already.
      double avail = have_before[f.from] >= s_.size ? s_.size : have_before[f.from] - s_.chunk;
      double delta = std::min(Capacity(f, out[f.from]) * dt, avail - dst.have);
      if (!src.alive || src.dropped_at >= 0 || src.mute || dst.hung || delta <= 0) continue;
      dst.have += delta;
      dst.received += delta;
      f.moved += delta;
      if (dst.have >= s_.size - 1e-6) {
        dst.have = s_.size;
        if (dst.done_at < 0) dst.done_at = t_;
        finished.emplace_back(f.from, f.to);
      }
    }
    for (auto [from, to] : finished) {
      RemoveFeed(from, to);
      nodes_[to].agent->OnSourceLost(from);
      std::vector<NodeAgent::Action> actions;
      nodes_[from].agent->OnFeedEnded(to, true, &actions);
      Run(from, std::move(actions));
    }
  }

  void MeasureRates(double window) {
    for (auto& [id, n] : nodes_) n.rate = 0;
    for (auto& f : feeds_) {
      nodes_[f.to].rate += f.moved / window;
      f.moved = 0;
    }
    for (auto& [id, n] : nodes_) {
      if (n.agent->source() != kNoNode) n.agent->SetSourceRate(n.rate);
    }
  }

  distribution::ServerReport ReportOf(NodeId id) {
    Node& n = nodes_[id];
    distribution::ServerReport r;
    r.server = id;
    r.has_job = n.has_job;
    r.offset = static_cast<uint64_t>(n.have);
    r.source = n.agent->source();
    r.rate = n.rate;
    r.completed = n.has_job && n.have >= s_.size;
    r.commands_done = r.completed ? 2 : 0;
    return r;
  }

  void ReportAll() {
    for (auto& [id, n] : nodes_) {
      if (n.alive && !n.hung && n.has_job) tracker_->OnReport(ReportOf(id), Now());
    }
  }

  void TrackerTick() {
    for (auto& action : tracker_->Tick(Now())) {
      if (auto* q = std::get_if<JobTracker::Query>(&action)) {
        if (nodes_[q->server].hung) continue;  // no answer: the tracker's next tick sees that
        if (nodes_[q->server].alive) {
          tracker_->OnReport(ReportOf(q->server), Now());
        } else {
          tracker_->OnSilent(q->server, "connection refused", Now());
        }
      } else if (auto* feed = std::get_if<JobTracker::Feed>(&action)) {
        if (!nodes_[feed->source].alive) continue;
        std::vector<NodeAgent::Action> actions;
        nodes_[feed->source].agent->AddFeed(feed->target, {}, &actions, feed->switch_offer,
                                            feed->replaces);
        Run(feed->source, std::move(actions));
      } else if (auto* drop = std::get_if<JobTracker::Drop>(&action)) {
        if (!nodes_[drop->server].alive) continue;  // no answer: the base tries again later
        DropJob(drop->server);
        tracker_->OnDropped(drop->server);
      }
    }
  }

  // The server got the base's CancelMsg: its feeds end both ways, its partial content is
  // deleted (what it completed stays), and it declines later offers.
  void DropJob(NodeId id) {
    Node& n = nodes_[id];
    if (n.dropped_at >= 0) return;
    n.dropped_at = t_;
    if (n.have < s_.size) n.have = 0;
    CutFeeds(id, true, false);  // the base knows: the job is cancelled
  }

  void Kill(NodeId id) {
    killed_ = true;
    killed_at_ = t_;
    nodes_[id].alive = false;
    CutFeeds(id, s_.receivers_notice_first, true);
  }

  // Every feed to or from `id` ends, as when its connections close: its receivers lose
  // their source (and tell the base so, if `report`), and its sources hand its share on.
  // `receivers_first`: which side notices first.
  void CutFeeds(NodeId id, bool receivers_first, bool report) {
    std::vector<Feed> cut;
    for (auto& f : feeds_) {
      if (f.from == id || f.to == id) cut.push_back(f);
    }
    auto receivers_notice = [&] {
      for (auto& f : cut) {
        if (f.from != id) continue;
        nodes_[f.to].agent->OnSourceLost(id);
        if (report) tracker_->OnReport(ReportOf(f.to), Now());  // "my source is gone"
      }
    };
    if (receivers_first) receivers_notice();
    for (auto& f : cut) {
      RemoveFeed(f.from, f.to);
      if (f.to != id) continue;
      std::vector<NodeAgent::Action> actions;
      nodes_[f.from].agent->OnFeedEnded(id, false, &actions);
      Run(f.from, std::move(actions));
    }
    if (!receivers_first) receivers_notice();
  }

  // The daemon comes back with its partial file (D13) but no memory of the job.
  void Restart(NodeId id) {
    restarted_ = true;
    Node& n = nodes_[id];
    n.alive = true;
    n.has_job = false;
    n.agent = std::make_unique<NodeAgent>(id, Options());
  }

  DistributionSetup s_;
  double t_ = 0;
  std::map<NodeId, Node> nodes_;
  std::map<NodeId, double> rates_;
  std::vector<Feed> feeds_;
  std::unique_ptr<JobTracker> tracker_;
  bool killed_ = false, restarted_ = false, muted_ = false;
  double killed_at_ = 0, muted_at_ = 0;
  int switches_ = 0;
  std::set<NodeId> ever_failed_;
};

}  // namespace

DistributionOutcome RunDistribution(const DistributionSetup& setup) {
  World world(setup);
  return world.Simulate();
}

void AddDistributionScenarios(std::map<std::string, std::string>& all) {
  all["distribute"] = "100 MiB to every server, 100 Mbit/s uploads: time against S/B";
  all["distribute-kill"] =
      "a relay killed half-way: the rest complete, it is reported failed, and after its "
      "restart it is repaired from where it stopped";
  all["distribute-cancel"] =
      "the operator cancels the job 40% in while a relay is down: every server drops it and "
      "deletes its partial content, the relay once it is back";
  all["distribute-mute"] =
      "a relay stops sending 30% in but stays up and answers: its receivers are offered "
      "another source and complete";
  all["distribute-hang"] =
      "a relay hangs 30% in (sends, receives and answers nothing, its connections open): it "
      "is reported failed, its receivers are offered another source and complete, and it "
      "completes once it is back 20 s later";
  all["distribute-slow-link"] =
      "one receiver behind a slow link switches to a faster source that has the data";
}

std::optional<ScenarioResult> RunDistributionScenario(const std::string& name, int nodes,
                                                      uint64_t seed) {
  if (name.rfind("distribute", 0) != 0) return std::nullopt;
  ScenarioResult r;
  r.scenario = name;
  r.nodes = nodes;
  r.seed = seed;
  auto fail = [&](std::string why) {
    r.passed = false;
    r.failures.push_back(std::move(why));
  };
  DistributionSetup s;
  s.servers = nodes;
  Prng prng(seed);
  const double bound = s.size / s.upload;
  if (name == "distribute-kill") {
    s.kill = static_cast<NodeId>(2 + prng.Below(static_cast<uint64_t>(nodes - 2)));
    s.restart_killed = true;
    s.receivers_notice_first = seed % 2 == 1;  // both orders, as on real sockets
  } else if (name == "distribute-cancel") {
    s.kill = static_cast<NodeId>(2 + prng.Below(static_cast<uint64_t>(nodes - 2)));
    s.kill_at = 0.2;
    s.restart_killed = true;
    s.cancel_after = 0.4 * bound;
  } else if (name == "distribute-mute" || name == "distribute-hang") {
    s.servers = std::max(nodes, 3);
    s.hang = name == "distribute-hang";
    s.mute = static_cast<NodeId>(2 + prng.Below(static_cast<uint64_t>(s.servers - 2)));
  } else if (name == "distribute-slow-link") {
    s.servers = std::max(nodes, 3);
    s.link_limit[{2, 3}] = s.upload / 20;  // the chain 1 -> 2 -> 3 ... has one slow hop
  }
  DistributionOutcome o = RunDistribution(s);
  r.figures["seconds"] = o.seconds;
  r.figures["switches"] = o.switches;
  if (s.cancel_after) {
    if (o.state != "failed") fail("a cancelled job ended " + o.state);
    if (o.drops_pending) fail("some server was never told of the cancel");
    if (o.feeds_left) fail(std::to_string(o.feeds_left) + " feeds still running");
    for (int i = 2; i <= s.servers; ++i) {
      const NodeId id = static_cast<NodeId>(i);
      if (!o.dropped_at.count(id)) fail("server " + std::to_string(id) + " never dropped the job");
      if (o.holds[id] != 0) fail("server " + std::to_string(id) + " kept partial content");
    }
    double last_drop = 0;
    for (auto& [id, at] : o.dropped_at) last_drop = std::max(last_drop, at);
    r.figures["cancelled_s"] = *s.cancel_after;
    r.figures["last_drop_s"] = last_drop;
    // The relay that was down hears of it on the base's first attempt after its restart.
    if (o.dropped_at.count(*s.kill) && o.dropped_at[*s.kill] < *s.cancel_after + 20) {
      fail("the relay that was down dropped the job before its restart");
    }
    r.trace_digest = static_cast<uint64_t>(std::llround(o.seconds * 1000));
    return r;
  }
  if (o.state != "completed") {
    std::string which;
    for (auto& [id, st] : o.states) {
      if (st != distribution::ServerState::kCompleted) {
        which += " " + std::to_string(id) + ":" + distribution::ServerStateName(st) + "@" +
                 std::to_string(static_cast<int64_t>(o.received[id]));
      }
    }
    fail("job ended " + o.state + "; not completed:" + which);
  }
  double last = 0;
  for (auto& [id, at] : o.finished_at) last = std::max(last, at);
  r.figures["last_server_done_s"] = last;
  r.figures["ratio_to_bound"] = last / bound;
  for (auto& [id, bytes] : o.received) {
    // Resume from the offset reached: nothing is received twice (one chunk of slack for
    // the chunk in flight when a source died).
    if (bytes > s.size + s.chunk) {
      fail("server " + std::to_string(id) + " received " + std::to_string(bytes) + " bytes");
    }
  }
  if (s.kill) {
    double others = 0;
    for (auto& [id, at] : o.finished_at) {
      if (id != *s.kill) others = std::max(others, at);
    }
    r.figures["others_done_ratio"] = others / bound;
    if (nodes <= 16 && others > 1.25 * bound) {
      fail("the others took " + std::to_string(others / bound) + "x S/B, more than 1.25x");
    }
    if (!o.ever_failed.count(*s.kill)) fail("the killed server was never reported failed");
    if (!o.finished_at.count(*s.kill)) fail("the killed server was not repaired");
  }
  if (name == "distribute" && nodes <= 16 && last > 1.10 * bound) {
    fail("took " + std::to_string(last / bound) + "x S/B, more than 1.10x");
  }
  if (s.mute) {
    if (o.switches < 1) fail("no receiver of the mute relay switched");
    // Only the relay's own receivers are stuck; those behind them catch up. (In longer
    // chains D8 also switches receivers whose rate dips as the chain gets going again.)
    const double stuck = distribution::TrackerOptions{}.stuck.seconds();
    if (nodes <= 16 && o.switches > static_cast<int>(s.fanout)) {
      fail(std::to_string(o.switches) + " switches for one mute relay");
    }
    double others = 0;
    for (auto& [id, at] : o.finished_at) {
      if (id != *s.mute) others = std::max(others, at);
    }
    r.figures["others_done_ratio"] = others / bound;
    if (s.hang) {
      // Not answering gets it reported failed within two stall periods (queried after one),
      // and its receivers are fed by another source at once.
      if (!o.ever_failed.count(*s.mute)) fail("the hung relay was never reported failed");
      if (!o.finished_at.count(*s.mute)) fail("the hung relay did not complete once back");
      if (nodes <= 16 && others > bound + 3 * kStallSeconds) {
        fail("the others took " + std::to_string(others) + " s with a relay hung");
      }
    } else if (nodes <= 16 && last > stuck + 2 * bound) {
      // Stuck for one stuck period, then at most twice the bound for the rest.
      fail("took " + std::to_string(last) + " s with a relay gone mute");
    }
    for (auto& [id, from] : o.last_source) {
      if (from == *s.mute) fail("server " + std::to_string(id) + " still fed by the mute relay");
    }
  }
  if (name == "distribute-slow-link") {
    if (o.switches < 1) fail("the receiver behind the slow link never switched");
    if (o.last_source[3] == 2) fail("server 3 still fed over the slow link");
    if (o.finished_at[3] > 0.5 * bound * 20) fail("server 3 did not speed up");
  }
  r.trace_digest = static_cast<uint64_t>(std::llround(o.seconds * 1000));
  return r;
}

}  // namespace cohort::sim
