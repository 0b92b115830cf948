#include "node/health.h"

#include <gtest/gtest.h>

namespace cohort::node::health {
namespace {

using membership::MemberState;

membership::ClusterMap Map(std::vector<std::pair<NodeId, MemberState>> members) {
  membership::ClusterMap map;
  map.supervisor = members.empty() ? kNoNode : members.front().first;
  map.version = 7;
  for (auto [id, state] : members) map.members[id] = {id, state, 1};
  return map;
}

Inputs ThreeUp() {
  Inputs in;
  in.self = 1;
  in.role = membership::Role::kSupervisor;
  in.map = Map({{1, MemberState::kUp}, {2, MemberState::kUp}, {3, MemberState::kUp}});
  in.registry_configured = true;
  registry::RegistryStatus s;
  s.phase = registry::Phase::kReadWrite;
  s.leader = 1;
  s.servers = {1, 2, 3};
  in.registry = s;
  return in;
}

// Evaluates and stamps at `now_ms`, as the API does.
Report At(HealthWatch& watch, const Inputs& in, int64_t now_ms) {
  watch.ObserveMap(in.map, now_ms);
  Report r = Evaluate(in);
  watch.Stamp(r, now_ms);
  return r;
}

const Problem* Find(const Report& r, const std::string& key) {
  for (const Problem& p : r.problems) {
    if (p.key == key) return &p;
  }
  return nullptr;
}

TEST(Health, AClusterWithEverythingUpIsHealthy) {
  HealthWatch watch;
  Report r = At(watch, ThreeUp(), 1000);
  EXPECT_EQ(r.verdict, Verdict::kHealthy);
  EXPECT_TRUE(r.problems.empty());
  EXPECT_EQ(r.members_up, 3u);
  EXPECT_EQ(r.members_total, 3u);
  EXPECT_EQ(r.registry_servers_up, 3u);
}

TEST(Health, AFailedNodeDegradesAndSaysSinceWhenItFailed) {
  HealthWatch watch;
  Inputs in = ThreeUp();
  At(watch, in, 1000);
  in.map.members[3].state = MemberState::kFailed;
  At(watch, in, 5000);  // the map this node took when 3 failed
  Report r = At(watch, in, 9000);
  EXPECT_EQ(r.verdict, Verdict::kDegraded);
  const Problem* p = Find(r, "member-failed/3");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->since_ms, 5000);
  EXPECT_EQ(p->where, "node 3");
  EXPECT_NE(p->action.find("cohort node undefine 3"), std::string::npos);
  // Registry server 3 is down too: the registry still has its majority, one loss from none.
  const Problem* reg = Find(r, "registry-servers-down/3");
  ASSERT_NE(reg, nullptr);
  EXPECT_NE(reg->what.find("one more loss stops all writes"), std::string::npos);
  // A node that left is no problem and no longer counts.
  in.map.members[3].state = MemberState::kLeft;
  in.registry->servers = {1, 2};
  r = At(watch, in, 10000);
  EXPECT_EQ(r.verdict, Verdict::kHealthy);
  EXPECT_EQ(r.members_total, 2u);
}

TEST(Health, MoreThanHalfTheNodesFailedIsDown) {
  HealthWatch watch;
  Inputs in = ThreeUp();
  in.registry_configured = false;
  in.map.members[2].state = MemberState::kFailed;
  in.map.members[3].state = MemberState::kFailed;
  Report r = At(watch, in, 1000);
  EXPECT_EQ(r.verdict, Verdict::kDown);
  ASSERT_FALSE(r.problems.empty());
  EXPECT_EQ(r.problems.front().key, "members-majority");  // the worst comes first
  // Half is not more than half: one of two nodes failed degrades (membership needs no
  // majority; the registry's quorum is judged on its own).
  in.map.members.erase(3);
  EXPECT_EQ(At(watch, in, 2000).verdict, Verdict::kDegraded);
}

TEST(Health, ARegistryWithoutLeaderIsDownOnceItLastsPastItsGrace) {
  HealthWatch watch;
  Inputs in = ThreeUp();
  in.registry->phase = registry::Phase::kReadOnly;
  in.registry->leader = kNoNode;
  EXPECT_EQ(At(watch, in, 1000).verdict, Verdict::kHealthy);  // an election takes a moment
  EXPECT_EQ(At(watch, in, 4000).verdict, Verdict::kHealthy);
  Report r = At(watch, in, 6500);
  EXPECT_EQ(r.verdict, Verdict::kDown);
  ASSERT_NE(Find(r, "registry-no-leader"), nullptr);
  EXPECT_EQ(Find(r, "registry-no-leader")->since_ms, 1000);
  // Gone and back: its time starts again.
  in.registry->phase = registry::Phase::kReadWrite;
  in.registry->leader = 2;
  EXPECT_EQ(At(watch, in, 7000).verdict, Verdict::kHealthy);
  in.registry->phase = registry::Phase::kReadOnly;
  EXPECT_EQ(At(watch, in, 8000).verdict, Verdict::kHealthy);
}

TEST(Health, NoAnswerFromTheRegistryIsDownOnceItLasts) {
  HealthWatch watch;
  Inputs in = ThreeUp();
  in.registry.reset();
  in.registry_error = "deadline exceeded";
  EXPECT_EQ(At(watch, in, 1000).verdict, Verdict::kHealthy);  // a daemon just started
  Report r = At(watch, in, 11500);
  EXPECT_EQ(r.verdict, Verdict::kDown);
  EXPECT_NE(r.problems[0].what.find("deadline exceeded"), std::string::npos);
  in.registry_configured = false;  // a cluster that runs without one
  EXPECT_EQ(At(watch, in, 12000).verdict, Verdict::kHealthy);
  // A daemon that just started says where it is at once, as degraded.
  HealthWatch fresh;
  in.registry_configured = true;
  in.starting = true;
  Report r2 = At(fresh, in, 1000);
  EXPECT_EQ(r2.verdict, Verdict::kDegraded);
  EXPECT_NE(r2.problems[0].what.find("no answer from the System Registry yet"), std::string::npos);
}

TEST(Health, AStatusWithoutServersJudgesTheConfiguredOnes) {
  HealthWatch watch;
  Inputs in = ThreeUp();
  in.registry = registry::RegistryStatus{};  // the status read failed
  in.registry_servers = {3, 1, 2};
  in.map.members[3].state = MemberState::kFailed;
  Report r = At(watch, in, 1000);
  r = At(watch, in, 7000);
  const Problem* leaderless = Find(r, "registry-no-leader");
  ASSERT_NE(leaderless, nullptr);
  EXPECT_EQ(leaderless->where, "registry servers 1, 2, 3");
  EXPECT_NE(leaderless->what.find("2 of 3 servers up, 2 needed"), std::string::npos);
  // The server that is down is named while there is no leader too.
  EXPECT_NE(Find(r, "registry-servers-down/3"), nullptr);
}

TEST(Health, ANodeOutsideAClusterJudgesNothingElse) {
  HealthWatch watch;
  Inputs in = ThreeUp();
  in.role = membership::Role::kJoining;
  in.map.members[2].state = MemberState::kFailed;
  EXPECT_EQ(At(watch, in, 1000).verdict, Verdict::kHealthy);  // a blip is held back
  in.starting = true;  // a daemon on its way in says so at once
  HealthWatch fresh;
  EXPECT_EQ(At(fresh, in, 1000).verdict, Verdict::kDegraded);
  in.starting = false;
  Report r = At(watch, in, 6500);
  EXPECT_EQ(r.verdict, Verdict::kDown);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].area, Area::kNode);
  EXPECT_NE(r.problems[0].what.find("joining"), std::string::npos);
}

