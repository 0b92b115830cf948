// TransportCore driven by hand: explicit `now`, datagrams passed between cores by a tiny
// FIFO "wire" in this file. Multi-node behaviour under loss lives in tests/sim.
#include "transport/core.h"

#include <gtest/gtest.h>

#include <deque>
#include <set>

namespace cohort::transport {
namespace {

Endpoint Addr(uint8_t net, uint8_t host) {
  return Endpoint{(10u << 24) | (net << 16) | host, 7000};
}

TransportOptions Options(NodeId id, std::vector<Endpoint> seeds = {}) {
  TransportOptions o;
  o.self = id;
  o.incarnation = 100;
  for (uint8_t net : {1, 2}) {
    o.adapters.push_back({AddressInfo{Addr(net, static_cast<uint8_t>(id)), 0xffff0000u, 1500,
                                      AdapterType::kEthernet, Cos::kControl},
                          true});
  }
  o.seeds = std::move(seeds);
  return o;
}

wire::Keyring Ring() {
  static const wire::Key key = wire::GenerateKey();
  wire::Keyring r;
  r.Install(key);
  return r;
}

// Delivers datagrams between cores in FIFO order; drops those to or from a cut address.
class Wire {
 public:
  explicit Wire(std::vector<TransportCore*> cores) : cores_(std::move(cores)) {}
  Instant now = Instant::FromNanos(1'000'000'000);
  std::set<Endpoint> cut;
  std::set<Endpoint> hold;  // datagrams to or from these wait until Release()
  std::vector<SendDatagram> sent;
  std::vector<RequestDone> done;
  std::vector<TransportEvent> events;

  void Take(TransportCore* from, Outputs& out) {
    for (auto& o : out) {
      if (auto* s = std::get_if<SendDatagram>(&o)) {
        queue_.push_back({from, *s});
        sent.push_back(*s);
      } else if (auto* d = std::get_if<RequestDone>(&o)) {
        done.push_back(*d);
      } else if (auto* e = std::get_if<TransportEvent>(&o)) {
        events.push_back(*e);
      }
    }
    out.clear();
  }
  void Pump() {
    for (int guard = 0; !queue_.empty() && guard < 10000; ++guard) {
      auto [from, s] = queue_.front();
      queue_.pop_front();
      const Endpoint src = from->options().adapters[s.adapter].info.address;
      if (cut.count(src) || cut.count(s.to)) continue;
      if (hold.count(src) || hold.count(s.to)) {
        held_.push_back({from, s});
        continue;
      }
      for (TransportCore* c : cores_) {
        const auto& ad = c->options().adapters;
        for (size_t i = 0; i < ad.size(); ++i) {
          if (ad[i].info.address != s.to) continue;
          Outputs out;
          c->OnDatagram(now, static_cast<uint8_t>(i), src, s.bytes, out);
          Take(c, out);
        }
      }
    }
  }
  // Advances time to `t`, running every core's due timers and delivering what they send.
  void AdvanceTo(Instant t) {
    while (true) {
      Instant next = Instant::Max();
      for (TransportCore* c : cores_) next = std::min(next, c->NextDeadline());
      if (next > t) break;
      now = std::max(now, next);
      for (TransportCore* c : cores_) {
        if (c->NextDeadline() <= now) {
          Outputs out;
          c->Tick(now, out);
          Take(c, out);
        }
      }
      Pump();
    }
    now = t;
  }
  void Advance(Duration d) { AdvanceTo(now + d); }
  void Release() {
    hold.clear();
    queue_.insert(queue_.end(), held_.begin(), held_.end());
    held_.clear();
    Pump();
  }

 private:
  std::vector<TransportCore*> cores_;
  std::deque<std::pair<TransportCore*, SendDatagram>> queue_;
  std::deque<std::pair<TransportCore*, SendDatagram>> held_;
};

TransportOptions FastProbes(TransportOptions o) {
  o.probe_interval = Duration::Millis(30);
  o.exchange_interval = Duration::Seconds(100);  // keep the exchange out of the way
  return o;
}

struct Fixture {
  explicit Fixture(bool fast_probes = false)
      : Fixture(fast_probes ? FastProbes(Options(1)) : Options(1),
                fast_probes ? FastProbes(Options(2, {Addr(1, 1)})) : Options(2, {Addr(1, 1)})) {}
  Fixture(TransportOptions a_options, TransportOptions b_options)
      : a(std::move(a_options), Ring(), 1), b(std::move(b_options), Ring(), 2) {
    Outputs out;
    a.Start(wire.now, out);
    wire.Take(&a, out);
    b.Start(wire.now, out);
    wire.Take(&b, out);
    wire.Pump();
  }
  TransportCore a;
  TransportCore b;
  Wire wire{{&a, &b}};
  const AddressView& ViewOf(TransportCore& c, NodeId node, size_t index) {
    views_ = c.View();
    for (auto& v : views_) {
      if (v.id == node) return v.addresses.at(index);
    }
    ADD_FAILURE() << "node " << node << " not in view";
    return views_.at(0).addresses.at(0);
  }

