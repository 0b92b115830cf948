// LivenessCore driven by hand with explicit time; many nodes, faults and the matrix against
// ground truth live in the simulator (tests/sim/liveness_sim_test.cc).
#include "liveness/core.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace cohort::liveness {
namespace {

constexpr Duration kPeriod = Duration::Millis(100);

Endpoint Ep(int net, int node) {
  return Endpoint{0x0a000000u | (uint32_t(net) << 16) | uint32_t(node), 7000};
}

// `nodes` nodes, each with one adapter on each of `nets` networks ("n1", "n2", ...).
std::vector<Adapter> Farm(int nodes, int nets) {
  std::vector<Adapter> all;
  for (int k = 1; k <= nodes; ++k) {
    for (int n = 1; n <= nets; ++n) all.push_back({NodeId(k), Ep(n, k), "n" + std::to_string(n)});
  }
  return all;
}

LivenessCore Core(NodeId self) {
  LivenessOptions o;
  o.self = self;
  o.incarnation = 100 + self;
  o.period = kPeriod;
  o.miss_limit = 3;
  return LivenessCore(o);
}

template <typename T>
std::vector<T> Only(const Outputs& out) {
  std::vector<T> v;
  for (const auto& o : out) {
    if (auto* x = std::get_if<T>(&o)) v.push_back(*x);
  }
  return v;
}

Bytes Heartbeat(int net, int from, int to, uint32_t next_ms, Incarnation inc = 0,
                uint32_t version = 0) {
  return Encode(HeartbeatMsg{Ep(net, from), Ep(net, to), next_ms, inc, version});
}

const Instant t0 = Instant::FromNanos(1'000'000'000);

TEST(LivenessCoreTest, EachAdapterHeartbeatsItsSuccessorAndOneOfARotation) {
  auto core = Core(1);
  Outputs out;
  core.SetAdapters(t0, Farm(4, 1), out);
  std::vector<std::pair<int, uint32_t>> sent;  // (target node, next_ms)
  for (int round = 0; round < 4; ++round) {
    out.clear();
    core.Tick(t0 + kPeriod * round, out);
    for (const SendVia& s : Only<SendVia>(out)) {
      auto m = Decode(s.bytes);
      ASSERT_TRUE(m);
      const auto& h = std::get<HeartbeatMsg>(*m);
      EXPECT_EQ(h.from, Ep(1, 1));
      EXPECT_EQ(s.to, h.to);
      sent.emplace_back(int(h.to.ip & 0xff), h.next_ms);
    }
  }
  // The successor (node 2) every period; nodes 3 and 4 in turn, each every 2 periods.
  const std::vector<std::pair<int, uint32_t>> want = {{2, 100}, {3, 200}, {2, 100}, {4, 200},
                                                      {2, 100}, {3, 200}, {2, 100}, {4, 200}};
  EXPECT_EQ(sent, want);
}

TEST(LivenessCoreTest, APathIsUpWhileHeardAndDownOnceItsHeartbeatIsOverdue) {
  auto core = Core(2);
  Outputs out;
  core.SetAdapters(t0, Farm(3, 1), out);
  EXPECT_EQ(core.PathStateOf(Ep(1, 1), Ep(1, 2)), PathState::kUnknown);
  core.OnMessage(t0, 1, Ep(1, 2), Ep(1, 1), Heartbeat(1, 1, 2, 100), out);
  EXPECT_EQ(core.PathStateOf(Ep(1, 1), Ep(1, 2)), PathState::kUp);
  auto changes = Only<PathChanged>(out);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].from.address, Ep(1, 1));
  EXPECT_EQ(changes[0].state, PathState::kUp);
  // Due at +100 ms, plus 3 periods of grace: still up at 399 ms, down at 400 ms.
  out.clear();
  core.Tick(t0 + Duration::Millis(399), out);
  EXPECT_EQ(core.PathStateOf(Ep(1, 1), Ep(1, 2)), PathState::kUp);
  core.Tick(t0 + Duration::Millis(400), out);
  EXPECT_EQ(core.PathStateOf(Ep(1, 1), Ep(1, 2)), PathState::kDown);
  // The change goes out in this node's row at once.
  auto rows = Only<Broadcast>(out);
  ASSERT_FALSE(rows.empty());
  auto row = std::get<RowMsg>(*Decode(rows.back().bytes));
  // Node 3 was never heard either: both paths into adapter 2 are down, which the row says
  // as the adapter's default, listing none of them.
  const RowDefault down{Ep(1, 2), PathState::kDown};
  EXPECT_EQ(row.defaults, std::vector<RowDefault>{down});
  EXPECT_TRUE(row.entries.empty());
  // Node 1 heard again: one up, one down, a tie, which up wins; the other is listed.
  core.OnMessage(t0 + Duration::Millis(450), 1, Ep(1, 2), Ep(1, 1), Heartbeat(1, 1, 2, 100), out);
  const RowMsg after = std::get<RowMsg>(*Decode(Only<Broadcast>(out).back().bytes));
  EXPECT_TRUE(after.defaults.empty());
  const RowEntry still_down{Ep(1, 3), Ep(1, 2), PathState::kDown};
  EXPECT_EQ(after.entries, std::vector<RowEntry>{still_down});
}