TEST(Health, DisksReportTheNodeThatLostItsPath) {
  HealthWatch watch;
  Inputs in = ThreeUp();
  membership::DiskEntry d;
  d.paths[1] = {membership::PathState::kOk, 1};
  d.paths[2] = {membership::PathState::kFailed, 2};
  in.map.disks["d1"] = d;
  Report r = At(watch, in, 1000);
  EXPECT_EQ(r.verdict, Verdict::kDegraded);
  ASSERT_NE(Find(r, "disk-path/d1/2"), nullptr);
  EXPECT_EQ(Find(r, "disk-path/d1/2")->where, "disk d1 from node 2");
  in.map.disks["d1"].failed = true;
  r = At(watch, in, 2000);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].key, "disk-failed/d1");
}

liveness::NetworkView Network(std::vector<NodeId> nodes) {
  liveness::NetworkView v;
  v.name = "admin";
  for (NodeId n : nodes) {
    v.adapters.push_back({n, *Endpoint::Parse("10.0.0." + std::to_string(n) + ":7000"), "admin"});
    v.states.push_back(liveness::AdapterState::kUp);
  }
  v.paths.assign(nodes.size(),
                 std::vector<liveness::PathState>(nodes.size(), liveness::PathState::kUp));
  for (size_t i = 0; i < nodes.size(); ++i) v.paths[i][i] = liveness::PathState::kNone;
  return v;
}

