#include "node/workload_service.h"

#include <deque>
#include <map>
#include <random>

#include "base/log.h"
#include "io/asio.h"
#include "io/media_server.h"
#include "io/timer.h"
#include "node/catalog_feed.h"
#include "node/node.h"
#include "node/workload_views.h"

namespace cohort::node {

namespace asio = boost::asio;

using workload::Message;

namespace {

constexpr size_t kMaxChangesSent = 64;
constexpr Duration kReportPageGap = Duration::Millis(100);  // 4 MB/s at most

// Epochs, nonces and session ids need only differ between runs, not be secret.
uint64_t Random64() {
  std::random_device rd;
  return (uint64_t{rd()} << 32) ^ rd();
}

workload::MapView ViewOf(const membership::ClusterMap& map) {
  workload::MapView v;
  for (const auto& [id, m] : map.members) {
    v.nodes.emplace_back(id, m.state == membership::MemberState::kUp);
  }
  for (const auto& [disk, entry] : map.disks) {
    for (const auto& [node, path] : entry.paths) {
      const workload::DiskHealth health = entry.failed ? workload::DiskHealth::kFailed
                                          : path.state == membership::PathState::kFailed
                                              ? workload::DiskHealth::kPathFailed
                                              : workload::DiskHealth::kWorking;
      v.disks.push_back({node, disk, health});
    }
  }
  return v;
}

}  // namespace

struct WorkloadService::Impl : std::enable_shared_from_this<Impl> {
  Impl(Node& n, CatalogFeed& f, io::MediaServer* m, asio::io_context& i, WorkloadOptions o)
      : node(n), feed(f), media(m), io(i), options(std::move(o)), timer(i), page_timer(i) {}

  Node& node;
  CatalogFeed& feed;
  io::MediaServer* media;
  asio::io_context& io;
  const WorkloadOptions options;
  io::Timer timer;
  io::Timer page_timer;  // the next page of a report in pages
  bool stopped = false;
  const uint64_t epoch = Random64() | 1;  // this run's feed
  NodeId supervisor = kNoNode;
  std::optional<workload::Supervisor> tables;  // while this node is the supervisor
  WorkloadMetrics metrics;
  bool warned_report = false;
  uint32_t reports = 0;                          // made, numbering each report's pages
  std::deque<workload::ReportMsg> report_pages;  // of the report being sent
  uint64_t next_nonce = Random64();
  struct Waiter {
    PlaceDone place;
    QueryDone query;
    std::unique_ptr<io::Timer> timer;
    Message request;  // sent again to a new supervisor
  };
  std::map<uint64_t, Waiter> waiters;

  int64_t NowMs() const { return node.Now().nanos() / 1'000'000; }
  NodeId self() const { return node.config().node_id; }

  void Send(NodeId to, const Message& m) {
    if (to == kNoNode) return;
    ++metrics.messages_sent;
    if (to == self()) {
      // To itself: later on the loop, as a message from the network would come.
      asio::post(io, [weak = weak_from_this(), m] {
        if (auto s = weak.lock(); s && !s->stopped) s->OnMessage(s->self(), m);
      });
      return;
    }
    (void)node.SendData(to, workload::kChannel, workload::Encode(m));  // resent every period
  }

  // ---- this node as a member ----
  workload::SummaryMsg Summary() const {
    return workload::SummaryMsg{epoch,
                                feed.seq(),
                                feed.digest(),
                                feed.items().size(),
                                options.stream_address,
                                uint64_t{node.capacity_mbps()} * 1000};
  }

  void SendState() {
    // Known once the first usage sample is taken (configured, or the link speed).
    if (media != nullptr && node.capacity_mbps() > 0) {
      media->SetCapacity(uint64_t{node.capacity_mbps()} * 1000);
    }
    if (!feed.scanned()) return;
    Send(supervisor, Summary());
    if (report_pages.empty()) {
      report_pages = NextReport();
      SendReportPage();
    }
  }

  // A report of many pages goes out a page at a time, kReportPageGap apart: a burst of
  // megabytes on the control plane overflows the supervisor's socket buffer (about 200 KiB
  // by default) and loses a piece of every page.
  void SendReportPage() {
    if (stopped || report_pages.empty()) return;
    Send(supervisor, report_pages.front());
    report_pages.pop_front();
    if (report_pages.empty()) return;
    page_timer.After(kReportPageGap, [weak = weak_from_this()] {
      if (auto s = weak.lock()) s->SendReportPage();
    });
  }