// A rotation's heartbeat that does not come is asked for (a probe, by any path) each period
// of the grace; the sender answers on the path named. A path is down miss_limit periods
// after its heartbeat was due, however long its rotation.
TEST(LivenessCoreTest, AnOverdueHeartbeatIsProbedForAndTheSenderAnswersOnThatPath) {
  auto core = Core(1);
  Outputs out;
  core.SetAdapters(t0, Farm(4, 1), out);
  // 3 -> 1 is a rotation's path (node 3's successor is 4): every 2 periods.
  core.OnMessage(t0, 3, Ep(1, 1), Ep(1, 3), Heartbeat(1, 3, 1, 200), out);
  EXPECT_EQ(core.PathStateOf(Ep(1, 3), Ep(1, 1)), PathState::kUp);
  auto probes_at = [&](Instant t) {
    out.clear();
    core.Tick(t, out);
    std::vector<ProbeMsg> probes;
    for (const SendTo& m : Only<SendTo>(out)) {
      auto msg = Decode(m.bytes);
      if (msg && std::holds_alternative<ProbeMsg>(*msg) && m.node == 3) {
        probes.push_back(std::get<ProbeMsg>(*msg));
      }
    }
    return probes;
  };
  // Other paths are silent too: only 3 -> 1's probes are looked at.
  auto for_path = [](std::vector<ProbeMsg> probes) {
    return std::count(probes.begin(), probes.end(), ProbeMsg{Ep(1, 3), Ep(1, 1)});
  };
  EXPECT_EQ(for_path(probes_at(t0 + Duration::Millis(240))), 0);  // due at 200, half a period
  EXPECT_EQ(for_path(probes_at(t0 + Duration::Millis(250))), 1);
  EXPECT_EQ(for_path(probes_at(t0 + Duration::Millis(300))), 0);
  EXPECT_EQ(for_path(probes_at(t0 + Duration::Millis(350))), 1);
  EXPECT_EQ(core.PathStateOf(Ep(1, 3), Ep(1, 1)), PathState::kUp);
  probes_at(t0 + Duration::Millis(499));
  EXPECT_EQ(core.PathStateOf(Ep(1, 3), Ep(1, 1)), PathState::kUp);
  probes_at(t0 + Duration::Millis(500));  // due + miss_limit periods
  EXPECT_EQ(core.PathStateOf(Ep(1, 3), Ep(1, 1)), PathState::kDown);
  EXPECT_GE(core.metrics().probes_sent, 3u);

  // Node 3 answers a probe on the path it names, promising its rotation's gap.
  auto sender = Core(3);
  Outputs answer;
  sender.SetAdapters(t0, Farm(4, 1), answer);
  answer.clear();
  sender.OnMessage(t0, 1, Ep(1, 3), Ep(1, 1), Encode(ProbeMsg{Ep(1, 3), Ep(1, 1)}), answer);
  auto sent = Only<SendVia>(answer);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].from, Ep(1, 3));
  EXPECT_EQ(sent[0].to, Ep(1, 1));
  EXPECT_EQ(std::get<HeartbeatMsg>(*Decode(sent[0].bytes)).next_ms, 200u);
  // Not for a path into another node than the asker's, nor from another node's adapter.
  answer.clear();
  sender.OnMessage(t0, 1, Ep(1, 3), Ep(1, 1), Encode(ProbeMsg{Ep(1, 3), Ep(1, 2)}), answer);
  sender.OnMessage(t0, 1, Ep(1, 3), Ep(1, 1), Encode(ProbeMsg{Ep(1, 4), Ep(1, 1)}), answer);
  EXPECT_TRUE(Only<SendVia>(answer).empty());
  EXPECT_EQ(sender.metrics().rejected, 2u);
}

