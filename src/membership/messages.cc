#include "membership/messages.h"

#include <algorithm>
#include <climits>

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
  kDiskReport = 10,
  kUsage = 11,
  kUsageRequest = 12,
  kUsageTable = 13,
};

void PutDiskId(Writer& w, const std::string& id) {
  w.U8(static_cast<uint8_t>(id.size()));
  w.Raw(ByteView(reinterpret_cast<const uint8_t*>(id.data()), id.size()));
}

bool GetDiskId(Reader& r, std::string* id) {
  uint8_t n = 0;
  ByteView raw;
  if (!r.U8(&n) || !r.Raw(n, &raw)) return false;
  id->assign(reinterpret_cast<const char*>(raw.data()), raw.size());
  return ValidDiskId(*id);
}

// Counts are u16 and checked against what is left, so a hostile count cannot allocate.
bool GetCount(Reader& r, size_t min_item_size, uint16_t* n) {
  return r.U16(n) && *n <= r.remaining() / min_item_size;
}

void PutDiskStatus(Writer& w, const DiskStatus& d) {
  PutDiskId(w, d.disk);
  w.U8(static_cast<uint8_t>(d.state));
  w.U32(d.seq);
}

bool GetPathState(Reader& r, PathState* s) {
  uint8_t v = 0;
  if (!r.U8(&v) || v > kPathStateMax) return false;
  *s = static_cast<PathState>(v);
  return true;
}

bool GetDiskStatus(Reader& r, DiskStatus* d) {
  return GetDiskId(r, &d->disk) && GetPathState(r, &d->state) && r.U32(&d->seq);
}

void PutDiskReport(Writer& w, const DiskReport& d) {
  w.U16(d.node);
  w.U64(d.incarnation);
  PutDiskStatus(w, d.status);
}

bool GetDiskReport(Reader& r, DiskReport* d) {
  return r.U16(&d->node) && d->node != kNoNode && r.U64(&d->incarnation) &&
         GetDiskStatus(r, &d->status);
}

void PutUsage(Writer& w, const NodeUsage& u) {
  w.U32(u.capacity_mbps);
  w.U64(u.tx_bps);
  w.U64(u.rx_bps);
  w.U32(u.load_milli);
  w.U16(static_cast<uint16_t>(u.disks.size()));
  for (const DiskUsage& d : u.disks) {
    PutDiskId(w, d.disk);
    w.U64(d.total_bytes);
    w.U64(d.free_bytes);
    w.U16(d.busy_permille);
    w.U32(d.probe_micros);
  }
}

bool GetUsage(Reader& r, NodeUsage* u) {
  uint16_t n = 0;
  if (!(r.U32(&u->capacity_mbps) && r.U64(&u->tx_bps) && r.U64(&u->rx_bps) &&
        r.U32(&u->load_milli) && GetCount(r, 24, &n))) {
    return false;
  }
  u->disks.resize(n);
  for (DiskUsage& d : u->disks) {
    if (!(GetDiskId(r, &d.disk) && r.U64(&d.total_bytes) && r.U64(&d.free_bytes) &&
          r.U16(&d.busy_permille) && r.U32(&d.probe_micros))) {
      return false;
    }
  }
  return true;
}