  std::deque<workload::ReportMsg> NextReport() {
    std::vector<workload::ReportedSession> sessions;
    if (media != nullptr) {
      for (const io::MediaSession& s : media->Sessions()) {
        sessions.push_back({s.id, s.path, s.bitrate_kbps, s.offset, s.bytes_sent, s.disk});
      }
    }
    size_t left_out = 0;
    auto pages = workload::PageReport(++reports, std::move(sessions), &left_out);
    if (left_out > 0 && !warned_report) {
      Log(LogLevel::kWarn, "streams", "session report truncated",
          {{"left_out", std::to_string(left_out)}});
    }
    warned_report = warned_report || left_out > 0;
    return {std::make_move_iterator(pages.begin()), std::make_move_iterator(pages.end())};
  }

  void SendListing() {
    const auto& items = feed.items();
    const size_t per = workload::kMaxListingPage;
    const auto pages = static_cast<uint32_t>(std::max<size_t>(1, (items.size() + per - 1) / per));
    workload::ListingMsg page{epoch, feed.seq(), 0, pages, {}};
    for (const auto& [key, item] : items) {
      page.items.push_back(item);
      if (page.items.size() == per) {
        Send(supervisor, page);
        ++page.page;
        page.items.clear();
      }
    }
    if (page.page < pages) Send(supervisor, page);
  }

  void OnFeedChanged(const std::vector<workload::Change>& changes) {
    // Many changes at once (the first walk, a big install) are cheaper as a listing: the
    // summaries say the catalog is behind, and the supervisor pulls it.
    if (changes.size() <= kMaxChangesSent) {
      uint64_t seq = feed.seq() - changes.size();
      for (const workload::Change& c : changes) {
        Send(supervisor, workload::ChangeMsg{epoch, ++seq, c});
      }
    }
    if (media != nullptr) media->SetDigests(feed.items());
    SendState();  // the summary that says so, and the first one after the first walk
  }

  // ---- this node as the supervisor ----
  void RefreshMap() {
    if (stopped) return;
    const NodeId now = node.membership().supervisor();
    if (now != supervisor) {
      supervisor = now;
      if (now == self()) {
        tables.emplace(workload::StreamOptions{options.balance, 5000, 30000, Random64(),
                                               options.balance_floor});
        Log(LogLevel::kInfo, "streams", "supervising the workload tables");
      } else {
        tables.reset();
      }
      report_pages.clear();  // the new supervisor gets a whole report from its first page
      page_timer.Cancel();
      SendState();  // and hears from this node at once
      // A question the old one may never answer (it failed) goes to the new one now, not
      // after the answer timeout: a viewer of a failed node's streams is waiting.
      for (const auto& [nonce, w] : waiters) Send(now, w.request);
    }
    if (tables) {
      tables->SetMap(ViewOf(node.membership().map()));
      Reassign();
    }
  }

  void Reassign() {
    for (const workload::Moved& m : tables->Reassign(NowMs())) {
      if (m.from == kNoNode && m.to == kNoNode) continue;
      if (m.from != kNoNode) ++metrics.reassigned;
      Log(LogLevel::kInfo, "streams", m.to == kNoNode ? "session unplaced" : "session moved",
          {{"session", std::to_string(m.session)},
           {"from", std::to_string(m.from)},
           {"to", std::to_string(m.to)}});
    }
  }

  void OnSupervisorMessage(NodeId from, const Message& m) {
    const int64_t now = NowMs();
    std::optional<workload::PullMsg> pull;
    if (auto* s = std::get_if<workload::SummaryMsg>(&m)) pull = tables->OnSummary(now, from, *s);
    if (auto* l = std::get_if<workload::ListingMsg>(&m)) pull = tables->OnListing(now, from, *l);
    if (auto* c = std::get_if<workload::ChangeMsg>(&m)) {
      pull = tables->OnChange(now, from, *c);
      if (c->change.kind == workload::Change::Kind::kRemove) Reassign();
    }
    if (pull) Send(from, *pull);
    if (auto* p = std::get_if<workload::PlaceRequestMsg>(&m)) {
      workload::PlaceRequestMsg q = *p;
      if (q.request.bitrate_kbps == 0) q.request.bitrate_kbps = options.default_bitrate_kbps;
      const workload::PlaceReplyMsg reply = tables->OnPlace(now, q);
      metrics.placed += reply.node != kNoNode ? 1 : 0;
      metrics.refused += reply.outcome == workload::PlaceOutcome::kNoCapacity ? 1 : 0;
      metrics.not_found += reply.outcome == workload::PlaceOutcome::kNoHolder ? 1 : 0;
      Send(from, reply);
    }
    if (auto* r = std::get_if<workload::ReportMsg>(&m)) tables->OnReport(now, from, *r);
    if (auto* q = std::get_if<workload::QueryMsg>(&m)) {
      Send(from, AnswerQuery(*tables, supervisor, *q, now));
    }
  }

