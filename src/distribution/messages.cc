#include "distribution/messages.h"

#include <cstring>

namespace cohort::distribution {
namespace {

using wire::Bytes;
using wire::ByteView;
using wire::Reader;
using wire::Writer;

constexpr size_t kMaxText = 4096;

void PutText(Writer& w, const std::string& s) {
  w.Blob(ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}
bool GetText(Reader& r, std::string* s, size_t max = kMaxText) {
  ByteView v;
  if (!r.Blob(max, &v)) return false;
  s->assign(reinterpret_cast<const char*>(v.data()), v.size());
  return true;
}
template <size_t N>
bool GetArray(Reader& r, std::array<uint8_t, N>* a) {
  ByteView v;
  if (!r.Raw(N, &v)) return false;
  std::memcpy(a->data(), v.data(), N);
  return true;
}
bool GetCount(Reader& r, size_t min_item, size_t max, uint32_t* n) {
  return r.U32(n) && *n <= max && *n <= r.remaining() / min_item;
}

void PutCommand(Writer& w, const Command& c) {
  w.U32(c.id);
  w.U8(static_cast<uint8_t>(c.kind));
  PutText(w, c.path);
  w.U64(c.size);
  w.U32(c.mode);
  w.U64(static_cast<uint64_t>(c.mtime_ns));
  w.U32(c.uid);
  w.U32(c.gid);
}
bool GetCommand(Reader& r, Command* c) {
  uint8_t kind = 0;
  uint64_t mtime = 0;
  if (!r.U32(&c->id) || !r.U8(&kind) || kind > 2 || !GetText(r, &c->path) || !r.U64(&c->size) ||
      !r.U32(&c->mode) || !r.U64(&mtime) || !r.U32(&c->uid) || !r.U32(&c->gid)) {
    return false;
  }
  c->kind = static_cast<CommandKind>(kind);
  c->mtime_ns = static_cast<int64_t>(mtime);
  return true;
}
void PutCommands(Writer& w, const std::vector<Command>& cs) {
  w.U32(static_cast<uint32_t>(cs.size()));
  for (const auto& c : cs) PutCommand(w, c);
}
bool GetCommands(Reader& r, std::vector<Command>* cs) {
  uint32_t n = 0;
  if (!GetCount(r, 37, kMaxCommands, &n)) return false;
  cs->resize(n);
  for (auto& c : *cs) {
    if (!GetCommand(r, &c)) return false;
  }
  return true;
}
void PutNodes(Writer& w, const std::vector<NodeId>& ns) {
  w.U32(static_cast<uint32_t>(ns.size()));
  for (NodeId n : ns) w.U16(n);
}
bool GetNodes(Reader& r, std::vector<NodeId>* ns) {
  uint32_t n = 0;
  if (!GetCount(r, 2, 65535, &n)) return false;
  ns->resize(n);
  for (auto& id : *ns) {
    if (!r.U16(&id)) return false;
  }
  return true;
}

struct Encoder {
  Writer& w;
  void operator()(const Hello& m) {
    w.Raw(m.echo);
    w.Raw(m.challenge);
  }
  void operator()(const HelloOk& m) { w.Raw(m.echo); }
  void operator()(const OfferMsg& m) {
    PutText(w, m.manifest.job);
    w.U16(m.manifest.base);
    PutText(w, m.manifest.dest);
    PutCommands(w, m.manifest.commands);
    PutNodes(w, m.list);
    w.U64(m.rate);
    w.U16(m.replaces);
  }
  void operator()(const AcceptMsg& m) {
    w.U8(m.accepted ? 1 : 0);
    w.U64(m.offset);
    w.U8(m.completed ? 1 : 0);
  }
  void operator()(const DataMsg& m) {
    w.U64(m.offset);
    w.Blob(m.bytes);
  }
  void operator()(const DigestMsg& m) {
    w.U32(m.command);
    w.Raw(m.sha256);
  }
  void operator()(const CommandsMsg& m) { PutCommands(w, m.commands); }
  void operator()(const AckMsg& m) { w.U64(m.offset); }
  void operator()(const ReportMsg& m) {
    PutText(w, m.job);
    const ServerReport& r = m.report;
    w.U16(r.server);
    w.U8(static_cast<uint8_t>((r.has_job ? 1 : 0) | (r.completed ? 2 : 0)));
    w.U64(r.offset);
    w.U16(r.source);
    w.U64(static_cast<uint64_t>(r.rate));
    w.U32(r.commands_done);
    PutText(w, r.error);
  }
  void operator()(const QueryMsg& m) { PutText(w, m.job); }
  void operator()(const FeedMsg& m) {
    PutText(w, m.job);
    w.U16(m.target);
    w.U8(m.switch_offer ? 1 : 0);
    w.U16(m.replaces);
  }
  void operator()(const ResultMsg& m) {
    PutText(w, m.error);
    PutText(w, m.body);
    w.Blob(m.data);
  }
  void operator()(const CancelMsg& m) {
    PutText(w, m.job);
    PutText(w, m.reason);
  }
  void operator()(const CtpMsg& m) {
    PutText(w, m.op);
    PutText(w, m.path);
    w.U32(m.mode);
    w.U64(static_cast<uint64_t>(m.mtime_ns));
    w.U64(m.offset);
    w.U8(static_cast<uint8_t>((m.recursive ? 1 : 0) | (m.last ? 2 : 0)));
    w.Blob(m.data);
  }
};

}  // namespace

Bytes Encode(const Message& m) {
  Bytes out;
  Writer w(&out);
  w.U8(static_cast<uint8_t>(m.index() + 1));
  std::visit(Encoder{w}, m);
  return out;
}

uint8_t* EncodeDataInPlace(uint64_t offset, size_t size, Bytes* out) {
  Writer w(out);
  w.U8(static_cast<uint8_t>(Message(DataMsg{}).index() + 1));
  w.U64(offset);
  w.U32(static_cast<uint32_t>(size));
  const size_t at = out->size();
  out->resize(at + size);
  return out->data() + at;
}

const char* FeedRefusalText(FeedRefusal r) {
  switch (r) {
    case FeedRefusal::kNone:
      return "";
    case FeedRefusal::kNoJob:
      return "no such job here";
    case FeedRefusal::kCancelled:
      return "the job is cancelled";
    case FeedRefusal::kBusy:
      return "busy";
    case FeedRefusal::kOther:
      break;
  }
  return "refused";
}

FeedRefusal FeedRefusalFromText(const std::string& text) {
  for (FeedRefusal r :
       {FeedRefusal::kNone, FeedRefusal::kNoJob, FeedRefusal::kCancelled, FeedRefusal::kBusy}) {
    if (text == FeedRefusalText(r)) return r;
  }
  return FeedRefusal::kOther;
}

std::optional<Message> Decode(ByteView bytes) {
  Reader r(bytes);
  uint8_t kind = 0;
  if (!r.U8(&kind)) return std::nullopt;
  std::optional<Message> out;
  switch (kind) {
    case 1: {
      Hello m;
      if (GetArray(r, &m.echo) && GetArray(r, &m.challenge)) out = m;
      break;
    }
    case 2: {
      HelloOk m;
      if (GetArray(r, &m.echo)) out = m;
      break;
    }
    case 3: {
      OfferMsg m;
      if (GetText(r, &m.manifest.job) && r.U16(&m.manifest.base) && GetText(r, &m.manifest.dest) &&
          GetCommands(r, &m.manifest.commands) && GetNodes(r, &m.list) && r.U64(&m.rate) &&
          r.U16(&m.replaces)) {
        out = std::move(m);
      }
      break;
    }
    case 4: {
      AcceptMsg m;
      uint8_t a = 0, c = 0;
      if (r.U8(&a) && a <= 1 && r.U64(&m.offset) && r.U8(&c) && c <= 1) {
        m.accepted = a == 1;
        m.completed = c == 1;
        out = m;
      }
      break;
    }
    case 5: {
      DataMsg m;
      ByteView v;
      if (r.U64(&m.offset) && r.Blob(kMaxChunk, &v)) {
        m.bytes.assign(v.begin(), v.end());
        out = std::move(m);
      }
      break;
    }
    case 6: {
      DigestMsg m;
      if (r.U32(&m.command) && GetArray(r, &m.sha256)) out = m;
      break;
    }
    case 7: {
      CommandsMsg m;
      if (GetCommands(r, &m.commands)) out = std::move(m);
      break;
    }
    case 8: {
      AckMsg m;
      if (r.U64(&m.offset)) out = m;
      break;
    }
    case 9: {
      ReportMsg m;
      ServerReport& rep = m.report;
      uint8_t flags = 0;
      uint64_t rate = 0;
      if (GetText(r, &m.job) && r.U16(&rep.server) && r.U8(&flags) && flags <= 3 &&
          r.U64(&rep.offset) && r.U16(&rep.source) && r.U64(&rate) && rate <= (1ULL << 53) &&
          r.U32(&rep.commands_done) && GetText(r, &rep.error)) {
        rep.has_job = flags & 1;
        rep.completed = flags & 2;
        rep.rate = static_cast<double>(rate);
        out = std::move(m);
      }
      break;
    }
    case 10: {
      QueryMsg m;
      if (GetText(r, &m.job)) out = std::move(m);
      break;
    }
    case 11: {
      FeedMsg m;
      uint8_t sw = 0;
      if (GetText(r, &m.job) && r.U16(&m.target) && r.U8(&sw) && sw <= 1 && r.U16(&m.replaces)) {
        m.switch_offer = sw == 1;
        out = std::move(m);
      }
      break;
    }
    case 12: {
      ResultMsg m;
      ByteView v;
      if (GetText(r, &m.error) && GetText(r, &m.body, kMaxFrame) && r.Blob(kMaxChunk, &v)) {
        m.data.assign(v.begin(), v.end());
        out = std::move(m);
      }
      break;
    }
    case 13: {
      CtpMsg m;
      uint64_t mtime = 0;
      uint8_t flags = 0;
      ByteView v;
      if (GetText(r, &m.op) && GetText(r, &m.path) && r.U32(&m.mode) && r.U64(&mtime) &&
          r.U64(&m.offset) && r.U8(&flags) && flags <= 3 && r.Blob(kMaxChunk, &v)) {
        m.mtime_ns = static_cast<int64_t>(mtime);
        m.recursive = flags & 1;
        m.last = flags & 2;
        m.data.assign(v.begin(), v.end());
        out = std::move(m);
      }
      break;
    }
    case 14: {
      CancelMsg m;
      if (GetText(r, &m.job) && GetText(r, &m.reason)) out = std::move(m);
      break;
    }
    default:
      break;
  }
  if (!out || !r.done()) return std::nullopt;
  return out;
}

size_t CommandsThatFit(const std::vector<Command>& commands, size_t from) {
  // u32 id, u8 kind, u32 path length, path, u64 size, u32 mode, u64 mtime, u32 uid, u32 gid
  constexpr size_t kFixed = 4 + 1 + 4 + 8 + 4 + 8 + 4 + 4;
  size_t bytes = 0, n = 0;
  for (size_t i = from; i < commands.size(); ++i, ++n) {
    bytes += kFixed + commands[i].path.size();
    if (bytes > kCommandBytesPerMessage && n > 0) break;
  }
  return n;
}

}  // namespace cohort::distribution
