#include "node/node.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "base/digest.h"
#include "base/log.h"
#include "io/adapters.h"
#include "io/asio.h"
#include "io/clock.h"
#include "io/files.h"
#include "io/timer.h"
#include "io/udp.h"
#include "liveness/messages.h"
#include "membership/messages.h"
#include "node/keyring_file.h"
#include "transport/messages.h"

namespace cohort::node {
namespace {

namespace asio = boost::asio;
using nlohmann::json;

}  // namespace

struct Node::Impl {
  Config config;
  asio::io_context& loop;
  transport::TransportOptions options;
  std::unique_ptr<transport::TransportCore> core;
  std::unique_ptr<membership::MembershipCore> members;
  std::unique_ptr<liveness::LivenessCore> live;
  LivenessLog liveness_log;
  dcm::NetworkMap network_map;
  io::UdpAdapters udp;
  std::function<void()> on_left;  // set by LeaveGracefully
  std::map<uint8_t, ChannelHandler> channel_handlers;
  std::vector<std::function<void()>> membership_observers;
  std::unique_ptr<asio::steady_timer> leave_timer;
  std::vector<std::string> interfaces;
  uint32_t capacity_mbps = 0;  // as the last usage sample found it
  io::Timer timer;
  Instant timer_at = Instant::Max();
  std::string token;
  Instant started;
  bool stopped = false;

  std::unique_ptr<io::DiskProber> prober;
  std::map<std::string, io::DiskCheck> disk_checks;
  uint64_t disk_check_failures = 0;
  std::unique_ptr<asio::steady_timer> usage_timer;
  std::map<std::string, io::NetCounters> last_net;
  Instant last_net_at;
  uint64_t next_usage_nonce = 1;
  struct UsageWait {
    std::function<void(std::optional<membership::UsageReply>)> done;
    std::unique_ptr<asio::steady_timer> timer;
  };
  std::map<uint64_t, std::shared_ptr<UsageWait>> usage_waits;

  struct PingState {
    int remaining_to_send = 0;
    int outstanding = 0;
    NodeId node = kNoNode;
    Duration interval;
    transport::Bytes payload;
    PingResult result;
    std::function<void(PingResult)> done;
    std::unique_ptr<asio::steady_timer> timer;
  };
  std::map<uint64_t, std::shared_ptr<PingState>> echo_owner;

  Impl(Config c, asio::io_context& ctx)
      : config(std::move(c)),
        loop(ctx),
        liveness_log(ctx),
        udp(ctx,
            [this](uint8_t adapter, const Endpoint& from, std::span<const uint8_t> bytes,
                   std::optional<uint8_t> hops) {
              transport::Outputs out;
              core->OnDatagram(io::SteadyNow(), adapter, from, bytes, out, hops);
              Process(out);
            }),
        timer(ctx) {}

  Status SaveKeyring() { return node::SaveKeyring(config, core->keyring()); }

  // The revision of this node's own entry goes up whenever its adapter info changes, across
  // restarts, so peers and operators can tell versions apart.
  Result<uint32_t> EntryRevision(const std::vector<transport::LocalAdapter>& adapters) {
    transport::NodeEntry own{config.node_id, 0, 0, {}};
    for (const auto& a : adapters) own.addresses.push_back(a.info);
    const std::string digest =
        HexDigest(Digest64(transport::Encode(transport::TablePushMsg{{own}})));
    const std::string path = config.data_dir + "/transport.json";
    uint32_t revision = 1;
    if (auto saved = io::ReadFile(path)) {
      const json doc = json::parse(*saved, nullptr, false);
      if (!doc.is_object() || !doc.contains("revision") || !doc["revision"].is_number_unsigned() ||
          !doc.contains("entry_digest") || !doc["entry_digest"].is_string()) {
        // Revisions must only grow across restarts: no guessing where this one was.
        return Error(Errc::kInvalidArgument,
                     path + " is damaged: remove it (peers then see this node's entry as new)");
      }
      revision = doc["revision"].get<uint32_t>();
      if (doc["entry_digest"].get<std::string>() != digest) ++revision;
    }
    COHORT_TRY(io::WriteFileAtomic(
        path, json{{"revision", revision}, {"entry_digest", digest}}.dump() + "\n"));
    return revision;
  }