TEST(Health, AOneWayPathLossIsNamedWithItsDirection) {
  HealthWatch watch;
  Inputs in = ThreeUp();
  in.networks.push_back(Network({1, 2, 3}));
  in.networks[0].paths[0][1] = liveness::PathState::kDown;
  EXPECT_EQ(At(watch, in, 1000).verdict, Verdict::kHealthy);  // within its grace
  Report r = At(watch, in, 3500);
  EXPECT_EQ(r.verdict, Verdict::kDegraded);
  const Problem* p = Find(r, "path-down/admin/10.0.0.1:7000/10.0.0.2:7000");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->where, "network admin: 10.0.0.1:7000 → 10.0.0.2:7000");
  // A dead adapter is one problem, not one per path; a failed node's are none.
  in.networks[0].states[1] = liveness::AdapterState::kDown;
  in.networks[0].paths[0][1] = in.networks[0].paths[2][1] = liveness::PathState::kDown;
  r = At(watch, in, 6000);
  EXPECT_EQ(r.problems.size(), 0u);  // the adapter's own grace runs from 6000
  r = At(watch, in, 8500);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].key, "adapter-down/admin/10.0.0.2:7000");
  in.map.members[2].state = MemberState::kFailed;
  r = At(watch, in, 9000);
  EXPECT_NE(Find(r, "member-failed/2"), nullptr);
  EXPECT_EQ(Find(r, "adapter-down/admin/10.0.0.2:7000"), nullptr);
}

TEST(Health, FailedAndStalledJobs) {
  HealthWatch watch;
  Inputs in = ThreeUp();
  JobBrief failed{"1-4",      distribution::JobState::kFailed, 3, {2}, 0, false, true, false,
                  "disk full"};
  JobBrief running{"1-5", distribution::JobState::kRunning, 3, {}, 0, true, false, false, ""};
  // Not problems: a failure still under repair, a job an operator cancelled, and an open
  // job whose servers hold all it has so far.
  JobBrief repairing{"1-6", distribution::JobState::kFailed, 3, {3}, 0, true, false, false, ""};
  JobBrief cancelled{"1-7",      distribution::JobState::kFailed, 3, {3}, 0, false, true, true,
                     "cancelled"};
  JobBrief waiting{"1-8", distribution::JobState::kRunning, 3, {}, 0, false, false, false, ""};
  in.jobs = {failed, running, repairing, cancelled, waiting};
  Report r = At(watch, in, 1000);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].where, "job 1-4 on nodes 2");
  EXPECT_NE(r.problems[0].what.find("disk full"), std::string::npos);
  in.jobs[1].bytes = 5000;  // moving
  r = At(watch, in, 20000);
  r = At(watch, in, 40000);
  EXPECT_EQ(r.problems.size(), 1u);  // 20 s without a byte: not yet
  r = At(watch, in, 50500);
  ASSERT_NE(Find(r, "job-stalled/1-5/5000"), nullptr);
  EXPECT_EQ(Find(r, "job-stalled/1-5/5000")->since_ms, 20000);
  in.jobs[1].bytes = 6000;  // moving again
  r = At(watch, in, 51000);
  EXPECT_EQ(r.problems.size(), 1u);
}

TEST(Health, ResourcesThatRunNowhereOrAreBlocked) {
  HealthWatch watch;
  Inputs in = ThreeUp();
  in.resources = {{"web", true, false, kNoNode, "", "no node holds /srv/www"},
                  {"db", true, false, 2, "stop timed out", ""},
                  {"idle", false, false, kNoNode, "", ""}};
  Report r = At(watch, in, 1000);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].key, "resource-blocked/db");
  EXPECT_EQ(r.problems[0].where, "node 2");
  r = At(watch, in, 17000);
  ASSERT_NE(Find(r, "resource-not-running/web"), nullptr);
  EXPECT_NE(Find(r, "resource-not-running/web")->action.find("no node holds /srv/www"),
            std::string::npos);
  in.resources_synced = false;  // not read yet: not judged
  EXPECT_EQ(At(watch, in, 18000).verdict, Verdict::kHealthy);
}

TEST(Health, HistoryRecordsEveryChangeAndStaysBounded) {
  HealthWatch watch;
  Inputs in = ThreeUp();
  watch.ObserveMap(in.map, 1000);
  ASSERT_EQ(watch.history().size(), 3u);
  EXPECT_FALSE(watch.history()[0].from.has_value());
  in.map.members[2].state = MemberState::kFailed;
  watch.ObserveMap(in.map, 2000);
  watch.ObserveMap(in.map, 2500);  // no change, no entry
  ASSERT_EQ(watch.history().size(), 4u);
  EXPECT_EQ(watch.history().back().node, 2u);
  EXPECT_EQ(watch.history().back().from, MemberState::kUp);
  EXPECT_EQ(watch.history().back().to, MemberState::kFailed);
  in.map.members.erase(2);
  watch.ObserveMap(in.map, 3000);
  EXPECT_FALSE(watch.history().back().to.has_value());
  EXPECT_EQ(watch.StateSince(2), 0);
  for (int i = 0; i < 400; ++i) {
    in.map.members[3].state = i % 2 ? MemberState::kUp : MemberState::kFailed;
    watch.ObserveMap(in.map, 4000 + i);
  }
  EXPECT_EQ(watch.history().size(), HealthWatch::kHistoryLimit);
  EXPECT_EQ(watch.StateSince(3), 4399);
}

}  // namespace
}  // namespace cohort::node::health
