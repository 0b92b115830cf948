#include "dcm/networks.h"
#include "node/distributor_impl.h"
#include "node/health.h"

namespace cohort::node {

double Distributor::Impl::OfferedRate() const {
  double limit = UploadLimit();
  return limit > 0 ? limit : upload_peak;
}

// RM3: data goes by the distribution service's priorities (the content network first),
// to the first address nothing marked unreachable (liveness marks a dead path at once).
std::optional<Endpoint> Distributor::Impl::EndpointOf(NodeId id) const {
  for (const auto& n : node.transport().View()) {
    if (n.id != id || n.addresses.empty()) continue;
    std::vector<uint32_t> ips;
    for (const auto& a : n.addresses) ips.push_back(a.info.address.ip);
    const auto order = dcm::OrderByPriority(ips, dcm::Service::kDistribution, node.network_map());
    for (size_t i : order) {
      if (n.addresses[i].reachable) return n.addresses[i].info.address;
    }
    return n.addresses[order.front()].info.address;
  }
  return std::nullopt;
}

void Distributor::Impl::Dial(NodeId peer, std::function<void(std::shared_ptr<DataConn>)> ready) {
  auto ep = EndpointOf(peer);
  if (!ep) return ready(nullptr);
  tcp::endpoint to(boost::asio::ip::address_v4(ep->ip), ep->port);
  DataConn::Connect(io, to, keyring(), self(), peer, [this, ready](std::shared_ptr<DataConn> conn) {
    if (conn && stopped) conn->Abandon();
    if (conn && !stopped) CountByAdapter(*conn);
    ready(stopped ? nullptr : conn);
  });
}

// Dials, sends one request and hands the first answer (or nullopt) to `done`.
void Distributor::Impl::Request(NodeId peer, Message request,
                                std::function<void(std::optional<Message>)> done,
                                Duration timeout) {
  auto answered = std::make_shared<bool>(false);
  auto finish = [answered, done](std::optional<Message> m) {
    if (*answered) return;
    *answered = true;
    done(std::move(m));
  };
  auto deadline = std::make_shared<boost::asio::steady_timer>(io);
  Dial(peer, [this, request, finish, deadline, timeout](std::shared_ptr<DataConn> conn) {
    if (!conn) return finish(std::nullopt);
    conn->SetHandlers(
        [conn, finish, deadline](Message& m) {
          deadline->cancel();
          finish(std::move(m));
          conn->CloseAfterSend();
        },
        [finish, deadline] {
          deadline->cancel();
          finish(std::nullopt);
        });
    deadline->expires_after(std::chrono::nanoseconds(timeout.nanos()));
    deadline->async_wait([conn](const boost::system::error_code& ec) {
      if (!ec) conn->Close();
    });
    conn->Send(request);
  });
}

Status Distributor::Impl::Listen() {
  for (const auto& a : node.config().adapters) {
    auto acc = std::make_unique<tcp::acceptor>(io);
    tcp::endpoint at(boost::asio::ip::address_v4(a.listen.ip), a.listen.port);
    boost::system::error_code ec;
    acc->open(at.protocol(), ec);
    if (!ec) acc->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acc->bind(at, ec);
    if (!ec) acc->listen(64, ec);
    if (ec) {
      return Error(Errc::kUnavailable,
                   "data plane: cannot listen on tcp " + a.listen.ToString() + ": " + ec.message());
    }
    acceptors.push_back(std::move(acc));
    AcceptNext(*acceptors.back());
  }
  return OkStatus();
}

void Distributor::Impl::AcceptNext(tcp::acceptor& acc) {
  acc.async_accept([this, &acc](const boost::system::error_code& ec, tcp::socket socket) {
    if (ec == boost::asio::error::operation_aborted || stopped) return;
    if (ec) {  // e.g. out of file descriptors: try again shortly rather than spin
      auto t = std::make_shared<boost::asio::steady_timer>(io, std::chrono::milliseconds(100));
      t->async_wait([this, &acc, t](const boost::system::error_code& e) {
        if (!e && !stopped) AcceptNext(acc);
      });
      return;
    }
    if (unauthenticated >= kMaxUnauthenticated) {
      // Peers that have not proved the key yet hold at most this many sockets.
      boost::system::error_code ignored;
      socket.close(ignored);
      if (!refusing_logged) {
        Log(LogLevel::kWarn, "distribution", "refusing data-plane connections",
            {{"reason", std::to_string(kMaxUnauthenticated) + " handshakes under way"}});
      }
      refusing_logged = true;
      return AcceptNext(acc);
    }
    refusing_logged = false;
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto conn = std::make_shared<DataConn>(std::move(socket), keyring(), self());
    CountByAdapter(*conn);
    std::weak_ptr<DataConn> weak = conn;
    conn->SetHandlers(
        [this, weak](Message& m) {
          if (auto c = weak.lock()) OnFirstMessage(c, m);
        },
        nullptr);
    ++unauthenticated;
    conn->Accept([this, alive = alive](bool) {
      if (*alive) --unauthenticated;
    });
    AcceptNext(acc);
  });
}

// The first message after the handshake says what the connection is for.
void Distributor::Impl::OnFirstMessage(const std::shared_ptr<DataConn>& conn, Message& m) {
  if (auto* offer = std::get_if<distribution::OfferMsg>(&m)) return OnOffer(conn, *offer);
  if (auto* report = std::get_if<distribution::ReportMsg>(&m)) {
    // A server's report channel to this base: every later message is a report too.
    OnReport(*report);
    conn->SetHandlers(
        [this](Message& more) {
          if (auto* r = std::get_if<distribution::ReportMsg>(&more)) OnReport(*r);
        },
        nullptr);
    return;
  }
  if (auto* query = std::get_if<distribution::QueryMsg>(&m)) {
    conn->Send(distribution::ReportMsg{query->job, ReportOf(query->job)});
    return conn->CloseAfterSend();
  }
  if (auto* feed = std::get_if<distribution::FeedMsg>(&m)) {
    const auto refusal = FeedFromHere(feed->job, feed->target, feed->switch_offer, feed->replaces);
    conn->Send(distribution::ResultMsg{distribution::FeedRefusalText(refusal), "", {}});
    return conn->CloseAfterSend();
  }
  if (auto* ctp = std::get_if<distribution::CtpMsg>(&m)) {
    return ServeCtpOffLoop(std::move(*ctp), [conn](distribution::ResultMsg result) {
      conn->Send(result);
      conn->CloseAfterSend();
    });
  }
  if (auto* cancel = std::get_if<distribution::CancelMsg>(&m)) {
    if (Job* job = FindJob(cancel->job); job && !job->tracker) {
      DropJob(*job, cancel->reason);
    } else if (!job) {
      DropFromDisk(cancel->job, cancel->reason);
    }
    conn->Send(distribution::ResultMsg{});
    return conn->CloseAfterSend();
  }
  conn->Close();
}

Distributor::Distributor(Node& node, boost::asio::io_context& io)
    : impl_(std::make_unique<Impl>(node, io)) {}

Distributor::~Distributor() { Stop(); }

Status Distributor::Start() {
  if (auto s = impl_->root.Prepare(); !s) return s;
  impl_->LoadJobDocuments();
  if (auto s = impl_->Listen(); !s) return s;
  impl_->sent_window_start = impl_->node.Now();
  impl_->tokens_at = impl_->node.Now();
  impl_->Tick();
  return OkStatus();
}

void Distributor::Stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  impl_->timer.cancel();
  impl_->writes.join();  // queued writes land before the installs that may follow them
  impl_->disk.join();    // installs in flight finish before their files are closed
  impl_->files.join();
  for (auto& a : impl_->acceptors) {
    boost::system::error_code ignored;
    a->close(ignored);
  }
  for (auto& [id, job] : impl_->jobs) impl_->Release(*job);
}