  Status Init() {
    COHORT_TRY(io::MakeDirs(config.data_dir));
    ::chmod(config.data_dir.c_str(), 0700);
    auto ring = node::LoadKeyring(config);
    if (!ring) return ring.error();
    if (auto cipher = wire::CipherFromName(config.cipher)) ring->set_seal_cipher(*cipher);

    auto api_token = node::LoadApiToken(config.data_dir);
    if (!api_token) return api_token.error();
    token = *api_token;

    options.self = config.node_id;
    options.incarnation = io::WallMillis();
    for (size_t i = 0; i < config.adapters.size(); ++i) {
      const AdapterConfig& a = config.adapters[i];
      auto found = io::DiscoverAdapter(a.listen.ip);
      if (!found) {
        return Error(Errc::kInvalidArgument, config.source + ": key 'transport.listen[" +
                                                 std::to_string(i) +
                                                 "]': " + found.error().message());
      }
      auto cos = transport::ParseCos(a.cos);
      if (!cos) {
        return Error(Errc::kInvalidArgument,
                     config.source + ": key 'transport.cos': " + cos.error().message());
      }
      transport::AddressInfo info{a.listen, found->mask,
                                  a.mtu ? static_cast<uint16_t>(*a.mtu) : found->mtu, found->type,
                                  *cos};
      options.adapters.push_back({info, true});
      interfaces.push_back(found->interface);
    }
    for (const RouteConfig& r : config.routes) {
      for (size_t i = 0; i < config.adapters.size(); ++i) {
        if (config.adapters[i].listen == r.via) {
          options.routes.push_back({r.subnet, static_cast<uint8_t>(i)});
        }
      }
    }
    for (const Endpoint& s : config.seeds) {
      const bool own = std::any_of(config.adapters.begin(), config.adapters.end(),
                                   [&](const AdapterConfig& a) { return a.listen == s; });
      if (!own) options.seeds.push_back(s);
    }
    auto revision = EntryRevision(options.adapters);
    if (!revision) return revision.error();
    options.revision = *revision;
    options.request_timeout = Duration::Millis(config.request_timeout_ms);
    options.probe_interval = Duration::Millis(config.probe_ms);
    options.exchange_interval = Duration::Millis(config.exchange_ms);
    options.max_datagram = config.max_datagram;
    options.group = config.multicast;
    core = std::make_unique<transport::TransportCore>(options, std::move(*ring),
                                                      options.incarnation ^ config.node_id);
    membership::MembershipOptions mo;
    mo.self = config.node_id;
    mo.incarnation = options.incarnation;
    mo.priority = config.priority;
    mo.period = Duration::Millis(config.period_ms);
    mo.miss_limit = config.miss_limit;
    mo.notify = Duration::Millis(config.notify_ms);
    mo.usage_period = Duration::Millis(config.usage_ms);
    for (const DiskConfig& d : config.disks) mo.disks.push_back(d.id);
    members = std::make_unique<membership::MembershipCore>(mo, options.incarnation * 31 + 7);
    liveness::LivenessOptions lo;
    lo.self = config.node_id;
    lo.incarnation = options.incarnation;
    lo.period = Duration::Millis(config.liveness_period_ms);
    lo.miss_limit = static_cast<int>(config.liveness_miss_limit);
    lo.refresh = Duration::Millis(config.liveness_refresh_ms);
    live = std::make_unique<liveness::LivenessCore>(lo);
    return SaveKeyring();
  }

  void Process(transport::Outputs& out) {
    for (auto& o : out) {
      if (auto* d = std::get_if<transport::SendDatagram>(&o)) {
        udp.Send(d->adapter, d->to, d->dscp, d->bytes);
      } else if (auto* r = std::get_if<transport::RequestDone>(&o)) {
        OnEchoDone(std::move(*r));
      } else if (auto* e = std::get_if<transport::TransportEvent>(&o)) {
        LogEvent(*e);
        if (e->kind == transport::TransportEvent::Kind::kTableChanged) RefreshLivenessAdapters();
        if (e->kind == transport::TransportEvent::Kind::kNodeRestarted) {
          membership::Outputs mout;
          members->OnPeerRestarted(io::SteadyNow(), e->node, e->incarnation, mout);
          ProcessMembership(mout);
        }
      } else if (auto* m = std::get_if<transport::Delivered>(&o)) {
        if (m->channel == membership::kChannel) {
          membership::Outputs mout;
          members->OnMessage(io::SteadyNow(), m->from, m->bytes, mout);
          ProcessMembership(mout);
        } else if (m->channel == liveness::kChannel && m->adapter < options.adapters.size()) {
          liveness::Outputs lout;
          live->OnMessage(io::SteadyNow(), m->from, options.adapters[m->adapter].info.address,
                          m->source, m->bytes, lout);
          ProcessLiveness(lout);
        } else if (auto h = channel_handlers.find(m->channel); h != channel_handlers.end()) {
          h->second(m->from, m->bytes);
        }
      }
    }
    out.clear();
    ArmTimer();
  }