 private:
  std::vector<NodeView> views_;
};

TEST(TransportCoreTest, SeedExchangeMakesTablesIdentical) {
  Fixture f;
  EXPECT_EQ(f.a.table().size(), 2u);
  EXPECT_EQ(f.b.table().size(), 2u);
  EXPECT_EQ(f.a.table().digest(), f.b.table().digest());
  EXPECT_EQ(f.a.table().version(), 2u);
}

TEST(TransportCoreTest, EchoGoesToThePrimary) {
  Fixture f;
  Outputs out;
  const uint8_t payload[] = {1, 2, 3};
  auto id = f.a.Echo(f.wire.now, 2, payload, out);
  ASSERT_TRUE(id);
  f.wire.Take(&f.a, out);
  f.wire.Pump();
  ASSERT_EQ(f.wire.done.size(), 1u);
  const RequestDone& d = f.wire.done[0];
  EXPECT_EQ(d.id, *id);
  EXPECT_TRUE(d.ok);
  EXPECT_EQ(d.answered_by, Addr(1, 2));
  EXPECT_EQ(d.attempts, 1);
  EXPECT_EQ(d.reply, (Bytes{1, 2, 3}));
  EXPECT_FALSE(f.a.Echo(f.wire.now, 9, payload, out));  // unknown node
}

TEST(TransportCoreTest, FailsOverToAlternateAndReturnsToPrimary) {
  Fixture f;
  f.wire.cut.insert(Addr(1, 2));  // node 2's primary goes silent
  Outputs out;
  ASSERT_TRUE(f.a.Echo(f.wire.now, 2, {}, out));
  f.wire.Take(&f.a, out);
  f.wire.Pump();
  EXPECT_TRUE(f.wire.done.empty());
  f.wire.Advance(Duration::Millis(100));  // one request timeout
  ASSERT_EQ(f.wire.done.size(), 1u);
  EXPECT_TRUE(f.wire.done[0].ok);
  EXPECT_EQ(f.wire.done[0].answered_by, Addr(2, 2));
  EXPECT_EQ(f.wire.done[0].attempts, 2);
  EXPECT_EQ(f.a.metrics().failovers, 1u);
  EXPECT_FALSE(f.ViewOf(f.a, 2, 0).reachable);
  EXPECT_TRUE(f.ViewOf(f.a, 2, 1).preferred);

  // The next request goes straight to the alternate.
  ASSERT_TRUE(f.a.Echo(f.wire.now, 2, {}, out));
  f.wire.Take(&f.a, out);
  f.wire.Pump();
  ASSERT_EQ(f.wire.done.size(), 2u);
  EXPECT_EQ(f.wire.done[1].attempts, 1);

  // Heal: the probe of the primary is answered and the primary is preferred again.
  f.wire.cut.clear();
  f.wire.Advance(Duration::Seconds(1));
  EXPECT_TRUE(f.ViewOf(f.a, 2, 0).reachable);
  EXPECT_TRUE(f.ViewOf(f.a, 2, 0).preferred);
  ASSERT_TRUE(f.a.Echo(f.wire.now, 2, {}, out));
  f.wire.Take(&f.a, out);
  f.wire.Pump();
  EXPECT_EQ(f.wire.done.back().answered_by, Addr(1, 2));
}

// Found by the simulator (lossy, 16 nodes, seeds 4, 5, 14, 18): with the primary already
// silent, a request whose datagram to the alternate was lost was re-sent to the silent
// primary, so one loss on the only working path failed it. The retry takes that path again.
TEST(TransportCoreTest, RetryTakesTheFailoverPathNotTheSilentPrimary) {
  Fixture f;
  f.wire.cut.insert(Addr(1, 2));
  Outputs out;
  ASSERT_TRUE(f.a.Echo(f.wire.now, 2, {}, out));
  f.wire.Take(&f.a, out);
  f.wire.Pump();
  f.wire.Advance(Duration::Millis(100));
  ASSERT_EQ(f.wire.done.size(), 1u);
  ASSERT_FALSE(f.ViewOf(f.a, 2, 0).reachable);

  f.wire.cut.insert(Addr(2, 2));  // the next datagram to the alternate is lost
  ASSERT_TRUE(f.a.Echo(f.wire.now, 2, {}, out));
  f.wire.Take(&f.a, out);
  f.wire.Pump();
  f.wire.cut.erase(Addr(2, 2));
  f.wire.Advance(Duration::Millis(100));
  ASSERT_EQ(f.wire.done.size(), 2u);
  EXPECT_TRUE(f.wire.done[1].ok);
  EXPECT_EQ(f.wire.done[1].answered_by, Addr(2, 2));
  EXPECT_EQ(f.wire.done[1].attempts, 2);
}

// Regression: a reply through the alternate that arrives after the primary's probe was
// answered must not pin traffic to the alternate (nothing probes a reachable primary).
TEST(TransportCoreTest, LateAlternateReplyDoesNotPinTheAlternate) {
  Fixture f(/*fast_probes=*/true);
  f.wire.cut.insert(Addr(1, 2));
  f.wire.hold.insert(Addr(2, 2));
  Outputs out;
  ASSERT_TRUE(f.a.Echo(f.wire.now, 2, {}, out));
  f.wire.Take(&f.a, out);
  f.wire.Pump();
  f.wire.Advance(Duration::Millis(100));  // timeout: re-sent to the alternate, held
  EXPECT_FALSE(f.ViewOf(f.a, 2, 0).reachable);
  f.wire.cut.clear();
  f.wire.Advance(Duration::Millis(40));  // the probe of the primary is answered
  ASSERT_TRUE(f.ViewOf(f.a, 2, 0).reachable);
  f.wire.Release();  // now the reply through the alternate arrives
  ASSERT_EQ(f.wire.done.size(), 1u);
  EXPECT_EQ(f.wire.done[0].answered_by, Addr(2, 2));
  EXPECT_TRUE(f.ViewOf(f.a, 2, 0).preferred);
  EXPECT_FALSE(f.ViewOf(f.a, 2, 1).preferred);
}

// Observations follow addresses, not positions: a node that comes back with a new primary
// does not inherit the old primary's "unreachable" mark.
TEST(TransportCoreTest, ObservationsFollowAddressesWhenAnEntryChanges) {
  Fixture f;
  f.wire.cut.insert(Addr(1, 2));
  Outputs out;
  ASSERT_TRUE(f.a.Echo(f.wire.now, 2, {}, out));
  f.wire.Take(&f.a, out);
  f.wire.Advance(Duration::Millis(100));
  ASSERT_FALSE(f.ViewOf(f.a, 2, 0).reachable);

  TransportOptions o = Options(2, {Addr(1, 1)});
  o.incarnation = 200;  // restarted, with a new primary address
  o.adapters[0].info.address = Addr(1, 20);
  TransportCore restarted(o, Ring(), 3);
  restarted.Start(f.wire.now, out);
  for (auto& x : out) {
    if (auto* d = std::get_if<SendDatagram>(&x)) {
      Outputs ignored;
      f.a.OnDatagram(f.wire.now, 0, Addr(1, 20), d->bytes, ignored);
    }
  }
  ASSERT_EQ(f.ViewOf(f.a, 2, 0).info.address, Addr(1, 20));
  EXPECT_TRUE(f.ViewOf(f.a, 2, 0).reachable);
  EXPECT_TRUE(f.ViewOf(f.a, 2, 0).preferred);
}

// A node's entry taken at a newer incarnation says its former process was superseded; the
// first entry of a node does not.
TEST(TransportCoreTest, AnEntryAtANewerIncarnationReportsTheNodeRestarted) {
  Fixture f;
  auto restarts = [](const Outputs& out) {
    std::vector<TransportEvent> found;
    for (const auto& x : out) {
      auto* e = std::get_if<TransportEvent>(&x);
      if (e && e->kind == TransportEvent::Kind::kNodeRestarted) found.push_back(*e);
    }
    return found;
  };
  auto deliver_start = [&](TransportOptions o) {
    TransportCore other(o, Ring(), 3);
    Outputs start, seen;
    other.Start(f.wire.now, start);
    for (auto& x : start) {
      if (auto* d = std::get_if<SendDatagram>(&x)) {
        f.a.OnDatagram(f.wire.now, 0, o.adapters[0].info.address, d->bytes, seen);
      }
    }
    return restarts(seen);
  };
  EXPECT_TRUE(deliver_start(Options(3, {Addr(1, 1)})).empty());
  ASSERT_NE(f.a.table().Find(3), nullptr);  // taken, as a first entry
  TransportOptions later = Options(2, {Addr(1, 1)});
  later.incarnation = 300;
  const auto found = deliver_start(later);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].node, 2);
  EXPECT_EQ(found[0].incarnation, 300u);
}

TEST(TransportCoreTest, RequestFailsWhenEveryAddressIsSilent) {
  Fixture f;
  f.wire.cut = {Addr(1, 2), Addr(2, 2)};
  Outputs out;
  ASSERT_TRUE(f.a.Echo(f.wire.now, 2, {}, out));
  f.wire.Take(&f.a, out);
  f.wire.Advance(Duration::Millis(350));
  ASSERT_FALSE(f.wire.done.empty());
  EXPECT_FALSE(f.wire.done[0].ok);
  EXPECT_EQ(f.wire.done[0].attempts, 3);  // each address, then the alternate again
  EXPECT_GE(f.a.metrics().requests_failed, 1u);
}

TEST(TransportCoreTest, RejectsBadDatagramsByReason) {
  Fixture f;
  auto rejected = [&](wire::Reject r) { return f.b.metrics().rejected[static_cast<int>(r)]; };
  Outputs out;
  ASSERT_TRUE(f.a.Echo(f.wire.now, 2, {}, out));
  const Bytes good = std::get<SendDatagram>(out[0]).bytes;
  out.clear();
  const Endpoint from = Addr(1, 1);
  f.b.OnDatagram(f.wire.now, 0, from, good, out);
  f.b.OnDatagram(f.wire.now, 0, from, good, out);  // replayed
  EXPECT_EQ(rejected(wire::Reject::kReplay), 1u);
  f.b.OnDatagram(f.wire.now, 0, from, Bytes{}, out);
  f.b.OnDatagram(f.wire.now, 0, from, Bytes(100, 0xab), out);
  EXPECT_EQ(rejected(wire::Reject::kMalformed), 2u);
  Bytes forged = good;
  forged[forged.size() - 5] ^= 0x40;
  f.b.OnDatagram(f.wire.now, 0, from, forged, out);
  EXPECT_EQ(rejected(wire::Reject::kBadTag), 1u);
  Bytes other_key = good;
  other_key[4] ^= 1;  // key id
  f.b.OnDatagram(f.wire.now, 0, from, other_key, out);
  EXPECT_EQ(rejected(wire::Reject::kUnknownKey), 1u);
  f.b.OnDatagram(f.wire.now, 0, from, Bytes(10000, 1), out);
  EXPECT_EQ(rejected(wire::Reject::kTooLarge), 1u);
}

TEST(TransportCoreTest, LargeMessagesAreFragmentedToTheMtu) {
  Fixture f;
  Bytes big(5000);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i);
  Outputs out;
  f.wire.sent.clear();
  ASSERT_TRUE(f.a.Echo(f.wire.now, 2, big, out));
  f.wire.Take(&f.a, out);
  f.wire.Pump();
  ASSERT_EQ(f.wire.done.size(), 1u);
  EXPECT_EQ(f.wire.done[0].reply, big);
  EXPECT_GE(f.wire.sent.size(), 8u);  // 4+ fragments each way
  for (const SendDatagram& s : f.wire.sent) EXPECT_LE(s.bytes.size() + 28, 1500u);
  EXPECT_GE(f.b.metrics().messages_reassembled, 1u);
}

