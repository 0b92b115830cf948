#include "node/distributor_impl.h"

namespace cohort::node {
namespace {
constexpr const char* kCannotCollect = "cannot collect the job's files";
}  // namespace

// A new job is prepared whole on the `files` pool: the walk of the client's folders, the
// numbering, every file's paths, the tracker and the first line of its log (a job of
// 100,000 files held the loop 4.7 s, then 445 ms, doing this there). The loop only checks
// the request and the servers before, and starts the job after.
void Distributor::Impl::Submit(JobRequest request, std::function<void(Result<std::string>)> done) {
  if (request.dest.empty()) return done(Error(Errc::kInvalidArgument, "--dest must not be empty"));
  if (auto s = distribution::CheckWritablePath(request.dest); !s) {
    return done(Error(s.error().code(), "--dest " + s.error().message()));
  }
  if (request.content.paths.empty() && request.content.entries.empty() && !request.open) {
    return done(Error(Errc::kInvalidArgument, "no paths to distribute"));
  }
  auto servers = ServersOf(request);
  if (!servers) return done(servers.error());
  auto shared = std::make_shared<JobRequest>(std::move(request));
  auto prepare = [this, shared, servers = *servers, now = node.Now(),
                  id = std::to_string(self()) + "-" + std::to_string(next_job++)] {
    return PrepareJob(*shared, id, servers, now);
  };
  OffLoop<Result<Prepared>>(
      files, prepare,
      [this, servers = *servers, done = std::move(done)](Result<Prepared> prepared) {
        if (!prepared) return done(prepared.error());
        done(StartJob(std::move(*prepared), servers));
      },
      kCannotCollect);
}

// The job's servers: those asked for, or every member that has not left (one that is down
// now is a server that failed, repaired if it comes back while the job may still repair).
Result<std::vector<NodeId>> Distributor::Impl::ServersOf(const JobRequest& request) const {
  std::vector<NodeId> servers = request.servers;
  if (servers.empty()) {
    for (const auto& [id, member] : node.membership().map().members) {
      if (member.state != membership::MemberState::kLeft) servers.push_back(id);
    }
    if (servers.empty()) servers.push_back(self());
  }
  if (auto s = ServersKnown(servers); !s) return s.error();
  return servers;
}

Status Distributor::Impl::ServersKnown(const std::vector<NodeId>& servers) const {
  for (NodeId n : servers) {
    if (n != self() && !EndpointOf(n)) {
      return Error(Errc::kNotFound, "server " + std::to_string(n) + " is not in the address table");
    }
  }
  return OkStatus();
}

// Files pool: touches nothing of the distributor's but what does not change (the root, the
// configuration).
Result<Distributor::Impl::Prepared> Distributor::Impl::PrepareJob(
    const JobRequest& request, const std::string& id, const std::vector<NodeId>& servers,
    Instant now) const {
  std::vector<std::string> sources;
  auto commands = CollectContent(request.content, &sources);
  if (!commands) return commands.error();
  if (auto s = NumberCommands(*commands, {}, 1); !s) return s.error();
  if (!request.open) {
    commands->push_back(Command{static_cast<uint32_t>(commands->size() + 1), CommandKind::kEnd});
  }
  Manifest m;
  m.job = id;
  m.base = self();
  m.dest = request.dest;
  m.commands = std::move(*commands);  // numbered in sequence above
  const bool staging = std::find(servers.begin(), servers.end(), self()) == servers.end();
  auto job = MakeJob(root, self(), node.config().distribution_fanout, std::move(m), true, staging);
  if (!job) return job.error();
  Prepared prepared{std::move(*job), ""};
  Job& j = *prepared.job;
  j.sources = std::move(sources);
  j.upload = request.content.upload;
  j.tracker = std::make_unique<distribution::JobTracker>(j.manifest, servers,
                                                         distribution::TrackerOptions{}, now);
  prepared.log_line = CommandsLogLine(j.manifest.commands, 0, j.sources);
  j.logged_commands = j.manifest.commands.size();
  return prepared;
}

Result<std::string> Distributor::Impl::StartJob(Prepared prepared,
                                                const std::vector<NodeId>& servers) {
  // The address table may have changed meanwhile.
  if (auto s = ServersKnown(servers); !s) return s.error();
  // A new job: no earlier run of it to rehash, so its client's first bytes are taken at once
  // (a rehash, however short, answered them 503).
  Job& job = *AddJob(std::move(prepared.job), /*resume=*/false);
  const std::string id = job.manifest.job;
  job.last_upload = node.Now();
  AppendOnDisk(
      job, JobsDir() + "/" + id + ".log", [line = std::move(prepared.log_line)] { return line; },
      "the job's log");
  Log(LogLevel::kInfo, "distribution", "job accepted",
      {{"job", id},
       {"commands", std::to_string(job.manifest.commands.size())},
       {"bytes", std::to_string(job.stream_size())},
       {"servers", std::to_string(servers.size())}});
  std::vector<NodeId> others;
  for (NodeId n : servers) {
    if (n != self()) others.push_back(n);
  }
  // D7: the servers in descending order of the upload rates measured in earlier jobs; the
  // relays keep that order as they hand the list on.
  others = distribution::OrderByRate(others, upload_rates);
  std::string order;
  for (NodeId n : others) order += (order.empty() ? "" : ",") + std::to_string(n);
  Log(LogLevel::kInfo, "distribution", "approach order", {{"job", id}, {"servers", order}});
  std::vector<distribution::NodeAgent::Action> actions;
  for (auto& share : distribution::SplitList(others, node.config().distribution_fanout)) {
    job.agent->AddFeed(share.target, share.list, &actions);
  }
  Run(id, actions);
  CopyIn(id);
  SaveJobDocument(job);
  return id;
}

void Distributor::Impl::CollectOffLoop(JobContent content, std::function<void(Collected)> done) {
  auto shared = std::make_shared<JobContent>(std::move(content));
  OffLoop<Collected>(
      files,
      [shared]() -> Collected {
        std::vector<std::string> sources;
        auto commands = CollectContent(*shared, &sources);
        if (!commands) return commands.error();
        return std::make_pair(std::move(*commands), std::move(sources));
      },
      std::move(done), kCannotCollect);
}

// The origin: copies the client's files in, a megabyte per turn of the loop, so the
// downstream feeds start at once and run behind it (D4).
void Distributor::Impl::CopyIn(const std::string& id) {
  Job* job = FindJob(id);
  if (!job || stopped || !job->cancelled.empty()) return;
  job->copy_active = false;
  if (job->resuming) {
    job->after_resume.push_back([this, id] { CopyIn(id); });
    return;
  }
  while (job->copying < job->sources.size() &&
         (job->manifest.commands[job->copying].kind != CommandKind::kFile ||
          job->received >= job->files[job->copying].end)) {
    if (job->source_fd >= 0) ::close(job->source_fd);
    job->source_fd = -1;
    ++job->copying;
    Apply(*job);
  }
  if (job->copying >= job->sources.size()) {
    Apply(*job);
    return;
  }
  if (job->writing >= kWriteBehind) return;  // Written calls again as the disk catches up
  const size_t i = job->copying;
  if (job->source_fd < 0) {
    job->source_fd = ::open(job->sources[i].c_str(), O_RDONLY | O_CLOEXEC);
    if (job->source_fd < 0) return Fail(*job, job->sources[i] + ": " + std::strerror(errno));
  }
  const int fd = ::dup(job->source_fd);
  if (fd < 0) return Fail(*job, job->sources[i] + ": " + std::strerror(errno));
  const uint64_t start = job->files[i].start;
  const uint64_t at = job->received - start;
  const size_t n = std::min<uint64_t>(1 << 20, job->manifest.commands[i].size - at);
  job->copy_active = true;
  // Read on the write pool, in order with the writes, off the loop.
  boost::asio::post(writes, [this, ioc = &io, alive = alive, id, epoch = job->write_epoch,
                             offset = job->received, fd, at, n, path = job->sources[i]] {
    auto bytes = std::make_shared<Result<std::vector<uint8_t>>>(std::vector<uint8_t>(n));
    const ssize_t got = ::pread(fd, (*bytes)->data(), n, static_cast<off_t>(at));
    ::close(fd);
    if (got <= 0) {
      *bytes = Error(Errc::kIo, path + ": shorter than when the job was created");
    } else {
      (*bytes)->resize(static_cast<size_t>(got));
    }
    boost::asio::post(*ioc, [this, alive, id, epoch, offset, bytes] {
      if (*alive) CopiedIn(id, epoch, offset, std::move(*bytes));
    });
  });
}

void Distributor::Impl::CopiedIn(const std::string& id, uint64_t epoch, uint64_t offset,
                                 Result<std::vector<uint8_t>> bytes) {
  Job* job = FindJob(id);
  if (!job || stopped) return;
  job->copy_active = false;
  if (!job->cancelled.empty()) return;
  if (!bytes) return Fail(*job, bytes.error().message());
  if (epoch == job->write_epoch) Append(*job, offset, bytes->data(), bytes->size());
  CopyIn(id);
}

// D10: more of the client's files for a job that has not ended.
void Distributor::Impl::Add(const std::string& id, JobContent content,
                            std::function<void(Status)> done) {
  if (auto s = CanAdd(id, content.upload); !s) return done(s);
  if (content.paths.empty() && content.entries.empty()) {
    return done(Error(Errc::kInvalidArgument, "no paths to add"));
  }
  const bool upload = content.upload;
  CollectOffLoop(std::move(content), [this, id, upload, done = std::move(done)](Collected got) {
    if (!got) return done(got.error());
    done(AddCollected(id, upload, std::move(got->first), std::move(got->second)));
  });
}

// Asked before the client's files are collected, and again after: the job may have ended
// meanwhile.
Status Distributor::Impl::CanAdd(const std::string& id, bool upload) {
  Job* job = FindJob(id);
  if (!job || !job->tracker) return Error(Errc::kNotFound, "no job '" + id + "' running here");
  if (!job->cancelled.empty()) return Error(Errc::kInvalidArgument, job->cancelled);
  if (job->manifest.ended()) {
    return Error(Errc::kInvalidArgument,
                 "job " + id + " has ended: start a job with --open to add to it");
  }
  if (upload != job->upload) {
    return Error(Errc::kInvalidArgument,
                 job->upload ? "job " + id + " takes uploads: send entries, then their bytes"
                             : "job " + id + " reads its files on the base server: send paths");
  }
  return OkStatus();
}

Status Distributor::Impl::AddCollected(const std::string& id, bool upload,
                                       std::vector<Command> more,
                                       std::vector<std::string> sources) {
  if (auto s = CanAdd(id, upload); !s) return s;
  Job* job = FindJob(id);
  const auto& existing = job->manifest.commands;
  const uint32_t next = existing.empty() ? 1 : existing.back().id + 1;
  if (auto s = NumberCommands(more, existing, next); !s) return s;
  job->sources.insert(job->sources.end(), std::make_move_iterator(sources.begin()),
                      std::make_move_iterator(sources.end()));
  job->last_upload = node.Now();  // the client is here: its bytes follow
  AppendCommands(*job, more);
  if (!job->copy_active) CopyIn(id);
  SaveJobDocument(*job);
  Log(LogLevel::kInfo, "distribution", "commands added",
      {{"job", id}, {"commands", std::to_string(more.size())}});
  return OkStatus();
}

// D4: the client's bytes, written and forwarded as they arrive, like a relay's.
Result<uint64_t> Distributor::Impl::Stream(const std::string& id, uint64_t offset,
                                           const std::string& bytes) {
  Job* job = FindJob(id);
  if (!job || !job->tracker) return Error(Errc::kNotFound, "no job '" + id + "' running here");
  if (!job->upload) {
    return Error(Errc::kInvalidArgument,
                 "job " + id + " reads its files on the base server; it takes no upload");
  }
  if (!job->cancelled.empty()) return Error(Errc::kInvalidArgument, job->cancelled);
  if (!job->error.empty()) return Error(Errc::kIo, job->error);
  job->last_upload = node.Now();
  if (job->resuming) {  // the client's retry comes after the rehash
    return Error(Errc::kUnavailable, "job " + id +
                                         " is rehashing its partial file after a "
                                         "restart; send again in a moment");
  }
  if (offset > job->received) {
    return Error(Errc::kAlreadyExists, "job " + id + " holds " + std::to_string(job->received) +
                                           " bytes: resume the upload from there");
  }
  if (offset + bytes.size() > job->stream_size()) {
    return Error(Errc::kInvalidArgument, "the upload runs past the job's files (" +
                                             std::to_string(job->stream_size()) + " bytes)");
  }
  Append(*job, offset, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  if (!job->error.empty()) return Error(Errc::kIo, job->error);
  return job->received;
}

json Distributor::Impl::Document(const Job& job, bool with_commands) const {
  FileDigests digests;
  for (size_t i = 0; with_commands && i < job.files.size(); ++i)
    digests.push_back(job.files[i].digest);
  // A final job's elapsed time stops where it ended.
  return node::JobDocument(*job.tracker, digests, job.started, job.ended_at.value_or(node.Now()),
                           job.upload ? std::optional<uint64_t>(job.have) : std::nullopt,
                           with_commands);
}

// The log gets what became known since the last save; the summary is rewritten (see
// job_document.h). Both on the disk pool, the log first.
void Distributor::Impl::SaveJobDocument(Job& job) {
  const auto& commands = job.manifest.commands;
  const std::string path = JobsDir() + "/" + job.manifest.job;
  if (job.logged_commands < commands.size()) {
    // Copied, and made text on the disk pool: a job's first save may hold 100,000 commands.
    const auto from = static_cast<std::ptrdiff_t>(job.logged_commands);
    const auto sources_from = std::min<std::ptrdiff_t>(from, std::ssize(job.sources));
    auto more = std::make_shared<std::pair<std::vector<Command>, std::vector<std::string>>>(
        std::vector<Command>(commands.begin() + from, commands.end()),
        std::vector<std::string>(job.sources.begin() + sources_from, job.sources.end()));
    AppendOnDisk(
        job, path + ".log", [more] { return CommandsLogLine(more->first, 0, more->second); },
        "the job's log");
    job.logged_commands = commands.size();
  }
  std::vector<std::pair<uint32_t, wire::Sha256Digest>> digests;
  for (; job.logged_digests < commands.size(); ++job.logged_digests) {
    const size_t i = job.logged_digests;
    if (commands[i].kind != CommandKind::kFile) continue;
    if (!job.files[i].digest) break;  // the origin reads its files in order
    digests.emplace_back(commands[i].id, *job.files[i].digest);
  }
  if (!digests.empty()) {
    AppendOnDisk(
        job, path + ".log", [line = DigestsLogLine(digests)] { return line; }, "the job's log");
  }
  WriteOnDisk(job, path + ".json", DocumentText(Document(job, false), 1), "the job document");
}

// Jobs of earlier runs: final ones are answered as saved; one that was running is tracked
// again (ResumeTracking), or shown failed if its document cannot be resumed.
void Distributor::Impl::LoadJobDocuments() {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(JobsDir(), ec)) {
    const std::string id = e.path().stem().string();
    if (e.path().extension() != ".json" || !distribution::CheckJobId(id)) continue;
    const std::string dash_sequence = id.substr(id.find('-') + 1);
    next_job = std::max<uint64_t>(next_job, std::stoull(dash_sequence) + 1);
    auto saved = ReadSavedJob(JobsDir(), id);
    if (!saved) {
      finished_docs[id] = DamagedDocument(id, saved.error().message()).dump();
      finished_summaries[id] = finished_docs[id];
      continue;
    }
    json& doc = *saved;
    if (doc["state"] == "running") {
      Status resumed = ResumeTracking(doc);
      if (resumed) continue;
      doc["state"] = "failed";
      doc["final"] = true;
      doc["error"] = "the base server restarted while the job ran and could not resume it: " +
                     resumed.error().message();
    }
    std::tie(finished_docs[id], finished_summaries[id]) = FinishedTexts(std::move(doc));
  }
}

// What is shown for a job whose document cannot be read: failed, saying why.
json Distributor::Impl::DamagedDocument(const std::string& id, const std::string& why) const {
  Log(LogLevel::kWarn, "distribution", "damaged job document", {{"job", id}, {"error", why}});
  return json{{"id", id},
              {"state", "failed"},
              {"final", true},
              {"base", self()},
              {"dest", ""},
              {"size", 0},
              {"elapsed_s", 0},
              {"servers", json::array()},
              {"commands", json::array()},
              {"error", why + ": the job's state before is unknown"}};
}

// A job that was running when this base stopped: tracked again from its saved document.
// The servers still hold what they verified; those that lost their source (this node)
// report it, or are queried after the stall period, and are repaired from where they are.
Status Distributor::Impl::ResumeTracking(const json& doc) {
  auto saved = ParseSavedJob(doc, self());
  if (!saved) return saved.error();
  const Manifest& m = saved->manifest;
  const std::vector<NodeId>& servers = saved->servers;
  const bool staging = std::find(servers.begin(), servers.end(), self()) == servers.end();
  auto created = CreateJob(m, true, staging);
  if (!created) return created.error();
  Job& job = **created;
  job.sources = std::move(saved->sources);
  job.upload = saved->upload;
  job.last_upload = node.Now();
  // The digests announced before: the servers verified their files against them.
  for (size_t i = 0; i < saved->digests.size() && i < job.files.size(); ++i) {
    job.files[i].digest = saved->digests[i];
  }
  job.logged_commands = m.commands.size();  // what the log holds already
  while (job.logged_digests < m.commands.size() &&
         (m.commands[job.logged_digests].kind != CommandKind::kFile ||
          job.files[job.logged_digests].digest)) {
    ++job.logged_digests;
  }
  job.started = node.Now() - Duration::Millis(static_cast<int64_t>(saved->elapsed_s * 1000));
  job.tracker = std::make_unique<distribution::JobTracker>(
      m, servers, distribution::TrackerOptions{}, node.Now());
  Log(LogLevel::kInfo, "distribution", "tracking a job again after a restart",
      {{"job", m.job}, {"servers", std::to_string(servers.size())}});
  CopyIn(m.job);
  return OkStatus();
}

}  // namespace cohort::node
