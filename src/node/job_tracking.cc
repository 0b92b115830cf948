#include "node/distributor_impl.h"

namespace cohort::node {

void Distributor::Impl::SendReport(Job& job, bool now_please) {
  if (!job.cancelled.empty() && !job.is_base) return;  // the base knows
  Instant now = node.Now();
  if (!now_please && now - job.last_report < kReportEvery) return;
  job.last_report = now;
  if (job.is_base) {
    if (job.tracker) {
      job.tracker->OnReport(ReportOf(job.manifest.job), now);
      NotifyIfChanged(job);
    }
    return;
  }
  distribution::ReportMsg msg{job.manifest.job, ReportOf(job.manifest.job)};
  if (job.report_conn && !job.report_conn->closed()) return job.report_conn->Send(msg);
  if (job.reporting) return;
  job.reporting = true;
  const std::string id = job.manifest.job;
  Dial(job.manifest.base, [this, id](std::shared_ptr<DataConn> conn) {
    Job* j = FindJob(id);
    if (!j) return;
    j->reporting = false;
    j->report_conn = conn;
    if (conn) conn->Send(distribution::ReportMsg{id, ReportOf(id)});
  });
}

void Distributor::Impl::OnReport(const distribution::ReportMsg& m) {
  Job* job = FindJob(m.job);
  if (!job || !job->tracker) return;
  job->tracker->OnReport(m.report, node.Now());
  NotifyIfChanged(*job);
}

// Wakes the long polls when the job's or a server's state changed; true if it did.
bool Distributor::Impl::NotifyIfChanged(Job& job) {
  std::string summary = distribution::JobStateName(job.tracker->State());
  for (const auto& [id, v] : job.tracker->servers()) {
    summary += " " + std::to_string(id) + distribution::ServerStateName(v.state);
  }
  if (summary == job.summary) return false;
  if (job.tracker->Final() && !job.ended_at) job.ended_at = node.Now();
  job.summary = std::move(summary);
  auto waiters = std::move(job.waiters);
  job.waiters.clear();
  for (auto& w : waiters) {
    if (auto fn = std::exchange(*w, nullptr)) fn();
  }
  return true;
}

void Distributor::Impl::WaitForChange(const std::string& id, Duration timeout,
                                      std::function<void()> done) {
  Job* job = FindJob(id);
  if (!job || !job->tracker || job->tracker->Final()) return done();
  // Polls that timed out leave empty entries; drop them so a quiet job does not collect them.
  std::erase_if(job->waiters, [](const auto& w) { return !*w; });
  auto deadline = std::make_shared<boost::asio::steady_timer>(io);
  auto once = std::make_shared<std::function<void()>>([deadline, done = std::move(done)] {
    deadline->cancel();
    done();
  });
  job->waiters.push_back(once);
  deadline->expires_after(std::chrono::nanoseconds(timeout.nanos()));
  deadline->async_wait([once](const boost::system::error_code& ec) {
    if (auto fn = std::exchange(*once, nullptr); !ec && fn) fn();
  });
}

void Distributor::Impl::Tick() {
  if (stopped) return;
  // Armed first: should anything below throw, the next tick still comes.
  timer.expires_after(std::chrono::nanoseconds(kTick.nanos()));
  timer.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) Tick();
  });
  Instant now = node.Now();
  double window = (now - sent_window_start).seconds();
  if (window >= 1.0) {
    upload_peak = std::max(upload_peak * 0.9, sent_window / window);
    sent_window = 0;
    sent_window_start = now;
  }
  for (auto& [id, job] : jobs) {
    double w = (now - job->window_start).seconds();
    if (w >= 0.5) {  // short enough that a transfer of a second shows its rate
      job->rate = job->window_bytes / w;
      job->window_bytes = 0;
      job->window_start = now;
      if (job->upstream) job->agent->SetSourceRate(job->rate);
    }
    if (!job->completed() || job->tracker) SendReport(*job, false);
    if (job->tracker) {
      CancelIfAbandoned(*job, now);
      TrackerTick(*job, now);
    }
  }
  ForgetIdle(now);
}

// A daemon runs job after job for months: a job is dropped from memory once it has been
// idle for forget_after_s. At the base that is a final job, whose document is kept as
// text; elsewhere any job without connections (finished, cancelled, or left unfed): if it
// is offered again, its state file and partial file take it up where it was.
void Distributor::Impl::ForgetIdle(Instant now) {
  const Duration after = Duration::Seconds(node.config().distribution_forget_after_s);
  for (auto it = jobs.begin(); it != jobs.end();) {
    Job& job = *it->second;
    const bool installing = std::any_of(job.files.begin(), job.files.end(),
                                        [](const FileState& f) { return f.installing; });
    const bool settled =
        !job.tracker || (job.tracker->Final() && job.saved_final && !job.tracker->drops_pending());
    const bool idle =
        settled && !job.upstream && job.downs.empty() && !job.copy_active && !installing;
    if (!idle) {
      job.idle_since.reset();
      ++it;
      continue;
    }
    if (!job.idle_since) job.idle_since = now;
    if (now - *job.idle_since < after) {
      ++it;
      continue;
    }
    if (job.tracker) {  // kept as text, read back from disk off the loop
      if (!job.forgetting) Forget(job);
      ++it;
      continue;
    }
    Release(job);
    it = jobs.erase(it);
  }
}