  // Membership rides on transport Data; a broadcast goes over the bus (M2): the multicast
  // group if configured, else a unicast fan-out over the address table, which works across
  // routers and on loopback.
  void ProcessMembership(membership::Outputs& mout) {
    transport::Outputs out;
    const Instant now = io::SteadyNow();
    bool changed = false;
    for (auto& o : mout) {
      if (auto* s = std::get_if<membership::SendTo>(&o)) {
        (void)core->SendData(now, s->to, membership::kChannel, s->bytes, out);
      } else if (auto* b = std::get_if<membership::Broadcast>(&o)) {
        core->Broadcast(now, membership::kChannel, b->bytes, out);
      } else if (auto* e = std::get_if<membership::MembershipEvent>(&o)) {
        LogMembership(*e);
        changed = true;
      } else if (auto* u = std::get_if<membership::UsageReply>(&o)) {
        FinishUsageWait(u->nonce, std::move(*u));
      }
    }
    mout.clear();
    Process(out);
    if (changed) {
      for (const auto& fn : membership_observers) fn();
    }
  }

  // L1: every address of the table is an adapter on its subnet's network (C11).
  void RefreshLivenessAdapters() {
    std::vector<liveness::Adapter> adapters;
    for (const auto& [id, entry] : core->table().entries()) {
      for (const transport::AddressInfo& a : entry.addresses) {
        adapters.push_back({id, a.address, network_map.LivenessNetwork(a.address, a.mask)});
      }
    }
    liveness::Outputs lout;
    live->SetAdapters(io::SteadyNow(), std::move(adapters), lout);
    ProcessLiveness(lout);
  }

  // Heartbeats take the path they judge; rows go by any path, as membership's messages do.
  void ProcessLiveness(liveness::Outputs& lout) {
    transport::Outputs out;
    const Instant now = io::SteadyNow();
    for (auto& o : lout) {
      if (auto* v = std::get_if<liveness::SendVia>(&o)) {
        (void)core->SendDataVia(v->from, v->to, liveness::kChannel, v->bytes, out);
      } else if (auto* t = std::get_if<liveness::SendTo>(&o)) {
        (void)core->SendData(now, t->node, liveness::kChannel, t->bytes, out);
      } else if (auto* b = std::get_if<liveness::Broadcast>(&o)) {
        core->Broadcast(now, liveness::kChannel, b->bytes, out);
      } else if (auto* h = std::get_if<liveness::AddressHeard>(&o)) {
        // RM3: traffic leaves an address none of this node's adapters hears at once, instead
        // of waiting for a request to time out; the transport's probes go on checking it.
        core->SetAddressReachable(h->remote.node, h->remote.address, h->heard, out);
      } else {
        LogLiveness(o);
        liveness_log.Add(o);
      }
    }
    lout.clear();
    Process(out);
  }

  void LogLiveness(const liveness::Output& o) {
    if (auto* p = std::get_if<liveness::PathChanged>(&o)) {
      Log(p->state == liveness::PathState::kUp ? LogLevel::kInfo : LogLevel::kWarn, "liveness",
          std::string("path ") + liveness::PathStateName(p->state),
          {{"from", p->from.address.ToString()},
           {"from_node", std::to_string(p->from.node)},
           {"to", p->to.address.ToString()},
           {"to_node", std::to_string(p->to.node)},
           {"network", p->to.network}});
    } else if (auto* a = std::get_if<liveness::AdapterChanged>(&o)) {
      Log(a->state == liveness::AdapterState::kDown ? LogLevel::kWarn : LogLevel::kInfo, "liveness",
          std::string("adapter ") + liveness::AdapterStateName(a->state),
          {{"address", a->adapter.address.ToString()},
           {"node", std::to_string(a->adapter.node)},
           {"network", a->adapter.network}});
    }
  }

