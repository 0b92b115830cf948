#include "transport/core.h"

#include <algorithm>
#include <bit>

namespace cohort::transport {

TransportCore::TransportCore(TransportOptions options, wire::Keyring keyring, uint64_t seed)
    : options_(std::move(options)),
      keyring_(std::move(keyring)),
      prng_(seed),
      reassembler_(options_.reassembly_timeout) {
  CHECK(options_.self != kNoNode);
  CHECK(!options_.adapters.empty() && options_.adapters.size() <= kMaxAddressesPerNode);
  CHECK(!keyring_.empty());
  NodeEntry own{options_.self, options_.incarnation, options_.revision, {}};
  for (const LocalAdapter& a : options_.adapters) own.addresses.push_back(a.info);
  table_.Merge(own);
}

void TransportCore::Start(Instant now, Outputs& out) {
  next_exchange_ = now;
  last_table_change_ = now;
  next_probe_ = now + options_.probe_interval;
  Tick(now, out);
}

Instant TransportCore::NextDeadline() const {
  Instant next = std::min({next_exchange_, next_probe_, reassembler_.NextExpiry()});
  for (const auto& [id, p] : pending_) next = std::min(next, p.deadline);
  return next;
}

void TransportCore::Tick(Instant now, Outputs& out) {
  std::vector<uint64_t> expired;
  for (const auto& [id, p] : pending_) {
    if (p.deadline <= now) expired.push_back(id);
  }
  for (uint64_t id : expired) OnRequestTimeout(now, id, out);
  if (next_exchange_ <= now) {
    RunExchange(now, out);
    const bool quiet = now - last_table_change_ >= options_.quiet_after;
    next_exchange_ = now + (quiet ? options_.quiet_interval : options_.exchange_interval);
  }
  if (next_probe_ <= now) {
    RunProbes(now, out);
    next_probe_ = now + options_.probe_interval;
  }
  reassembler_.Expire(now);
}

// ---- receiving ----

void TransportCore::OnDatagram(Instant now, uint8_t adapter, const Endpoint& from,
                               ByteView datagram, Outputs& out, std::optional<uint8_t> hops) {
  Receive(now, adapter, from, datagram, false, out, hops);
}

void TransportCore::OnGroupDatagram(Instant now, const Endpoint& from, ByteView datagram,
                                    Outputs& out) {
  if (!options_.group) return;
  // Replies (probes, echoes) to a sender heard through the group leave by the adapter that
  // shares its subnet, else by the first in service.
  const auto adapter = ChooseAdapter(from);
  if (adapter) Receive(now, *adapter, from, datagram, true, out);
}

void TransportCore::Receive(Instant now, uint8_t adapter, const Endpoint& from, ByteView datagram,
                            bool via_group, Outputs& out, std::optional<uint8_t> hops) {
  if (adapter >= options_.adapters.size() || !options_.adapters[adapter].enabled) return;
  auto reject = [&](wire::Reject r) { ++metrics_.rejected[static_cast<int>(r)]; };
  if (datagram.size() > options_.max_datagram) return reject(wire::Reject::kTooLarge);
  auto opened = wire::Open(keyring_, datagram);
  if (auto* r = std::get_if<wire::Reject>(&opened)) return reject(*r);
  wire::Opened& o = std::get<wire::Opened>(opened);
  const wire::SealHeader& h = o.header;
  if (via_group && h.sender == options_.self) return;  // our own, looped back
  if (h.sender == kNoNode || h.sender == options_.self) return reject(wire::Reject::kMalformed);
  if (!replay_.Accept(h.sender, h.incarnation, h.sequence)) return reject(wire::Reject::kReplay);
  auto msg = Decode(o.payload);
  if (!msg) return reject(wire::Reject::kMalformed);
  ++metrics_.datagrams_received;
  metrics_.bytes_received += datagram.size();
  if (auto* f = std::get_if<FragmentMsg>(&*msg)) {
    auto whole = reassembler_.Add(now, h.sender, h.incarnation, *f);
    if (!whole) return;
    msg = Decode(*whole);
    if (!msg || std::holds_alternative<FragmentMsg>(*msg)) return reject(wire::Reject::kMalformed);
    ++metrics_.messages_reassembled;
  }
  const int index = AddressIndex(h.sender, from);
  if (index >= 0) {
    AddrState& a = peers_[h.sender].addrs[index];
    a.last_heard = now;
    if (hops) a.hops = hops;  // only sealed datagrams of a table address count
  }
  HandleMessage(now, h.sender, adapter, from, std::move(*msg), out);
}

void TransportCore::HandleMessage(Instant now, NodeId sender, uint8_t adapter, const Endpoint& from,
                                  Message msg, Outputs& out) {
  std::visit(
      [&](auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, ProbeMsg>) {
          Emit(from, Encode(ProbeAckMsg{m.req}), out, adapter);
        } else if constexpr (std::is_same_v<T, EchoMsg>) {
          Emit(from, Encode(EchoReplyMsg{m.req, std::move(m.payload)}), out, adapter);
        } else if constexpr (std::is_same_v<T, TableSyncMsg>) {
          HandleTableSync(now, adapter, from, m, out);
        } else if constexpr (std::is_same_v<T, ProbeAckMsg>) {
          HandleReply(now, m.req, from, {}, nullptr, out);
        } else if constexpr (std::is_same_v<T, EchoReplyMsg>) {
          HandleReply(now, m.req, from, std::move(m.payload), nullptr, out);
        } else if constexpr (std::is_same_v<T, TableSyncReplyMsg>) {
          HandleReply(now, m.req, from, {}, &m, out);
        } else if constexpr (std::is_same_v<T, TablePushMsg>) {
          MergeEntries(now, m.entries, out);
        } else if constexpr (std::is_same_v<T, DataMsg>) {
          out.push_back(Delivered{sender, m.channel, std::move(m.payload), adapter, from});
        }
      },
      msg);
}

