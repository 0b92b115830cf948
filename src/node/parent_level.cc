#include "node/parent_level.h"

#include <chrono>

#include "base/log.h"
#include "hierarchy/relay.h"
#include "hierarchy/view.h"
#include "io/adapters.h"
#include "io/asio.h"
#include "io/clock.h"
#include "io/files.h"
#include "io/timer.h"
#include "io/udp.h"
#include "membership/messages.h"
#include "node/keyring_file.h"
#include "node/level_link.h"

namespace cohort::node {

namespace asio = boost::asio;

struct ParentLevel::Impl {
  Config config;  // the node's, for timings and names
  size_t depth;
  ParentConfig parent;  // config.parents[depth]
  uint32_t factor;      // this level's timings: the cluster's × it
  asio::io_context& loop;
  std::unique_ptr<transport::TransportCore> core;
  std::unique_ptr<membership::MembershipCore> members;
  std::unique_ptr<hierarchy::RepresentationCore> rep;
  std::unique_ptr<hierarchy::ViewCore> view;
  io::UdpAdapters udp;
  io::Timer timer;
  Instant timer_at = Instant::Max();
  Incarnation incarnation = 0;
  std::optional<hierarchy::Aggregate> own;
  RelayHandler relay;
  bool stopped = false;

  std::unique_ptr<LevelLink> above;  // last, so destroyed first: it reads members and rep

  Impl(const Config& c, size_t d, asio::io_context& io, RelayHandler r)
      : config(c),
        depth(d),
        parent(c.parents[d]),
        factor(LevelFactor(c, d)),
        loop(io),
        udp(io,
            [this](uint8_t adapter, const Endpoint& from, std::span<const uint8_t> bytes,
                   std::optional<uint8_t> hops) {
              transport::Outputs out;
              core->OnDatagram(io::SteadyNow(), adapter, from, bytes, out, hops);
              Process(out);
            }),
        timer(io),
        relay(std::move(r)) {}

  // The level's keyring: its key file, and the keys installed for it in data_dir/parent
  // (data_dir/parent/parent for the level above that, …).
  Result<wire::Keyring> Keyring() const {
    Config k;
    k.source = config.source;
    k.key_file = parent.key_file;
    k.data_dir = config.data_dir;
    for (size_t d = 0; d <= depth; ++d) k.data_dir += "/parent";
    COHORT_TRY(io::MakeDirs(k.data_dir));
    return LoadKeyring(k);
  }

  Status Init() {
    auto ring = Keyring();
    if (!ring) return Error(ring.error().code(), "[" + Key() + "]: " + ring.error().message());
    if (auto cipher = wire::CipherFromName(config.cipher)) ring->set_seal_cipher(*cipher);
    auto found = io::DiscoverAdapter(parent.listen.ip);
    if (!found) {
      return Error(Errc::kInvalidArgument,
                   config.source + ": key '" + Key() + ".listen': " + found.error().message());
    }
    // Above every earlier holder's: wall-clock milliseconds (hosts' clocks must agree to
    // better than a takeover, and not be stepped back), with this daemon's node id in the
    // low 16 bits, so two members of the cluster that start it in the same millisecond
    // still differ.
    incarnation = (io::WallMillis() << 16) | config.node_id;
    transport::TransportOptions o;
    o.self = parent.id;
    o.incarnation = incarnation;
    o.adapters.push_back({transport::AddressInfo{parent.listen, found->mask, found->mtu,
                                                 found->type, transport::Cos::kControl},
                          true});
    for (const Endpoint& s : parent.seeds) {
      if (s != parent.listen) o.seeds.push_back(s);
    }
    o.request_timeout = Duration::Millis(config.request_timeout_ms);
    o.probe_interval = Duration::Millis(config.probe_ms);
    o.exchange_interval = Duration::Millis(config.exchange_ms);
    o.max_datagram = config.max_datagram;
    core = std::make_unique<transport::TransportCore>(o, std::move(*ring),
                                                      incarnation ^ (uint64_t{parent.id} << 20));
    membership::MembershipOptions mo;
    mo.self = parent.id;
    mo.incarnation = incarnation;
    mo.priority = parent.priority;
    mo.period = Duration::Millis(config.period_ms) * factor;
    mo.miss_limit = config.miss_limit;
    mo.notify = Duration::Millis(config.notify_ms) * factor;
    mo.usage_period = Duration::Millis(config.usage_ms);
    members = std::make_unique<membership::MembershipCore>(mo, incarnation * 31 + parent.id);
    rep = std::make_unique<hierarchy::RepresentationCore>(
        hierarchy::RepresentationOptions{.self = parent.id, .incarnation = incarnation});
    view = std::make_unique<hierarchy::ViewCore>(
        hierarchy::ViewOptions{.self = parent.id, .incarnation = incarnation});
    return OkStatus();
  }

