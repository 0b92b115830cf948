#include "transport/messages.h"

namespace cohort::transport {
namespace {

using wire::Reader;
using wire::Writer;

void PutEntry(Writer& w, const NodeEntry& e) {
  w.U16(e.id);
  w.U64(e.incarnation);
  w.U32(e.revision);
  w.U8(static_cast<uint8_t>(e.addresses.size()));
  for (const AddressInfo& a : e.addresses) {
    w.U32(a.address.ip);
    w.U16(a.address.port);
    w.U32(a.mask);
    w.U16(a.mtu);
    w.U8(static_cast<uint8_t>(a.type));
    w.U8(static_cast<uint8_t>(a.cos));
  }
}

bool GetEntry(Reader& r, NodeEntry* e) {
  uint8_t n = 0;
  if (!(r.U16(&e->id) && r.U64(&e->incarnation) && r.U32(&e->revision) && r.U8(&n))) return false;
  if (e->id == kNoNode || n == 0 || n > kMaxAddressesPerNode) return false;
  e->addresses.resize(n);
  for (AddressInfo& a : e->addresses) {
    uint8_t type = 0, cos = 0;
    if (!(r.U32(&a.address.ip) && r.U16(&a.address.port) && r.U32(&a.mask) && r.U16(&a.mtu) &&
          r.U8(&type) && r.U8(&cos))) {
      return false;
    }
    if (type > kAdapterTypeMax || cos > kCosMax) return false;
    a.type = static_cast<AdapterType>(type);
    a.cos = static_cast<Cos>(cos);
  }
  return true;
}

void PutEntries(Writer& w, const std::vector<NodeEntry>& entries) {
  w.U32(static_cast<uint32_t>(entries.size()));
  for (const NodeEntry& e : entries) PutEntry(w, e);
}

// Smallest encoded entry: header 15 bytes + one address of 14 bytes.
constexpr size_t kMinEntrySize = 15 + 14;
constexpr size_t kSummaryItemSize = 14;

bool GetEntries(Reader& r, std::vector<NodeEntry>* entries) {
  uint32_t n = 0;
  if (!r.U32(&n) || n > r.remaining() / kMinEntrySize) return false;
  entries->resize(n);
  for (NodeEntry& e : *entries) {
    if (!GetEntry(r, &e)) return false;
  }
  return true;
}

void PutSummary(Writer& w, const std::vector<EntryVersion>& s) {
  w.U32(static_cast<uint32_t>(s.size()));
  for (const EntryVersion& v : s) {
    w.U16(v.id);
    w.U64(v.incarnation);
    w.U32(v.revision);
  }
}

bool GetSummary(Reader& r, std::vector<EntryVersion>* s) {
  uint32_t n = 0;
  if (!r.U32(&n) || n > r.remaining() / kSummaryItemSize) return false;
  s->resize(n);
  for (EntryVersion& v : *s) {
    if (!(r.U16(&v.id) && r.U64(&v.incarnation) && r.U32(&v.revision))) return false;
  }
  return true;
}

Bytes CopyOf(ByteView v) { return Bytes(v.begin(), v.end()); }

}  // namespace

Bytes Encode(const Message& m) {
  Bytes out;
  Writer w(&out);
  std::visit(
      [&](const auto& msg) {
        using T = std::decay_t<decltype(msg)>;
        if constexpr (std::is_same_v<T, ProbeMsg>) {
          w.U8(static_cast<uint8_t>(Kind::kProbe));
          w.U64(msg.req);
        } else if constexpr (std::is_same_v<T, ProbeAckMsg>) {
          w.U8(static_cast<uint8_t>(Kind::kProbeAck));
          w.U64(msg.req);
        } else if constexpr (std::is_same_v<T, EchoMsg>) {
          w.U8(static_cast<uint8_t>(Kind::kEcho));
          w.U64(msg.req);
          w.Blob(msg.payload);
        } else if constexpr (std::is_same_v<T, EchoReplyMsg>) {
          w.U8(static_cast<uint8_t>(Kind::kEchoReply));
          w.U64(msg.req);
          w.Blob(msg.payload);
        } else if constexpr (std::is_same_v<T, TableSyncMsg>) {
          w.U8(static_cast<uint8_t>(Kind::kTableSync));
          w.U64(msg.req);
          PutEntry(w, msg.sender);
          w.U64(msg.digest);
          w.U8(msg.full ? 1 : 0);
          PutSummary(w, msg.summary);
        } else if constexpr (std::is_same_v<T, TableSyncReplyMsg>) {
          w.U8(static_cast<uint8_t>(Kind::kTableSyncReply));
          w.U64(msg.req);
          PutEntries(w, msg.entries);
          PutSummary(w, msg.summary);
        } else if constexpr (std::is_same_v<T, TablePushMsg>) {
          w.U8(static_cast<uint8_t>(Kind::kTablePush));
          PutEntries(w, msg.entries);
        } else if constexpr (std::is_same_v<T, DataMsg>) {
          w.U8(static_cast<uint8_t>(Kind::kData));
          w.U8(msg.channel);
          w.Blob(msg.payload);
        } else if constexpr (std::is_same_v<T, FragmentMsg>) {
          w.U8(static_cast<uint8_t>(Kind::kFragment));
          w.U32(msg.message_id);
          w.U16(msg.index);
          w.U16(msg.count);
          w.Raw(msg.chunk);
        }
      },
      m);
  return out;
}

std::optional<Message> Decode(ByteView bytes) {
  Reader r(bytes);
  uint8_t kind = 0;
  if (!r.U8(&kind)) return std::nullopt;
  ByteView blob;
  std::optional<Message> m;
  switch (static_cast<Kind>(kind)) {
    case Kind::kProbe: {
      ProbeMsg p;
      if (r.U64(&p.req)) m = p;
      break;
    }
    case Kind::kProbeAck: {
      ProbeAckMsg p;
      if (r.U64(&p.req)) m = p;
      break;
    }
    case Kind::kEcho: {
      EchoMsg e;
      if (r.U64(&e.req) && r.Blob(kMaxMessageSize, &blob)) {
        e.payload = CopyOf(blob);
        m = std::move(e);
      }
      break;
    }
    case Kind::kEchoReply: {
      EchoReplyMsg e;
      if (r.U64(&e.req) && r.Blob(kMaxMessageSize, &blob)) {
        e.payload = CopyOf(blob);
        m = std::move(e);
      }
      break;
    }
    case Kind::kTableSync: {
      TableSyncMsg s;
      uint8_t full = 0;
      if (r.U64(&s.req) && GetEntry(r, &s.sender) && r.U64(&s.digest) && r.U8(&full) && full <= 1 &&
          GetSummary(r, &s.summary) && (full == 1 || s.summary.empty())) {
        s.full = full == 1;
        m = std::move(s);
      }
      break;
    }
    case Kind::kTableSyncReply: {
      TableSyncReplyMsg s;
      if (r.U64(&s.req) && GetEntries(r, &s.entries) && GetSummary(r, &s.summary)) {
        m = std::move(s);
      }
      break;
    }
    case Kind::kTablePush: {
      TablePushMsg p;
      if (GetEntries(r, &p.entries)) m = std::move(p);
      break;
    }
    case Kind::kData: {
      DataMsg d;
      if (r.U8(&d.channel) && r.Blob(kMaxMessageSize, &blob)) {
        d.payload = CopyOf(blob);
        m = std::move(d);
      }
      break;
    }
    case Kind::kFragment: {
      FragmentMsg f;
      if (r.U32(&f.message_id) && r.U16(&f.index) && r.U16(&f.count) && f.count >= 2 &&
          f.count <= kMaxFragments && f.index < f.count) {
        f.chunk = CopyOf(r.Rest());
        if (!f.chunk.empty()) m = std::move(f);
      }
      break;
    }
  }
  if (!m || !r.done()) return std::nullopt;
  return m;
}

}  // namespace cohort::transport