// A path that came back is judged again when it falls silent again.
TEST(LivenessCoreTest, APathBackFromDownIsJudgedAgain) {
  auto core = Core(1);
  Outputs out;
  core.SetAdapters(t0, Farm(2, 1), out);
  core.OnMessage(t0, 2, Ep(1, 1), Ep(1, 2), Heartbeat(1, 2, 1, 100), out);
  for (int ms = 0; ms <= 400; ms += 50) core.Tick(t0 + Duration::Millis(ms), out);
  ASSERT_EQ(core.PathStateOf(Ep(1, 2), Ep(1, 1)), PathState::kDown);
  core.OnMessage(t0 + Duration::Millis(500), 2, Ep(1, 1), Ep(1, 2), Heartbeat(1, 2, 1, 100), out);
  ASSERT_EQ(core.PathStateOf(Ep(1, 2), Ep(1, 1)), PathState::kUp);
  for (int ms = 500; ms <= 900; ms += 50) core.Tick(t0 + Duration::Millis(ms), out);
  EXPECT_EQ(core.PathStateOf(Ep(1, 2), Ep(1, 1)), PathState::kDown);
}

// A change of the table that leaves a path's schedule alone (an adapter on another network)
// does not put off its judgement; one that slows it (its sender's ring grew) does.
TEST(LivenessCoreTest, ATableChangeDelaysOnlyThePathsItSlows) {
  auto core = Core(1);
  Outputs out;
  auto farm = Farm(3, 1);
  core.SetAdapters(t0, farm, out);
  // Node 3 precedes node 1 on the ring; node 2's heartbeats come once per rotation.
  core.OnMessage(t0, 3, Ep(1, 1), Ep(1, 3), Heartbeat(1, 3, 1, 100), out);
  core.OnMessage(t0, 2, Ep(1, 1), Ep(1, 2), Heartbeat(1, 2, 1, 100), out);
  farm.push_back({NodeId(9), Ep(2, 9), "n2"});
  core.SetAdapters(t0 + Duration::Millis(50), farm, out);
  for (int ms = 50; ms <= 400; ms += 50) core.Tick(t0 + Duration::Millis(ms), out);
  EXPECT_EQ(core.PathStateOf(Ep(1, 3), Ep(1, 1)), PathState::kDown);  // due at 100, as it was
  EXPECT_EQ(core.PathStateOf(Ep(1, 2), Ep(1, 1)), PathState::kDown);
  // Node 9 joins network 1 after node 3: node 2's path into node 1 is now a rotation's of
  // two others (gap 200 ms), expected a gap after the change.
  core.OnMessage(t0 + Duration::Millis(400), 2, Ep(1, 1), Ep(1, 2), Heartbeat(1, 2, 1, 100), out);
  farm.push_back({NodeId(9), Ep(1, 9), "n1"});
  core.SetAdapters(t0 + Duration::Millis(450), farm, out);
  for (int ms = 450; ms <= 900; ms += 50) core.Tick(t0 + Duration::Millis(ms), out);
  EXPECT_EQ(core.PathStateOf(Ep(1, 2), Ep(1, 1)), PathState::kUp);
  core.Tick(t0 + Duration::Millis(950), out);  // 450 + 200, then miss_limit periods
  EXPECT_EQ(core.PathStateOf(Ep(1, 2), Ep(1, 1)), PathState::kDown);
}

TEST(LivenessCoreTest, ARemoteAddressIsHeardWhileOnePathFromItIsUp) {
  auto core = Core(2);
  Outputs out;
  std::vector<Adapter> farm = Farm(2, 1);
  farm.push_back({2, Ep(1, 12), "n1"});  // node 2 has two adapters on network 1
  core.SetAdapters(t0, farm, out);
  EXPECT_EQ(core.HeardFrom(Ep(1, 1)), PathState::kUnknown);
  core.OnMessage(t0, 1, Ep(1, 2), Ep(1, 1), Heartbeat(1, 1, 2, 100), out);
  EXPECT_EQ(core.HeardFrom(Ep(1, 1)), PathState::kUp);
  core.OnMessage(t0 + kPeriod, 1, Ep(1, 12), Ep(1, 1),
                 Encode(HeartbeatMsg{Ep(1, 1), Ep(1, 12), 100, 0, 0}), out);
  // The first path falls silent first; the other one is still up.
  core.Tick(t0 + Duration::Millis(400), out);
  EXPECT_EQ(core.PathStateOf(Ep(1, 1), Ep(1, 2)), PathState::kDown);
  EXPECT_EQ(core.HeardFrom(Ep(1, 1)), PathState::kUp);
  core.Tick(t0 + Duration::Millis(500), out);
  EXPECT_EQ(core.HeardFrom(Ep(1, 1)), PathState::kDown);
}

