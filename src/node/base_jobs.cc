#include "node/distributor_impl.h"

namespace cohort::node {

Result<std::string> Distributor::Impl::Submit(const JobRequest& request) {
  if (request.dest.empty()) return Error(Errc::kInvalidArgument, "--dest must not be empty");
  if (auto s = distribution::CheckWritablePath(request.dest); !s) {
    return Error(s.error().code(), "--dest " + s.error().message());
  }
  if (request.content.paths.empty() && request.content.entries.empty() && !request.open) {
    return Error(Errc::kInvalidArgument, "no paths to distribute");
  }
  std::vector<std::string> sources;
  auto collected = CollectCommands(request.content, {}, 1, &sources);
  if (!collected) return collected.error();
  std::vector<Command> commands = std::move(*collected);
  std::vector<NodeId> servers = request.servers;
  if (servers.empty()) {
    // Every member that has not left: one that is down now is a server that failed (the
    // job says so), and it is repaired if it comes back while the job may still repair.
    for (const auto& [id, member] : node.membership().map().members) {
      if (member.state != membership::MemberState::kLeft) servers.push_back(id);
    }
    if (servers.empty()) servers.push_back(self());
  }
  for (NodeId n : servers) {
    if (n != self() && !EndpointOf(n)) {
      return Error(Errc::kNotFound, "server " + std::to_string(n) + " is not in the address table");
    }
  }
  Manifest m;
  m.job = std::to_string(self()) + "-" + std::to_string(next_job++);
  m.base = self();
  m.dest = request.dest;
  if (!request.open) {
    commands.push_back(Command{static_cast<uint32_t>(commands.size() + 1), CommandKind::kEnd});
  }
  m.Append(commands);
  const bool staging = std::find(servers.begin(), servers.end(), self()) == servers.end();
  auto created = CreateJob(m, true, staging);
  if (!created) return created.error();
  Job& job = **created;
  job.sources = sources;
  job.upload = request.content.upload;
  job.last_upload = node.Now();
  distribution::TrackerOptions options;
  job.tracker = std::make_unique<distribution::JobTracker>(m, servers, options, node.Now());
  Log(LogLevel::kInfo, "distribution", "job accepted",
      {{"job", m.job},
       {"commands", std::to_string(commands.size())},
       {"bytes", std::to_string(m.StreamSize())},
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
  Log(LogLevel::kInfo, "distribution", "approach order", {{"job", m.job}, {"servers", order}});
  std::vector<distribution::NodeAgent::Action> actions;
  for (auto& share : distribution::SplitList(others, node.config().distribution_fanout)) {
    job.agent->AddFeed(share.target, share.list, &actions);
  }
  Run(m.job, actions);
  CopyIn(m.job);
  SaveJobDocument(job);
  return m.job;
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
Status Distributor::Impl::Add(const std::string& id, const JobContent& content) {
  Job* job = FindJob(id);
  if (!job || !job->tracker) return Error(Errc::kNotFound, "no job '" + id + "' running here");
  if (!job->cancelled.empty()) return Error(Errc::kInvalidArgument, job->cancelled);
  if (job->manifest.ended()) {
    return Error(Errc::kInvalidArgument,
                 "job " + id + " has ended: start a job with --open to add to it");
  }
  if (content.upload != job->upload) {
    return Error(Errc::kInvalidArgument,
                 job->upload ? "job " + id + " takes uploads: send entries, then their bytes"
                             : "job " + id + " reads its files on the base server: send paths");
  }
  if (content.paths.empty() && content.entries.empty()) {
    return Error(Errc::kInvalidArgument, "no paths to add");
  }
  const auto& existing = job->manifest.commands;
  std::vector<std::string> sources;
  auto more =
      CollectCommands(content, existing, existing.empty() ? 1 : existing.back().id + 1, &sources);
  if (!more) return more.error();
  job->sources.insert(job->sources.end(), sources.begin(), sources.end());
  job->last_upload = node.Now();  // the client is here: its bytes follow
  AppendCommands(*job, *more);
  if (!job->copy_active) CopyIn(id);
  SaveJobDocument(*job);
  Log(LogLevel::kInfo, "distribution", "commands added",
      {{"job", id}, {"commands", std::to_string(more->size())}});
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

void Distributor::Impl::SaveJobDocument(Job& job) {
  json doc = Document(job);
  AddSources(doc, job.sources);
  WriteOnDisk(job, JobsDir() + "/" + job.manifest.job + ".json", DocumentText(doc, 1),
              "the job document");
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
    auto text = io::ReadFile(e.path().string());
    json doc = text ? json::parse(*text, nullptr, false) : json();
    if (!doc.is_object() || doc.value("id", json()) != id || !doc.contains("state") ||
        !doc["state"].is_string()) {
      finished_docs[id] = DamagedDocument(id, e.path().string()).dump();
      finished_summaries[id] = finished_docs[id];
      continue;
    }
    if (doc["state"] == "running") {
      Status resumed = ResumeTracking(doc);
      if (resumed) continue;
      doc["state"] = "failed";
      doc["error"] = "the base server restarted while the job ran and could not resume it: " +
                     resumed.error().message();
    }
    doc.erase("sources");
    doc.erase("sources_hex");
    finished_docs[id] = DocumentText(doc);
    if (doc.contains("commands") && doc["commands"].is_array()) {
      doc["command_count"] = doc["commands"].size();
      doc.erase("commands");
    }
    finished_summaries[id] = DocumentText(doc);
  }
}

// What is shown for a job whose document cannot be read: failed, naming the file.
json Distributor::Impl::DamagedDocument(const std::string& id, const std::string& path) const {
  Log(LogLevel::kWarn, "distribution", "damaged job document", {{"job", id}, {"file", path}});
  return json{{"id", id},
              {"state", "failed"},
              {"final", true},
              {"base", self()},
              {"dest", ""},
              {"size", 0},
              {"elapsed_s", 0},
              {"servers", json::array()},
              {"commands", json::array()},
              {"error", "damaged job document " + path + ": the job's state before is unknown"}};
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
  job.started = node.Now() - Duration::Millis(static_cast<int64_t>(saved->elapsed_s * 1000));
  job.tracker = std::make_unique<distribution::JobTracker>(
      m, servers, distribution::TrackerOptions{}, node.Now());
  Log(LogLevel::kInfo, "distribution", "tracking a job again after a restart",
      {{"job", m.job}, {"servers", std::to_string(servers.size())}});
  CopyIn(m.job);
  return OkStatus();
}

}  // namespace cohort::node
