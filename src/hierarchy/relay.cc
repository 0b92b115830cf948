#include "hierarchy/relay.h"

#include <algorithm>

#include "base/text.h"

namespace cohort::hierarchy {
namespace {

enum class Type : uint8_t { kRequest = 1, kResponse = 2 };

std::string LevelName(size_t level) {
  return level == 0 ? "this node's cluster" : "level " + std::to_string(level) + " above it";
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (const char c : EscapeInvalidUtf8(s)) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out += kHex[(c >> 4) & 0xf];
      out += kHex[c & 0xf];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

void PutPath(wire::Writer& w, const NodePath& path) {
  w.U8(static_cast<uint8_t>(path.size()));
  for (const NodeId id : path) w.U16(id);
}

bool GetPath(wire::Reader& r, NodePath* path) {
  uint8_t n = 0;
  if (!r.U8(&n) || n == 0 || n > kMaxPathIds) return false;
  path->resize(n);
  for (NodeId& id : *path) {
    if (!r.U16(&id) || id == kNoNode) return false;
  }
  return true;
}

void PutHops(wire::Writer& w, const std::vector<Hop>& hops) {
  w.U8(static_cast<uint8_t>(hops.size()));
  for (const Hop& h : hops) {
    w.U8(h.level);
    w.U16(h.from);
  }
}

bool GetHops(wire::Reader& r, std::vector<Hop>* hops) {
  uint8_t n = 0;
  if (!r.U8(&n) || n > kMaxHops) return false;
  hops->resize(n);
  for (Hop& h : *hops) {
    if (!r.U8(&h.level) || h.level >= kMaxPathIds || !r.U16(&h.from) || h.from == kNoNode) {
      return false;
    }
  }
  return true;
}

void PutText(wire::Writer& w, const std::string& s) {
  w.Blob(wire::ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}

bool GetText(wire::Reader& r, size_t max, std::string* s) {
  wire::ByteView bytes;
  if (!r.Blob(max, &bytes)) return false;
  s->assign(bytes.begin(), bytes.end());
  return true;
}

bool IsMethod(const std::string& m) {
  return !m.empty() && m.size() <= 16 &&
         std::all_of(m.begin(), m.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

// What goes into an HTTP head (a request target, a header's value): printable ASCII only,
// so no peer on the way can add a header or split the answer.
bool IsHeadText(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

}  // namespace

Result<NodePath> ParsePath(const std::string& text) {
  NodePath path;
  size_t start = 0;
  while (true) {
    const size_t slash = text.find('/', start);
    const std::string part =
        text.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    const auto id = ParseUnsigned(part);
    if (!id || *id == kNoNode || *id > 65535) {
      return Error(Errc::kInvalidArgument,
                   "node path '" + EscapeInvalidUtf8(text) +
                       "': expected node ids 1-65535 from the root level down, joined by '/' "
                       "(e.g. 2/3: node 3 of the cluster that is node 2 of its parent)");
    }
    path.push_back(static_cast<NodeId>(*id));
    if (path.size() > kMaxPathIds) {
      return Error(Errc::kInvalidArgument, "node path '" + EscapeInvalidUtf8(text) + "': at most " +
                                               std::to_string(kMaxPathIds) +
                                               " ids (a cluster and four levels above it)");
    }
    if (slash == std::string::npos) return path;
    start = slash + 1;
  }
}

std::string PathText(const NodePath& path) {
  std::string s;
  for (const NodeId id : path) s += (s.empty() ? "" : "/") + std::to_string(id);
  return s;
}

RouteStep Route(const Position& self, const NodePath& target) {
  const size_t n = self.path.size();
  if (target.size() != n) {
    return Unroutable{400, "node path " + PathText(target) + " has " +
                               std::to_string(target.size()) + " ids; paths in this tree have " +
                               std::to_string(n) + " (this node's is " + PathText(self.path) + ")"};
  }
  size_t common = 0;
  while (common < n && target[common] == self.path[common]) ++common;
  if (common == n) return Deliver{};
  // The branches part on this level: cross it there, or climb towards it.
  const size_t level = n - 1 - common;
  if (level < self.levels.size()) {
    const auto& up = self.levels[level].up;
    if (!std::binary_search(up.begin(), up.end(), target[common])) {
      return Unroutable{503, "node " + PathText(target) + " is unreachable: no member " +
                                 std::to_string(target[common]) + " is up in " + LevelName(level) +
                                 " of node " + PathText(self.path)};
    }
    return Forward{static_cast<uint8_t>(level), target[common]};
  }
  const size_t top = self.levels.size() - 1;
  const NodeId supervisor = self.levels[top].supervisor;
  if (supervisor == kNoNode || supervisor == self.IdAt(top)) {
    return Unroutable{503, "node " + PathText(target) + " is unreachable: node " +
                               PathText(self.path) + " does not reach level " +
                               std::to_string(top + 1) + " above its cluster now"};
  }
  return Forward{static_cast<uint8_t>(top), supervisor};
}

wire::Bytes EncodeRelay(const RelayMessage& m) {
  wire::Bytes out;
  wire::Writer w(&out);
  if (const auto* q = std::get_if<RequestMsg>(&m)) {
    w.U8(static_cast<uint8_t>(Type::kRequest));
    w.U64(q->id);
    PutPath(w, q->origin);
    PutPath(w, q->target);
    PutHops(w, q->hops);
    PutText(w, q->request.method);
    PutText(w, q->request.target);
    PutText(w, q->request.authorization);
    PutText(w, q->request.body);
  } else {
    const auto& a = std::get<ResponseMsg>(m);
    w.U8(static_cast<uint8_t>(Type::kResponse));
    w.U64(a.id);
    PutHops(w, a.hops);
    w.U16(a.response.status);
    PutText(w, a.response.content_type);
    PutText(w, a.response.body);
  }
  return out;
}

std::optional<RelayMessage> DecodeRelay(wire::ByteView bytes) {
  wire::Reader r(bytes);
  uint8_t type = 0;
  uint64_t id = 0;
  if (!r.U8(&type) || !r.U64(&id)) return std::nullopt;
  if (type == static_cast<uint8_t>(Type::kRequest)) {
    RequestMsg q{.id = id};
    if (!GetPath(r, &q.origin) || !GetPath(r, &q.target) || !GetHops(r, &q.hops) ||
        !GetText(r, kMaxRelayFieldBytes, &q.request.method) ||
        !GetText(r, kMaxRelayTargetBytes, &q.request.target) ||
        !GetText(r, kMaxRelayFieldBytes, &q.request.authorization) ||
        !GetText(r, kMaxRelayBytes, &q.request.body) || !r.done() || RequestProblem(q.request)) {
      return std::nullopt;
    }
    return q;
  }
  if (type != static_cast<uint8_t>(Type::kResponse)) return std::nullopt;
  ResponseMsg a{.id = id};
  if (!GetHops(r, &a.hops) || !r.U16(&a.response.status) || a.response.status < 200 ||
      a.response.status > 599 || !GetText(r, kMaxRelayFieldBytes, &a.response.content_type) ||
      !IsHeadText(a.response.content_type) || !GetText(r, kMaxRelayBytes, &a.response.body) ||
      !r.done()) {
    return std::nullopt;
  }
  return a;
}

std::optional<std::string> RequestProblem(const RelayedRequest& r) {
  if (!IsMethod(r.method)) return "a method of 1-16 capital letters";
  if (r.target.size() > kMaxRelayTargetBytes || !IsHeadText(r.target)) {
    return "a target of at most " + std::to_string(kMaxRelayTargetBytes / 1024) +
           " KiB of printable ASCII";
  }
  if (r.authorization.size() > kMaxRelayFieldBytes || !IsHeadText(r.authorization)) {
    return "an Authorization of at most " + std::to_string(kMaxRelayFieldBytes) +
           " bytes of printable ASCII";
  }
  return std::nullopt;
}

RelayedResponse RelayError(int status, const std::string& why) {
  return RelayedResponse{.status = static_cast<uint16_t>(status),
                         .content_type = "application/json",
                         .body = "{\"error\":" + JsonString(why) + "}"};
}

// Outputs are built in place: moving a temporary variant trips GCC 12's -Wmaybe-uninitialized
// at -O2.
uint64_t RelayCore::Originate(Instant now, const Position& self, const NodePath& target,
                              RelayedRequest request, RelayOutputs& out) {
  const uint64_t id = next_id_++;
  ++metrics_.originated;
  pending_[id] = Pending{now + options_.deadline, target};
  if (auto problem = RequestProblem(request)) {
    Answer(id, {}, RelayError(400, "a relayed request needs " + *problem), out);
    return id;
  }
  RequestMsg m{.id = id, .origin = self.path, .target = target, .request = std::move(request)};
  if (EncodeRelay(m).size() > kMaxRelayBytes) {
    Answer(id, {},
           RelayError(413, "the request is larger than a relayed request may be (" +
                               std::to_string(kMaxRelayBytes / 1024) + " KiB)"),
           out);
    return id;
  }
  Pass(self, std::move(m), out);
  return id;
}

void RelayCore::OnMessage(Instant, const Position& self, uint8_t level, NodeId from,
                          wire::ByteView bytes, RelayOutputs& out) {
  auto m = DecodeRelay(bytes);
  if (!m) {
    ++metrics_.malformed;
    return;
  }
  if (auto* q = std::get_if<RequestMsg>(&*m)) {
    q->hops.push_back(Hop{level, from});
    Pass(self, std::move(*q), out);
    return;
  }
  auto& a = std::get<ResponseMsg>(*m);
  if (a.hops.empty() && !pending_.contains(a.id)) {
    ++metrics_.malformed;  // an answer to no request of this node's (or a late one)
    return;
  }
  Answer(a.id, std::move(a.hops), std::move(a.response), out);
}

void RelayCore::Pass(const Position& self, RequestMsg m, RelayOutputs& out) {
  if (m.hops.size() >= kMaxHops) {
    ++metrics_.unroutable;
    return Answer(m.id, std::move(m.hops),
                  RelayError(508, "node " + PathText(m.target) +
                                      " is unreachable: the request "
                                      "passed " +
                                      std::to_string(kMaxHops) + " relays"),
                  out);
  }
  RouteStep step = Route(self, m.target);
  if (std::holds_alternative<Deliver>(step)) {
    ++metrics_.executed;
    out.emplace_back(
        std::in_place_type<RelayExecute>,
        RelayExecute{m.id, std::move(m.origin), std::move(m.hops), std::move(m.request)});
  } else if (const auto* f = std::get_if<Forward>(&step)) {
    ++metrics_.forwarded;
    out.emplace_back(std::in_place_type<RelaySend>, RelaySend{f->level, f->to, EncodeRelay(m)});
  } else {
    ++metrics_.unroutable;
    auto& u = std::get<Unroutable>(step);
    Answer(m.id, std::move(m.hops), RelayError(u.status, u.why), out);
  }
}

void RelayCore::Answer(uint64_t id, std::vector<Hop> hops, RelayedResponse response,
                       RelayOutputs& out) {
  if (hops.empty()) {  // this node asked
    if (pending_.erase(id) == 1)
      out.emplace_back(std::in_place_type<RelayAnswered>, RelayAnswered{id, std::move(response)});
    return;
  }
  const Hop back = hops.back();
  hops.pop_back();
  ResponseMsg m{.id = id, .hops = std::move(hops), .response = std::move(response)};
  wire::Bytes bytes = EncodeRelay(m);
  if (bytes.size() > kMaxRelayBytes) {
    m.response = RelayError(502, "the answer (" + std::to_string(m.response.body.size()) +
                                     " bytes) is larger than a relayed answer may be (" +
                                     std::to_string(kMaxRelayBytes / 1024) +
                                     " KiB): ask the node's API directly");
    bytes = EncodeRelay(m);
  }
  out.emplace_back(std::in_place_type<RelaySend>,
                   RelaySend{back.level, back.from, std::move(bytes)});
}

void RelayCore::Tick(Instant now, RelayOutputs& out) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.deadline > now) {
      ++it;
      continue;
    }
    ++metrics_.timed_out;
    out.emplace_back(
        std::in_place_type<RelayAnswered>,
        RelayAnswered{
            it->first,
            RelayError(504, "no answer from node " + PathText(it->second.target) + " within " +
                                std::to_string(options_.deadline.millis() / 1000) + " s")});
    it = pending_.erase(it);
  }
}

Instant RelayCore::NextDeadline() const {
  Instant next = Instant::Max();
  for (const auto& [id, p] : pending_) next = std::min(next, p.deadline);
  return next;
}

}  // namespace cohort::hierarchy