// A message a path cannot carry in kMaxFragments pieces, or a receiver would refuse, is
// dropped and counted at the sender: never a crash, never a partial message on the wire.
TEST(TransportCoreTest, AMessageTooLargeForThePathIsDroppedAndCounted) {
  TransportOptions small = Options(1);
  for (auto& adapter : small.adapters) adapter.info.mtu = kMinPathMtu;
  Fixture f(small, Options(2, {Addr(1, 1)}));
  TransportCore& a = f.a;
  TransportCore& b = f.b;
  const Instant now = f.wire.now;
  ASSERT_EQ(a.table().size(), 2u);
  auto datagrams = [](const Outputs& o) {
    return std::count_if(o.begin(), o.end(),
                         [](const Output& x) { return std::holds_alternative<SendDatagram>(x); });
  };
  Outputs out;
  ASSERT_TRUE(a.SendData(now, 2, 5, Bytes(kMaxMessageOnAnyPath - 16, 7), out));
  EXPECT_EQ(datagrams(out), static_cast<long>(kMaxFragments));
  EXPECT_EQ(a.metrics().messages_too_large, 0u);
  out.clear();
  ASSERT_TRUE(a.SendData(now, 2, 5, Bytes(kMaxMessageOnAnyPath + 1000, 7), out));
  EXPECT_EQ(datagrams(out), 0);
  EXPECT_EQ(a.metrics().messages_too_large, 1u);
  // The path's MTU is the smaller end's: the other way, the same.
  out.clear();
  ASSERT_TRUE(b.SendData(now, 1, 5, Bytes(kMaxMessageOnAnyPath + 1000, 7), out));
  EXPECT_EQ(datagrams(out), 0);
  // A wider path carries it, but nothing past what a receiver reassembles.
  Fixture wide;
  out.clear();
  ASSERT_TRUE(wide.a.SendData(wide.wire.now, 2, 5, Bytes(kMaxMessageOnAnyPath + 1000, 7), out));
  EXPECT_GT(datagrams(out), 0);
  out.clear();
  ASSERT_TRUE(wide.a.SendData(wide.wire.now, 2, 5, Bytes(kMaxMessageSize + 1, 7), out));
  EXPECT_EQ(datagrams(out), 0);
  EXPECT_EQ(wide.a.metrics().messages_too_large, 1u);
}

