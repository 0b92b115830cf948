#include "workload/messages.h"

#include <algorithm>

#include "distribution/validate.h"

namespace cohort::workload {
namespace {

using wire::ByteView;
using wire::Reader;
using wire::Writer;

// A message's first byte is its place in the Message variant, plus one.

// ---- fields, written and read one way everywhere ----

void Put(Writer& w, const std::string& s) { w.Text(s); }
bool Get(Reader& r, std::string* s, size_t max) { return r.Text(max, s); }
// A content path as distribution checks one, outside the daemon's own folder.
bool GetPath(Reader& r, std::string* s) {
  return Get(r, s, distribution::kMaxPathBytes) && !s->empty() &&
         distribution::CheckWritablePath(*s).has_value();
}
bool GetDisk(Reader& r, std::string* s) {
  return Get(r, s, kMaxDiskId) && (s->empty() || ValidDiskId(*s));
}

void Put(Writer& w, const Version& v) {
  w.U64(v.bytes);
  w.U64(static_cast<uint64_t>(v.mtime_ns));
  w.Raw(v.sha256);
}
bool Get(Reader& r, Version* v) {
  uint64_t mtime = 0;
  ByteView digest;
  if (!r.U64(&v->bytes) || !r.U64(&mtime) || !r.Raw(v->sha256.size(), &digest)) return false;
  v->mtime_ns = static_cast<int64_t>(mtime);
  std::copy(digest.begin(), digest.end(), v->sha256.begin());
  return true;
}

void Put(Writer& w, const Item& i) {
  Put(w, i.path);
  Put(w, i.disk);
  Put(w, i.version);
}
bool Get(Reader& r, Item* i) {
  return GetPath(r, &i->path) && GetDisk(r, &i->disk) && Get(r, &i->version);
}

void Put(Writer& w, const OpenRequest& q) {
  Put(w, q.path);
  w.U64(q.bitrate_kbps);
  w.U64(q.session);
  w.U64(q.offset);
  w.U16(q.avoid);
}
bool Get(Reader& r, OpenRequest* q) {
  return GetPath(r, &q->path) && r.U64(&q->bitrate_kbps) && r.U64(&q->session) &&
         r.U64(&q->offset) && r.U16(&q->avoid);
}

void Put(Writer& w, const Holder& h) {
  w.U16(h.node);
  w.U64(h.load_kbps);
  w.U64(h.capacity_kbps);
}
bool Get(Reader& r, Holder* h) {
  return r.U16(&h->node) && r.U64(&h->load_kbps) && r.U64(&h->capacity_kbps);
}

void Put(Writer& w, const ReportedSession& s) {
  w.U64(s.id);
  Put(w, s.path);
  w.U64(s.bitrate_kbps);
  w.U64(s.offset);
  w.U64(s.bytes_sent);
  Put(w, s.disk);
}
bool Get(Reader& r, ReportedSession* s) {
  return r.U64(&s->id) && s->id != kNoSession && GetPath(r, &s->path) && r.U64(&s->bitrate_kbps) &&
         r.U64(&s->offset) && r.U64(&s->bytes_sent) && GetDisk(r, &s->disk);
}

template <typename T>
void PutList(Writer& w, const std::vector<T>& items) {
  w.List(items, [](Writer& ww, const T& i) { Put(ww, i); });
}
template <typename T>
bool GetList(Reader& r, size_t max, std::vector<T>* items) {
  return r.List(max, items, [](Reader& rr, T* i) { return Get(rr, i); });
}

// ---- messages ----

void Put(Writer& w, const SummaryMsg& m) {
  w.U64(m.epoch);
  w.U64(m.seq);
  w.U64(m.digest);
  w.U64(m.items);
  Put(w, m.stream_address);
  w.U64(m.capacity_kbps);
}
bool Get(Reader& r, SummaryMsg* m) {
  return r.U64(&m->epoch) && r.U64(&m->seq) && r.U64(&m->digest) && r.U64(&m->items) &&
         Get(r, &m->stream_address, kMaxAddressBytes) && r.U64(&m->capacity_kbps);
}

void Put(Writer& w, const PullMsg& m) { w.U64(m.epoch); }
bool Get(Reader& r, PullMsg* m) { return r.U64(&m->epoch); }

void Put(Writer& w, const ListingMsg& m) {
  w.U64(m.epoch);
  w.U64(m.seq);
  w.U32(m.page);
  w.U32(m.pages);
  PutList(w, m.items);
}
bool Get(Reader& r, ListingMsg* m) {
  return r.U64(&m->epoch) && r.U64(&m->seq) && r.U32(&m->page) && r.U32(&m->pages) &&
         m->pages >= 1 && m->pages <= kMaxListingPages && m->page < m->pages &&
         GetList(r, kMaxListingPage, &m->items);
}

void Put(Writer& w, const ChangeMsg& m) {
  w.U64(m.epoch);
  w.U64(m.seq);
  w.U8(static_cast<uint8_t>(m.change.kind));
  if (m.change.kind == Change::Kind::kPut) {
    Put(w, m.change.item);
  } else {
    Put(w, m.change.item.path);
    Put(w, m.change.item.disk);
  }
}
bool Get(Reader& r, ChangeMsg* m) {
  uint8_t kind = 0;
  if (!r.U64(&m->epoch) || !r.U64(&m->seq) || !r.U8(&kind) || kind > 1) return false;
  m->change.kind = static_cast<Change::Kind>(kind);
  if (m->change.kind == Change::Kind::kPut) return Get(r, &m->change.item);
  return GetPath(r, &m->change.item.path) && GetDisk(r, &m->change.item.disk);
}

void Put(Writer& w, const PlaceRequestMsg& m) {
  w.U64(m.nonce);
  Put(w, m.request);
}
bool Get(Reader& r, PlaceRequestMsg* m) { return r.U64(&m->nonce) && Get(r, &m->request); }

void Put(Writer& w, const PlaceReplyMsg& m) {
  w.U64(m.nonce);
  w.U8(static_cast<uint8_t>(m.outcome));
  w.U64(m.session);
  w.U16(m.node);
  Put(w, m.disk);
  w.U32(m.rank);
  Put(w, m.stream_address);
  PutList(w, m.holders);
}
bool Get(Reader& r, PlaceReplyMsg* m) {
  uint8_t outcome = 0;
  if (!r.U64(&m->nonce) || !r.U8(&outcome) ||
      outcome > static_cast<uint8_t>(PlaceOutcome::kNotReady)) {
    return false;
  }
  m->outcome = static_cast<PlaceOutcome>(outcome);
  return r.U64(&m->session) && r.U16(&m->node) && GetDisk(r, &m->disk) && r.U32(&m->rank) &&
         Get(r, &m->stream_address, kMaxAddressBytes) &&
         GetList(r, kMaxHoldersInReply, &m->holders);
}

void Put(Writer& w, const ReportMsg& m) {
  w.U32(m.report);
  w.U32(m.page);
  w.U32(m.pages);
  PutList(w, m.sessions);
}
bool Get(Reader& r, ReportMsg* m) {
  return r.U32(&m->report) && r.U32(&m->page) && r.U32(&m->pages) && m->pages >= 1 &&
         m->pages <= kMaxReportPages && m->page < m->pages &&
         GetList(r, kMaxReported, &m->sessions);
}

void Put(Writer& w, const QueryMsg& m) {
  w.U64(m.nonce);
  w.U8(static_cast<uint8_t>(m.kind));
  Put(w, m.path);
  Put(w, m.after);
  w.U16(m.node);
  w.U32(m.limit);
}
bool Get(Reader& r, QueryMsg* m) {
  uint8_t kind = 0;
  if (!r.U64(&m->nonce) || !r.U8(&kind) || kind < 1 || kind > 3) return false;
  m->kind = static_cast<QueryKind>(kind);
  // A prefix or an `after` may be any part of a path; only kWhere names a whole one.
  const bool path_ok = m->kind == QueryKind::kWhere ? GetPath(r, &m->path)
                                                    : Get(r, &m->path, distribution::kMaxPathBytes);
  return path_ok && Get(r, &m->after, distribution::kMaxPathBytes) && r.U16(&m->node) &&
         r.U32(&m->limit);
}

void Put(Writer& w, const QueryReplyMsg& m) {
  w.U64(m.nonce);
  w.U16(m.status);
  Put(w, m.body);
}
bool Get(Reader& r, QueryReplyMsg* m) {
  return r.U64(&m->nonce) && r.U16(&m->status) && m->status >= 100 && m->status <= 599 &&
         Get(r, &m->body, kMaxQueryBody);
}

template <typename T>
std::optional<Message> Read(Reader& r) {
  T m;
  if (!Get(r, &m) || !r.done()) return std::nullopt;
  return Message{std::move(m)};
}

// The alternative at `index`, or nothing past the last.
template <size_t I = 0>
std::optional<Message> ReadKind(Reader& r, size_t index) {
  if constexpr (I == std::variant_size_v<Message>) {
    return std::nullopt;
  } else {
    if (index == I) return Read<std::variant_alternative_t<I, Message>>(r);
    return ReadKind<I + 1>(r, index);
  }
}

}  // namespace

wire::Bytes Encode(const Message& m) {
  wire::Bytes out;
  Writer w(&out);
  w.U8(static_cast<uint8_t>(m.index() + 1));
  std::visit([&](const auto& msg) { Put(w, msg); }, m);
  return out;
}

std::optional<Message> Decode(ByteView bytes) {
  Reader r(bytes);
  uint8_t kind = 0;
  if (!r.U8(&kind) || kind == 0) return std::nullopt;
  return ReadKind(r, kind - 1u);
}

std::vector<ReportMsg> PageReport(uint32_t report, std::vector<ReportedSession> sessions,
                                  size_t* left_out) {
  std::vector<ReportMsg> pages(1);
  size_t bytes = 0;
  *left_out = 0;
  for (ReportedSession& s : sessions) {
    const size_t size = 64 + s.path.size() + s.disk.size();  // what it takes, roughly
    if (pages.back().sessions.size() == kMaxReported || bytes + size > kMaxReportBytes) {
      if (pages.size() == kMaxReportPages) {
        ++*left_out;
        continue;
      }
      pages.emplace_back();
      bytes = 0;
    }
    bytes += size;
    pages.back().sessions.push_back(std::move(s));
  }
  for (uint32_t i = 0; i < pages.size(); ++i) {
    pages[i].report = report;
    pages[i].page = i;
    pages[i].pages = static_cast<uint32_t>(pages.size());
  }
  return pages;
}

}  // namespace cohort::workload