void TransportCore::HandleTableSync(Instant now, uint8_t adapter, const Endpoint& from,
                                    TableSyncMsg& msg, Outputs& out) {
  MergeEntries(now, {msg.sender}, out);
  TableSyncReplyMsg reply{msg.req, {}, {}};
  if (msg.full) {
    reply.entries = table_.NewerThan(msg.summary);
    reply.summary = table_.Summary();
  } else if (msg.digest != table_.digest()) {
    reply.summary = table_.Summary();  // they differ: say what we hold
  }
  Emit(from, Encode(reply), out, adapter);
}

void TransportCore::HandleReply(Instant now, uint64_t req, const Endpoint& from, Bytes reply,
                                const TableSyncReplyMsg* sync, Outputs& out) {
  auto it = pending_.find(req);
  if (it == pending_.end()) return;  // late duplicate of an answered request
  Pending p = std::move(it->second);
  pending_.erase(it);
  const NodeId node = p.node != kNoNode ? p.node : table_.OwnerOf(from);
  if (sync != nullptr) {
    MergeEntries(now, sync->entries, out);
    if (!sync->summary.empty()) {
      std::vector<NodeEntry> theirs_lack = table_.NewerThan(sync->summary);
      if (!theirs_lack.empty()) Emit(from, Encode(TablePushMsg{std::move(theirs_lack)}), out);
      // They hold something we lack: a full round with them now, not at the next tick.
      if (table_.Lacks(sync->summary)) StartSync(now, node, from, true, out);
    }
  }
  if (node != kNoNode) {
    const int index = AddressIndex(node, from);
    if (index >= 0) {
      MarkReachable(node, static_cast<size_t>(index), p.kind != RequestKind::kProbe, out);
    }
  }
  if (p.kind == RequestKind::kEcho) {
    out.push_back(RequestDone{req, p.node, true, from, p.attempts, now - p.last_sent,
                              now - p.first_sent, std::move(reply)});
  }
}