TEST(TransportCoreTest, RoutesChooseTheLocalAdapterAndCosSetsDscp) {
  TransportOptions o = Options(1);
  o.adapters[1].info.cos = Cos::kVideo;
  o.routes.push_back({*Subnet::Parse("192.168.7.0/24"), 1});
  TransportCore c(o, Ring(), 1);
  Outputs out;
  // Unknown destinations go out by the route entry, or else by the primary.
  c.Start(Instant::FromNanos(1), out);
  out.clear();
  TransportOptions seeded = o;
  seeded.seeds = {Endpoint{0xc0a80705, 7000}, Endpoint{0x0b000001, 7000}, Addr(2, 9)};
  TransportCore s(seeded, Ring(), 1);
  s.Start(Instant::FromNanos(1), out);
  std::map<uint32_t, SendDatagram> by_ip;
  for (auto& x : out) {
    if (auto* d = std::get_if<SendDatagram>(&x)) by_ip[d->to.ip] = *d;
  }
  ASSERT_EQ(by_ip.size(), 3u);
  EXPECT_EQ(by_ip[0xc0a80705].adapter, 1);     // route entry
  EXPECT_EQ(by_ip[0xc0a80705].dscp, 34);       // AF41 for video
  EXPECT_EQ(by_ip[0x0b000001].adapter, 0);     // no route, no subnet: primary
  EXPECT_EQ(by_ip[0x0b000001].dscp, 48);       // CS6 for control
  EXPECT_EQ(by_ip[Addr(2, 9).ip].adapter, 1);  // same subnet as adapter 1
}

