#include "hierarchy/relay.h"

#include <gtest/gtest.h>

#include <deque>
#include <set>

#include "transport/messages.h"

namespace cohort::hierarchy {
namespace {

Instant At(int64_t ms) { return Instant::FromNanos(1'000'000'000 + ms * 1'000'000); }

RelayedRequest Get(const std::string& target) { return {"GET", target, "", ""}; }

// A tree of 2 × 2 × 3 daemons in three levels on one queue: the root's members 1 and 2 each
// stand for a cluster of two, whose members each stand for a leaf cluster of three. Member 1
// supervises everywhere; `down` holds the paths whose daemons are dead.
class Tree {
 public:
  Tree() {
    for (NodeId a = 1; a <= 2; ++a) {
      for (NodeId b = 1; b <= 2; ++b) {
        for (NodeId c = 1; c <= 3; ++c) cores_.emplace(NodePath{a, b, c}, RelayOptions{});
      }
    }
  }

  Position PositionOf(const NodePath& p) const {
    Position pos{.path = p};
    pos.levels.push_back({1, Up({p[0], p[1]}, 3)});
    if (p[2] == 1) pos.levels.push_back({1, Up({p[0]}, 2)});
    if (p[2] == 1 && p[1] == 1) pos.levels.push_back({1, Up({}, 2)});
    return pos;
  }

  // The members up of the cluster under `prefix`, ids 1..n.
  std::vector<NodeId> Up(const NodePath& prefix, NodeId n) const {
    std::vector<NodeId> up;
    for (NodeId id = 1; id <= n; ++id) {
      NodePath p = prefix;
      p.push_back(id);
      while (p.size() < 3) p.push_back(1);  // the member's holder
      if (!down.contains(p)) up.push_back(id);
    }
    return up;
  }

  // The daemon that holds node `to` on `level` of `from`'s branch.
  static NodePath Receiver(const NodePath& from, uint8_t level, NodeId to) {
    NodePath p(from.begin(), from.begin() + static_cast<long>(from.size() - 1 - level));
    p.push_back(to);
    while (p.size() < from.size()) p.push_back(1);
    return p;
  }

  // Sends from `origin` and runs the queue until it is empty; the answer, if any came.
  std::optional<RelayedResponse> Ask(const NodePath& origin, const NodePath& target,
                                     RelayedRequest request = Get("/v1/status")) {
    RelayOutputs out;
    const uint64_t id =
        cores_.at(origin).Originate(At(0), PositionOf(origin), target, std::move(request), out);
    Run(origin, out);
    for (size_t steps = 0; !queue_.empty() && steps < 1000; ++steps) {
      auto [node, level, from, bytes] = std::move(queue_.front());
      queue_.pop_front();
      ++messages;
      if (down.contains(node)) continue;
      RelayOutputs next;
      cores_.at(node).OnMessage(At(0), PositionOf(node), level, from, bytes, next);
      Run(node, next);
    }
    if (!answers_.contains(id)) return std::nullopt;
    return answers_.at(id);
  }

  RelayCore& core(const NodePath& p) { return cores_.at(p); }
  std::set<NodePath> down;
  size_t messages = 0;
  size_t max_bytes = 0;
  std::string answer_body;  // "": the target answers with its path

 private:
  void Run(const NodePath& self, RelayOutputs& out) {
    for (auto& o : out) {
      if (auto* s = std::get_if<RelaySend>(&o)) {
        max_bytes = std::max(max_bytes, s->bytes.size());
        const NodeId from = self[self.size() - 1 - s->level];
        queue_.push_back({Receiver(self, s->level, s->to), s->level, from, std::move(s->bytes)});
      } else if (auto* e = std::get_if<RelayExecute>(&o)) {
        RelayOutputs next;
        const std::string body = answer_body.empty() ? PathText(self) + " " + e->request.target +
                                                           " from " + PathText(e->origin)
                                                     : answer_body;
        cores_.at(self).Answer(e->id, e->hops, {200, "text/plain", body}, next);
        Run(self, next);
      } else if (auto* a = std::get_if<RelayAnswered>(&o)) {
        answers_[a->id] = a->response;
      }
    }
    out.clear();
  }

  struct InFlight {
    NodePath node;
    uint8_t level;
    NodeId from;
    wire::Bytes bytes;
  };
  std::map<NodePath, RelayCore> cores_;
  std::deque<InFlight> queue_;
  std::map<uint64_t, RelayedResponse> answers_;
};

TEST(RelayPath, ParsesAndPrints) {
  EXPECT_EQ(*ParsePath("2/3"), (NodePath{2, 3}));
  EXPECT_EQ(*ParsePath("7"), (NodePath{7}));
  EXPECT_EQ(PathText({22, 1, 21}), "22/1/21");
  for (const char* bad :
       {"", "/", "2/", "/2", "0/1", "1/65536", "a/b", "1//2", "1/2/3/4/5/6", " 1", "1 /2", "+1"}) {
    EXPECT_FALSE(ParsePath(bad)) << bad;
  }
}

TEST(RelayRoute, ClimbsCrossesAndDescends) {
  Tree t;
  // Every daemon reaches every other, each request in at most 2 × 2 hops each way.
  std::vector<NodePath> all;
  for (NodeId a = 1; a <= 2; ++a) {
    for (NodeId b = 1; b <= 2; ++b) {
      for (NodeId c = 1; c <= 3; ++c) all.push_back({a, b, c});
    }
  }
  for (const auto& from : all) {
    for (const auto& to : all) {
      t.messages = 0;
      auto answer = t.Ask(from, to, Get("/v1/members"));
      ASSERT_TRUE(answer) << PathText(from) << " → " << PathText(to);
      EXPECT_EQ(answer->status, 200);
      EXPECT_EQ(answer->body, PathText(to) + " /v1/members from " + PathText(from));
      EXPECT_LE(t.messages, 12u);
    }
  }
}

TEST(RelayRoute, FarthestPairTakesTheHoldersPath) {
  Tree t;
  // 2/2/3 → 1/2/3: up to 2/2/1 (its leaf's supervisor), 2/1/1 (the level above's), across
  // the root to 1/1/1, down to 1/2/1, then 1/2/3; and the answer back the same way.
  ASSERT_TRUE(t.Ask({2, 2, 3}, {1, 2, 3}));
  EXPECT_EQ(t.messages, 10u);
}

TEST(RelayRoute, AFailedMemberOnTheWayIsAnsweredAt503) {
  Tree t;
  t.down.insert({1, 2, 1});  // holds 1/2 in the middle level: the leaf cluster 1/2 is cut off
  auto answer = t.Ask({2, 2, 3}, {1, 2, 3});
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 503);
  EXPECT_NE(answer->body.find("no member 2 is up in level 1"), std::string::npos) << answer->body;
}

TEST(RelayRoute, WrongLengthAndSelf) {
  Tree t;
  auto wrong = t.Ask({1, 1, 2}, {1, 2});
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 400);
  EXPECT_NE(wrong->body.find("paths in this tree have 3"), std::string::npos);
  t.messages = 0;
  auto self = t.Ask({1, 1, 2}, {1, 1, 2});
  ASSERT_TRUE(self);
  EXPECT_EQ(self->body, "1/1/2 /v1/status from 1/1/2");
  EXPECT_EQ(t.messages, 0u);
}

TEST(RelayRoute, ALevelNotHeldIsUnreachableNotALoop) {
  Position p{.path = {1, 3}, .levels = {{3, {1, 2, 3}}}};  // supervises, holds nothing above
  auto step = Route(p, {2, 1});
  ASSERT_TRUE(std::holds_alternative<Unroutable>(step));
  EXPECT_EQ(std::get<Unroutable>(step).status, 503);
}

TEST(RelayCore, ARelayLoopEndsAt508) {
  // Two daemons that each take the other for the supervisor of the top level they hold.
  RelayCore a({}), b({});
  const Position pa{.path = {1, 1}, .levels = {{2, {1, 2}}}};
  const Position pb{.path = {1, 2}, .levels = {{1, {1, 2}}}};
  RelayOutputs out;
  const uint64_t id = a.Originate(At(0), pa, {2, 1}, Get("/"), out);
  std::optional<RelayedResponse> answer;
  for (int i = 0; i < 100 && !out.empty(); ++i) {
    RelayOutputs next;
    for (auto& o : out) {
      if (auto* s = std::get_if<RelaySend>(&o)) {
        const bool to_b = s->to == 2;
        (to_b ? b : a).OnMessage(At(0), to_b ? pb : pa, s->level, to_b ? 1 : 2, s->bytes, next);
      } else if (auto* r = std::get_if<RelayAnswered>(&o)) {
        EXPECT_EQ(r->id, id);
        answer = r->response;
      }
    }
    out = std::move(next);
  }
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 508);
}

TEST(RelayCore, NoAnswerBeforeTheDeadlineIs504) {
  Tree t;
  RelayCore& origin = t.core({1, 1, 2});
  RelayOutputs out;
  // The request goes out, and nothing carries it: its answer never comes.
  const uint64_t id = origin.Originate(At(0), t.PositionOf({1, 1, 2}), {1, 1, 1}, Get("/"), out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(origin.NextDeadline(), At(9000));
  out.clear();
  origin.Tick(At(8999), out);
  EXPECT_TRUE(out.empty());
  origin.Tick(At(9000), out);
  ASSERT_EQ(out.size(), 1u);
  const auto& answered = std::get<RelayAnswered>(out[0]);
  EXPECT_EQ(answered.id, id);
  EXPECT_EQ(answered.response.status, 504);
  EXPECT_EQ(origin.NextDeadline(), Instant::Max());
}

TEST(RelayCore, AnAnswerTooLargeIsReplacedBy502) {
  Tree t;
  t.answer_body.assign(kMaxRelayBytes, 'x');
  auto answer = t.Ask({1, 1, 2}, {2, 1, 1});
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 502);
  EXPECT_LE(t.max_bytes, kMaxRelayBytes);
}

TEST(RelayCore, ARequestNoRelayWouldCarryIsRefusedAtOnce) {
  Tree t;
  for (const RelayedRequest& bad :
       {RelayedRequest{"M-SEARCH", "/", "", ""},
        RelayedRequest{"GET", std::string(kMaxRelayTargetBytes + 1, 'a'), "", ""},
        RelayedRequest{"GET", "/", std::string(kMaxRelayFieldBytes + 1, 'a'), ""}}) {
    t.messages = 0;
    auto answer = t.Ask({1, 1, 2}, {2, 1, 1}, bad);
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->status, 400);
    EXPECT_EQ(t.messages, 0u);
  }
}

