#include "groups/messages.h"

namespace cohort::groups {
namespace {

using wire::Reader;
using wire::Writer;

enum class Kind : uint8_t {
  kRequest = 1,
  kVoteRequest = 2,
  kVoteReply = 3,
  kCommit = 4,
  kOutcome = 5,
  kCatchUp = 6,
  kSnapshot = 7,
  kVersion = 8,
};

// ---- fields, written and read one way everywhere ----

// Versions count changes of one group: a value near the top of u64 is no honest peer's, and
// would wrap a receiver's "next version".
bool GetVersion(Reader& r, uint64_t* v) { return r.U64(v) && *v <= kMaxVersion; }

void Put(Writer& w, const std::string& s) { w.Text(s); }
bool Get(Reader& r, std::string* s, size_t max = kMaxNameBytes) { return r.Text(max, s); }
bool GetName(Reader& r, std::string* s) { return Get(r, s) && ValidName(*s); }

void Put(Writer& w, const Bytes& b) { w.Blob(b); }
bool Get(Reader& r, Bytes* b) {
  ByteView v;
  if (!r.Blob(kMaxStateBytes, &v)) return false;
  b->assign(v.begin(), v.end());
  return true;
}

void Put(Writer& w, const MemberId& m) {
  w.U16(m.node);
  w.U64(m.incarnation);
  w.U32(m.local);
}
bool Get(Reader& r, MemberId* m) {
  return r.U16(&m->node) && r.U64(&m->incarnation) && r.U32(&m->local);
}

void Put(Writer& w, const RequestId& q) {
  w.U16(q.node);
  w.U64(q.incarnation);
  w.U64(q.seq);
}
bool Get(Reader& r, RequestId* q) {
  return r.U16(&q->node) && r.U64(&q->incarnation) && r.U64(&q->seq);
}

void Put(Writer& w, Role role) { w.U8(static_cast<uint8_t>(role)); }
bool Get(Reader& r, Role* role) {
  uint8_t v = 0;
  if (!r.U8(&v) || v < 1 || v > 2) return false;
  *role = static_cast<Role>(v);
  return true;
}

void Put(Writer& w, ChangeKind k) { w.U8(static_cast<uint8_t>(k)); }
bool Get(Reader& r, ChangeKind* k) {
  uint8_t v = 0;
  if (!r.U8(&v) || v < 1 || v > 5) return false;
  *k = static_cast<ChangeKind>(v);
  return true;
}

void Put(Writer& w, uint32_t v) { w.U32(v); }

void PutBool(Writer& w, bool b) { w.U8(b ? 1 : 0); }
bool GetBool(Reader& r, bool* b) {
  uint8_t v = 0;
  if (!r.U8(&v) || v > 1) return false;
  *b = v == 1;
  return true;
}

void Put(Writer& w, const Member& m) {
  Put(w, m.id);
  Put(w, m.role);
}
bool Get(Reader& r, Member* m) { return Get(r, &m->id) && Get(r, &m->role); }

void Put(Writer& w, const RecentRequest& q) {
  Put(w, q.request);
  w.U64(q.version);
  w.U8(q.reason ? static_cast<uint8_t>(*q.reason) : 0);
}
bool Get(Reader& r, RecentRequest* q) {
  uint8_t reason = 0;
  if (!(Get(r, &q->request) && GetVersion(r, &q->version) && r.U8(&reason))) return false;
  if (reason > kAbortReasonMax) return false;
  if (reason != 0) q->reason = static_cast<AbortReason>(reason);
  return true;
}

template <typename T>
void PutList(Writer& w, const std::vector<T>& list) {
  w.List(list, [](Writer& ww, const T& v) { Put(ww, v); });
}
bool GetNames(Reader& r, std::vector<std::string>* names, size_t max = kMaxDepends) {
  return r.List(max, names, [](Reader& rr, std::string* s) { return GetName(rr, s); });
}

void Put(Writer& w, const Change& c) {
  w.U64(c.version);
  w.U64(static_cast<uint64_t>(c.token));
  Put(w, c.kind);
  Put(w, c.member);
  Put(w, c.role);
  Put(w, c.value);
  Put(w, c.request);
}
bool Get(Reader& r, Change* c) {
  uint64_t token = 0;
  if (!(GetVersion(r, &c->version) && r.U64(&token) && Get(r, &c->kind) && Get(r, &c->member) &&
        Get(r, &c->role) && Get(r, &c->value) && Get(r, &c->request))) {
    return false;
  }
  c->token = static_cast<int64_t>(token);
  return c->token >= 0;
}

// ---- messages ----

void Body(Writer& w, const RequestMsg& m) {
  Put(w, m.group);
  Put(w, m.request);
  Put(w, m.kind);
  Put(w, m.member);
  Put(w, m.role);
  Put(w, m.value);
  w.U8(m.phases);
  PutBool(w, m.default_approve);
  PutList(w, m.depends);
}
bool Body(Reader& r, RequestMsg* m) {
  return GetName(r, &m->group) && Get(r, &m->request) && Get(r, &m->kind) &&
         m->kind != ChangeKind::kNodeDied && Get(r, &m->member) && Get(r, &m->role) &&
         Get(r, &m->value) && r.U8(&m->phases) && m->phases >= 1 && m->phases <= kMaxPhases &&
         GetBool(r, &m->default_approve) && GetNames(r, &m->depends);
}

void Body(Writer& w, const VoteRequestMsg& m) {
  Put(w, m.group);
  Put(w, m.request);
  w.U64(m.version);
  w.U8(m.phase);
  Put(w, m.value);
  PutList(w, m.voters);
}
bool Body(Reader& r, VoteRequestMsg* m) {
  return GetName(r, &m->group) && Get(r, &m->request) && GetVersion(r, &m->version) &&
         r.U8(&m->phase) && m->phase >= 1 && m->phase <= kMaxPhases && Get(r, &m->value) &&
         r.List(kMaxMembers, &m->voters, [](Reader& rr, uint32_t* v) { return rr.U32(v); });
}

void Body(Writer& w, const VoteReplyMsg& m) {
  Put(w, m.group);
  Put(w, m.request);
  w.U8(m.phase);
  Put(w, m.member);
  w.U8(static_cast<uint8_t>(m.vote));
}
bool Body(Reader& r, VoteReplyMsg* m) {
  uint8_t vote = 0;
  if (!(GetName(r, &m->group) && Get(r, &m->request) && r.U8(&m->phase) && Get(r, &m->member) &&
        r.U8(&vote) && vote >= 1 && vote <= 3)) {
    return false;
  }
  m->vote = static_cast<Vote>(vote);
  return true;
}

void Body(Writer& w, const CommitMsg& m) {
  Put(w, m.group);
  Put(w, m.change);
  PutList(w, m.related);
}
bool Body(Reader& r, CommitMsg* m) {
  return GetName(r, &m->group) && Get(r, &m->change) && GetNames(r, &m->related, kMaxRelated);
}

void Body(Writer& w, const OutcomeMsg& m) {
  Put(w, m.group);
  Put(w, m.outcome);
}
bool Body(Reader& r, OutcomeMsg* m) { return GetName(r, &m->group) && Get(r, &m->outcome); }

void Body(Writer& w, const CatchUpMsg& m) {
  Put(w, m.group);
  w.U64(m.from_version);
}
bool Body(Reader& r, CatchUpMsg* m) {
  return GetName(r, &m->group) && GetVersion(r, &m->from_version);
}

void Body(Writer& w, const SnapshotMsg& m) {
  Put(w, m.group);
  w.U64(m.version);
  w.U64(static_cast<uint64_t>(m.token));
  Put(w, m.state);
  PutList(w, m.members);
  PutList(w, m.related);
}
bool Body(Reader& r, SnapshotMsg* m) {
  uint64_t token = 0;
  if (!(GetName(r, &m->group) && GetVersion(r, &m->version) && r.U64(&token) && Get(r, &m->state) &&
        r.List(kMaxMembers, &m->members, [](Reader& rr, Member* x) { return Get(rr, x); }) &&
        GetNames(r, &m->related, kMaxRelated))) {
    return false;
  }
  m->token = static_cast<int64_t>(token);
  return m->token >= 0;
}

void Body(Writer& w, const VersionMsg& m) {
  Put(w, m.group);
  w.U64(m.version);
}
bool Body(Reader& r, VersionMsg* m) { return GetName(r, &m->group) && GetVersion(r, &m->version); }

template <typename T>
std::optional<Message> Read(Reader& r) {
  T m;
  if (!Body(r, &m) || r.remaining() != 0) return std::nullopt;
  return m;
}

constexpr Kind KindOf(const Message& m) { return static_cast<Kind>(m.index() + 1); }

}  // namespace

Bytes Encode(const Message& m) {
  Bytes out;
  Writer w(&out);
  w.U8(static_cast<uint8_t>(KindOf(m)));
  std::visit([&](const auto& v) { Body(w, v); }, m);
  return out;
}

std::optional<Message> Decode(ByteView bytes) {
  Reader r(bytes);
  uint8_t kind = 0;
  if (!r.U8(&kind)) return std::nullopt;
  switch (static_cast<Kind>(kind)) {
    case Kind::kRequest:
      return Read<RequestMsg>(r);
    case Kind::kVoteRequest:
      return Read<VoteRequestMsg>(r);
    case Kind::kVoteReply:
      return Read<VoteReplyMsg>(r);
    case Kind::kCommit:
      return Read<CommitMsg>(r);
    case Kind::kOutcome:
      return Read<OutcomeMsg>(r);
    case Kind::kCatchUp:
      return Read<CatchUpMsg>(r);
    case Kind::kSnapshot:
      return Read<SnapshotMsg>(r);
    case Kind::kVersion:
      return Read<VersionMsg>(r);
  }
  return std::nullopt;
}

// ---- the registry's record of a group ----

Bytes EncodeRecord(const GroupRecord& g) {
  Bytes out;
  Writer w(&out);
  w.U8(1);  // layout version
  w.U64(g.version);
  Put(w, g.state);
  PutList(w, g.members);
  PutBool(w, g.default_approve);
  PutList(w, g.depends);
  w.U16(g.owner);
  w.U64(g.owner_incarnation);
  PutList(w, g.recent);
  return out;
}

std::optional<GroupRecord> DecodeRecord(ByteView bytes) {
  Reader r(bytes);
  GroupRecord g;
  uint8_t layout = 0;
  if (!(r.U8(&layout) && layout == 1 && GetVersion(r, &g.version) && Get(r, &g.state) &&
        r.List(kMaxMembers, &g.members, [](Reader& rr, Member* x) { return Get(rr, x); }) &&
        GetBool(r, &g.default_approve) && GetNames(r, &g.depends) && r.U16(&g.owner) &&
        r.U64(&g.owner_incarnation) &&
        r.List(kRecentRequests, &g.recent,
               [](Reader& rr, RecentRequest* x) { return Get(rr, x); }) &&
        r.remaining() == 0)) {
    return std::nullopt;
  }
  return g;
}

}  // namespace cohort::groups