TEST(TransportCoreTest, AdapterDownStopsTrafficOnIt) {
  Fixture f;
  EXPECT_FALSE(f.b.SetAdapterEnabled(Addr(9, 9), false));
  ASSERT_TRUE(f.b.SetAdapterEnabled(Addr(1, 2), false));
  EXPECT_FALSE(f.b.SetAdapterEnabled(Addr(2, 2), false));  // last one in service
  Outputs out;
  ASSERT_TRUE(f.a.Echo(f.wire.now, 2, {}, out));
  f.wire.Take(&f.a, out);
  f.wire.Pump();
  EXPECT_TRUE(f.wire.done.empty());  // primary of node 2 is down: no reply
  f.wire.Advance(Duration::Millis(100));
  ASSERT_EQ(f.wire.done.size(), 1u);
  EXPECT_EQ(f.wire.done[0].answered_by, Addr(2, 2));
  EXPECT_FALSE(f.ViewOf(f.b, 2, 0).reachable);  // own view shows it out of service
}

TEST(TransportCoreTest, DataIsDeliveredToUpperLayers) {
  Fixture f;
  Outputs out;
  const uint8_t hello[] = {'h', 'i'};
  ASSERT_TRUE(f.a.SendData(f.wire.now, 2, 7, hello, out));
  ASSERT_EQ(out.size(), 1u);
  const auto& s = std::get<SendDatagram>(out[0]);
  Outputs got;
  f.b.OnDatagram(f.wire.now, 0, Addr(1, 1), s.bytes, got);
  ASSERT_EQ(got.size(), 1u);
  const auto& d = std::get<Delivered>(got[0]);
  EXPECT_EQ(d.from, 1);
  EXPECT_EQ(d.channel, 7);
  EXPECT_EQ(d.bytes, (Bytes{'h', 'i'}));
}