void Distributor::Impl::CtpOnce(NodeId to, distribution::CtpMsg m,
                                std::function<void(std::optional<distribution::ResultMsg>)> done) {
  if (to == self()) {
    return ServeCtpOffLoop(std::move(m),
                           [done](distribution::ResultMsg result) { done(std::move(result)); });
  }
  Request(
      to, std::move(m),
      [done](std::optional<Message> reply) {
        auto* r = reply ? std::get_if<distribution::ResultMsg>(&*reply) : nullptr;
        done(r ? std::optional<distribution::ResultMsg>(std::move(*r)) : std::nullopt);
      },
      kCtpTimeout);
}

void Distributor::Impl::ListPages(NodeId to, distribution::CtpMsg m, std::shared_ptr<json> entries,
                                  std::function<void(Result<std::string>)> done) {
  const uint64_t from = m.offset;
  CtpOnce(to, m, [this, to, m, entries, done, from](std::optional<distribution::ResultMsg> r) {
    if (!r) {
      return done(Error(Errc::kUnavailable, "node " + std::to_string(to) + " did not answer"));
    }
    if (!r->error.empty()) return done(Error(Errc::kInvalidArgument, r->error));
    // Parsed and gathered on the files pool, as the whole is made text there: a listing
    // of 100,000 entries held the loop 900 ms.
    using Next = Result<std::optional<uint64_t>>;  // where the next page starts, if any
    OffLoop<Next>(
        files,
        [entries, body = std::move(r->body)]() -> Next { return GatherPage(body, *entries); },
        [this, to, m, entries, done, from](Next next) {
          if (!next) return done(next.error());
          if (!*next) {
            return OffLoop<Result<std::string>>(
                files, [entries]() -> Result<std::string> { return DocumentText(*entries, 2); },
                done);
          }
          if (**next <= from) {
            return done(Error(Errc::kMalformed, "a listing page does not move forward"));
          }
          distribution::CtpMsg more = m;
          more.offset = **next;
          ListPages(to, std::move(more), entries, done);
        });
  });
}

