#include "liveness/messages.h"

namespace cohort::liveness {
namespace {

using wire::Reader;
using wire::Writer;

enum class Kind : uint8_t { kHeartbeat = 1, kRow = 2, kRowRequest = 3, kProbe = 4 };

constexpr size_t kEndpointSize = 6;
constexpr size_t kEntrySize = 2 * kEndpointSize + 1;
constexpr size_t kDefaultSize = kEndpointSize + 1;

void PutEndpoint(Writer& w, const Endpoint& e) {
  w.U32(e.ip);
  w.U16(e.port);
}

bool GetEndpoint(Reader& r, Endpoint* e) { return r.U32(&e->ip) && r.U16(&e->port); }

void Put(Writer& w, const HeartbeatMsg& m) {
  w.U8(static_cast<uint8_t>(Kind::kHeartbeat));
  PutEndpoint(w, m.from);
  PutEndpoint(w, m.to);
  w.U32(m.next_ms);
  w.U64(m.row_incarnation);
  w.U32(m.row_version);
}

void Put(Writer& w, const RowMsg& m) {
  w.U8(static_cast<uint8_t>(Kind::kRow));
  w.U64(m.incarnation);
  w.U32(m.version);
  w.U16(static_cast<uint16_t>(m.entries.size()));
  for (const RowEntry& e : m.entries) {
    PutEndpoint(w, e.from);
    PutEndpoint(w, e.to);
    w.U8(static_cast<uint8_t>(e.state));
  }
  w.U16(static_cast<uint16_t>(m.defaults.size()));
  for (const RowDefault& d : m.defaults) {
    PutEndpoint(w, d.adapter);
    w.U8(static_cast<uint8_t>(d.state));
  }
}

void Put(Writer& w, const RowRequestMsg&) { w.U8(static_cast<uint8_t>(Kind::kRowRequest)); }

void Put(Writer& w, const ProbeMsg& m) {
  w.U8(static_cast<uint8_t>(Kind::kProbe));
  PutEndpoint(w, m.from);
  PutEndpoint(w, m.to);
}

std::optional<Message> GetProbe(Reader& r) {
  ProbeMsg m;
  if (!(GetEndpoint(r, &m.from) && GetEndpoint(r, &m.to))) return std::nullopt;
  return m;
}

std::optional<Message> GetHeartbeat(Reader& r) {
  HeartbeatMsg m;
  if (!(GetEndpoint(r, &m.from) && GetEndpoint(r, &m.to) && r.U32(&m.next_ms) &&
        r.U64(&m.row_incarnation) && r.U32(&m.row_version))) {
    return std::nullopt;
  }
  return m;
}

std::optional<Message> GetRow(Reader& r) {
  RowMsg m;
  uint16_t n = 0;
  if (!(r.U64(&m.incarnation) && r.U32(&m.version) && r.U16(&n))) return std::nullopt;
  if (n > r.remaining() / kEntrySize) return std::nullopt;  // a hostile count allocates nothing
  m.entries.resize(n);
  for (RowEntry& e : m.entries) {
    uint8_t state = 0;
    if (!(GetEndpoint(r, &e.from) && GetEndpoint(r, &e.to) && r.U8(&state))) return std::nullopt;
    if (state > kPathStateMax) return std::nullopt;  // between two nodes: unknown, up, down
    e.state = static_cast<PathState>(state);
  }
  if (!r.U16(&n) || n > r.remaining() / kDefaultSize) return std::nullopt;
  m.defaults.resize(n);
  for (RowDefault& d : m.defaults) {
    uint8_t state = 0;
    if (!(GetEndpoint(r, &d.adapter) && r.U8(&state))) return std::nullopt;
    if (state != static_cast<uint8_t>(PathState::kUnknown) &&
        state != static_cast<uint8_t>(PathState::kDown)) {
      return std::nullopt;  // up is every adapter's default unless named
    }
    d.state = static_cast<PathState>(state);
  }
  return m;
}

}  // namespace

Bytes Encode(const Message& m) {
  Bytes out;
  Writer w(&out);
  std::visit([&](const auto& v) { Put(w, v); }, m);
  return out;
}

std::optional<Message> Decode(ByteView bytes) {
  Reader r(bytes);
  uint8_t kind = 0;
  if (!r.U8(&kind)) return std::nullopt;
  std::optional<Message> m;
  switch (static_cast<Kind>(kind)) {
    case Kind::kHeartbeat:
      m = GetHeartbeat(r);
      break;
    case Kind::kRow:
      m = GetRow(r);
      break;
    case Kind::kRowRequest:
      m = RowRequestMsg{};
      break;
    case Kind::kProbe:
      m = GetProbe(r);
      break;
    default:
      return std::nullopt;
  }
  if (!m || !r.done()) return std::nullopt;
  return m;
}

}  // namespace cohort::liveness