// C13: the routers a sealed datagram crossed are kept per address; a forged one says nothing.
TEST(TransportCoreTest, HopsMeasuredByTheDriverAreKeptPerAddress) {
  Fixture f;
  EXPECT_FALSE(f.ViewOf(f.b, 1, 0).hops.has_value());
  Outputs out;
  const uint8_t hello[] = {'h', 'i'};
  ASSERT_TRUE(f.a.SendData(f.wire.now, 2, 7, hello, out));
  const Bytes sealed = std::get<SendDatagram>(out[0]).bytes;
  Outputs got;
  f.b.OnDatagram(f.wire.now, 0, Addr(1, 1), Bytes(64, 0xee), got, uint8_t{9});
  EXPECT_FALSE(f.ViewOf(f.b, 1, 0).hops.has_value());
  f.b.OnDatagram(f.wire.now, 0, Addr(1, 1), sealed, got, uint8_t{2});
  EXPECT_EQ(f.ViewOf(f.b, 1, 0).hops, std::optional<uint8_t>(2));
  EXPECT_FALSE(f.ViewOf(f.b, 1, 1).hops.has_value());  // the other address: not heard
}

// Liveness heartbeats: one path, named by both ends, and no failover.
TEST(TransportCoreTest, DataViaAnAdapterTakesThatPathOnly) {
  Fixture f;
  Outputs out;
  const uint8_t hb[] = {'h', 'b'};
  ASSERT_TRUE(f.a.SendDataVia(Addr(2, 1), Addr(2, 2), 3, hb, out));
  ASSERT_EQ(out.size(), 1u);
  const auto& s = std::get<SendDatagram>(out[0]);
  EXPECT_EQ(s.adapter, 1);
  EXPECT_EQ(s.to, Addr(2, 2));
  Outputs got;
  f.b.OnDatagram(f.wire.now, 1, Addr(2, 1), s.bytes, got);
  ASSERT_EQ(got.size(), 1u);
  const auto& d = std::get<Delivered>(got[0]);
  EXPECT_EQ(d.adapter, 1);
  EXPECT_EQ(d.source, Addr(2, 1));
  EXPECT_EQ(d.channel, 3);
  // An adapter out of service sends nothing, as if cut; an unknown one is refused.
  out.clear();
  ASSERT_TRUE(f.a.SetAdapterEnabled(Addr(2, 1), false));
  EXPECT_TRUE(f.a.SendDataVia(Addr(2, 1), Addr(2, 2), 3, hb, out));
  EXPECT_TRUE(out.empty());
  EXPECT_FALSE(f.a.SendDataVia(Addr(3, 1), Addr(2, 2), 3, hb, out));
}