// Alerts: a path into node 1 going down makes node 1 heartbeat its whole network every
// period for 2 * (miss_limit + 2) periods after the last change, and expect every other
// adapter within a few periods; the transport hears of the silent address.
TEST(LivenessCoreTest, AChangeAlertsTheAdaptersItTouches) {
  auto core = Core(1);
  Outputs out;
  core.SetAdapters(t0, Farm(6, 1), out);
  core.OnMessage(t0, 6, Ep(1, 1), Ep(1, 6), Heartbeat(1, 6, 1, 100), out);   // ring predecessor
  core.OnMessage(t0, 3, Ep(1, 1), Ep(1, 3), Heartbeat(1, 3, 1, 1000), out);  // due much later
  auto sends = [&](Instant at) {
    out.clear();
    // Node 2 heard every period: the network is not silent here (see the next test).
    core.OnMessage(at, 2, Ep(1, 1), Ep(1, 2), Heartbeat(1, 2, 1, 100), out);
    core.Tick(at, out);
    std::vector<uint32_t> next;
    for (const SendVia& s : Only<SendVia>(out)) {
      next.push_back(std::get<HeartbeatMsg>(*Decode(s.bytes)).next_ms);
    }
    return next;
  };
  EXPECT_EQ(sends(t0).size(), 2u);  // successor and rotation
  EXPECT_EQ(sends(t0 + kPeriod).size(), 2u);
  EXPECT_EQ(sends(t0 + kPeriod * 2).size(), 2u);
  EXPECT_EQ(sends(t0 + kPeriod * 3).size(), 2u);
  sends(t0 + kPeriod * 4);  // 6 -> 1 overdue: down, and an alert
  EXPECT_EQ(core.PathStateOf(Ep(1, 6), Ep(1, 1)), PathState::kDown);
  const auto heard = Only<AddressHeard>(out);
  ASSERT_EQ(heard.size(), 1u);
  EXPECT_EQ(heard[0].remote.address, Ep(1, 6));
  EXPECT_FALSE(heard[0].heard);
  // Every other adapter, each promised the next heartbeat in a period.
  EXPECT_EQ(sends(t0 + kPeriod * 5), (std::vector<uint32_t>{100, 100, 100, 100, 100}));
  // 3 -> 1 said "next in 1 s"; under the alert it is expected within 2 periods and grace.
  sends(t0 + Duration::Millis(899));
  EXPECT_EQ(core.PathStateOf(Ep(1, 3), Ep(1, 1)), PathState::kUp);
  sends(t0 + Duration::Millis(900));
  EXPECT_EQ(core.PathStateOf(Ep(1, 3), Ep(1, 1)), PathState::kDown);
  // That change alerted again (until 1.9 s); the last burst heartbeat promises only the
  // rotation's gap; then back to two heartbeats a period.
  const auto last = sends(t0 + Duration::Millis(1800));
  EXPECT_EQ(last.size(), 5u);
  EXPECT_EQ(std::count(last.begin(), last.end(), 100u), 1);  // the successor
  EXPECT_EQ(sends(t0 + Duration::Millis(1900)).size(), 2u);
}

