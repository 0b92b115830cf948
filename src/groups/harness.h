// Harness: a few GroupsCores in one process for unit tests and benchmarks — a wire that
// delivers at once and in order (dropping what is aimed at `deaf`), and a registry that
// answers at once unless `hold_writes` keeps the writes for the test to apply. Not for
// production code.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "groups/core.h"

namespace cohort::groups::harness {

class Harness {
 public:
  explicit Harness(int nodes) {
    for (NodeId n = 1; n <= nodes; ++n) {
      GroupsOptions o;
      o.self = n;
      o.incarnation = 100 * n;
      cores_[n] = std::make_unique<GroupsCore>(o);
      view_[n] = o.incarnation;
    }
    for (auto& [n, core] : cores_) View(n, 1);
  }

  GroupsCore& core(NodeId n) { return *cores_.at(n); }
  Instant now() const { return now_; }
  void View(NodeId n, NodeId coordinator) { View(n, coordinator, view_); }
  void View(NodeId n, NodeId coordinator, const NodeView& up) {
    Outputs out;
    core(n).SetView(now_, coordinator, up, out);
    Route(n, out);
  }
  template <typename F>
  void Do(NodeId n, F f) {
    Outputs out;
    f(core(n), out);
    Route(n, out);
  }
  RequestId Join(NodeId n, uint32_t local, Role role = Role::kProvider, bool approve = true) {
    RequestId id;
    Do(n,
       [&](GroupsCore& c, Outputs& out) { id = c.Join(now_, local, "g", role, approve, {}, out); });
    return id;
  }
  RequestId Propose(NodeId n, uint32_t local, const std::string& value, uint8_t phases = 1) {
    RequestId id;
    Do(n, [&](GroupsCore& c, Outputs& out) {
      id = c.Propose(now_, local, "g", Bytes(value.begin(), value.end()), phases, out);
    });
    return id;
  }
  // Every provider asked so far votes `approve` (once per ask).
  void VoteAll(bool approve) {
    std::vector<std::pair<NodeId, VoteAsk>> asks;
    asks.swap(asks_);
    for (const auto& [n, a] : asks) {
      Do(n, [&](GroupsCore& c, Outputs& out) {
        c.Vote(now_, a.local, a.group, a.request, a.phase, approve, out);
      });
    }
  }
  void Advance(Duration d) {
    now_ = now_ + d;
    for (auto& [n, core] : cores_) {
      Outputs out;
      core->Tick(now_, out);
      Route(n, out);
    }
  }
  // The writes held from node `from`, in order (answers may hold new ones).
  void ApplyHeldWrites(NodeId from) {
    std::deque<std::pair<NodeId, WriteRecord>> held;
    held.swap(held_);
    for (const auto& [n, w] : held) {
      if (n == from) {
        Answer(n, w);
      } else {
        held_.emplace_back(n, w);
      }
    }
  }

  std::set<NodeId> deaf;
  bool hold_writes = false;
  std::vector<std::pair<NodeId, Output>> told;  // what clients were told
  std::vector<std::pair<NodeId, VoteAsk>> asks_;
  std::map<std::string, std::pair<int64_t, Bytes>> store;
  int64_t revision = 1;

  template <typename T>
  std::vector<std::pair<NodeId, T>> Told() const {
    std::vector<std::pair<NodeId, T>> v;
    for (const auto& [n, o] : told) {
      if (const T* t = std::get_if<T>(&o)) v.emplace_back(n, *t);
    }
    return v;
  }
  GroupRecord Stored() const { return *DecodeRecord(store.at("g").second); }

 private:
  void Route(NodeId n, Outputs& out) {
    Outputs mine;
    mine.swap(out);
    for (Output& o : mine) {
      if (auto* s = std::get_if<SendTo>(&o)) {
        if (deaf.count(s->node)) continue;
        Outputs next;
        core(s->node).OnMessage(now_, n, s->bytes, next);
        Route(s->node, next);
      } else if (auto* w = std::get_if<WriteRecord>(&o)) {
        if (hold_writes) {
          held_.emplace_back(n, *w);
        } else {
          Answer(n, *w);
        }
      } else if (auto* r = std::get_if<ReadRecords>(&o)) {
        std::vector<StoredRecord> all;
        for (const auto& [g, kept] : store) all.push_back({g, kept.first, kept.second});
        Outputs next;
        core(n).OnRecords(now_, r->ticket, all, next);
        Route(n, next);
      } else if (auto* a = std::get_if<VoteAsk>(&o)) {
        asks_.emplace_back(n, *a);
        told.emplace_back(n, o);
      } else {
        told.emplace_back(n, o);
      }
    }
  }
  void Answer(NodeId n, const WriteRecord& w) {
    WriteResult result;
    auto it = store.find(w.group);
    const int64_t at = it == store.end() ? 0 : it->second.first;
    if (at == w.expect_revision) {
      store[w.group] = {++revision, w.record};
      result = WriteResult{WriteStatus::kWritten, revision, std::nullopt};
    } else {
      result.status = WriteStatus::kConflict;
      if (it != store.end()) result.current = StoredRecord{w.group, at, it->second.second};
    }
    Outputs next;
    core(n).OnWritten(now_, w.group, w.ticket, result, next);
    Route(n, next);
  }

  std::map<NodeId, std::unique_ptr<GroupsCore>> cores_;
  NodeView view_;
  Instant now_ = Instant::FromNanos(1'000'000'000);
  std::deque<std::pair<NodeId, WriteRecord>> held_;
};

}  // namespace cohort::groups::harness