// Liveness tells the transport an address is no longer heard: traffic leaves it at once.
TEST(TransportCoreTest, AnAddressMarkedUnreachableByAnotherLayerLosesItsTraffic) {
  Fixture f;
  Outputs out;
  f.a.SetAddressReachable(2, Addr(1, 2), false, out);
  EXPECT_FALSE(f.ViewOf(f.a, 2, 0).reachable);
  EXPECT_TRUE(f.ViewOf(f.a, 2, 1).preferred);
  const uint8_t hi[] = {'h', 'i'};
  out.clear();
  ASSERT_TRUE(f.a.SendData(f.wire.now, 2, 7, hi, out));
  EXPECT_EQ(std::get<SendDatagram>(out.back()).to, Addr(2, 2));
  out.clear();
  f.a.SetAddressReachable(2, Addr(1, 2), true, out);
  EXPECT_TRUE(f.ViewOf(f.a, 2, 0).preferred);
  f.a.SetAddressReachable(2, Addr(9, 9), false, out);  // not node 2's: ignored
  EXPECT_TRUE(f.ViewOf(f.a, 2, 0).reachable);
}

// RM3: the network whose priority is highest carries the traffic; it fails over to the next
// and returns when its priority or its health says so.
TEST(TransportCoreTest, PrioritiesChooseTheNetworkTrafficTakes) {
  Fixture f;
  Outputs out;
  EXPECT_TRUE(f.ViewOf(f.a, 2, 0).preferred);  // the owner's primary, by default
  f.a.SetPriorities({{*Subnet::Parse("10.2.0.0/16"), 5}, {*Subnet::Parse("10.1.0.0/16"), 1}}, out);
  EXPECT_TRUE(f.ViewOf(f.a, 2, 1).preferred);
  auto changed = std::find_if(out.begin(), out.end(), [](const Output& o) {
    auto* e = std::get_if<TransportEvent>(&o);
    return e && e->kind == TransportEvent::Kind::kPreferredChanged;
  });
  ASSERT_NE(changed, out.end());
  EXPECT_EQ(std::get<TransportEvent>(*changed).address, Addr(2, 2));
  // That network fails: the next one; it heals: back to it.
  f.a.SetAddressReachable(2, Addr(2, 2), false, out);
  EXPECT_TRUE(f.ViewOf(f.a, 2, 0).preferred);
  f.a.SetAddressReachable(2, Addr(2, 2), true, out);
  EXPECT_TRUE(f.ViewOf(f.a, 2, 1).preferred);
  // A retry after a timeout follows the same order: an echo goes to 10.2 first.
  out.clear();
  const uint8_t hi[] = {'h', 'i'};
  ASSERT_TRUE(f.a.Echo(f.wire.now, 2, hi, out));
  EXPECT_EQ(std::get<SendDatagram>(out.back()).to, Addr(2, 2));
  f.a.SetPriorities({}, out);
  EXPECT_TRUE(f.ViewOf(f.a, 2, 0).preferred);
}