void TransportCore::MergeEntries(Instant now, const std::vector<NodeEntry>& entries, Outputs& out) {
  bool changed = false;
  for (const NodeEntry& e : entries) {
    if (e.id == options_.self) continue;  // only this node writes its own entry
    const NodeEntry* before = table_.Find(e.id);
    const Incarnation previous = before != nullptr ? before->incarnation : 0;
    if (table_.Merge(e)) {
      changed = true;
      SyncPeer(e.id);
      if (previous != 0 && e.incarnation > previous) {
        TransportEvent restarted{TransportEvent::Kind::kNodeRestarted, e.id};
        restarted.incarnation = e.incarnation;
        out.push_back(restarted);
      }
    }
  }
  if (changed) {
    ++metrics_.table_changes;
    last_table_change_ = now;
    // A change speeds the exchange up again so it spreads quickly.
    next_exchange_ = std::min(next_exchange_, now + options_.exchange_interval);
    TransportEvent ev{TransportEvent::Kind::kTableChanged};
    ev.table_version = table_.version();
    ev.table_digest = table_.digest();
    out.push_back(ev);
  }
}

// Keeps the per-address observations of `node` in step with its table entry, carrying over
// what was observed for addresses that are still listed.
void TransportCore::SyncPeer(NodeId node) {
  const NodeEntry* e = table_.Find(node);
  Peer& peer = peers_[node];
  if (e == nullptr) return;
  std::vector<AddrState> fresh;
  for (const AddressInfo& info : e->addresses) {
    auto old = std::find_if(peer.addrs.begin(), peer.addrs.end(),
                            [&](const AddrState& a) { return a.address == info.address; });
    fresh.push_back(old != peer.addrs.end() ? *old : AddrState{info.address});
  }
  peer.last_answered = std::min(peer.last_answered, fresh.size() - 1);
  peer.addrs = std::move(fresh);
  // RM3: the order addresses are tried in: their network's priority for this traffic (the
  // most specific subnet decides), then the owner's order (primary first).
  std::vector<int> priority(peer.addrs.size(), 0);
  for (size_t i = 0; i < peer.addrs.size(); ++i) {
    auto it = std::find_if(priorities_.begin(), priorities_.end(), [&](const auto& p) {
      return p.first.Contains(peer.addrs[i].address.ip);
    });
    if (it != priorities_.end()) priority[i] = it->second;
  }
  peer.order.resize(peer.addrs.size());
  for (size_t i = 0; i < peer.order.size(); ++i) peer.order[i] = i;
  std::stable_sort(peer.order.begin(), peer.order.end(),
                   [&](size_t a, size_t b) { return priority[a] > priority[b]; });
}

void TransportCore::SetPriorities(std::vector<std::pair<Subnet, int>> priorities, Outputs& out) {
  std::stable_sort(priorities.begin(), priorities.end(), [](const auto& a, const auto& b) {
    return a.first.length > b.first.length;  // the most specific subnet first
  });
  if (priorities == priorities_) return;
  priorities_ = std::move(priorities);
  for (auto& [node, peer] : peers_) {
    if (table_.Find(node) == nullptr || peer.addrs.empty()) continue;
    const size_t before = ChooseAddress(peer);
    SyncPeer(node);
    EmitIfPreferredChanged(node, before, out);
  }
}

// ---- requests and failover (T3) ----

uint64_t TransportCore::StartRequest(Instant now, RequestKind kind, NodeId node,
                                     const Endpoint& raw,
                                     const std::function<Bytes(uint64_t)>& encode, int max_attempts,
                                     Outputs& out) {
  const uint64_t id = next_request_id_++;
  Pending p;
  p.kind = kind;
  p.node = node;
  p.raw = raw;
  p.message = encode(id);
  p.max_attempts = max_attempts;
  if (node != kNoNode) {
    const Peer& peer = peers_[node];
    p.addr_index = ChooseAddress(peer);
    p.live = ReachableMask(peer);
  }
  p.first_sent = now;
  ++metrics_.requests;
  auto [it, inserted] = pending_.emplace(id, std::move(p));
  CHECK(inserted);
  SendAttempt(now, it->second, out);
  return id;
}