// Nothing heard on a network for 1.5 periods while a heartbeat was due: its addresses are
// reported unheard at once (traffic leaves them), every path into the adapter is expected
// now, so a rotation's path is judged miss_limit periods later, not after its own due; the
// next heartbeat there ends the silence. The other network is untouched.
TEST(LivenessCoreTest, ASilentNetworkIsReportedUnheardAtOnceAndItsPathsExpectedNow) {
  auto core = Core(1);
  Outputs out;
  core.SetAdapters(t0, Farm(5, 2), out);
  core.OnMessage(t0, 5, Ep(2, 1), Ep(2, 5), Heartbeat(2, 5, 1, 100), out);  // ring predecessor
  core.OnMessage(t0, 3, Ep(2, 1), Ep(2, 3), Heartbeat(2, 3, 1, 300), out);  // a rotation's
  core.OnMessage(t0, 5, Ep(1, 1), Ep(1, 5), Heartbeat(1, 5, 1, 100), out);
  auto at = [&](int ms) {
    out.clear();
    const Instant t = t0 + Duration::Millis(ms);
    core.OnMessage(t, 5, Ep(1, 1), Ep(1, 5), Heartbeat(1, 5, 1, 100), out);  // network 1 hears
    core.Tick(t, out);
    return Only<AddressHeard>(out);
  };
  EXPECT_TRUE(at(100).empty());
  EXPECT_TRUE(at(149).empty());
  EXPECT_EQ(core.NextDeadline(), t0 + Duration::Millis(150));  // the silence is looked for
  const auto silent = at(150);
  ASSERT_EQ(silent.size(), 4u);
  for (const AddressHeard& h : silent) {
    EXPECT_EQ(h.remote.network, "n2");
    EXPECT_FALSE(h.heard);
  }
  EXPECT_EQ(core.metrics().silences, 1u);
  EXPECT_EQ(core.PathStateOf(Ep(2, 3), Ep(2, 1)), PathState::kUp);  // not judged by silence
  at(200);  // half a period on: the rotation's path is probed for
  bool probed = false;
  for (const SendTo& p : Only<SendTo>(out)) {
    auto m = Decode(p.bytes);
    probed = probed || (m && std::holds_alternative<ProbeMsg>(*m) &&
                        std::get<ProbeMsg>(*m) == ProbeMsg{Ep(2, 3), Ep(2, 1)});
  }
  EXPECT_TRUE(probed);
  at(449);
  EXPECT_EQ(core.PathStateOf(Ep(2, 3), Ep(2, 1)), PathState::kUp);
  at(450);  // 150 + 3 periods (it was due at 300: 600 without the silence)
  EXPECT_EQ(core.PathStateOf(Ep(2, 3), Ep(2, 1)), PathState::kDown);
  EXPECT_EQ(core.PathStateOf(Ep(1, 5), Ep(1, 1)), PathState::kUp);
  // Node 5 heard again on network 2: the silence ends. Its address is heard, and so are
  // those of nodes 2 and 4 (never judged: the transport gets back its own view); node 3's
  // path was judged down meanwhile.
  out.clear();
  core.OnMessage(t0 + Duration::Millis(460), 5, Ep(2, 1), Ep(2, 5), Heartbeat(2, 5, 1, 100), out);
  std::vector<Endpoint> heard;
  for (const AddressHeard& h : Only<AddressHeard>(out)) {
    EXPECT_TRUE(h.heard);
    heard.push_back(h.remote.address);
  }
  std::sort(heard.begin(), heard.end());
  EXPECT_EQ(heard, (std::vector<Endpoint>{Ep(2, 2), Ep(2, 4), Ep(2, 5)}));
}

// A heartbeat already overdue before the last one heard (a predecessor that just died, its
// path not judged yet) does not make the network silent: other heartbeats came since.
TEST(LivenessCoreTest, APathOverdueFromBeforeTheLastHeartbeatMakesNoSilence) {
  auto core = Core(1);
  Outputs out;
  core.SetAdapters(t0, Farm(5, 1), out);
  core.OnMessage(t0, 5, Ep(1, 1), Ep(1, 5), Heartbeat(1, 5, 1, 100), out);  // then dies
  // A rotation's heartbeat after the predecessor's was due, promising the next in 3 periods.
  core.OnMessage(t0 + Duration::Millis(120), 3, Ep(1, 1), Ep(1, 3), Heartbeat(1, 3, 1, 300), out);
  for (int ms = 130; ms <= 390; ms += 10) {
    out.clear();
    core.Tick(t0 + Duration::Millis(ms), out);
    ASSERT_TRUE(Only<AddressHeard>(out).empty()) << ms;
    ASSERT_GT(core.NextDeadline(), t0 + Duration::Millis(ms)) << ms;
  }
  EXPECT_EQ(core.metrics().silences, 0u);
}