TEST(TransportCoreTest, MulticastBusSendsOnceToTheGroupAndUnicastsOffSubnet) {
  const Endpoint group{(239u << 24) | (192u << 16) | 1, 7150};
  TransportOptions oa = Options(1);
  oa.group = group;
  TransportOptions ob = Options(2, {Addr(1, 1)});
  ob.group = group;
  TransportOptions oc = Options(3, {Addr(1, 1)});
  for (auto& ad : oc.adapters) ad.info.address.ip += 8u << 16;  // 10.9.0.3, 10.10.0.3: routed
  TransportCore a(oa, Ring(), 1), b(ob, Ring(), 2), c(oc, Ring(), 3);
  Wire wire{{&a, &b, &c}};
  for (TransportCore* core : {&a, &b, &c}) {
    Outputs out;
    core->Start(wire.now, out);
    wire.Take(core, out);
  }
  wire.Pump();
  wire.Advance(Duration::Seconds(2));
  ASSERT_EQ(a.table().size(), 3u);

  Outputs out;
  const uint8_t hello[] = {'h', 'i'};
  a.Broadcast(wire.now, 1, hello, out);
  std::vector<Endpoint> to;
  for (const auto& o : out) to.push_back(std::get<SendDatagram>(o).to);
  // One datagram to the group for node 2 (on a local subnet), one unicast for node 3.
  ASSERT_EQ(to.size(), 2u);
  EXPECT_EQ(to[0], group);
  EXPECT_EQ(to[1], c.options().adapters[0].info.address);
  const Bytes sealed = std::get<SendDatagram>(out[0]).bytes;

  Outputs got;
  b.OnGroupDatagram(wire.now, Addr(1, 1), sealed, got);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(std::get<Delivered>(got[0]).bytes, (Bytes{'h', 'i'}));
  b.OnGroupDatagram(wire.now, Addr(1, 1), sealed, got);  // the same datagram again: a replay
  EXPECT_EQ(got.size(), 1u);
  EXPECT_EQ(b.metrics().rejected[static_cast<int>(wire::Reject::kReplay)], 1u);

  // The sender hears its own copy (multicast loops back): dropped, not counted as rejected.
  uint64_t rejected_before = 0;
  for (uint64_t r : a.metrics().rejected) rejected_before += r;
  Outputs own;
  a.OnGroupDatagram(wire.now, Addr(1, 1), sealed, own);
  EXPECT_TRUE(own.empty());
  uint64_t rejected_after = 0;
  for (uint64_t r : a.metrics().rejected) rejected_after += r;
  EXPECT_EQ(rejected_after, rejected_before);
  // Without a group the core ignores group datagrams and broadcasts by unicast.
  Outputs none;
  c.OnGroupDatagram(wire.now, Addr(1, 1), sealed, none);
  EXPECT_TRUE(none.empty());
  Outputs fanout;
  c.Broadcast(wire.now, 1, hello, fanout);
  EXPECT_EQ(fanout.size(), 2u);
}

}  // namespace
}  // namespace cohort::transport