void TransportCore::SendAttempt(Instant now, Pending& p, Outputs& out) {
  Endpoint to = p.raw;
  if (p.node != kNoNode) {
    to = table_.Find(p.node)->addresses[p.addr_index].address;
    p.tried |= 1u << p.addr_index;
  }
  ++p.attempts;
  p.last_sent = now;
  p.deadline = now + options_.request_timeout;
  Emit(to, p.message, out);
}

void TransportCore::OnRequestTimeout(Instant now, uint64_t id, Outputs& out) {
  Pending& p = pending_.at(id);
  if (p.node != kNoNode) {
    MarkUnreachable(p.node, p.addr_index, out);
  } else if (p.kind == RequestKind::kProbe) {
    const NodeId owner = table_.OwnerOf(p.raw);
    const int index = AddressIndex(owner, p.raw);
    if (index >= 0) peers_[owner].addrs[index].probe_in_flight = false;
  }
  const NodeEntry* entry = p.node != kNoNode ? table_.Find(p.node) : nullptr;
  if (p.attempts < p.max_attempts && entry != nullptr) {
    const size_t next = RetryAddress(p);
    if (next != p.addr_index) ++metrics_.failovers;
    p.addr_index = next;
    SendAttempt(now, p, out);
    return;
  }
  Pending done = std::move(p);
  pending_.erase(id);
  ++metrics_.requests_failed;
  if (done.kind == RequestKind::kEcho) {
    out.push_back(
        RequestDone{id, done.node, false, {}, done.attempts, {}, now - done.first_sent, {}});
  }
}

// A retry goes to an address believed reachable (when the request began, or marked so by a
// probe since): the best-ranked one not tried yet, else the one just tried again. An address
// already silent when the request began (a cut primary) gets no attempt while another is
// believed reachable; when none is, the addresses are tried in order.
size_t TransportCore::RetryAddress(const Pending& p) {
  static_assert(kMaxAddressesPerNode <= 32, "the Pending masks have 32 bits");
  const std::vector<AddrState>& addrs = peers_[p.node].addrs;
  const uint32_t all = (1u << addrs.size()) - 1;  // an entry may have changed meanwhile
  const uint32_t live = (p.live | ReachableMask(peers_[p.node])) & all;
  const std::vector<size_t>& order = peers_[p.node].order;
  if (order.empty()) return 0;
  if (live == 0) {  // none believed reachable: the next in order
    auto at = std::find(order.begin(), order.end(), p.addr_index);
    return at == order.end() || ++at == order.end() ? order.front() : *at;
  }
  for (size_t i : order) {
    if ((live & (1u << i)) && !(p.tried & (1u << i))) return i;
  }
  if (live & (1u << p.addr_index)) return p.addr_index;
  for (size_t i : order) {
    if (live & (1u << i)) return i;
  }
  return order.front();
}

uint32_t TransportCore::ReachableMask(const Peer& peer) {
  uint32_t mask = 0;
  for (size_t i = 0; i < peer.addrs.size(); ++i) mask |= peer.addrs[i].reachable ? 1u << i : 0;
  return mask;
}

size_t TransportCore::ChooseAddress(const Peer& peer) const {
  for (size_t i : peer.order) {
    if (peer.addrs[i].reachable) return i;
  }
  return peer.last_answered;
}

void TransportCore::EmitIfPreferredChanged(NodeId node, size_t before, Outputs& out) {
  const size_t after = ChooseAddress(peers_[node]);
  if (after == before) return;
  out.push_back(TransportEvent{TransportEvent::Kind::kPreferredChanged, node,
                               table_.Find(node)->addresses[after].address});
}