TEST(RelayCore, ARequestTooLargeIsRefusedAt413) {
  Tree t;
  auto answer =
      t.Ask({1, 1, 2}, {2, 1, 1}, {"POST", "/v1/x", "", std::string(kMaxRelayBytes, 'y')});
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 413);
  EXPECT_EQ(t.messages, 0u);
}

TEST(RelayCodec, RoundTripsAndFitsEveryPath) {
  static_assert(kMaxRelayBytes + 64 <= transport::kMaxMessageOnAnyPath);
  RequestMsg q{.id = 7,
               .origin = {1, 2, 3},
               .target = {3, 2, 1},
               .hops = {{0, 3}, {1, 2}},
               .request = {"POST", "/v1/registry/kv/a?x=1", "Bearer abc", "{\"value\":\"1\"}"}};
  EXPECT_EQ(DecodeRelay(EncodeRelay(q)), RelayMessage(q));
  ResponseMsg a{.id = 7, .hops = {{0, 3}}, .response = {201, "application/json", "{}"}};
  EXPECT_EQ(DecodeRelay(EncodeRelay(a)), RelayMessage(a));
}

TEST(RelayCodec, RejectsWhatIsNotCanonical) {
  RequestMsg q{.id = 1, .origin = {1}, .target = {2}, .request = Get("/")};
  const wire::Bytes good = EncodeRelay(q);
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(DecodeRelay(wire::ByteView(good).first(n))) << n;  // every truncation
  }
  wire::Bytes trailing = good;
  trailing.push_back(0);
  EXPECT_FALSE(DecodeRelay(trailing));
  RequestMsg zero = q;
  zero.target = {0};
  EXPECT_FALSE(DecodeRelay(EncodeRelay(zero)));
  RequestMsg method = q;
  method.request.method = "get";
  EXPECT_FALSE(DecodeRelay(EncodeRelay(method)));
  ResponseMsg status{.id = 1, .response = {199, "", ""}};
  EXPECT_FALSE(DecodeRelay(EncodeRelay(status)));
  // Nothing that would reach an HTTP head may carry a line break or a control character.
  ResponseMsg split{.id = 1, .response = {200, "text/plain\r\nSet-Cookie: x=1", ""}};
  EXPECT_FALSE(DecodeRelay(EncodeRelay(split)));
  RequestMsg target = q;
  target.request.target = "/v1/status\r\nX: 1";
  EXPECT_FALSE(DecodeRelay(EncodeRelay(target)));
  RequestMsg bearer = q;
  bearer.request.authorization = "Bearer a\nb";
  EXPECT_FALSE(DecodeRelay(EncodeRelay(bearer)));
  ResponseMsg hop{.id = 1, .hops = {{static_cast<uint8_t>(kMaxPathIds), 1}}, .response = {200}};
  EXPECT_FALSE(DecodeRelay(EncodeRelay(hop)));
}

}  // namespace
}  // namespace cohort::hierarchy
