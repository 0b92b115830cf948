#include "node/groups_service.h"

#include <algorithm>
#include <deque>
#include <exception>
#include <map>

#include "base/log.h"
#include "groups/messages.h"
#include "io/asio.h"
#include "io/clock.h"
#include "io/timer.h"
#include "node/node.h"
#include "registry/backend.h"

namespace cohort::node {
namespace {

namespace asio = boost::asio;

groups::Bytes ToBytes(const std::string& s) { return groups::Bytes(s.begin(), s.end()); }

// The records of a range read of the groups' keys, named by group.
std::vector<groups::StoredRecord> RecordsOf(const registry::RangeResult& range,
                                            const std::string& prefix) {
  std::vector<groups::StoredRecord> records;
  for (const registry::KeyValue& kv : range.kvs) {
    records.push_back({kv.key.substr(prefix.size()), kv.mod_revision, ToBytes(kv.value)});
  }
  return records;
}

}  // namespace

struct GroupsService::Impl {
  Impl(Node& n, RecordsSource r, asio::io_context& ctx)
      : node(n), where_records(std::move(r)), io(ctx), timer(ctx) {
    groups::GroupsOptions o;
    o.self = node.config().node_id;
    o.incarnation = node.membership().options().incarnation;
    o.vote_timeout = Duration::Millis(node.config().groups_vote_timeout_ms);
    core = std::make_unique<groups::GroupsCore>(o);
  }

  struct Waiter {
    OutcomeDone done;
    std::unique_ptr<asio::steady_timer> timer;
  };

  Node& node;
  RecordsSource where_records;
  asio::io_context& io;
  std::unique_ptr<groups::GroupsCore> core;
  io::Timer timer;
  Instant timer_at = Instant::Max();
  bool stopped = false;
  // Answers of the registry come back through the loop; this guards against the service
  // being gone by then.
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);
  std::map<uint32_t, EventSink> sessions;
  uint32_t next_session = 1;
  std::multimap<groups::RequestId, std::shared_ptr<Waiter>> waiters;
  // Outputs not carried out yet, in the order the core gave them: a registry that answers
  // at once (read-only, or the model) steps the core again while earlier outputs wait.
  std::deque<groups::Output> queue;
  bool driving = false;
  NodeId coordinator = kNoNode;
  groups::NodeView up;
  GroupsServiceMetrics metrics;

  // Runs `step` on the core with the current time, then carries out what it asked.
  template <typename F>
  void Step(F step) {
    groups::Outputs out;
    step(io::SteadyNow(), out);
    Drive(out);
  }

  void Drive(groups::Outputs& out) {
    for (groups::Output& o : out) queue.push_back(std::move(o));
    out.clear();
    if (driving) return;  // the loop below, further up the stack, carries them out
    driving = true;
    while (!queue.empty()) {
      const groups::Output o = std::move(queue.front());
      queue.pop_front();
      try {
        CarryOut(o);
      } catch (const std::exception& e) {
        // One output lost (the core sends and writes again what matters), not the driver.
        Log(LogLevel::kError, "groups", "output not carried out", {{"error", e.what()}});
      }
    }
    driving = false;
    ArmTimer();
  }

  void CarryOut(const groups::Output& o) {
    if (auto* s = std::get_if<groups::SendTo>(&o)) {
      ++metrics.messages_sent;
      (void)node.SendData(s->node, groups::kChannel, s->bytes);  // retried by the core
    } else if (auto* r = std::get_if<groups::ReadRecords>(&o)) {
      ReadRecords(r->ticket);
    } else if (auto* w = std::get_if<groups::WriteRecord>(&o)) {
      WriteRecord(*w);
    } else {
      ToSession(o);
    }
  }

  static uint32_t LocalOf(const groups::Output& o) {
    return std::visit(
        [](const auto& v) -> uint32_t {
          if constexpr (requires { v.local; }) {
            return v.local;
          } else {
            return 0;
          }
        },
        o);
  }