void TransportCore::MarkReachable(NodeId node, size_t index, bool answered_request, Outputs& out) {
  Peer& peer = peers_[node];
  if (index >= peer.addrs.size()) return;
  const size_t before = ChooseAddress(peer);
  AddrState& a = peer.addrs[index];
  a.probe_in_flight = false;
  if (answered_request) peer.last_answered = index;
  if (!a.reachable) {
    a.reachable = true;
    out.push_back(TransportEvent{TransportEvent::Kind::kAddressReachable, node,
                                 table_.Find(node)->addresses[index].address});
  }
  EmitIfPreferredChanged(node, before, out);
}

void TransportCore::MarkUnreachable(NodeId node, size_t index, Outputs& out) {
  Peer& peer = peers_[node];
  if (index >= peer.addrs.size() || !peer.addrs[index].reachable) return;
  const size_t before = ChooseAddress(peer);
  peer.addrs[index].reachable = false;
  out.push_back(TransportEvent{TransportEvent::Kind::kAddressUnreachable, node,
                               table_.Find(node)->addresses[index].address});
  EmitIfPreferredChanged(node, before, out);
}

void TransportCore::SetAddressReachable(NodeId node, const Endpoint& address, bool reachable,
                                        Outputs& out) {
  const int index = AddressIndex(node, address);
  if (index < 0) return;
  if (reachable) {
    MarkReachable(node, static_cast<size_t>(index), false, out);
  } else {
    MarkUnreachable(node, static_cast<size_t>(index), out);
  }
}

int TransportCore::AddressIndex(NodeId node, const Endpoint& address) const {
  const NodeEntry* e = table_.Find(node);
  if (e == nullptr || node == options_.self) return -1;
  for (size_t i = 0; i < e->addresses.size(); ++i) {
    if (e->addresses[i].address == address) return static_cast<int>(i);
  }
  return -1;
}

Result<uint64_t> TransportCore::Echo(Instant now, NodeId node, ByteView payload, Outputs& out) {
  const NodeEntry* e = table_.Find(node);
  if (e == nullptr || node == options_.self) {
    return Error(Errc::kNotFound, "node " + std::to_string(node) + " is not in the address table");
  }
  Bytes body(payload.begin(), payload.end());
  // One attempt per address plus one retry (a single address is tried twice); see
  // RetryAddress for where the retries go.
  const int attempts = static_cast<int>(e->addresses.size()) + 1;
  return StartRequest(
      now, RequestKind::kEcho, node, {},
      [&](uint64_t id) {
        return Encode(EchoMsg{id, body});
      },
      attempts, out);
}

Status TransportCore::SendData(Instant now, NodeId node, uint8_t channel, ByteView payload,
                               Outputs& out) {
  (void)now;
  const NodeEntry* e = table_.Find(node);
  if (e == nullptr || node == options_.self) {
    return Error(Errc::kNotFound, "node " + std::to_string(node) + " is not in the address table");
  }
  Emit(PreferredAddress(node), Encode(DataMsg{channel, Bytes(payload.begin(), payload.end())}), out,
       std::nullopt, channel);
  return OkStatus();
}

Status TransportCore::SendDataVia(const Endpoint& local, const Endpoint& to, uint8_t channel,
                                  ByteView payload, Outputs& out) {
  for (size_t i = 0; i < options_.adapters.size(); ++i) {
    if (options_.adapters[i].info.address != local) continue;
    if (!options_.adapters[i].enabled) return OkStatus();  // as if its link were cut
    Emit(to, Encode(DataMsg{channel, Bytes(payload.begin(), payload.end())}), out,
         static_cast<uint8_t>(i), channel);
    return OkStatus();
  }
  return Error(Errc::kNotFound, local.ToString() + " is not a local adapter");
}

Endpoint TransportCore::PreferredAddress(NodeId node) {
  return table_.Find(node)->addresses[ChooseAddress(peers_[node])].address;
}

