#include "node/distributor_impl.h"

namespace cohort::node {

Job* Distributor::Impl::FindJob(const std::string& id) {
  auto it = jobs.find(id);
  return it == jobs.end() ? nullptr : it->second.get();
}

distribution::ServerReport Distributor::Impl::ReportOf(const std::string& id) {
  distribution::ServerReport r;
  r.server = self();
  Job* job = FindJob(id);
  if (!job) {
    r.has_job = false;
    return r;
  }
  r.offset = job->have;
  r.source = job->is_base ? self() : job->upstream ? job->upstream->peer() : kNoNode;
  r.rate = job->rate;
  r.commands_done = static_cast<uint32_t>(job->done);
  r.completed = job->completed();
  r.error = job->error;
  return r;
}

// The job is cancelled: every connection of it closed, the partial files deleted; what
// is installed stays (verified, and maybe in use). Its state stays so that a late offer
// is declined and a report shows why.
void Distributor::Impl::DropJob(Job& job, const std::string& reason) {
  if (!job.cancelled.empty()) return;
  job.cancelled = reason.empty() ? "cancelled" : reason;
  if (!job.completed()) job.error = job.cancelled;
  Log(LogLevel::kInfo, "distribution", "job cancelled here",
      {{"job", job.manifest.job}, {"reason", job.cancelled}});
  std::vector<std::string> partial;
  for (size_t i = job.done; i < job.files.size(); ++i) {
    const FileState& f = job.files[i];
    // An install in flight completes; an uncreated file has nothing to delete.
    if (!f.installing && !f.installed && (f.created || f.inode != 0)) {
      partial.push_back(f.temp_path);
    }
  }
  // On the write pool: after the writes queued there, which may create the files.
  boost::asio::post(writes, [partial = std::move(partial)] {
    for (const auto& path : partial) ::unlink(path.c_str());
  });
  if (!job.is_base) RemoveOnDisk(ManifestPath(job.manifest.job));
  AnswerWriteWaiters(job);
  Release(job);
}

// A cancel for a job this server does not hold in memory (it was down, and restarted):
// the job is taken up from its files on disk as an offer would, so that DropJob deletes
// its partial files, and later offers of it are declined.
void Distributor::Impl::DropFromDisk(const std::string& id, const std::string& reason) {
  auto manifest = LoadManifestFile(ManifestPath(id), id);
  if (!manifest) return;  // never received here, completed, or dropped already
  auto created = CreateJob(*manifest, false, false, /*resume=*/false);  // no rehash to delete
  if (!created) return;
  Job& job = **created;
  // Any of its temporary files may be there (the one being received, those verified and
  // installing when the daemon stopped); each is this job's unless another job in memory
  // is writing that same file.
  for (FileState& f : job.files) {
    struct stat st {};
    if (f.temp_path.empty() || ::lstat(f.temp_path.c_str(), &st) != 0) continue;
    auto writing = [&](const auto& other) {
      return std::any_of(
          other.second->files.begin(), other.second->files.end(),
          [&](const FileState& o) { return o.inode == st.st_ino && o.temp_path == f.temp_path; });
    };
    if (std::none_of(jobs.begin(), jobs.end(), writing)) f.inode = st.st_ino;
  }
  DropJob(job, reason);
}

// Every connection and descriptor of the job closed (it is cancelled, forgotten, or the
// daemon stops).
void Distributor::Impl::Release(Job& job) {
  if (job.upstream) job.upstream->Abandon();
  job.upstream = nullptr;
  for (auto& [target, d] : job.downs) {
    if (d.conn) d.conn->Abandon();
  }
  job.downs.clear();
  if (job.report_conn) job.report_conn->Close();
  if (job.source_fd >= 0) ::close(std::exchange(job.source_fd, -1));
}

// At the base: cancels the job everywhere (the tracker tells the servers).
Status Distributor::Impl::CancelJob(Job& job, const std::string& reason) {
  if (job.tracker->Final()) {
    return Error(Errc::kInvalidArgument, "job " + job.manifest.job + " has ended " +
                                             distribution::JobStateName(job.tracker->State()));
  }
  Log(LogLevel::kWarn, "distribution", "job cancelled",
      {{"job", job.manifest.job}, {"reason", reason}});
  job.tracker->Cancel(reason, node.Now());
  DropJob(job, reason);
  NotifyIfChanged(job);
  TrackerTick(job, node.Now());  // the servers are told now, and the document written
  return OkStatus();
}

void Distributor::Impl::CloseSource(Job& job) {
  if (!job.upstream) return;
  auto up = std::move(job.upstream);
  job.agent->OnSourceLost(up->peer());
  up->CloseAfterSend();
}

void Distributor::Impl::OnOffer(const std::shared_ptr<DataConn>& conn,
                                distribution::OfferMsg& offer) {
  Job* job = FindJob(offer.manifest.job);
  if (job && !job->cancelled.empty()) {
    conn->Send(distribution::AcceptMsg{false, job->have, false});
    return conn->CloseAfterSend();
  }
  if (!job) {
    auto created = CreateJob(offer.manifest, false, false);
    if (!created) {
      Log(LogLevel::kWarn, "distribution", "refused an offer",
          {{"job", offer.manifest.job},
           {"from", std::to_string(conn->peer())},
           {"reason", created.error().message()}});
      return conn->Refuse(created.error().message());
    }
    job = *created;
    SaveManifest(*job);
  }
  if (job->resuming) {  // answered with where it stands once that is known
    job->after_resume.push_back([this, conn, offer]() mutable { OnOffer(conn, offer); });
    return;
  }
  if (offer.manifest.commands.size() > job->manifest.commands.size()) {
    std::vector<Command> more(offer.manifest.commands.begin() +
                                  static_cast<std::ptrdiff_t>(job->manifest.commands.size()),
                              offer.manifest.commands.end());
    AppendCommands(*job, more);
  }
  const std::string id = job->manifest.job;
  std::vector<distribution::NodeAgent::Action> actions;
  bool accepted = job->agent->OnOffer(
      {conn->peer(), offer.list, static_cast<double>(offer.rate), offer.replaces}, {}, &actions,
      job->completed() || job->is_base);
  if (!accepted) {
    conn->Send(distribution::AcceptMsg{false, job->have, job->completed()});
    conn->CloseAfterSend();
  } else {
    if (job->upstream && job->upstream != conn) {
      job->upstream->Send(distribution::AckMsg{distribution::AckMsg::kSwitched});
      job->upstream->Abandon(/*after_send=*/true);
    }
    job->error.clear();
    job->upstream = conn;
    job->acked_upstream = job->have;
    std::weak_ptr<DataConn> weak = conn;
    conn->SetHandlers(
        [this, id, weak](Message& m) {
          Job* j = FindJob(id);
          if (j) OnUpstream(*j, m);
        },
        [this, id, weak] {
          Job* j = FindJob(id);
          auto c = weak.lock();
          if (!j || !c || j->upstream != c) return;
          j->upstream = nullptr;
          j->agent->OnSourceLost(c->peer());
          if (!j->completed()) SendReport(*j, true);  // "my source is gone"
        });
    conn->Send(distribution::AcceptMsg{true, job->have, false});
    SendReport(*job, true);  // D9: job receipt
  }
  Run(id, actions);
}

void Distributor::Impl::OnUpstream(Job& job, Message& m) {
  if (auto* data = std::get_if<distribution::DataMsg>(&m)) {
    received += data->bytes.size();
    job.window_bytes += data->bytes.size();
    Append(job, data->offset, data->bytes.data(), data->bytes.size());
    // Acks follow the writes (Written); the source waits while the disk is behind.
    if (job.upstream && job.writing > kWriteBehind) job.upstream->PauseReading();
  } else if (auto* digest = std::get_if<distribution::DigestMsg>(&m)) {
    // Ids ascend (CheckCommands): a binary search, not a walk per file of the job.
    const auto& commands = job.manifest.commands;
    auto it = std::lower_bound(commands.begin(), commands.end(), digest->command,
                               [](const Command& c, uint32_t id) { return c.id < id; });
    if (it != commands.end() && it->id == digest->command) {
      job.files[static_cast<size_t>(it - commands.begin())].digest = digest->sha256;
    }
    Apply(job);
    PumpAll(job);
  } else if (auto* more = std::get_if<distribution::CommandsMsg>(&m)) {
    std::vector<Command> fresh;
    for (const auto& c : more->commands) {
      if (c.id > (job.manifest.commands.empty() ? 0 : job.manifest.commands.back().id)) {
        fresh.push_back(c);
      }
    }
    AppendCommands(job, fresh);
  }
}

void Distributor::Impl::AppendCommands(Job& job, const std::vector<Command>& more) {
  if (auto s = distribution::CheckCommands(job.manifest.commands, more); !s) {
    return Fail(job, "refused commands: " + s.error().message());
  }
  if (!job.manifest.Append(more)) return;
  if (job.tracker) job.tracker->Append(more);
  SaveManifest(job);
  if (auto s = SyncFiles(root, job); !s) return Fail(job, s.error().message());
  Apply(job);
  PumpAll(job);
}

}  // namespace cohort::node