  void LogMembership(const membership::MembershipEvent& e) {
    using K = membership::MembershipEvent::Kind;
    const std::string node = std::to_string(e.node), version = std::to_string(e.map_version);
    switch (e.kind) {
      case K::kBecameSupervisor:
        Log(LogLevel::kInfo, "membership", "became supervisor", {{"node", node}});
        break;
      case K::kSupervisorChanged:
        Log(LogLevel::kInfo, "membership", "supervisor changed", {{"supervisor", node}});
        break;
      case K::kMapChanged:
        Log(LogLevel::kDebug, "membership", "map changed", {{"version", version}});
        break;
      case K::kFailureDeclared:
        Log(LogLevel::kWarn, "membership", "declared predecessor failed", {{"node", node}});
        break;
      case K::kDiskPathFailed:
        Log(LogLevel::kWarn, "membership", "disk path failed", {{"disk", e.disk}, {"node", node}});
        break;
      case K::kDiskPathRestored:
        Log(LogLevel::kInfo, "membership", "disk path restored",
            {{"disk", e.disk}, {"node", node}});
        break;
      case K::kDiskFailed:
        Log(LogLevel::kError, "membership", "disk failed: reported by several nodes",
            {{"disk", e.disk}, {"last_report_from", node}});
        break;
      case K::kDiskRestored:
        Log(LogLevel::kInfo, "membership", "disk restored", {{"disk", e.disk}, {"node", node}});
        break;
      case K::kLeft:
        Log(LogLevel::kInfo, "membership", "left the cluster", {{"version", version}});
        if (on_left) {
          auto done = std::move(on_left);
          on_left = nullptr;
          done();
        }
        break;
    }
  }

  void LogEvent(const transport::TransportEvent& e) {
    using K = transport::TransportEvent::Kind;
    switch (e.kind) {
      case K::kAddressUnreachable:
        Log(LogLevel::kWarn, "transport", "address unreachable",
            {{"node", std::to_string(e.node)}, {"address", e.address.ToString()}});
        break;
      case K::kAddressReachable:
        Log(LogLevel::kInfo, "transport", "address reachable",
            {{"node", std::to_string(e.node)}, {"address", e.address.ToString()}});
        break;
      case K::kPreferredChanged:
        Log(LogLevel::kInfo, "transport", "preferred address changed",
            {{"node", std::to_string(e.node)}, {"address", e.address.ToString()}});
        break;
      case K::kNodeRestarted:
        Log(LogLevel::kInfo, "transport", "node restarted",
            {{"node", std::to_string(e.node)}, {"incarnation", std::to_string(e.incarnation)}});
        break;
      case K::kTableChanged:
        Log(LogLevel::kInfo, "transport", "address table changed",
            {{"version", std::to_string(e.table_version)},
             {"digest", HexDigest(e.table_digest)},
             {"nodes", std::to_string(core->table().size())}});
        break;
    }
  }

  void ArmTimer() {
    if (stopped) return;
    const Instant next =
        std::min({core->NextDeadline(), members->NextDeadline(), live->NextDeadline()});
    if (next == timer_at) return;
    timer_at = next;
    timer.At(next, [this] {
      if (stopped) return;
      timer_at = Instant::Max();
      const Instant now = io::SteadyNow();
      membership::Outputs mout;
      if (members->NextDeadline() <= now) members->Tick(now, mout);
      ProcessMembership(mout);
      liveness::Outputs lout;
      if (live->NextDeadline() <= now) live->Tick(now, lout);
      ProcessLiveness(lout);
      transport::Outputs out;
      core->Tick(now, out);
      Process(out);
    });
  }