void TransportCore::Broadcast(Instant now, uint8_t channel, ByteView payload, Outputs& out) {
  const Bytes message = Encode(DataMsg{channel, Bytes(payload.begin(), payload.end())});
  if (options_.group) Emit(*options_.group, message, out, std::nullopt, channel);
  for (const auto& [id, entry] : table_.entries()) {
    if (id == options_.self || (options_.group && OnLocalSubnet(entry))) continue;
    Emit(PreferredAddress(id), message, out, std::nullopt, channel);
  }
  (void)now;
}

bool TransportCore::OnLocalSubnet(const NodeEntry& node) const {
  for (const AddressInfo& a : node.addresses) {
    for (const LocalAdapter& local : options_.adapters) {
      const uint32_t mask = local.info.mask;
      if (local.enabled && (a.address.ip & mask) == (local.info.address.ip & mask)) return true;
    }
  }
  return false;
}

// ---- periodic work ----

void TransportCore::StartSync(Instant now, NodeId node, const Endpoint& raw, bool full,
                              Outputs& out) {
  const NodeEntry own = *table_.Find(options_.self);
  auto encode = [&](uint64_t id) {
    TableSyncMsg m{id, own, table_.digest(), full, {}};
    if (full) m.summary = table_.Summary();
    return Encode(m);
  };
  const bool to_node = node != kNoNode && table_.Find(node) != nullptr;
  const int attempts = to_node ? static_cast<int>(table_.Find(node)->addresses.size()) : 1;
  StartRequest(now, RequestKind::kTableSync, to_node ? node : kNoNode, raw, encode, attempts, out);
}

void TransportCore::RunExchange(Instant now, Outputs& out) {
  // Seeds not yet known as some node's address are contacted directly, with a full round.
  for (const Endpoint& seed : options_.seeds) {
    if (table_.OwnerOf(seed) == kNoNode) StartSync(now, kNoNode, seed, true, out);
  }
  std::vector<NodeId> others;
  for (const auto& [id, e] : table_.entries()) {
    if (id != options_.self) others.push_back(id);
  }
  if (others.empty()) return;
  // The usual round is digest-only: a few dozen bytes each way while tables agree.
  StartSync(now, others[prng_.Below(others.size())], {}, false, out);
}

void TransportCore::RunProbes(Instant now, Outputs& out) {
  for (auto& [node, peer] : peers_) {
    const NodeEntry* e = table_.Find(node);
    if (e == nullptr) continue;
    for (size_t i = 0; i < peer.addrs.size(); ++i) {
      AddrState& a = peer.addrs[i];
      if (a.reachable || a.probe_in_flight) continue;
      a.probe_in_flight = true;
      StartRequest(
          now, RequestKind::kProbe, kNoNode, e->addresses[i].address,
          [](uint64_t id) { return Encode(ProbeMsg{id}); }, 1, out);
    }
  }
}

// ---- sending (T4, T6, T7) ----

std::optional<uint8_t> TransportCore::ChooseAdapter(const Endpoint& to) const {
  const auto& adapters = options_.adapters;
  // 1. The most specific route entry whose adapter is in service.
  std::optional<uint8_t> best;
  int best_len = -1;
  for (const RouteEntry& r : options_.routes) {
    if (r.subnet.Contains(to.ip) && r.subnet.length > best_len && adapters[r.adapter].enabled) {
      best = r.adapter;
      best_len = r.subnet.length;
    }
  }
  if (best) return best;
  // 2. An adapter on the destination's subnet. 3. The first adapter in service.
  std::optional<uint8_t> first;
  for (size_t i = 0; i < adapters.size(); ++i) {
    if (!adapters[i].enabled) continue;
    const AddressInfo& a = adapters[i].info;
    if ((a.address.ip & a.mask) == (to.ip & a.mask)) return static_cast<uint8_t>(i);
    if (!first) first = static_cast<uint8_t>(i);
  }
  return first;
}