  void ToSession(const groups::Output& o) {
    if (auto* outcome = std::get_if<groups::Outcome>(&o)) FinishWaiters(*outcome);
    auto it = sessions.find(LocalOf(o));
    if (it == sessions.end()) return;
    const EventSink sink = it->second;  // a sink that ends its session erases itself
    sink(o);
  }

  void FinishWaiters(const groups::Outcome& outcome) {
    auto [first, last] = waiters.equal_range(outcome.request);
    std::vector<std::shared_ptr<Waiter>> done;
    for (auto it = first; it != last; ++it) done.push_back(it->second);
    waiters.erase(first, last);
    for (const auto& w : done) {
      w->timer->cancel();
      w->done(outcome);
    }
  }

  void ArmTimer() {
    if (stopped) return;
    const Instant next = core->NextDeadline();
    if (next == timer_at) return;
    timer_at = next;
    timer.At(next, [this] {
      if (stopped) return;
      timer_at = Instant::Max();
      Step([&](Instant now, groups::Outputs& out) { core->Tick(now, out); });
    });
  }

  // The view follows the cluster map: its supervisor coordinates.
  void RefreshView() {
    if (stopped) return;
    const auto& members = node.membership();
    groups::NodeView now_up;
    for (const auto& [id, m] : members.map().members) {
      if (m.state == membership::MemberState::kUp) now_up[id] = m.incarnation;
    }
    const NodeId supervisor = members.supervisor();
    if (supervisor == coordinator && now_up == up) return;
    if (supervisor != coordinator) {
      Log(LogLevel::kInfo, "groups", "coordinator changed",
          {{"coordinator", std::to_string(supervisor)}});
    }
    coordinator = supervisor;
    up = std::move(now_up);
    Step([&](Instant now, groups::Outputs& out) { core->SetView(now, coordinator, up, out); });
  }

  // An answer of the registry, on the loop, unless the service has stopped by then.
  template <typename F>
  auto Later(F f) {
    return [this, alive = alive, f = std::move(f)](auto&&... args) mutable {
      if (!*alive || stopped) return;
      f(std::forward<decltype(args)>(args)...);
    };
  }

  void ReadRecords(uint64_t ticket) {
    ++metrics.record_reads;
    const Records where = where_records();
    if (where.backend == nullptr) {
      // Not yet: answered through the loop, so the core is not re-entered.
      asio::post(io, Later([this, ticket] { RecordsRead(ticket, std::nullopt); }));
      return;
    }
    const std::string prefix = where.prefix;
    where.backend->Range(prefix, 0, false,
                         Later([this, ticket, prefix](Result<registry::RangeResult> got) {
                           if (!got) {
                             ++metrics.registry_errors;
                             return RecordsRead(ticket, std::nullopt);
                           }
                           RecordsRead(ticket, RecordsOf(*got, prefix));
                         }));
  }

  void RecordsRead(uint64_t ticket,
                   const std::optional<std::vector<groups::StoredRecord>>& records) {
    Step([&](Instant now, groups::Outputs& out) { core->OnRecords(now, ticket, records, out); });
  }