// Files pool: one page's entries appended to `entries`.
Result<std::optional<uint64_t>> Distributor::Impl::GatherPage(const std::string& body,
                                                              json& entries) {
  try {
    json page = json::parse(body, nullptr, false);
    // A daemon from before paging answers the whole listing as an array.
    json part = page.is_object() ? page.value("entries", json::array()) : page;
    if (!part.is_array()) return Error(Errc::kMalformed, "a listing page is damaged");
    for (auto& e : part) entries.push_back(std::move(e));
    const json next = page.is_object() ? page.value("next", json()) : json();
    if (!next.is_number_unsigned()) return std::optional<uint64_t>();
    return std::optional<uint64_t>(next.get<uint64_t>());
  } catch (const std::exception& e) {  // nothing may escape a pool thread
    return Error(Errc::kMalformed, std::string("a listing page is damaged: ") + e.what());
  }
}

void Distributor::Impl::ServeCtpOffLoop(distribution::CtpMsg m,
                                        std::function<void(distribution::ResultMsg)> done) {
  boost::asio::post(
      files, [this, ioc = &io, alive = alive, m = std::move(m), done = std::move(done)]() mutable {
        distribution::ResultMsg result;
        try {  // a throw on a pool thread would end the process
          result = ServeCtp(root, m, &listings);
        } catch (const std::exception& e) {
          result.error = m.path + ": " + e.what();
        }
        boost::asio::post(*ioc, [alive, result = std::move(result), done = std::move(done)] {
          if (*alive) done(result);
        });
      });
}

void Distributor::Submit(JobRequest request, std::function<void(Result<std::string>)> done) {
  impl_->Submit(std::move(request), std::move(done));
}

void Distributor::Stream(const std::string& id, uint64_t offset, const std::string& bytes,
                         std::function<void(Result<uint64_t>)> done) {
  auto taken = impl_->Stream(id, offset, bytes);
  if (!taken) return done(taken.error());
  impl_->WhenWritten(id, *taken, std::move(done));
}

void Distributor::Add(const std::string& id, JobContent content, std::function<void(Status)> done) {
  impl_->Add(id, std::move(content), std::move(done));
}

Status Distributor::End(const std::string& id) {
  Job* job = impl_->FindJob(id);
  if (!job || !job->tracker) {
    if (impl_->finished_docs.count(id)) return OkStatus();
    return Error(Errc::kNotFound, "no job '" + id + "' on this base server");
  }
  if (!job->manifest.ended()) {
    impl_->AppendCommands(*job, {Command{static_cast<uint32_t>(job->manifest.commands.size() + 1),
                                         CommandKind::kEnd}});
    impl_->SaveJobDocument(*job);
  }
  return OkStatus();
}

Status Distributor::Cancel(const std::string& id, const std::string& reason) {
  Job* job = impl_->FindJob(id);
  if (!job || !job->tracker) {
    if (impl_->finished_docs.count(id)) {
      return Error(Errc::kInvalidArgument, "job " + id + " has ended");
    }
    return Error(Errc::kNotFound, "no job '" + id + "' on this base server");
  }
  return impl_->CancelJob(*job, reason);
}

