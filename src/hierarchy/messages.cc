#include "hierarchy/messages.h"

#include <algorithm>
#include <map>

namespace cohort::hierarchy {
namespace {

enum class Type : uint8_t { kAggregate = 1, kAck = 2 };
enum class ViewType : uint8_t { kView = 1, kAck = 2 };

}  // namespace

wire::Bytes EncodeMessage(const Message& m) {
  wire::Bytes out;
  wire::Writer w(&out);
  if (const auto* a = std::get_if<AggregateMsg>(&m)) {
    w.U8(static_cast<uint8_t>(Type::kAggregate));
    w.U64(a->incarnation);
    w.U64(a->seq);
    w.Raw(Encode(a->aggregate));
  } else {
    const auto& k = std::get<AggregateAckMsg>(m);
    w.U8(static_cast<uint8_t>(Type::kAck));
    w.U64(k.incarnation);
    w.U64(k.seq);
  }
  return out;
}

std::optional<Message> DecodeMessage(wire::ByteView bytes) {
  wire::Reader r(bytes);
  uint8_t type = 0;
  uint64_t incarnation = 0, seq = 0;
  if (!r.U8(&type) || !r.U64(&incarnation) || !r.U64(&seq)) return std::nullopt;
  if (type == static_cast<uint8_t>(Type::kAck)) {
    if (!r.done()) return std::nullopt;
    return AggregateAckMsg{incarnation, seq};
  }
  if (type != static_cast<uint8_t>(Type::kAggregate)) return std::nullopt;
  auto aggregate = Decode(r.Rest());
  if (!aggregate) return std::nullopt;
  return AggregateMsg{incarnation, seq, std::move(*aggregate)};
}

Aggregate Counted(const Aggregate& a) {
  Aggregate c = a;
  c.unlisted = CountDisks(a);
  c.disks.clear();
  return c;
}

namespace {

// An aggregate in a view: present or not, then its encoding behind its length. Only counted
// aggregates are canonical here (a listed disk would be sent counted).
void PutAggregate(wire::Writer& w, const std::optional<Aggregate>& a) {
  w.U8(a ? 1 : 0);
  if (!a) return;
  const wire::Bytes bytes = Encode(Counted(*a));
  w.U16(static_cast<uint16_t>(bytes.size()));
  w.Raw(bytes);
}

bool GetAggregate(wire::Reader& r, std::optional<Aggregate>* a) {
  uint8_t present = 0;
  uint16_t size = 0;
  wire::ByteView bytes;
  if (!r.U8(&present) || present > 1) return false;
  if (present == 0) return true;
  if (!r.U16(&size) || !r.Raw(size, &bytes)) return false;
  *a = Decode(bytes);
  return a->has_value() && (*a)->disks.empty();
}

bool GetLevel(wire::Reader& r, LevelView* level) {
  uint16_t members = 0;
  if (!r.U16(&level->supervisor) || !r.U64(&level->version) || !r.U16(&members) ||
      members > kMaxViewMembers) {
    return false;
  }
  for (uint16_t i = 0; i < members; ++i) {
    LevelView::Member m;
    uint8_t state = 0;
    if (!r.U16(&m.id) || m.id == kNoNode || !r.U8(&state) || state > membership::kMemberStateMax ||
        !r.U64(&m.incarnation) || !GetAggregate(r, &m.aggregate)) {
      return false;
    }
    if (!level->members.empty() && level->members.back().id >= m.id) return false;  // canonical
    m.state = static_cast<membership::MemberState>(state);
    level->members.push_back(std::move(m));
  }
  return r.U16(&level->omitted) && members + level->omitted <= kMaxViewMembers &&
         GetAggregate(r, &level->aggregate);
}

}  // namespace

// What is sent always decodes: members are sent in order once each, at most the limits.
wire::Bytes EncodeView(const ViewMessage& message) {
  wire::Bytes out;
  wire::Writer w(&out);
  if (const auto* k = std::get_if<ViewAckMsg>(&message)) {
    w.U8(static_cast<uint8_t>(ViewType::kAck));
    w.U64(k->incarnation);
    w.U64(k->seq);
    return out;
  }
  const auto& m = std::get<ViewMsg>(message);
  w.U8(static_cast<uint8_t>(ViewType::kView));
  w.U64(m.incarnation);
  w.U64(m.seq);
  const size_t levels = std::min(m.levels.size(), kMaxViewLevels);
  w.U8(static_cast<uint8_t>(levels));
  for (size_t l = 0; l < levels; ++l) {
    const LevelView& level = m.levels[l];
    std::map<NodeId, const LevelView::Member*> members;
    for (const auto& x : level.members) {
      if (x.id != kNoNode && members.size() < kMaxViewMembers) members.emplace(x.id, &x);
    }
    // Left out where it came from, or here.
    const size_t known = std::min<size_t>(members.size() + level.omitted, kMaxViewMembers);
    // The members that fit the budget, nearest level first, room kept for the headers and
    // aggregates of the levels after this one.
    const size_t later = (levels - l - 1) * kMaxViewLevelOverhead;
    wire::Bytes body;
    wire::Writer b(&body);
    uint16_t count = 0;
    for (const auto& [id, x] : members) {
      wire::Bytes one;
      wire::Writer one_w(&one);
      one_w.U16(id);
      one_w.U8(static_cast<uint8_t>(x->state));
      one_w.U64(x->incarnation);
      PutAggregate(one_w, x->aggregate);
      if (out.size() + kMaxViewLevelOverhead + body.size() + one.size() + later > kMaxViewBytes) {
        break;
      }
      b.Raw(one);
      ++count;
    }
    w.U16(level.supervisor);
    w.U64(level.version);
    w.U16(count);
    w.Raw(body);
    w.U16(static_cast<uint16_t>(known - count));
    PutAggregate(w, level.aggregate);
  }
  return out;
}

std::optional<ViewMessage> DecodeView(wire::ByteView bytes) {
  wire::Reader r(bytes);
  uint8_t type = 0, levels = 0;
  uint64_t incarnation = 0, seq = 0;
  if (!r.U8(&type) || !r.U64(&incarnation) || !r.U64(&seq)) return std::nullopt;
  if (type == static_cast<uint8_t>(ViewType::kAck)) {
    if (!r.done()) return std::nullopt;
    return ViewAckMsg{incarnation, seq};
  }
  if (type != static_cast<uint8_t>(ViewType::kView) || !r.U8(&levels) || levels > kMaxViewLevels) {
    return std::nullopt;
  }
  ViewMsg m{incarnation, seq, {}};
  for (uint8_t l = 0; l < levels; ++l) {
    LevelView level;
    if (!GetLevel(r, &level)) return std::nullopt;
    m.levels.push_back(std::move(level));
  }
  if (!r.done()) return std::nullopt;
  return m;
}

}  // namespace cohort::hierarchy