  void OnDiskCheck(io::DiskCheck c) {
    if (stopped) return;
    auto previous = disk_checks.find(c.disk);
    const bool was_ok = previous == disk_checks.end() || previous->second.ok;
    if (!c.ok) ++disk_check_failures;
    if (was_ok && !c.ok) {
      Log(LogLevel::kWarn, "disk", "check failed", {{"disk", c.disk}, {"error", c.error}});
    } else if (!was_ok && c.ok) {
      Log(LogLevel::kInfo, "disk", "check passes again", {{"disk", c.disk}});
    }
    const std::string id = c.disk;
    const bool ok = c.ok;
    disk_checks[id] = std::move(c);
    membership::Outputs mout;
    members->OnDiskCheck(io::SteadyNow(), id, ok, mout);
    ProcessMembership(mout);
  }

  // M12: this node's usage row — streaming capacity and current load — every usage period.
  void SampleUsage() {
    const Instant now = io::SteadyNow();
    membership::NodeUsage u;
    std::map<std::string, io::NetCounters> net;
    uint32_t speed = 0;
    // Adapters may share an interface (127.0.0.1 and 127.0.0.2 on lo): count each once.
    for (const std::string& ifname : std::set<std::string>(interfaces.begin(), interfaces.end())) {
      if (auto c = io::ReadNetCounters(ifname)) net[ifname] = *c;
      speed += io::LinkSpeedMbps(ifname);
    }
    u.capacity_mbps = config.stream_capacity_mbps != 0 ? config.stream_capacity_mbps : speed;
    capacity_mbps = u.capacity_mbps;
    const double seconds = static_cast<double>((now - last_net_at).micros()) / 1e6;
    for (const auto& [ifname, c] : net) {
      auto before = last_net.find(ifname);
      if (before == last_net.end() || seconds <= 0) continue;
      u.tx_bps += static_cast<uint64_t>(static_cast<double>(c.tx_bytes - before->second.tx_bytes) *
                                        8 / seconds);
      u.rx_bps += static_cast<uint64_t>(static_cast<double>(c.rx_bytes - before->second.rx_bytes) *
                                        8 / seconds);
    }
    last_net = std::move(net);
    last_net_at = now;
    u.load_milli = io::LoadAverageMilli();
    for (const auto& [id, c] : disk_checks) {
      u.disks.push_back(membership::DiskUsage{id, c.total_bytes, c.free_bytes,
                                              c.busy_permille.value_or(membership::kUnknownBusy),
                                              static_cast<uint32_t>(c.took.micros())});
    }
    members->SetUsage(now, std::move(u));
    usage_timer->expires_after(std::chrono::milliseconds(config.usage_ms));
    usage_timer->async_wait([this](boost::system::error_code ec) {
      if (!ec && !stopped) SampleUsage();
    });
  }

  void FinishUsageWait(uint64_t nonce, std::optional<membership::UsageReply> reply) {
    auto it = usage_waits.find(nonce);
    if (it == usage_waits.end()) return;
    auto wait = it->second;
    usage_waits.erase(it);
    wait->timer->cancel();
    wait->done(std::move(reply));
  }

  void OnEchoDone(transport::RequestDone r) {
    auto it = echo_owner.find(r.id);
    if (it == echo_owner.end()) return;
    std::shared_ptr<PingState> p = it->second;
    echo_owner.erase(it);
    p->result.replies.push_back(std::move(r));
    --p->outstanding;
    FinishPingIfDone(p);
  }

  void FinishPingIfDone(const std::shared_ptr<PingState>& p) {
    if (p->remaining_to_send == 0 && p->outstanding == 0 && p->done) {
      auto done = std::move(p->done);
      p->done = nullptr;
      done(std::move(p->result));
    }
  }

