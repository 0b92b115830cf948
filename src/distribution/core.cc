#include "distribution/core.h"

#include <algorithm>

namespace cohort::distribution {

std::optional<CommandKind> CommandKindFromName(const std::string& name) {
  for (CommandKind k : {CommandKind::kFile, CommandKind::kMkdir, CommandKind::kEnd}) {
    if (name == CommandKindName(k)) return k;
  }
  return std::nullopt;
}

const char* CommandKindName(CommandKind k) {
  switch (k) {
    case CommandKind::kFile:
      return "file";
    case CommandKind::kMkdir:
      return "mkdir";
    case CommandKind::kEnd:
      return "end";
  }
  return "?";
}

const char* CommandStateName(CommandState s) {
  switch (s) {
    case CommandState::kNew:
      return "new";
    case CommandState::kInProgress:
      return "in_progress";
    case CommandState::kCompleted:
      return "completed";
    case CommandState::kFailed:
      return "failed";
  }
  return "?";
}

const char* ServerStateName(ServerState s) {
  switch (s) {
    case ServerState::kNew:
      return "new";
    case ServerState::kReceiving:
      return "receiving";
    case ServerState::kCompleted:
      return "completed";
    case ServerState::kFailed:
      return "failed";
  }
  return "?";
}

std::optional<ServerState> ServerStateFromName(const std::string& name) {
  for (ServerState s : {ServerState::kNew, ServerState::kReceiving, ServerState::kCompleted,
                        ServerState::kFailed}) {
    if (name == ServerStateName(s)) return s;
  }
  return std::nullopt;
}

std::optional<JobState> JobStateFromName(const std::string& name) {
  for (JobState s : {JobState::kRunning, JobState::kCompleted, JobState::kFailed}) {
    if (name == JobStateName(s)) return s;
  }
  return std::nullopt;
}

const char* JobStateName(JobState s) {
  switch (s) {
    case JobState::kRunning:
      return "running";
    case JobState::kCompleted:
      return "completed";
    case JobState::kFailed:
      return "failed";
  }
  return "?";
}

uint64_t Manifest::StreamSize() const { return FileOffset(commands.size()); }

uint64_t Manifest::FileOffset(size_t index) const {
  uint64_t offset = 0;
  for (size_t i = 0; i < index && i < commands.size(); ++i) {
    if (commands[i].kind == CommandKind::kFile) offset += commands[i].size;
  }
  return offset;
}

bool Manifest::Append(const std::vector<Command>& more) {
  uint32_t next = commands.empty() ? 1 : commands.back().id + 1;
  if (ended() && !more.empty()) return false;
  for (size_t i = 0; i < more.size(); ++i) {
    if (more[i].id != next + i) return false;
    if (more[i].kind == CommandKind::kEnd && i + 1 != more.size()) return false;
  }
  commands.insert(commands.end(), more.begin(), more.end());
  return true;
}

std::vector<Share> SplitList(const std::vector<NodeId>& ordered, size_t fanout) {
  std::vector<Share> shares;
  size_t targets = std::min(std::max<size_t>(fanout, 1), ordered.size());
  for (size_t i = 0; i < targets; ++i) shares.push_back(Share{ordered[i], {}});
  size_t rest = ordered.size() - targets;
  size_t at = targets;
  for (size_t i = 0; i < targets; ++i) {
    size_t n = rest / targets + (i < rest % targets ? 1 : 0);
    shares[i].list.assign(ordered.begin() + static_cast<std::ptrdiff_t>(at),
                          ordered.begin() + static_cast<std::ptrdiff_t>(at + n));
    at += n;
  }
  return shares;
}

std::vector<NodeId> OrderByRate(std::vector<NodeId> servers,
                                const std::map<NodeId, double>& upload_rates) {
  double fastest = 0;
  for (NodeId n : servers) {
    auto it = upload_rates.find(n);
    if (it != upload_rates.end()) fastest = std::max(fastest, it->second);
  }
  auto rate = [&](NodeId n) {
    auto it = upload_rates.find(n);
    return it == upload_rates.end() || it->second <= 0 ? fastest : it->second;
  };
  std::stable_sort(servers.begin(), servers.end(),
                   [&](NodeId a, NodeId b) { return rate(a) > rate(b); });
  return servers;
}

// ---- NodeAgent ----

bool NodeAgent::OnOffer(const Offer& offer, const std::map<NodeId, double>& upload_rates,
                        std::vector<Action>* actions, bool holds_everything) {
  bool accept = false;
  if (holds_everything) {
    // nothing to receive: the feed is declined
  } else if (source_ == kNoNode || offer.source == source_) {
    accept = true;
  } else if (offer.replaces != kNoNode && offer.replaces == source_) {
    actions->push_back(StopFeed{source_});  // dead, whether or not its end was read yet
    accept = true;
  } else if (offer.rate > source_rate_ * options_.switch_factor) {
    actions->push_back(StopFeed{source_});  // D8: the old source moves on
    accept = true;
  }
  if (accept) {
    source_ = offer.source;
    source_rate_ = offer.rate;
  }
  // The index list is taken over even when the feed is declined: the offering source has
  // handed those servers on and will not approach them itself.
  std::vector<NodeId> fresh;
  for (NodeId n : offer.list) {
    if (n != self_ && !approached_.count(n)) fresh.push_back(n);
  }
  if (!fresh.empty()) {
    size_t free_slots = options_.fanout > feeds_.size() ? options_.fanout - feeds_.size() : 1;
    for (auto& share : SplitList(OrderByRate(fresh, upload_rates), free_slots)) {
      AddFeed(share.target, std::move(share.list), actions);
    }
  }
  return accept;
}

void NodeAgent::OnSourceLost(NodeId source) {
  if (source != source_) return;
  source_ = kNoNode;
  source_rate_ = 0;
}

bool NodeAgent::AddFeed(NodeId target, std::vector<NodeId> list, std::vector<Action>* actions,
                        bool only_if_free, NodeId replaces) {
  if (target == self_) return false;
  if (only_if_free && replaces != kNoNode && feeds_.erase(replaces)) {
    actions->push_back(DropFeed{replaces});  // hung: its receivers were switched away
  }
  if (only_if_free && (feeds_.size() >= options_.fanout || feeds_.count(target))) return false;
  approached_.insert(target);
  for (NodeId n : list) approached_.insert(n);
  auto [it, added] = feeds_.try_emplace(target, list);
  if (!added) {  // already feeding it: the new servers join its share
    it->second.insert(it->second.end(), list.begin(), list.end());
    return true;
  }
  actions->push_back(StartFeed{target, std::move(list), replaces});
  return true;
}

void NodeAgent::OnFeedEnded(NodeId target, bool completed, std::vector<Action>* actions) {
  auto it = feeds_.find(target);
  if (it == feeds_.end()) return;
  std::vector<NodeId> share = std::move(it->second);
  feeds_.erase(it);
  if (completed || share.empty()) return;
  // The target died or refused with its share unhandled: the next server in it takes the
  // target's place, so the servers behind it are still reached (and a chain heals).
  NodeId next = share.front();
  share.erase(share.begin());
  AddFeed(next, std::move(share), actions, false, target);
}

// ---- JobTracker ----

namespace {
// A server this far ahead of another is worth switching to: more than the chunk a relay
// holds back until it is whole, and the bytes in flight on a connection.
constexpr uint64_t kAhead = 1 << 20;
}  // namespace

JobTracker::JobTracker(Manifest manifest, std::vector<NodeId> servers, TrackerOptions options,
                       Instant now)
    : manifest_(std::move(manifest)), options_(options) {
  for (NodeId n : servers) {
    ServerView& v = servers_[n];
    v.id = n;
    v.last_heard = now;
    v.next_action = now + options_.stall;
    v.progressed_at = now;
  }
}

void JobTracker::Append(const std::vector<Command>& more) { manifest_.Append(more); }

void JobTracker::Cancel(const std::string& reason, Instant now) {
  if (cancelled() || reason.empty()) return;
  cancel_reason_ = reason;
  for (auto& [id, v] : servers_) {
    v.drop_pending = true;
    v.next_action = now;
    v.query_pending = false;
    v.unfed = false;
    if (v.state == ServerState::kCompleted) continue;
    v.state = ServerState::kFailed;
    v.error = reason;
    v.source = kNoNode;
    v.rate = 0;
  }
}

bool JobTracker::drops_pending() const {
  for (const auto& [id, v] : servers_) {
    if (v.drop_pending && v.drops_sent < options_.max_repairs) return true;
  }
  return false;
}

void JobTracker::OnDropped(NodeId server) {
  auto it = servers_.find(server);
  if (it != servers_.end()) it->second.drop_pending = false;
}

std::vector<JobTracker::Action> JobTracker::DropsDue(Instant now) {
  std::vector<Action> actions;
  for (auto& [id, v] : servers_) {
    if (!v.drop_pending || now < v.next_action || v.drops_sent >= options_.max_repairs) continue;
    actions.push_back(Drop{id});
    ++v.drops_sent;
    v.next_action = now + options_.wait;
  }
  return actions;
}

void JobTracker::OnReport(const ServerReport& report, Instant now) {
  auto it = servers_.find(report.server);
  if (it == servers_.end()) return;
  ServerView& v = it->second;
  v.last_heard = now;
  v.query_pending = false;
  if (v.state == ServerState::kCompleted) return;
  if (cancelled() && !(report.has_job && report.completed)) return;  // only a completion counts
  const bool was_unfed = v.unfed;
  v.next_action = now + options_.stall;
  if (!report.has_job) {
    v.state = v.state == ServerState::kFailed ? ServerState::kFailed : ServerState::kNew;
    v.next_action = now;  // repair at once: it answers but was never fed (or restarted)
    v.source = kNoNode;
    v.error.clear();
    v.unfed = true;
    return;
  }
  if (report.offset != v.offset || report.commands_done != v.commands_done ||
      report.source != v.source) {
    v.progressed_at = now;
  }
  v.offset = report.offset;
  v.source = report.source;
  if (report.source != kNoNode) v.fed_by = report.source;
  v.rate = report.rate;
  v.peak_rate = std::max(v.peak_rate, report.rate);
  v.commands_done = report.commands_done;
  v.error = report.error;
  if (report.completed) {
    v.state = ServerState::kCompleted;
    v.completed_at = now;
    v.error.clear();
    return;
  }
  v.state = report.error.empty() ? ServerState::kReceiving : ServerState::kFailed;
  // Without a source it waits for its upstream to heal the chain; if that does not happen
  // within a stall period, Tick repairs it. A failed command is repaired at once.
  v.unfed = report.source == kNoNode || !report.error.empty();
  if (!report.error.empty()) {
    v.next_action = now;
  } else if (v.unfed && was_unfed) {
    v.next_action = v.unfed_since + options_.stall;  // reports do not postpone the repair
  }
  if (v.unfed && !was_unfed) v.unfed_since = now;
}

void JobTracker::OnSilent(NodeId server, const std::string& why, Instant now) {
  auto it = servers_.find(server);
  if (cancelled() || it == servers_.end() || it->second.state == ServerState::kCompleted) return;
  ServerView& v = it->second;
  v.state = ServerState::kFailed;
  v.error = why;
  v.source = kNoNode;
  v.rate = 0;
  v.query_pending = false;
  v.unfed = false;
  ++v.repairs;
  v.next_action = now + options_.wait;
}

std::vector<JobTracker::Action> JobTracker::Tick(Instant now) {
  for (const auto& [source, rate] : UploadRates()) {
    peak_upload_[source] = std::max(peak_upload_[source], rate);
  }
  if (cancelled()) return DropsDue(now);
  std::vector<Action> actions;
  for (auto& [id, v] : servers_) {
    if (v.state == ServerState::kCompleted || now < v.next_action) continue;
    if (v.state == ServerState::kFailed && v.repairs >= options_.max_repairs) continue;
    if (v.query_pending) {
      OnSilent(id, "no answer to the status query", now);
      continue;
    }
    if (v.unfed) {
      // D12 repair: it answered but is not being fed (restarted, source gone, or a failed
      // command that it reset): feed it from its offset, then reactivate it.
      actions.push_back(Feed{PickSource(id), id});
      if (v.state == ServerState::kFailed) ++v.repairs;
      v.unfed = false;  // the next due step queries it, and feeds it again if still unfed
      v.next_action = now + options_.stall;
      continue;
    }
    actions.push_back(Query{id});
    v.query_pending = true;
    v.next_action = now + options_.stall;
  }
  OfferSwitches(now, &actions);
  return actions;
}

void JobTracker::OfferSwitches(Instant now, std::vector<Action>* actions) {
  double best = 0;
  for (const auto& [id, v] : servers_) best = std::max(best, v.peak_rate);
  for (auto& [id, v] : servers_) {
    if (v.state != ServerState::kReceiving || v.source == kNoNode) continue;
    // Held for a while: a chain that just got moving again is ahead of a receiver whose
    // report of moving has not come in yet.
    if (!SourceHoldsMore(v)) {
      v.behind_source_since.reset();
    } else if (!v.behind_source_since) {
      v.behind_source_since = now;
    }
    // D8: fed, but slowly.
    const bool slow = v.rate > 0 && v.rate < options_.switch_ratio * best &&
                      now - v.switch_offered >= options_.stall;
    // Fed nothing: its source holds more than it but sends none, or its source is found
    // failed (hung: it answers nothing). The receiver measures a zero rate from it, so it
    // takes any source offered.
    const Duration still = now - v.progressed_at;
    const bool mute_source = still >= options_.stuck && now - v.switch_offered >= options_.stuck &&
                             v.behind_source_since &&
                             now - *v.behind_source_since >= options_.stall;
    const NodeId instead = still >= options_.stall && now - v.switch_offered >= options_.stall
                               ? SourceOfFailedSource(v)
                               : kNoNode;
    const bool stuck = mute_source || instead != kNoNode;
    if (!slow && !stuck) continue;
    NodeId source = instead != kNoNode ? instead : PickSource(id);
    if (source == v.source && stuck) source = manifest_.base;  // it holds every byte
    if (source == v.source) continue;
    actions->push_back(Feed{source, id, true, stuck ? v.source : kNoNode});
    v.switch_offered = now;
  }
}

bool JobTracker::SourceHoldsMore(const ServerView& v) const {
  // Only the first receiver behind a source that holds data and sends none: the servers it
  // feeds hold no more than it (bar the chunk a relay forwards once it is whole), and
  // catch up once it moves again. A source outside the list (a staging base) is not
  // tracked.
  auto it = servers_.find(v.source);
  if (it == servers_.end()) return false;
  const ServerView& u = it->second;
  return u.state == ServerState::kCompleted || u.offset >= v.offset + kAhead ||
         u.commands_done > v.commands_done;
}

NodeId JobTracker::SourceOfFailedSource(const ServerView& v) const {
  // The failed server's own source holds more than it, and its upload to it moves
  // nothing; a source outside the list (a staging base) is not tracked, so the base.
  auto it = servers_.find(v.source);
  if (it == servers_.end() || it->second.state != ServerState::kFailed) return kNoNode;
  const NodeId above = it->second.fed_by;
  auto a = servers_.find(above);
  if (a == servers_.end() || above == v.id) return manifest_.base;
  const bool live = a->second.state == ServerState::kCompleted ||
                    (a->second.state == ServerState::kReceiving && a->second.offset > v.offset);
  return live ? above : PickSource(v.id);
}

std::map<NodeId, double> JobTracker::UploadRates() const {
  std::map<NodeId, double> rates;
  for (const auto& [id, v] : servers_) {
    if (v.state == ServerState::kReceiving && v.source != kNoNode && v.source != id && v.rate > 0) {
      rates[v.source] += v.rate;
    }
  }
  return rates;
}

NodeId JobTracker::PickSource(NodeId target) const {
  // A completed server if there is one (spread by the target's id), else the receiving
  // server furthest ahead of the target (pipelined: it forwards what it gets), else the base.
  const uint64_t need = servers_.count(target) ? servers_.at(target).offset + kAhead : 0;
  std::vector<NodeId> done;
  NodeId ahead = kNoNode;
  uint64_t best = need;
  for (const auto& [id, v] : servers_) {
    if (id == target) continue;
    if (v.state == ServerState::kCompleted) {
      done.push_back(id);
    } else if (v.state == ServerState::kReceiving && v.source != kNoNode && v.offset >= best) {
      best = v.offset;
      ahead = id;
    }
  }
  if (!done.empty()) return done[target % done.size()];
  return ahead != kNoNode ? ahead : manifest_.base;
}

JobState JobTracker::State() const {
  bool all_done = true;
  for (const auto& [id, v] : servers_) {
    if (v.state == ServerState::kCompleted) continue;
    all_done = false;
    if (v.state != ServerState::kFailed) return JobState::kRunning;
  }
  if (!all_done) return JobState::kFailed;
  return manifest_.ended() ? JobState::kCompleted : JobState::kRunning;
}

bool JobTracker::Final() const {
  if (cancelled()) return true;
  const JobState s = State();
  if (s == JobState::kCompleted) return true;
  if (s == JobState::kRunning) return false;
  for (const auto& [id, v] : servers_) {
    if (v.state == ServerState::kFailed && v.repairs < options_.max_repairs) return false;
  }
  return true;
}

CommandState JobTracker::StateOf(size_t index) const {
  return CommandStateOf(index, Progress(), State());
}

std::vector<ServerProgress> JobTracker::Progress() const {
  std::vector<ServerProgress> progress;
  for (const auto& [id, v] : servers_) progress.push_back({v.commands_done, v.state});
  return progress;
}

CommandState CommandStateOf(size_t index, const std::vector<ServerProgress>& servers,
                            JobState job) {
  bool all = true, any = false, failed = false;
  for (const ServerProgress& v : servers) {
    if (v.commands_done > index) {
      any = true;
    } else {
      all = false;
      if (v.state == ServerState::kFailed) failed = true;
      if (v.state == ServerState::kReceiving) any = true;
    }
  }
  if (all) return CommandState::kCompleted;
  if (failed && job == JobState::kFailed) return CommandState::kFailed;
  return any ? CommandState::kInProgress : CommandState::kNew;
}

}  // namespace cohort::distribution