// D4: an upload whose client has sent nothing for upload_idle_s will not finish; its
// servers would otherwise wait for the rest forever.
void Distributor::Impl::CancelIfAbandoned(Job& job, Instant now) {
  const uint32_t idle_s = node.config().distribution_upload_idle_s;
  if (!job.upload || idle_s == 0 || job.tracker->Final() || !job.cancelled.empty() ||
      job.have >= job.stream_size() || now - job.last_upload < Duration::Seconds(idle_s)) {
    return;
  }
  (void)CancelJob(job, "upload abandoned: the client sent nothing for " + std::to_string(idle_s) +
                           " s (" + std::to_string(job.have) + " of " +
                           std::to_string(job.stream_size()) + " bytes)");
}

void Distributor::Impl::TrackerTick(Job& job, Instant now) {
  const std::string id = job.manifest.job;
  for (auto& action : job.tracker->Tick(now)) {
    if (auto* q = std::get_if<distribution::JobTracker::Query>(&action)) {
      NodeId server = q->server;
      if (server == self()) {
        job.tracker->OnReport(ReportOf(id), now);
        continue;
      }
      Request(server, distribution::QueryMsg{id}, [this, id, server](std::optional<Message> m) {
        Job* j = FindJob(id);
        if (!j || !j->tracker) return;
        auto* r = m ? std::get_if<distribution::ReportMsg>(&*m) : nullptr;
        if (r) {
          r->report.server = server;
          j->tracker->OnReport(r->report, node.Now());
        } else {
          j->tracker->OnSilent(server, "not answering", node.Now());
        }
        NotifyIfChanged(*j);
      });
    } else if (auto* feed = std::get_if<distribution::JobTracker::Feed>(&action)) {
      if (feed->source == self()) {
        FeedFromHere(id, feed->target, feed->switch_offer, feed->replaces);
        continue;
      }
      // A source that no longer holds the job (restarted, or it forgot the job after
      // forget_after_s) cannot feed it: the base, which holds it, does (not for a mere
      // switch offer).
      const NodeId target = feed->target;
      const bool repair = !feed->switch_offer;
      Request(feed->source, distribution::FeedMsg{id, target, feed->switch_offer, feed->replaces},
              [this, id, target, repair](std::optional<Message> m) {
                auto* r = m ? std::get_if<distribution::ResultMsg>(&*m) : nullptr;
                const bool fed_by_none = !r || distribution::FeedRefusalFromText(r->error) ==
                                                   distribution::FeedRefusal::kNoJob;
                if (repair && FindJob(id) && fed_by_none) {
                  FeedFromHere(id, target, false);
                }
              });
    } else if (auto* drop = std::get_if<distribution::JobTracker::Drop>(&action)) {
      NodeId server = drop->server;
      if (server == self()) {
        job.tracker->OnDropped(server);  // DropJob ran when the job was cancelled
        continue;
      }
      Request(server, distribution::CancelMsg{id, job.tracker->cancel_reason()},
              [this, id, server](std::optional<Message> m) {
                Job* j = FindJob(id);
                if (j && j->tracker && m && std::holds_alternative<distribution::ResultMsg>(*m)) {
                  j->tracker->OnDropped(server);
                }
              });
    }
  }
  // D7: what each server uploaded at best in its latest job orders the next jobs' lists.
  for (const auto& [source, peak] : job.tracker->peak_upload_rates()) upload_rates[source] = peak;
  // The document on disk follows state changes at once and progress once a second; a
  // final job is written once more and then left alone (each write syncs the disk).
  const bool changed = NotifyIfChanged(job);
  if (job.saved_final) return;
  if (changed || now - job.saved_at >= Duration::Seconds(1)) {
    SaveJobDocument(job);
    job.saved_at = now;
    job.saved_final = job.tracker->Final();
  }
}

// A final job leaves memory for its saved document (its final state is written, in order
// before this read on the disk pool): a job of many files makes a document too large to
// build on the loop.
void Distributor::Impl::Forget(Job& job) {
  job.forgetting = true;
  const std::string id = job.manifest.job;
  using Texts = std::optional<std::pair<std::string, std::string>>;
  OffLoop<Texts>(
      disk,
      [dir = JobsDir(), id]() -> Texts {
        try {
          auto doc = ReadSavedJob(dir, id);
          if (!doc) return std::nullopt;
          return FinishedTexts(std::move(*doc));
        } catch (const std::exception&) {  // nothing may escape a pool thread
          return std::nullopt;
        }
      },
      [this, id](Texts texts) {
        Job* j = FindJob(id);
        if (!j) return;
        // Unreadable (a failing disk): built from memory, on the loop.
        std::tie(finished_docs[id], finished_summaries[id]) =
            texts ? std::move(*texts)
                  : std::make_pair(DocumentText(Document(*j)), DocumentText(Document(*j, false)));
        Release(*j);
        jobs.erase(id);
      });
}

}  // namespace cohort::node