// A node joins between a sender and its successor: the successor's path becomes one of the
// sender's rotation, due later; it is not marked down meanwhile.
TEST(LivenessCoreTest, AJoinThatTurnsARingPathIntoARotationOneDoesNotMarkItDown) {
  auto core = Core(3);
  Outputs out;
  std::vector<Adapter> farm = {{1, Ep(1, 1), "n1"}, {3, Ep(1, 3), "n1"}, {4, Ep(1, 4), "n1"}};
  core.SetAdapters(t0, farm, out);
  core.OnMessage(t0, 1, Ep(1, 3), Ep(1, 1), Heartbeat(1, 1, 3, 100), out);  // 1's successor
  farm.push_back({2, Ep(1, 2), "n1"});
  core.SetAdapters(t0 + Duration::Millis(50), farm, out);  // now node 2 is 1's successor
  core.Tick(t0 + Duration::Millis(450), out);
  EXPECT_EQ(core.PathStateOf(Ep(1, 1), Ep(1, 3)), PathState::kUp);
  core.Tick(t0 + Duration::Millis(550), out);  // a rotation gap (200 ms) and grace later
  EXPECT_EQ(core.PathStateOf(Ep(1, 1), Ep(1, 3)), PathState::kDown);
}

// Changes are published at most every period/4: a burst of them goes out in one row.
TEST(LivenessCoreTest, RowsAreRateLimited) {
  auto core = Core(1);
  Outputs out;
  core.SetAdapters(t0, Farm(4, 1), out);
  core.OnMessage(t0, 2, Ep(1, 1), Ep(1, 2), Heartbeat(1, 2, 1, 100), out);
  core.OnMessage(t0 + Duration::Millis(1), 3, Ep(1, 1), Ep(1, 3), Heartbeat(1, 3, 1, 100), out);
  core.OnMessage(t0 + Duration::Millis(2), 4, Ep(1, 1), Ep(1, 4), Heartbeat(1, 4, 1, 100), out);
  EXPECT_EQ(Only<Broadcast>(out).size(), 1u);  // the first, at once
  out.clear();
  core.Tick(t0 + Duration::Millis(20), out);
  EXPECT_TRUE(Only<Broadcast>(out).empty());
  core.Tick(t0 + kPeriod / 4, out);
  auto rows = Only<Broadcast>(out);
  ASSERT_EQ(rows.size(), 1u);  // the other two together
  EXPECT_TRUE(std::get<RowMsg>(*Decode(rows[0].bytes)).entries.empty());
}

TEST(LivenessCoreTest, AHeartbeatCountsOnlyForThePathItTook) {
  auto core = Core(2);
  Outputs out;
  core.SetAdapters(t0, Farm(3, 2), out);
  // Claims network 1 but arrived on network 2's adapters; and one from an adapter that is
  // not its sender's.
  core.OnMessage(t0, 1, Ep(2, 2), Ep(2, 1), Heartbeat(1, 1, 2, 100), out);
  core.OnMessage(t0, 3, Ep(1, 2), Ep(1, 1), Heartbeat(1, 1, 2, 100), out);
  EXPECT_EQ(core.metrics().rejected, 2u);
  EXPECT_EQ(core.PathStateOf(Ep(1, 1), Ep(1, 2)), PathState::kUnknown);
  EXPECT_EQ(core.PathStateOf(Ep(2, 1), Ep(2, 2)), PathState::kUnknown);
}

TEST(LivenessCoreTest, RowsOfOtherNodesMakeTheMatrixAndTheAdapterStates) {
  auto core = Core(1);
  Outputs out;
  core.SetAdapters(t0, Farm(3, 1), out);
  // Node 2 hears node 3; node 3 does not hear node 2 (one way): 2 -> 3 down, 3 -> 2 up.
  core.OnMessage(t0, 2, Ep(1, 1), Ep(1, 2), Encode(RowMsg{102, 1, {}}), out);
  core.OnMessage(t0, 3, Ep(1, 1), Ep(1, 3),
                 Encode(RowMsg{103, 1, {{Ep(1, 2), Ep(1, 3), PathState::kDown}}}), out);
  EXPECT_EQ(core.PathStateOf(Ep(1, 3), Ep(1, 2)), PathState::kUp);
  EXPECT_EQ(core.PathStateOf(Ep(1, 2), Ep(1, 3)), PathState::kDown);
  // Node 2's adapter: unheard by node 3, not yet judged here.
  EXPECT_EQ(core.AdapterStateOf(Ep(1, 2)), AdapterState::kUnknown);
  core.OnMessage(t0, 2, Ep(1, 1), Ep(1, 2), Heartbeat(1, 2, 1, 100), out);
  EXPECT_EQ(core.AdapterStateOf(Ep(1, 2)), AdapterState::kUp);  // this node hears it
  // A newer row from node 3: the path came back; an older one changes nothing.
  out.clear();
  core.OnMessage(t0, 3, Ep(1, 1), Ep(1, 3), Encode(RowMsg{103, 2, {}}), out);
  EXPECT_EQ(core.PathStateOf(Ep(1, 2), Ep(1, 3)), PathState::kUp);
  auto changes = Only<PathChanged>(out);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].state, PathState::kUp);
  core.OnMessage(t0, 3, Ep(1, 1), Ep(1, 3),
                 Encode(RowMsg{103, 1, {{Ep(1, 2), Ep(1, 3), PathState::kDown}}}), out);
  EXPECT_EQ(core.PathStateOf(Ep(1, 2), Ep(1, 3)), PathState::kUp);
  // Entries about paths that are not the sender's to judge are ignored.
  core.OnMessage(t0, 3, Ep(1, 1), Ep(1, 3),
                 Encode(RowMsg{103, 3, {{Ep(1, 1), Ep(1, 2), PathState::kDown}}}), out);
  EXPECT_EQ(core.PathStateOf(Ep(1, 1), Ep(1, 2)), PathState::kUp);
}