  std::string Key() const {
    std::string key = "cluster";
    for (size_t d = 0; d <= depth; ++d) key += ".parent";
    return key;
  }

  // The level above runs while this one supervises, fed this level's aggregate.
  void LinkAbove(asio::io_context& io) {
    if (depth + 1 >= config.parents.size()) return;
    LevelLink::Below below{
        .membership = [this]() -> const membership::MembershipCore& { return *members; },
        .aggregate = [this] { return hierarchy::OfCluster(members->map(), {}, rep->Aggregates()); },
        .notify = Duration::Millis(config.notify_ms) * factor,
        .seen = [this] { return Seen(); },
        .relay = relay};
    above = std::make_unique<LevelLink>(config, depth + 1, std::move(below), io);
    // What the level above shows may have changed: its view goes down to this level.
    above->on_tick = [this](Instant) { SendDown(); };
    above->Start();
  }

  // This level as this node sees it.
  hierarchy::LevelView Own() const {
    return hierarchy::ViewOf(members->map(), rep->Aggregates(), ParentAggregate());
  }

  std::optional<hierarchy::Aggregate> ParentAggregate() const {
    if (members->role() != membership::Role::kSupervisor) return std::nullopt;
    return hierarchy::OfCluster(members->map(), {}, rep->Aggregates());
  }

  // This level and those above it, nearest first: as this node knows them when it
  // supervises here, else as this level's supervisor sent them.
  std::vector<hierarchy::LevelView> Up() const {
    if (members->role() != membership::Role::kSupervisor) {
      if (view->received()) return view->received()->levels;
      return {Own()};
    }
    std::vector<hierarchy::LevelView> levels{Own()};
    if (above && above->level() != nullptr) {
      for (auto& l : above->level()->Up()) levels.push_back(std::move(l));
    }
    return levels;
  }

  // The levels above this one as this level's supervisor sent them (none sent yet: none).
  std::span<const hierarchy::LevelView> Seen() const {
    if (!view->received() || view->received()->levels.empty()) return {};
    return std::span<const hierarchy::LevelView>(view->received()->levels).subspan(1);
  }

  // As supervisor: this level's members are sent the tree from here up.
  void SendDown() {
    if (stopped || members->role() != membership::Role::kSupervisor) return;
    membership::Outputs vout;
    view->SetDown(io::SteadyNow(), Up(), vout);
    Route(vout, hierarchy::kViewChannel);
  }

  void Process(transport::Outputs& out) {
    for (auto& o : out) {
      if (auto* d = std::get_if<transport::SendDatagram>(&o)) {
        udp.Send(d->adapter, d->to, d->dscp, d->bytes);
      } else if (auto* m = std::get_if<transport::Delivered>(&o)) {
        membership::Outputs mout;
        if (m->channel == membership::kChannel) {
          members->OnMessage(io::SteadyNow(), m->from, m->bytes, mout);
        } else if (m->channel == hierarchy::kChannel) {
          rep->OnMessage(io::SteadyNow(), m->from, m->bytes, mout);
        } else if (m->channel == hierarchy::kViewChannel) {
          view->OnMessage(io::SteadyNow(), m->from, m->bytes, mout);
        } else if (m->channel == hierarchy::kRelayChannel && relay) {
          relay(static_cast<uint8_t>(depth + 1), m->from, m->bytes);
        }
        Route(mout, m->channel);
      } else if (auto* e = std::get_if<transport::TransportEvent>(&o);
                 e != nullptr && e->kind == transport::TransportEvent::Kind::kNodeRestarted) {
        // A new holder of a node of this level: if it held the supervisor's, it takes over.
        Log(LogLevel::kInfo, "hierarchy", "node restarted",
            {{"level", parent.name},
             {"node", std::to_string(e->node)},
             {"incarnation", std::to_string(e->incarnation)}});
        membership::Outputs mout;
        members->OnPeerRestarted(io::SteadyNow(), e->node, e->incarnation, mout);
        Route(mout, membership::kChannel);
      }
    }
    out.clear();
    ArmTimer();
  }

  // Membership (or representation) outputs go over this level's transport on `channel`;
  // after any of them the keepers may have changed.
  void Route(membership::Outputs& mout, uint8_t channel) {
    const Instant now = io::SteadyNow();
    transport::Outputs out;
    bool changed = false;
    for (auto& o : mout) {
      if (auto* s = std::get_if<membership::SendTo>(&o)) {
        (void)core->SendData(now, s->to, channel, s->bytes, out);
      } else if (auto* b = std::get_if<membership::Broadcast>(&o)) {
        core->Broadcast(now, membership::kChannel, b->bytes, out);
      } else if (auto* e = std::get_if<membership::MembershipEvent>(&o)) {
        changed = true;
        Log(LogLevel::kInfo, "hierarchy", membership::RoleName(members->role()),
            {{"level", parent.name},
             {"node", std::to_string(parent.id)},
             {"supervisor", std::to_string(members->supervisor())},
             {"map_version", std::to_string(e->map_version)}});
      }
    }
    mout.clear();
    Process(out);
    const auto [supervisor, deputy] = hierarchy::KeepersOf(*members);
    membership::Outputs rout;
    rep->SetKeepers(now, supervisor, deputy, rout);
    if (!rout.empty()) Route(rout, hierarchy::kChannel);
    ArmTimer();  // the keepers may have moved the representation's deadline
    if (changed && !stopped) {
      membership::Outputs vout;
      view->SetMap(now, members->map(), vout);
      Route(vout, hierarchy::kViewChannel);
      SendDown();
      if (above) above->Follow();
    }
    // The aggregates kept changed (a member's arrived, or this node's own as a keeper):
    // the level's aggregate goes up, its view down.
    if (rep->TakeChanged() && !stopped) {
      if (above) above->Refresh();
      SendDown();
    }
  }