size_t TransportCore::PathMtu(uint8_t adapter, const Endpoint& to) const {
  size_t mtu = options_.adapters[adapter].info.mtu;
  const NodeId owner = table_.OwnerOf(to);
  const int index = AddressIndex(owner, to);
  if (index >= 0) mtu = std::min<size_t>(mtu, table_.Find(owner)->addresses[index].mtu);
  return std::max(mtu, kMinPathMtu);
}

void TransportCore::Emit(const Endpoint& to, ByteView message, Outputs& out,
                         std::optional<uint8_t> adapter, uint8_t channel) {
  if (adapter && !options_.adapters[*adapter].enabled) adapter.reset();
  if (!adapter) adapter = ChooseAdapter(to);
  if (!adapter) return;  // every local adapter is out of service
  const size_t limit =
      std::min(PathMtu(*adapter, to), options_.max_datagram) - kIpUdpOverhead - wire::kSealOverhead;
  std::vector<Bytes> pieces;
  if (message.size() <= limit) {
    pieces.emplace_back(message.begin(), message.end());
  } else {
    // What the receiver would refuse, or this path cannot carry in kMaxFragments pieces,
    // is not sent at all (a caller's bound should have kept it out: counted, not fatal).
    const size_t chunk = limit - kFragmentHeaderSize;
    if (message.size() > kMaxMessageSize || (message.size() + chunk - 1) / chunk > kMaxFragments) {
      ++metrics_.messages_too_large;
      return;
    }
    pieces = Fragment(message, next_message_id_++, limit);
    metrics_.fragments_sent += pieces.size();
  }
  const uint8_t dscp = DscpOf(options_.adapters[*adapter].info.cos);
  for (const Bytes& piece : pieces) {
    wire::SealHeader h{0, options_.self, options_.incarnation, next_sequence_++};
    Bytes sealed = wire::Seal(keyring_, h, piece);
    ++metrics_.datagrams_sent;
    metrics_.bytes_sent += sealed.size();
    metrics_.bytes_sent_by[{*adapter, channel}] += sealed.size();
    out.push_back(SendDatagram{*adapter, to, dscp, std::move(sealed)});
  }
}

Status TransportCore::SetAdapterEnabled(const Endpoint& address, bool enabled) {
  auto& adapters = options_.adapters;
  auto it = std::find_if(adapters.begin(), adapters.end(),
                         [&](const LocalAdapter& a) { return a.info.address == address; });
  if (it == adapters.end()) {
    return Error(Errc::kNotFound, address.ToString() + " is not a local adapter of this node");
  }
  if (!enabled && it->enabled &&
      std::count_if(adapters.begin(), adapters.end(), [](auto& a) { return a.enabled; }) == 1) {
    return Error(Errc::kInvalidArgument,
                 address.ToString() + " is the last adapter in service; bring another up first");
  }
  it->enabled = enabled;
  return OkStatus();
}

std::vector<NodeView> TransportCore::View() const {
  std::vector<NodeView> nodes;
  for (const auto& [id, e] : table_.entries()) {
    NodeView v{id, e.incarnation, e.revision, {}};
    auto peer = peers_.find(id);
    for (size_t i = 0; i < e.addresses.size(); ++i) {
      AddressView a{e.addresses[i], true, i == 0, {}};
      if (id == options_.self) {
        a.reachable = options_.adapters[i].enabled;
        a.preferred = false;
      } else if (peer != peers_.end() && i < peer->second.addrs.size()) {
        a.reachable = peer->second.addrs[i].reachable;
        a.preferred = i == ChooseAddress(peer->second);
        a.last_heard = peer->second.addrs[i].last_heard;
        a.hops = peer->second.addrs[i].hops;
      }
      v.addresses.push_back(a);
    }
    nodes.push_back(std::move(v));
  }
  return nodes;
}

}  // namespace cohort::transport