// Rows hold path states by position in a network; a change of the adapter table moves the
// positions, and what the rows said stays with the right paths.
TEST(LivenessCoreTest, RowsKeepTheirPathsWhenTheAdapterTableChanges) {
  auto core = Core(1);
  Outputs out;
  auto farm = Farm(4, 2);
  core.SetAdapters(t0, farm, out);
  // Node 2: on n1 the path from node 4 is down; on n2 every path is down but node 3's.
  core.OnMessage(
      t0, 2, Ep(1, 1), Ep(1, 2),
      Encode(RowMsg{102,
                    1,
                    {{Ep(1, 4), Ep(1, 2), PathState::kDown}, {Ep(2, 3), Ep(2, 2), PathState::kUp}},
                    {{Ep(2, 2), PathState::kDown}}}),
      out);
  EXPECT_EQ(core.PathStateOf(Ep(1, 3), Ep(1, 2)), PathState::kUp);
  EXPECT_EQ(core.PathStateOf(Ep(1, 4), Ep(1, 2)), PathState::kDown);
  EXPECT_EQ(core.PathStateOf(Ep(2, 1), Ep(2, 2)), PathState::kDown);
  EXPECT_EQ(core.PathStateOf(Ep(2, 3), Ep(2, 2)), PathState::kUp);
  EXPECT_EQ(core.PathStateOf(Ep(2, 4), Ep(2, 2)), PathState::kDown);
  // Node 3 leaves: node 4's adapters move one position down on both networks.
  std::erase_if(farm, [](const Adapter& a) { return a.node == 3; });
  core.SetAdapters(t0, farm, out);
  EXPECT_EQ(core.PathStateOf(Ep(1, 4), Ep(1, 2)), PathState::kDown);
  EXPECT_EQ(core.PathStateOf(Ep(2, 1), Ep(2, 2)), PathState::kDown);
  EXPECT_EQ(core.PathStateOf(Ep(2, 4), Ep(2, 2)), PathState::kDown);
  // Node 3 comes back and node 9 joins n1: node 4 moves up again. What the row said of
  // node 3 was dropped with it, and the row was read before node 9 appeared: the paths from
  // both are unknown (not the row's defaults) until node 2's row is taken again, which the
  // table's growth asks for.
  farm = Farm(4, 2);
  farm.push_back({NodeId(9), Ep(1, 9), "n1"});
  core.SetAdapters(t0, farm, out);
  EXPECT_EQ(core.PathStateOf(Ep(1, 4), Ep(1, 2)), PathState::kDown);
  EXPECT_EQ(core.PathStateOf(Ep(1, 1), Ep(1, 2)), PathState::kUp);
  EXPECT_EQ(core.PathStateOf(Ep(1, 3), Ep(1, 2)), PathState::kUnknown);
  EXPECT_EQ(core.PathStateOf(Ep(1, 9), Ep(1, 2)), PathState::kUnknown);
  EXPECT_EQ(core.PathStateOf(Ep(2, 3), Ep(2, 2)), PathState::kUnknown);
  EXPECT_EQ(core.PathStateOf(Ep(2, 1), Ep(2, 2)), PathState::kDown);
  EXPECT_EQ(core.PathStateOf(Ep(2, 4), Ep(2, 2)), PathState::kDown);
  out.clear();
  core.OnMessage(t0, 2, Ep(1, 1), Ep(1, 2), Heartbeat(1, 2, 1, 100, 102, 1), out);
  EXPECT_EQ(Only<SendTo>(out).size(), 1u);  // the stale row is asked for at the same version
}

