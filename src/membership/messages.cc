#include "membership/messages.h"

#include "base/digest.h"

namespace cohort::membership {
namespace {

using wire::Reader;
using wire::Writer;

enum class Kind : uint8_t {
  kNotify = 1,
  kMapRequest = 2,
  kMap = 3,
  kJoin = 4,
  kLeave = 5,
  kRing = 6,
  kDeclare = 7,
  kPing = 8,
  kAck = 9,
};

void PutMap(Writer& w, const ClusterMap& m) {
  w.U16(m.supervisor);
  w.U64(m.version);
  w.U32(static_cast<uint32_t>(m.members.size()));
  for (const auto& [id, member] : m.members) {
    w.U16(id);
    w.U8(static_cast<uint8_t>(member.state));
    w.U64(member.incarnation);
  }
}

bool GetMap(Reader& r, ClusterMap* m) {
  uint32_t n = 0;
  if (!(r.U16(&m->supervisor) && r.U64(&m->version) && r.U32(&n))) return false;
  if (n > kMaxMembers || n > r.remaining() / 11) return false;
  for (uint32_t i = 0; i < n; ++i) {
    Member member;
    uint8_t state = 0;
    if (!(r.U16(&member.id) && r.U8(&state) && r.U64(&member.incarnation))) return false;
    if (member.id == kNoNode || state > kMemberStateMax) return false;
    member.state = static_cast<MemberState>(state);
    if (!m->members.emplace(member.id, member).second) return false;  // ids in order, once
    if (m->members.rbegin()->first != member.id) return false;
  }
  return true;
}

void PutDeclaration(Writer& w, const Declaration& d) {
  w.U16(d.subject);
  w.U64(d.incarnation);
}

bool GetDeclaration(Reader& r, Declaration* d) {
  return r.U16(&d->subject) && r.U64(&d->incarnation) && d->subject != kNoNode;
}

}  // namespace

uint64_t ClusterMap::Digest() const {
  Bytes b;
  Writer w(&b);
  PutMap(w, *this);
  return cohort::Digest64(b);
}

const Member* ClusterMap::Find(NodeId id) const {
  auto it = members.find(id);
  return it == members.end() ? nullptr : &it->second;
}

bool ClusterMap::IsUp(NodeId id) const {
  const Member* m = Find(id);
  return m != nullptr && m->state == MemberState::kUp;
}

std::vector<NodeId> ClusterMap::Ring() const {
  std::vector<NodeId> ring;
  for (const auto& [id, m] : members) {
    if (m.state == MemberState::kUp) ring.push_back(id);
  }
  return ring;
}

Bytes Encode(const Message& msg) {
  Bytes out;
  Writer w(&out);
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, NotifyMsg>) {
          w.U8(static_cast<uint8_t>(Kind::kNotify));
          w.U16(m.supervisor);
          w.U64(m.incarnation);
          w.U64(m.version);
          w.U64(m.digest);
        } else if constexpr (std::is_same_v<T, MapRequestMsg>) {
          w.U8(static_cast<uint8_t>(Kind::kMapRequest));
        } else if constexpr (std::is_same_v<T, MapMsg>) {
          w.U8(static_cast<uint8_t>(Kind::kMap));
          PutMap(w, m.map);
        } else if constexpr (std::is_same_v<T, JoinMsg>) {
          w.U8(static_cast<uint8_t>(Kind::kJoin));
          w.U64(m.incarnation);
          w.U64(m.last_version);
        } else if constexpr (std::is_same_v<T, LeaveMsg>) {
          w.U8(static_cast<uint8_t>(Kind::kLeave));
          w.U64(m.incarnation);
        } else if constexpr (std::is_same_v<T, RingMsg>) {
          w.U8(static_cast<uint8_t>(Kind::kRing));
          w.U16(static_cast<uint16_t>(m.declarations.size()));
          for (const Declaration& d : m.declarations) PutDeclaration(w, d);
        } else if constexpr (std::is_same_v<T, DeclareMsg>) {
          w.U8(static_cast<uint8_t>(Kind::kDeclare));
          PutDeclaration(w, m.declaration);
        } else if constexpr (std::is_same_v<T, PingMsg>) {
          w.U8(static_cast<uint8_t>(Kind::kPing));
          w.U64(m.nonce);
        } else if constexpr (std::is_same_v<T, AckMsg>) {
          w.U8(static_cast<uint8_t>(Kind::kAck));
          w.U64(m.nonce);
        }
      },
      msg);
  return out;
}

std::optional<Message> Decode(ByteView bytes) {
  Reader r(bytes);
  uint8_t kind = 0;
  if (!r.U8(&kind)) return std::nullopt;
  std::optional<Message> m;
  switch (static_cast<Kind>(kind)) {
    case Kind::kNotify: {
      NotifyMsg n;
      if (r.U16(&n.supervisor) && r.U64(&n.incarnation) && r.U64(&n.version) && r.U64(&n.digest) &&
          n.supervisor != kNoNode) {
        m = n;
      }
      break;
    }
    case Kind::kMapRequest:
      m = MapRequestMsg{};
      break;
    case Kind::kMap: {
      MapMsg map;
      if (GetMap(r, &map.map)) m = std::move(map);
      break;
    }
    case Kind::kJoin: {
      JoinMsg j;
      if (r.U64(&j.incarnation) && r.U64(&j.last_version)) m = j;
      break;
    }
    case Kind::kLeave: {
      LeaveMsg l;
      if (r.U64(&l.incarnation)) m = l;
      break;
    }
    case Kind::kRing: {
      RingMsg ring;
      uint16_t n = 0;
      if (!r.U16(&n) || n > r.remaining() / 10) break;
      ring.declarations.resize(n);
      bool ok = true;
      for (auto& d : ring.declarations) ok = ok && GetDeclaration(r, &d);
      if (ok) m = std::move(ring);
      break;
    }
    case Kind::kDeclare: {
      DeclareMsg d;
      if (GetDeclaration(r, &d.declaration)) m = d;
      break;
    }
    case Kind::kPing: {
      PingMsg p;
      if (r.U64(&p.nonce)) m = p;
      break;
    }
    case Kind::kAck: {
      AckMsg a;
      if (r.U64(&a.nonce)) m = a;
      break;
    }
  }
  if (!m || !r.done()) return std::nullopt;
  return m;
}

const char* MemberStateName(MemberState s) {
  switch (s) {
    case MemberState::kUp:
      return "up";
    case MemberState::kJoining:
      return "joining";
    case MemberState::kFailed:
      return "failed";
    case MemberState::kLeft:
      return "left";
  }
  return "up";
}

const char* RoleName(Role r) {
  switch (r) {
    case Role::kListening:
      return "listening";
    case Role::kJoining:
      return "joining";
    case Role::kMember:
      return "member";
    case Role::kSupervisor:
      return "supervisor";
    case Role::kLeaving:
      return "leaving";
    case Role::kLeft:
      return "left";
  }
  return "member";
}

}  // namespace cohort::membership