std::vector<std::string> Distributor::JobIds() const {
  std::vector<std::string> ids;
  for (const auto& [id, doc] : impl_->finished_docs) ids.push_back(id);
  for (const auto& [id, job] : impl_->jobs) {
    if (job->tracker && !impl_->finished_docs.count(id)) ids.push_back(id);
  }
  return ids;
}

std::vector<health::JobBrief> Distributor::JobBriefs() const {
  std::vector<health::JobBrief> out;
  for (const auto& [id, job] : impl_->jobs) {
    if (!job->tracker) continue;
    const distribution::JobTracker& t = *job->tracker;
    health::JobBrief b;
    b.id = id;
    b.state = t.State();
    b.servers = t.servers().size();
    b.final = t.Final();
    b.cancelled = t.cancelled();
    const uint64_t size = t.manifest().StreamSize();
    for (const auto& [server, v] : t.servers()) {
      b.bytes += v.offset;
      if (v.state != distribution::ServerState::kFailed) {
        b.behind =
            b.behind || (v.state != distribution::ServerState::kCompleted && v.offset < size);
        continue;
      }
      b.failed_servers.push_back(server);
      if (b.error.empty()) b.error = v.error;
    }
    out.push_back(std::move(b));
  }
  return out;
}

std::optional<std::string> Distributor::JobDocument(const std::string& id,
                                                    bool with_commands) const {
  auto it = impl_->jobs.find(id);
  if (it != impl_->jobs.end() && it->second->tracker)
    return DocumentText(impl_->Document(*it->second, with_commands));
  const auto& saved = with_commands ? impl_->finished_docs : impl_->finished_summaries;
  auto d = saved.find(id);
  if (d != saved.end()) return d->second;
  return std::nullopt;
}

void Distributor::WaitForChange(const std::string& id, Duration timeout,
                                std::function<void()> done) {
  impl_->WaitForChange(id, timeout, std::move(done));
}

void Distributor::WhenResumed(const std::string& id, std::function<void()> done) {
  Job* job = impl_->FindJob(id);
  if (job && job->resuming) return job->after_resume.push_back(std::move(done));
  done();
}

void Distributor::Ctp(NodeId node, CtpRequest request,
                      std::function<void(Result<std::string>)> done) {
  distribution::CtpMsg m;
  m.op = request.op;
  m.path = request.path;
  m.mode = request.mode;
  m.mtime_ns = request.mtime_ns;
  m.recursive = request.recursive;
  m.offset = request.offset;
  m.last = request.last;
  m.data.assign(request.data.begin(), request.data.end());
  auto answer = [](const distribution::ResultMsg& r) -> Result<std::string> {
    if (!r.error.empty()) return Error(Errc::kInvalidArgument, r.error);
    json body = r.body.empty() ? json::object() : json::parse(r.body, nullptr, false);
    if (!r.data.empty()) {
      std::string b64(sodium_base64_ENCODED_LEN(r.data.size(), sodium_base64_VARIANT_ORIGINAL),
                      '\0');
      sodium_bin2base64(b64.data(), b64.size(), r.data.data(), r.data.size(),
                        sodium_base64_VARIANT_ORIGINAL);
      b64.resize(std::strlen(b64.c_str()));
      if (!body.is_object()) body = json::object();
      body["data_base64"] = b64;
    }
    return DocumentText(body, 2);  // as the API answers it
  };
  if (node != impl_->self() && !impl_->EndpointOf(node)) {
    return done(Error(Errc::kNotFound,
                      "node " + std::to_string(node) + " is not in this node's address table"));
  }
  if (m.op == "ls") {
    m.offset = 0;
    return impl_->ListPages(node, std::move(m), std::make_shared<json>(json::array()),
                            std::move(done));
  }
  impl_->CtpOnce(
      node, std::move(m), [done, answer, node](std::optional<distribution::ResultMsg> r) {
        if (!r)
          return done(
              Error(Errc::kUnavailable, "node " + std::to_string(node) + " did not answer"));
        done(answer(*r));
      });
}

size_t Distributor::jobs_held() const { return impl_->jobs.size(); }
uint64_t Distributor::bytes_sent() const { return impl_->sent; }
uint64_t Distributor::bytes_received() const { return impl_->received; }

std::map<uint32_t, uint64_t> Distributor::bytes_sent_by_adapter() const {
  std::map<uint32_t, uint64_t> out;
  for (const auto& [ip, counter] : impl_->sent_by_adapter) out[ip] = *counter;
  return out;
}

}  // namespace cohort::node