  void SendNextEcho(const std::shared_ptr<PingState>& p) {
    if (stopped || p->remaining_to_send == 0) return;
    --p->remaining_to_send;
    transport::Outputs out;
    auto id = core->Echo(io::SteadyNow(), p->node, p->payload, out);
    if (id) {
      ++p->outstanding;
      echo_owner[*id] = p;
    } else {
      p->result.replies.push_back(transport::RequestDone{0, p->node, false, {}, 0, {}, {}, {}});
    }
    Process(out);
    if (p->remaining_to_send > 0) {
      p->timer->expires_after(std::chrono::nanoseconds(p->interval.nanos()));
      p->timer->async_wait([this, p](boost::system::error_code ec) {
        if (!ec) SendNextEcho(p);
      });
    }
    FinishPingIfDone(p);
  }
};

Node::Node(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Node::~Node() = default;

Result<std::unique_ptr<Node>> Node::Create(const Config& config, asio::io_context& io) {
  auto impl = std::make_unique<Impl>(config, io);
  COHORT_TRY(impl->Init());
  return std::unique_ptr<Node>(new Node(std::move(impl)));
}

Status Node::Start() {
  std::vector<Endpoint> addresses;
  for (const auto& a : impl_->options.adapters) addresses.push_back(a.info.address);
  COHORT_TRY(impl_->udp.Bind(addresses));
  if (impl_->config.multicast) {
    Impl* impl = impl_.get();
    COHORT_TRY(impl_->udp.JoinGroup(
        *impl_->config.multicast, [impl](uint8_t, const Endpoint& from,
                                         std::span<const uint8_t> bytes, std::optional<uint8_t>) {
          transport::Outputs out;
          impl->core->OnGroupDatagram(io::SteadyNow(), from, bytes, out);
          impl->Process(out);
        }));
  }
  impl_->started = io::SteadyNow();
  transport::Outputs out;
  impl_->core->Start(io::SteadyNow(), out);
  impl_->Process(out);
  impl_->RefreshLivenessAdapters();
  membership::Outputs mout;
  impl_->members->Start(io::SteadyNow(), mout);
  impl_->ProcessMembership(mout);
  Impl* impl = impl_.get();
  impl_->prober = std::make_unique<io::DiskProber>(
      impl_->loop, impl_->config.disks, Duration::Millis(impl_->config.disk_check_ms),
      Duration::Millis(impl_->config.disk_timeout_ms),
      [impl](io::DiskCheck c) { impl->OnDiskCheck(std::move(c)); });
  impl_->prober->Start();
  impl_->usage_timer = std::make_unique<asio::steady_timer>(impl_->loop);
  impl_->SampleUsage();
  std::string listen;
  for (const auto& a : impl_->options.adapters)
    listen += (listen.empty() ? "" : ",") + a.info.address.ToString();
  Log(LogLevel::kInfo, "node", "started",
      {{"node", std::to_string(impl_->config.node_id)},
       {"cluster", impl_->config.cluster_name},
       {"listen", listen},
       {"bus", impl_->config.multicast ? "multicast " + impl_->config.multicast->ToString()
                                       : std::string("unicast")},
       {"disks", std::to_string(impl_->config.disks.size())},
       {"key", wire::KeyIdToText(impl_->core->keyring().in_use())},
       {"cipher", wire::CipherName(impl_->core->keyring().seal_cipher())}});
  return OkStatus();
}

void Node::Stop() {
  impl_->stopped = true;
  impl_->timer.Cancel();
  impl_->prober.reset();
  if (impl_->usage_timer) impl_->usage_timer->cancel();
  for (auto& [nonce, wait] : impl_->usage_waits) wait->timer->cancel();
  impl_->udp.Close();
}

const Config& Node::config() const { return impl_->config; }
const transport::TransportCore& Node::transport() const { return *impl_->core; }
const membership::MembershipCore& Node::membership() const { return *impl_->members; }
const liveness::LivenessCore& Node::liveness() const { return *impl_->live; }

LivenessLog& Node::liveness_log() { return impl_->liveness_log; }
const dcm::NetworkMap& Node::network_map() const { return impl_->network_map; }

void Node::SetNetworkMap(dcm::NetworkMap map) {
  if (map == impl_->network_map) return;
  impl_->network_map = std::move(map);
  Log(LogLevel::kInfo, "node", "network objects changed",
      {{"subnets", std::to_string(impl_->network_map.subnets().size())},
       {"networks", std::to_string(impl_->network_map.networks().size())}});
  transport::Outputs out;
  impl_->core->SetPriorities(impl_->network_map.Priorities(dcm::Service::kMembership), out);
  impl_->Process(out);
  impl_->RefreshLivenessAdapters();
}

void Node::LeaveGracefully(Duration limit, std::function<void()> done) {
  impl_->on_left = done;
  impl_->leave_timer = std::make_unique<asio::steady_timer>(impl_->loop);
  impl_->leave_timer->expires_after(std::chrono::nanoseconds(limit.nanos()));
  impl_->leave_timer->async_wait([this](boost::system::error_code ec) {
    if (ec || !impl_->on_left) return;
    Log(LogLevel::kWarn, "membership", "leave not confirmed in time; stopping anyway");
    auto cb = std::move(impl_->on_left);
    impl_->on_left = nullptr;
    cb();
  });
  membership::Outputs mout;
  impl_->members->Leave(io::SteadyNow(), mout);
  impl_->ProcessMembership(mout);
}
const std::string& Node::api_token() const { return impl_->token; }
std::vector<std::string> Node::adapter_interfaces() const { return impl_->interfaces; }
Instant Node::started() const { return impl_->started; }
Instant Node::Now() const { return io::SteadyNow(); }
const std::map<std::string, io::DiskCheck>& Node::disk_checks() const { return impl_->disk_checks; }
uint64_t Node::disk_check_failures() const { return impl_->disk_check_failures; }
uint32_t Node::capacity_mbps() const { return impl_->capacity_mbps; }

void Node::FetchUsage(Duration timeout,
                      std::function<void(std::optional<membership::UsageReply>)> done) {
  const uint64_t nonce = impl_->next_usage_nonce++;
  auto wait = std::make_shared<Impl::UsageWait>();
  wait->done = std::move(done);
  wait->timer = std::make_unique<asio::steady_timer>(impl_->loop);
  impl_->usage_waits[nonce] = wait;
  Impl* impl = impl_.get();
  wait->timer->expires_after(std::chrono::nanoseconds(timeout.nanos()));
  wait->timer->async_wait([impl, nonce](boost::system::error_code ec) {
    if (!ec) impl->FinishUsageWait(nonce, std::nullopt);
  });
  membership::Outputs mout;
  impl_->members->RequestUsage(io::SteadyNow(), nonce, mout);
  impl_->ProcessMembership(mout);
}

void Node::OnChannel(uint8_t channel, ChannelHandler handler) {
  impl_->channel_handlers[channel] = std::move(handler);
}

Status Node::SendData(NodeId node, uint8_t channel, std::span<const uint8_t> bytes) {
  transport::Outputs out;
  Status s = impl_->core->SendData(io::SteadyNow(), node, channel, bytes, out);
  impl_->Process(out);
  return s;
}

void Node::OnMembershipChanged(std::function<void()> fn) {
  impl_->membership_observers.push_back(std::move(fn));
}

Status Node::Ping(NodeId node, int count, Duration interval, size_t payload_size,
                  std::function<void(PingResult)> done) {
  if (impl_->core->table().Find(node) == nullptr || node == impl_->config.node_id) {
    return Error(Errc::kNotFound, "node " + std::to_string(node) +
                                      " is not in this node's address table (see `cohort "
                                      "addresses`)");
  }
  auto p = std::make_shared<Impl::PingState>();
  p->remaining_to_send = count;
  p->node = node;
  p->interval = interval;
  p->payload.assign(payload_size, 0x5a);
  p->done = std::move(done);
  p->timer = std::make_unique<asio::steady_timer>(impl_->loop);
  impl_->SendNextEcho(p);
  return OkStatus();
}

Result<wire::KeyId> Node::InstallKey(const std::string& key_text) {
  auto key = wire::KeyFromText(key_text);
  if (!key) return key.error();
  const wire::KeyId id = impl_->core->keyring().Install(*key);
  COHORT_TRY(impl_->SaveKeyring());
  Log(LogLevel::kInfo, "keys", "key installed", {{"key", wire::KeyIdToText(id)}});
  return id;
}

Status Node::UseKey(wire::KeyId id) {
  COHORT_TRY(impl_->core->keyring().Use(id));
  Log(LogLevel::kInfo, "keys", "sealing with key", {{"key", wire::KeyIdToText(id)}});
  return impl_->SaveKeyring();
}

Status Node::RemoveKey(wire::KeyId id) {
  COHORT_TRY(impl_->core->keyring().Remove(id));
  Log(LogLevel::kInfo, "keys", "key removed", {{"key", wire::KeyIdToText(id)}});
  return impl_->SaveKeyring();
}

Status Node::SetAdapterEnabled(const Endpoint& address, bool enabled) {
  COHORT_TRY(impl_->core->SetAdapterEnabled(address, enabled));
  Log(LogLevel::kWarn, "transport", enabled ? "adapter in service" : "adapter out of service",
      {{"address", address.ToString()}});
  return OkStatus();
}

}  // namespace cohort::node