  void ArmTimer() {
    if (stopped) return;
    const Instant next = std::min(
        {core->NextDeadline(), members->NextDeadline(), rep->NextDeadline(), view->NextDeadline()});
    if (next == timer_at) return;
    timer_at = next;
    timer.At(next, [this] {
      if (stopped) return;
      timer_at = Instant::Max();
      const Instant now = io::SteadyNow();
      membership::Outputs mout;
      if (members->NextDeadline() <= now) members->Tick(now, mout);
      Route(mout, membership::kChannel);
      if (rep->NextDeadline() <= now) rep->Tick(now, mout);
      Route(mout, hierarchy::kChannel);
      if (view->NextDeadline() <= now) view->Tick(now, mout);
      Route(mout, hierarchy::kViewChannel);
      transport::Outputs out;
      core->Tick(now, out);
      Process(out);
    });
  }
};

Result<std::unique_ptr<ParentLevel>> ParentLevel::Start(const Config& config, size_t depth,
                                                        asio::io_context& io, RelayHandler relay) {
  CHECK(depth < config.parents.size());
  auto impl = std::make_unique<Impl>(config, depth, io, std::move(relay));
  COHORT_TRY(impl->Init());
  COHORT_TRY(impl->udp.Bind({impl->parent.listen}));
  transport::Outputs out;
  impl->core->Start(io::SteadyNow(), out);
  impl->Process(out);
  membership::Outputs mout;
  impl->members->Start(io::SteadyNow(), mout);
  impl->Route(mout, membership::kChannel);
  impl->LinkAbove(io);
  Log(LogLevel::kInfo, "hierarchy", "representing the level below in the level above",
      {{"level", impl->parent.name},
       {"depth", std::to_string(depth + 1)},
       {"node", std::to_string(impl->parent.id)},
       {"listen", impl->parent.listen.ToString()},
       {"incarnation", std::to_string(impl->incarnation)}});
  return std::unique_ptr<ParentLevel>(new ParentLevel(std::move(impl)));
}

ParentLevel::ParentLevel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ParentLevel::~ParentLevel() { Stop(); }

void ParentLevel::Stop() {
  if (impl_->above) impl_->above->Shutdown();
  impl_->stopped = true;
  impl_->timer.Cancel();
  impl_->udp.Close();
}

void ParentLevel::Dispose(std::unique_ptr<ParentLevel> level, asio::io_context& io) {
  if (level == nullptr) return;
  level->Stop();
  // A handler made ready in this loop pass runs before this one, and finds it stopped.
  std::shared_ptr<ParentLevel> last(std::move(level));
  asio::post(io, [last] {});
}

void ParentLevel::SetOwn(const hierarchy::Aggregate& aggregate) {
  membership::Outputs out;
  impl_->rep->SetOwn(io::SteadyNow(), aggregate, out);
  impl_->Route(out, hierarchy::kChannel);
}

const membership::MembershipCore& ParentLevel::membership() const { return *impl_->members; }
const transport::TransportCore& ParentLevel::transport() const { return *impl_->core; }
const hierarchy::RepresentationCore& ParentLevel::representation() const { return *impl_->rep; }
Incarnation ParentLevel::incarnation() const { return impl_->incarnation; }

const LevelLink* ParentLevel::above() const { return impl_->above.get(); }

std::optional<hierarchy::Aggregate> ParentLevel::ParentAggregate() const {
  return impl_->ParentAggregate();
}

std::vector<hierarchy::LevelView> ParentLevel::Up() const { return impl_->Up(); }

const hierarchy::ViewCore& ParentLevel::view() const { return *impl_->view; }

Status ParentLevel::SendRelay(NodeId to, std::span<const uint8_t> bytes) {
  if (impl_->stopped) return Error(Errc::kUnavailable, "the level has stopped");
  transport::Outputs out;
  COHORT_TRY(impl_->core->SendData(io::SteadyNow(), to, hierarchy::kRelayChannel, bytes, out));
  impl_->Process(out);
  return OkStatus();
}

}  // namespace cohort::node