TEST(LivenessCoreTest, ANodeNoOneHearsIsSilentAndThePathsIntoItAreDown) {
  auto core = Core(1);
  Outputs out;
  core.SetAdapters(t0, Farm(3, 1), out);
  core.OnMessage(t0, 2, Ep(1, 1), Ep(1, 2), Encode(RowMsg{102, 1, {}}), out);
  core.OnMessage(t0, 3, Ep(1, 1), Ep(1, 3), Encode(RowMsg{103, 1, {}}), out);
  core.OnMessage(t0, 3, Ep(1, 1), Ep(1, 3), Heartbeat(1, 3, 1, 100), out);
  EXPECT_EQ(core.PathStateOf(Ep(1, 1), Ep(1, 3)), PathState::kUp);
  // Node 3 dies: node 2 stops hearing it, and so does this node.
  out.clear();
  core.OnMessage(t0, 2, Ep(1, 1), Ep(1, 2),
                 Encode(RowMsg{102, 2, {{Ep(1, 3), Ep(1, 2), PathState::kDown}}}), out);
  core.Tick(t0 + Duration::Millis(400), out);
  EXPECT_EQ(core.AdapterStateOf(Ep(1, 3)), AdapterState::kDown);
  auto adapters = Only<AdapterChanged>(out);
  ASSERT_EQ(adapters.size(), 1u);
  EXPECT_EQ(adapters[0].adapter.node, 3);
  EXPECT_EQ(adapters[0].state, AdapterState::kDown);
  // Its last row said every path into it was up; silent, they are down.
  EXPECT_EQ(core.PathStateOf(Ep(1, 1), Ep(1, 3)), PathState::kDown);
  EXPECT_EQ(core.PathStateOf(Ep(1, 2), Ep(1, 3)), PathState::kDown);
  const auto view = core.View();
  ASSERT_EQ(view.size(), 1u);
  EXPECT_EQ(view[0].paths[0][2], PathState::kDown);
  EXPECT_EQ(view[0].paths[0][0], PathState::kNone);
  EXPECT_EQ(view[0].states[2], AdapterState::kDown);
}

TEST(LivenessCoreTest, AHeartbeatNamingANewerRowAsksForIt) {
  auto core = Core(2);
  Outputs out;
  core.SetAdapters(t0, Farm(3, 1), out);
  core.OnMessage(t0, 1, Ep(1, 2), Ep(1, 1), Heartbeat(1, 1, 2, 100, 101, 5), out);
  auto asks = Only<SendTo>(out);
  ASSERT_EQ(asks.size(), 1u);
  EXPECT_EQ(asks[0].node, 1);
  EXPECT_TRUE(std::holds_alternative<RowRequestMsg>(*Decode(asks[0].bytes)));
  // Not again within a period; answered once the row arrives.
  out.clear();
  core.OnMessage(t0 + Duration::Millis(50), 1, Ep(1, 2), Ep(1, 1), Heartbeat(1, 1, 2, 100, 101, 5),
                 out);
  EXPECT_TRUE(Only<SendTo>(out).empty());
  core.OnMessage(t0, 1, Ep(1, 2), Ep(1, 1), Encode(RowMsg{101, 5, {}}), out);
  core.OnMessage(t0 + kPeriod * 2, 1, Ep(1, 2), Ep(1, 1), Heartbeat(1, 1, 2, 100, 101, 5), out);
  EXPECT_TRUE(Only<SendTo>(out).empty());
  // A row request is answered with this node's row.
  out.clear();
  core.OnMessage(t0, 3, Ep(1, 2), Ep(1, 3), Encode(RowRequestMsg{}), out);
  auto rows = Only<SendTo>(out);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].node, 3);
  EXPECT_EQ(std::get<RowMsg>(*Decode(rows[0].bytes)).incarnation, 102u);
}

TEST(LivenessCoreTest, AnAdapterAloneOnItsNetworkSendsNothingAndIsUnknown) {
  auto core = Core(1);
  Outputs out;
  std::vector<Adapter> farm = Farm(2, 1);
  farm.push_back({1, Ep(9, 1), "lonely"});
  core.SetAdapters(t0, farm, out);
  core.Tick(t0, out);
  for (const SendVia& s : Only<SendVia>(out)) EXPECT_NE(s.from, Ep(9, 1));
  EXPECT_EQ(core.AdapterStateOf(Ep(9, 1)), AdapterState::kUnknown);
}

}  // namespace
}  // namespace cohort::liveness