  // ---- any node ----
  void OnMessage(NodeId from, const Message& m) {
    if (std::holds_alternative<workload::PullMsg>(m)) {
      if (from == supervisor) SendListing();
      return;
    }
    if (auto* r = std::get_if<workload::PlaceReplyMsg>(&m)) return Answered(r->nonce, *r, {});
    if (auto* r = std::get_if<workload::QueryReplyMsg>(&m)) return Answered(r->nonce, {}, *r);
    if (tables) OnSupervisorMessage(from, m);
  }

  void Answered(uint64_t nonce, std::optional<workload::PlaceReplyMsg> place,
                std::optional<workload::QueryReplyMsg> query) {
    auto it = waiters.find(nonce);
    if (it == waiters.end()) return;  // late, or not ours
    Waiter w = std::move(it->second);
    waiters.erase(it);
    w.timer->Cancel();
    if (w.place) w.place(std::move(place));
    if (w.query) w.query(std::move(query));
  }

  uint64_t Wait(Waiter w) {
    const uint64_t nonce = ++next_nonce;
    w.timer = std::make_unique<io::Timer>(io);
    w.timer->After(options.answer_timeout, [weak = weak_from_this(), nonce] {
      auto s = weak.lock();
      if (!s) return;
      ++s->metrics.unanswered;
      s->Answered(nonce, std::nullopt, std::nullopt);
    });
    waiters.emplace(nonce, std::move(w));
    return nonce;
  }

  void Tick() {
    if (stopped) return;
    SendState();
    if (tables) Reassign();
    timer.After(options.period, [weak = weak_from_this()] {
      if (auto s = weak.lock()) s->Tick();
    });
  }
};

WorkloadService::WorkloadService(Node& node, CatalogFeed& feed, io::MediaServer* media,
                                 asio::io_context& io, WorkloadOptions options)
    : impl_(std::make_shared<Impl>(node, feed, media, io, std::move(options))) {}

WorkloadService::~WorkloadService() { Stop(); }

void WorkloadService::Start() {
  std::weak_ptr<Impl> weak = impl_;
  impl_->node.OnChannel(workload::kChannel, [weak](NodeId from, std::span<const uint8_t> bytes) {
    auto s = weak.lock();
    if (!s || s->stopped) return;
    ++s->metrics.messages_received;
    auto m = workload::Decode(bytes);
    if (!m) {
      ++s->metrics.malformed;
      return;
    }
    s->OnMessage(from, *m);
  });
  impl_->node.OnMembershipChanged([weak] {
    if (auto s = weak.lock()) s->RefreshMap();
  });
  impl_->feed.Start([weak](const std::vector<workload::Change>& changes) {
    if (auto s = weak.lock(); s && !s->stopped) s->OnFeedChanged(changes);
  });
  impl_->RefreshMap();
  impl_->Tick();
}

void WorkloadService::Stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  impl_->timer.Cancel();
  impl_->page_timer.Cancel();
  impl_->feed.Stop();
  auto waiters = std::move(impl_->waiters);
  impl_->waiters.clear();
  for (auto& [nonce, w] : waiters) {
    w.timer->Cancel();
    if (w.place) w.place(std::nullopt);
    if (w.query) w.query(std::nullopt);
  }
}

void WorkloadService::Place(workload::OpenRequest request, PlaceDone done) {
  if (impl_->stopped || impl_->supervisor == kNoNode) return done(std::nullopt);
  const uint64_t nonce = impl_->Wait(Impl::Waiter{std::move(done), nullptr, nullptr, {}});
  workload::PlaceRequestMsg m{nonce, std::move(request)};
  impl_->waiters.at(nonce).request = m;
  impl_->Send(impl_->supervisor, m);
}

void WorkloadService::Query(workload::QueryMsg query, QueryDone done) {
  if (impl_->stopped || impl_->supervisor == kNoNode) return done(std::nullopt);
  query.nonce = impl_->Wait(Impl::Waiter{nullptr, std::move(done), nullptr, {}});
  impl_->waiters.at(query.nonce).request = query;
  impl_->Send(impl_->supervisor, query);
}

const WorkloadOptions& WorkloadService::options() const { return impl_->options; }
const WorkloadMetrics& WorkloadService::metrics() const { return impl_->metrics; }
const workload::Supervisor* WorkloadService::supervisor_tables() const {
  return impl_->tables ? &*impl_->tables : nullptr;
}

}  // namespace cohort::node