void PutMap(Writer& w, const ClusterMap& m) {
  w.U16(m.supervisor);
  w.U64(m.version);
  w.U32(static_cast<uint32_t>(m.members.size()));
  for (const auto& [id, member] : m.members) {
    w.U16(id);
    w.U8(static_cast<uint8_t>(member.state));
    w.U64(member.incarnation);
  }
  w.U16(static_cast<uint16_t>(m.disks.size()));
  for (const auto& [id, disk] : m.disks) {
    PutDiskId(w, id);
    w.U8(disk.failed ? 1 : 0);
    w.U16(static_cast<uint16_t>(disk.paths.size()));
    for (const auto& [node, path] : disk.paths) {
      w.U16(node);
      w.U8(static_cast<uint8_t>(path.state));
      w.U32(path.seq);
    }
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
  uint16_t disks = 0;
  if (!GetCount(r, 5, &disks)) return false;
  for (uint16_t i = 0; i < disks; ++i) {
    std::string id;
    uint8_t failed = 0;
    uint16_t paths = 0;
    if (!(GetDiskId(r, &id) && r.U8(&failed) && failed <= 1 && GetCount(r, 7, &paths))) {
      return false;
    }
    DiskEntry disk;
    disk.failed = failed == 1;
    for (uint16_t j = 0; j < paths; ++j) {
      NodeId node = kNoNode;
      DiskPath path;
      if (!(r.U16(&node) && node != kNoNode && GetPathState(r, &path.state) && r.U32(&path.seq))) {
        return false;
      }
      if (!disk.paths.emplace(node, path).second || disk.paths.rbegin()->first != node) {
        return false;
      }
    }
    if (!m->disks.emplace(id, std::move(disk)).second || m->disks.rbegin()->first != id) {
      return false;
    }
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

DiskState ClusterMap::StateOf(const DiskEntry& disk) const {
  if (disk.failed) return DiskState::kFailed;
  for (const auto& [node, path] : disk.paths) {
    if (path.state == PathState::kFailed && IsUp(node)) return DiskState::kDegraded;
  }
  return DiskState::kOk;
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
          w.U16(static_cast<uint16_t>(m.disks.size()));
          for (const DiskStatus& d : m.disks) PutDiskStatus(w, d);
        } else if constexpr (std::is_same_v<T, LeaveMsg>) {
          w.U8(static_cast<uint8_t>(Kind::kLeave));
          w.U64(m.incarnation);
        } else if constexpr (std::is_same_v<T, RingMsg>) {
          w.U8(static_cast<uint8_t>(Kind::kRing));
          w.U16(static_cast<uint16_t>(m.declarations.size()));
          for (const Declaration& d : m.declarations) PutDeclaration(w, d);
          w.U16(static_cast<uint16_t>(m.disk_reports.size()));
          for (const DiskReport& d : m.disk_reports) PutDiskReport(w, d);
        } else if constexpr (std::is_same_v<T, DeclareMsg>) {
          w.U8(static_cast<uint8_t>(Kind::kDeclare));
          PutDeclaration(w, m.declaration);
        } else if constexpr (std::is_same_v<T, PingMsg>) {
          w.U8(static_cast<uint8_t>(Kind::kPing));
          w.U64(m.nonce);
        } else if constexpr (std::is_same_v<T, AckMsg>) {
          w.U8(static_cast<uint8_t>(Kind::kAck));
          w.U64(m.nonce);
        } else if constexpr (std::is_same_v<T, DiskReportMsg>) {
          w.U8(static_cast<uint8_t>(Kind::kDiskReport));
          PutDiskReport(w, m.report);
        } else if constexpr (std::is_same_v<T, UsageMsg>) {
          w.U8(static_cast<uint8_t>(Kind::kUsage));
          w.U64(m.incarnation);
          PutUsage(w, m.usage);
        } else if constexpr (std::is_same_v<T, UsageRequestMsg>) {
          w.U8(static_cast<uint8_t>(Kind::kUsageRequest));
          w.U64(m.nonce);
        } else if constexpr (std::is_same_v<T, UsageTableMsg>) {
          w.U8(static_cast<uint8_t>(Kind::kUsageTable));
          w.U64(m.nonce);
          w.U16(static_cast<uint16_t>(m.rows.size()));
          for (const UsageRow& row : m.rows) {
            w.U16(row.node);
            w.U32(static_cast<uint32_t>(
                std::clamp<int64_t>(row.age.nanos() / 1'000'000, 0, UINT32_MAX)));
            PutUsage(w, row.usage);
          }
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
      uint16_t n = 0;
      if (!(r.U64(&j.incarnation) && r.U64(&j.last_version) && GetCount(r, 6, &n))) break;
      j.disks.resize(n);
      bool ok = true;
      for (auto& d : j.disks) ok = ok && GetDiskStatus(r, &d);
      if (ok) m = std::move(j);
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
      uint16_t reports = 0;
      ok = ok && GetCount(r, 16, &reports);
      if (!ok) break;
      ring.disk_reports.resize(reports);
      for (auto& d : ring.disk_reports) ok = ok && GetDiskReport(r, &d);
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
    case Kind::kDiskReport: {
      DiskReportMsg d;
      if (GetDiskReport(r, &d.report)) m = std::move(d);
      break;
    }
    case Kind::kUsage: {
      UsageMsg u;
      if (r.U64(&u.incarnation) && GetUsage(r, &u.usage)) m = std::move(u);
      break;
    }
    case Kind::kUsageRequest: {
      UsageRequestMsg q;
      if (r.U64(&q.nonce)) m = q;
      break;
    }
    case Kind::kUsageTable: {
      UsageTableMsg t;
      uint16_t n = 0;
      if (!(r.U64(&t.nonce) && GetCount(r, 32, &n))) break;
      t.rows.resize(n);
      bool ok = true;
      for (UsageRow& row : t.rows) {
        uint32_t age_ms = 0;
        ok = ok && r.U16(&row.node) && row.node != kNoNode && r.U32(&age_ms) &&
             GetUsage(r, &row.usage);
        row.age = Duration::Millis(age_ms);
      }
      if (ok) m = std::move(t);
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

const char* PathStateName(PathState s) { return s == PathState::kFailed ? "failed" : "ok"; }

const char* DiskStateName(DiskState s) {
  switch (s) {
    case DiskState::kOk:
      return "ok";
    case DiskState::kDegraded:
      return "degraded";
    case DiskState::kFailed:
      return "failed";
  }
  return "ok";
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