  // Compare-and-swap on the key's mod revision (0: absent); on a conflict the same
  // transaction reads what is there now.
  void WriteRecord(const groups::WriteRecord& w) {
    ++metrics.record_writes;
    const Records where = where_records();
    const std::string group = w.group;
    const uint64_t ticket = w.ticket;
    if (where.backend == nullptr) {
      asio::post(io, Later([this, group, ticket] { Written(group, ticket, {}); }));
      return;
    }
    const std::string key = where.prefix + w.group;
    registry::Txn txn;
    txn.compares.push_back({key, registry::Compare::Target::kModRevision,
                            registry::Compare::Op::kEqual, "", w.expect_revision});
    txn.success.push_back({registry::RequestOp::Kind::kPut, key,
                           std::string(w.record.begin(), w.record.end()), false});
    txn.failure.push_back({registry::RequestOp::Kind::kGet, key, "", false});
    where.backend->Commit(
        txn, Later([this, group, ticket](Result<registry::TxnResult> got) {
          groups::WriteResult result;
          if (!got) {
            ++metrics.registry_errors;
          } else if (got->succeeded) {
            result = {groups::WriteStatus::kWritten, got->revision, std::nullopt};
          } else {
            ++metrics.write_conflicts;
            result.status = groups::WriteStatus::kConflict;
            if (!got->results.empty() && !got->results[0].kvs.empty()) {
              const registry::KeyValue& kv = got->results[0].kvs[0];
              result.current = groups::StoredRecord{group, kv.mod_revision, ToBytes(kv.value)};
            }
          }
          Written(group, ticket, result);
        }));
  }

  void Written(const std::string& group, uint64_t ticket, const groups::WriteResult& result) {
    Step([&](Instant now, groups::Outputs& out) {
      core->OnWritten(now, group, ticket, result, out);
    });
  }

  void AddWaiter(groups::RequestId id, Duration wait, OutcomeDone done) {
    auto w = std::make_shared<Waiter>();
    w->done = std::move(done);
    w->timer = std::make_unique<asio::steady_timer>(io);
    waiters.emplace(id, w);
    w->timer->expires_after(std::chrono::nanoseconds(wait.nanos()));
    w->timer->async_wait([this, alive = alive, id, w](boost::system::error_code ec) {
      if (ec || !*alive) return;
      // An expired timer's handler may be queued when the outcome comes: only the one that
      // still finds the waiter answers.
      auto [first, last] = waiters.equal_range(id);
      for (auto it = first; it != last; ++it) {
        if (it->second == w) {
          waiters.erase(it);
          w->done(std::nullopt);
          return;
        }
      }
    });
  }
};

GroupsService::GroupsService(Node& node, RecordsSource records, asio::io_context& io)
    : impl_(std::make_unique<Impl>(node, std::move(records), io)) {}

GroupsService::~GroupsService() { *impl_->alive = false; }

void GroupsService::Start() {
  Impl* impl = impl_.get();
  // The node outlives nothing here: its callbacks check that the service still exists.
  impl_->node.OnChannel(groups::kChannel,
                        [impl, alive = impl_->alive](NodeId from, std::span<const uint8_t> bytes) {
                          if (!*alive || impl->stopped) return;
                          ++impl->metrics.messages_received;
                          impl->Step([&](Instant now, groups::Outputs& out) {
                            impl->core->OnMessage(now, from, bytes, out);
                          });
                        });
  impl_->node.OnMembershipChanged([impl, alive = impl_->alive] {
    if (*alive) impl->RefreshView();
  });
  impl_->RefreshView();
}

void GroupsService::Stop() {
  impl_->stopped = true;
  impl_->timer.Cancel();
  auto waiters = std::move(impl_->waiters);
  impl_->waiters.clear();
  for (auto& [id, w] : waiters) {
    w->timer->cancel();
    w->done(std::nullopt);  // "pending", if the loop still runs to send it
  }
}

Result<uint32_t> GroupsService::OpenSession(EventSink sink) {
  if (impl_->stopped) return Error(Errc::kUnavailable, "the node is stopping");
  if (impl_->sessions.size() >= kMaxSessions) {
    return Error(Errc::kUnavailable, "this node has " + std::to_string(kMaxSessions) +
                                         " group sessions open, its limit: close one first");
  }
  const uint32_t id = impl_->next_session++;
  impl_->sessions[id] = std::move(sink);
  ++impl_->metrics.sessions_opened;
  return id;
}

