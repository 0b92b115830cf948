#include "node/distributor_impl.h"

namespace cohort::node {

void Distributor::Impl::Run(const std::string& id,
                            std::vector<distribution::NodeAgent::Action> actions) {
  // StopFeed needs nothing here: OnOffer tells the old source (AckMsg::kSwitched) and closes
  // its connection when it accepts the new one.
  for (auto& a : actions) {
    if (auto* start = std::get_if<distribution::NodeAgent::StartFeed>(&a)) {
      StartFeed(id, start->target, start->list, start->replaces);
    } else if (auto* drop = std::get_if<distribution::NodeAgent::DropFeed>(&a)) {
      DropFeed(id, drop->target);
    }
  }
}

void Distributor::Impl::DropFeed(const std::string& id, NodeId target) {
  Job* job = FindJob(id);
  if (!job || !job->downs.count(target)) return;
  if (auto conn = job->downs[target].conn) conn->Abandon();
  job->downs.erase(target);
  Log(LogLevel::kWarn, "distribution", "stopped feeding a server the base found failed",
      {{"job", id}, {"server", std::to_string(target)}});
}

void Distributor::Impl::FeedEnded(const std::string& id, NodeId target, bool completed) {
  Job* job = FindJob(id);
  if (!job) return;
  job->downs.erase(target);
  std::vector<distribution::NodeAgent::Action> actions;
  job->agent->OnFeedEnded(target, completed, &actions);
  Run(id, actions);
}

void Distributor::Impl::StartFeed(const std::string& id, NodeId target, std::vector<NodeId> list,
                                  NodeId replaces) {
  Job* job = FindJob(id);
  if (!job) return;
  job->downs[target] = Downstream{};
  Dial(target, [this, id, target, list, replaces](std::shared_ptr<DataConn> conn) {
    Job* j = FindJob(id);
    if (!j) return;
    if (!conn) return FeedEnded(id, target, false);
    j->downs[target].conn = conn;
    std::weak_ptr<DataConn> weak = conn;
    conn->SetHandlers(
        [this, id, target](Message& m) {
          Job* jj = FindJob(id);
          if (jj) OnDownstream(*jj, target, m);
        },
        [this, id, target, weak] {
          Job* jj = FindJob(id);
          if (!jj) return;
          auto it = jj->downs.find(target);
          if (it == jj->downs.end() || it->second.conn != weak.lock()) return;
          FeedEnded(id, target, false);
        });
    conn->OnDrain([this, id, target] {
      Job* jj = FindJob(id);
      if (jj) Pump(*jj, target);
    });
    // The offer carries the manifest as it stands, as far as fits in one frame; the rest,
    // and commands added before the target accepts, follow in Commands messages (Pump), or
    // the target would never complete.
    const size_t fit = distribution::CommandsThatFit(j->manifest.commands, 0);
    j->downs[target].commands_sent = fit;
    Manifest offered = j->manifest;
    offered.commands.resize(fit);
    conn->Send(distribution::OfferMsg{std::move(offered), list,
                                      static_cast<uint64_t>(OfferedRate()), replaces});
  });
}

void Distributor::Impl::OnDownstream(Job& job, NodeId target, Message& m) {
  auto it = job.downs.find(target);
  if (it == job.downs.end()) return;
  Downstream& d = it->second;
  if (auto* refused = std::get_if<distribution::ResultMsg>(&m)) {
    Log(LogLevel::kWarn, "distribution", "a server refused the job",
        {{"job", job.manifest.job},
         {"server", std::to_string(target)},
         {"reason", refused->error}});
    return d.conn->Close();  // the close handler ends the feed
  }
  if (auto* accept = std::get_if<distribution::AcceptMsg>(&m)) {
    if (!accept->accepted) {
      d.conn->Abandon();
      job.downs.erase(it);
      std::vector<distribution::NodeAgent::Action> actions;
      job.agent->OnFeedEnded(target, true, &actions);  // it took the list
      return Run(job.manifest.job, actions);
    }
    d.accepted = true;
    d.sent = accept->offset;
    Pump(job, target);
  } else if (auto* ack = std::get_if<distribution::AckMsg>(&m)) {
    if (ack->ends_feed()) {
      d.conn->Abandon(/*after_send=*/true);
      FeedEnded(job.manifest.job, target, true);
    }
  }
}

void Distributor::Impl::PumpAll(Job& job) {
  // Pump may end a feed (a failed send closes its connection), which erases it from
  // job.downs: walk a copy of the targets (a segfault in the tree's iterator was seen).
  std::vector<NodeId> targets;
  for (const auto& [target, d] : job.downs) targets.push_back(target);
  for (NodeId target : targets) Pump(job, target);
}

void Distributor::Impl::Pump(Job& job, NodeId target) {
  auto it = job.downs.find(target);
  if (it == job.downs.end() || !it->second.accepted || !it->second.conn) return;
  Downstream& d = it->second;
  DataConn& conn = *d.conn;
  const auto& cmds = job.manifest.commands;
  while (d.commands_sent < cmds.size()) {
    const size_t n = distribution::CommandsThatFit(cmds, d.commands_sent);
    const auto first = cmds.begin() + static_cast<std::ptrdiff_t>(d.commands_sent);
    conn.Send(distribution::CommandsMsg{{first, first + static_cast<std::ptrdiff_t>(n)}});
    d.commands_sent += n;
  }
  while (d.digest_next < cmds.size()) {
    const Command& c = cmds[d.digest_next];
    if (c.kind == CommandKind::kFile) {
      if (!job.files[d.digest_next].digest) break;
      conn.Send(distribution::DigestMsg{c.id, *job.files[d.digest_next].digest});
    }
    ++d.digest_next;
  }
  ReadForFeed(job, target, d);
}

// The bytes a feed sends next are read on the `reads` pool, a window at a time: opening a
// file waits for its folder while the write and disk pools create and rename files there
// (opens of 150-270 ms on the loop were seen in a job of 20,000 files).
void Distributor::Impl::ReadForFeed(Job& job, NodeId target, Downstream& d) {
  if (d.read_pending) return;  // its completion pumps again
  std::vector<FeedPiece> pieces;
  const uint64_t room = kSendWindow - std::min<uint64_t>(kSendWindow, d.conn->queued());
  uint64_t next = d.sent;
  bool throttled = false;
  while (next - d.sent < room && next < job.have) {
    const size_t idx = CommandAt(job, next);
    if (idx >= job.files.size()) break;
    const FileState& f = job.files[idx];
    const uint64_t n = std::min<uint64_t>({kChunk, job.have - next, f.end - next});
    if (!TakeTokens(n)) {
      throttled = true;
      break;
    }
    // A file still being written is read up to what is written (job.have); one installed
    // meanwhile is found under its final name.
    pieces.push_back({idx,
                      {f.installed ? f.final_path : f.temp_path,
                       f.installed ? f.temp_path : f.final_path, f.inode, next - f.start + n},
                      next - f.start,
                      n,
                      next});
    next += n;
  }
  if (pieces.empty()) {
    if (throttled) SchedulePump();
    return;
  }
  d.read_pending = true;
  OffLoop<FeedRead>(
      reads,
      [reader = d.reader, pieces = std::move(pieces)] {
        FeedRead read;
        for (const FeedPiece& p : pieces) {
          Bytes payload;
          uint8_t* data = distribution::EncodeDataInPlace(p.offset, p.n, &payload);
          const int fd = reader->Open(p.idx, p.file);
          if (fd < 0 ||
              ::pread(fd, data, p.n, static_cast<off_t>(p.at)) != static_cast<ssize_t>(p.n)) {
            read.whole = false;
            break;
          }
          read.payloads.emplace_back(std::move(payload), p.n);
        }
        return read;
      },
      [this, id = job.manifest.job, target, conn = d.conn, first = d.sent,
       throttled](FeedRead read) {
        Job* j = FindJob(id);
        if (!j) return;
        auto it = j->downs.find(target);
        if (it == j->downs.end() || it->second.conn != conn) return;  // the feed ended
        Downstream& down = it->second;
        down.read_pending = false;
        if (down.sent != first) return;
        for (const auto& [payload, n] : read.payloads) {
          conn->SendEncoded(payload);
          down.sent += n;
          sent += n;
          sent_window += n;
        }
        if (!read.whole) return conn->Close();
        if (throttled) return SchedulePump();
        Pump(*j, target);
      });
}

bool Distributor::Impl::TakeTokens(uint64_t n) {
  double limit = UploadLimit();
  if (limit <= 0) return true;
  Instant now = node.Now();
  tokens = std::min(limit * 0.1, tokens + (now - tokens_at).seconds() * limit);
  tokens_at = now;
  if (tokens < static_cast<double>(n)) return false;
  tokens -= static_cast<double>(n);
  return true;
}

void Distributor::Impl::SchedulePump() {
  if (pump_scheduled) return;
  pump_scheduled = true;
  auto t = std::make_shared<boost::asio::steady_timer>(io, std::chrono::milliseconds(5));
  t->async_wait([this, t](const boost::system::error_code& ec) {
    pump_scheduled = false;
    if (ec || stopped) return;
    for (auto& [id, job] : jobs) PumpAll(*job);
  });
}

distribution::FeedRefusal Distributor::Impl::FeedFromHere(const std::string& id, NodeId target,
                                                          bool switch_offer, NodeId replaces) {
  using distribution::FeedRefusal;
  Job* job = FindJob(id);
  if (!job) return FeedRefusal::kNoJob;
  if (!job->cancelled.empty()) return FeedRefusal::kCancelled;
  std::vector<distribution::NodeAgent::Action> actions;
  if (!job->agent->AddFeed(target, {}, &actions, switch_offer, replaces)) {
    return FeedRefusal::kBusy;
  }
  Run(id, actions);
  return FeedRefusal::kNone;
}

}  // namespace cohort::node