void GroupsService::CloseSession(uint32_t session) {
  if (impl_->sessions.erase(session) == 0) return;
  ++impl_->metrics.sessions_closed;
  if (impl_->stopped) return;
  impl_->Step(
      [&](Instant now, groups::Outputs& out) { impl_->core->ProcessDied(now, session, out); });
}

bool GroupsService::HasSession(uint32_t session) const {
  return impl_->sessions.count(session) > 0;
}
size_t GroupsService::sessions() const { return impl_->sessions.size(); }

// Why `session` cannot make a request now, if it cannot.
Status GroupsService::Usable(uint32_t session) const {
  if (!HasSession(session)) {
    return Error(Errc::kNotFound, "no group session " + std::to_string(session) +
                                      " on this node (it ended when its client's stream closed)");
  }
  if (impl_->stopped) return Error(Errc::kUnavailable, "the node is stopping");
  return OkStatus();
}

Result<groups::RequestId> GroupsService::Submit(uint32_t session, const GroupRequest& r,
                                                Duration wait, OutcomeDone done) {
  COHORT_TRY(Usable(session));
  ++impl_->metrics.requests;
  groups::Outputs out;
  const Instant now = io::SteadyNow();
  groups::GroupsCore& core = *impl_->core;
  groups::RequestId id;
  switch (r.kind) {
    case GroupRequest::Kind::kJoin:
      id = core.Join(now, session, r.group, r.role, r.default_approve, r.depends, out);
      break;
    case GroupRequest::Kind::kLeave:
      id = core.Leave(now, session, r.group, out);
      break;
    case GroupRequest::Kind::kPropose:
      id = core.Propose(now, session, r.group, r.value, r.phases, out);
      break;
  }
  // Before the outputs: a request refused at once has its outcome among them.
  if (done) impl_->AddWaiter(id, wait, std::move(done));
  impl_->Drive(out);
  return id;
}

Status GroupsService::Vote(uint32_t session, const std::string& group, groups::RequestId request,
                           uint8_t phase, bool approve) {
  COHORT_TRY(Usable(session));
  impl_->Step([&](Instant now, groups::Outputs& out) {
    impl_->core->Vote(now, session, group, request, phase, approve, out);
  });
  return OkStatus();
}

void GroupsService::ReadGroups(std::function<void(Result<GroupsRead>)> done) {
  const Records where = impl_->where_records();
  if (where.backend == nullptr) {
    return done(
        Error(Errc::kUnavailable,
              "the registry is not reachable from this node yet (see `cohort registry status`)"));
  }
  // Linearizable, so a listing shows every decision made; while the registry is read-only,
  // the nearest server's copy, marked as possibly stale.
  auto read = [prefix = where.prefix](registry::RangeResult range, bool stale) {
    GroupsRead r{{}, stale};
    for (groups::StoredRecord& s : RecordsOf(range, prefix)) {
      r.groups.push_back({s.group, s.revision, groups::DecodeRecord(s.record)});
    }
    return r;
  };
  registry::RegistryBackend* backend = where.backend;
  backend->Range(where.prefix, 0, false,
                 [backend, prefix = where.prefix, read, alive = impl_->alive,
                  done = std::move(done)](Result<registry::RangeResult> got) mutable {
                   if (got) return done(read(std::move(*got), false));
                   if (!*alive) return done(got.error());
                   backend->Range(
                       prefix, 0, true,
                       [read, done = std::move(done)](Result<registry::RangeResult> local) {
                         if (!local) return done(local.error());
                         done(read(std::move(*local), true));
                       });
                 });
}

const groups::GroupsCore& GroupsService::core() const { return *impl_->core; }
const GroupsServiceMetrics& GroupsService::metrics() const { return impl_->metrics; }
NodeId GroupsService::coordinator() const { return impl_->coordinator; }
groups::MemberId GroupsService::MemberOf(uint32_t session) const {
  return {impl_->node.config().node_id, impl_->node.membership().options().incarnation, session};
}

}  // namespace cohort::node
