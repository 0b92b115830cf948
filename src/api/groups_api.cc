#include "api/groups_api.h"

#include <nlohmann/json.hpp>

#include "api/metrics_text.h"
#include "api/registry_api.h"
#include "api/responses.h"
#include "base/text.h"
#include "node/groups_service.h"

namespace cohort::api {
namespace {

using nlohmann::json;
using node::GroupRequest;

constexpr int64_t kMaxWaitMs = 60'000;

// Bytes as text where they are UTF-8, else as hex: {"value"} or {"value_hex"}.
void PutValue(json& j, const char* key, const groups::Bytes& bytes) {
  const std::string text(bytes.begin(), bytes.end());
  if (IsValidUtf8(text)) {
    j[key] = text;
  } else {
    j[std::string(key) + "_hex"] = ToHex(text);
  }
}

json MemberIdJson(const groups::MemberId& m) {
  return json{{"node", m.node}, {"incarnation", m.incarnation}, {"local", m.local}};
}

json RequestJson(const groups::RequestId& r) {
  return json{{"node", r.node}, {"incarnation", r.incarnation}, {"seq", r.seq}};
}

json MembersJson(const std::vector<groups::Member>& members) {
  json list = json::array();
  for (const groups::Member& m : members) {
    json j = MemberIdJson(m.id);
    j["role"] = groups::RoleName(m.role);
    list.push_back(std::move(j));
  }
  return list;
}

// A change heard through a dependency (G3): the member's own group that depends on it.
void PutRelated(json& j, const std::string& related) {
  if (!related.empty()) j["for_group"] = related;
}

json RecentJson(const groups::RecentRequest& r) {
  json j{{"request", RequestJson(r.request)}, {"committed", !r.reason.has_value()}};
  if (r.reason) {
    j["reason"] = groups::AbortReasonName(*r.reason);
  } else {
    j["version"] = r.version;
  }
  return j;
}

json GroupJson(const node::StoredGroup& g, bool detail) {
  json j{{"name", g.name}, {"token", g.revision}};
  if (!g.record) {
    j["error"] = "the stored record does not decode";
    return j;
  }
  const groups::GroupRecord& r = *g.record;
  j["version"] = r.version;
  PutValue(j, "state", r.state);
  j["members"] = MembersJson(r.members);
  j["default_vote"] = r.default_approve ? "approve" : "reject";
  j["depends"] = r.depends;
  j["coordinator"] = r.owner;
  if (detail) {
    json recent = json::array();
    for (const groups::RecentRequest& q : r.recent) recent.push_back(RecentJson(q));
    j["recent"] = std::move(recent);
  }
  return j;
}

// ---- request bodies ----

Result<uint64_t> Unsigned(const json& body, const char* key, uint64_t lo, uint64_t hi,
                          std::optional<uint64_t> fallback) {
  if (!body.contains(key)) {
    if (fallback) return *fallback;
    return Error(Errc::kInvalidArgument, std::string("\"") + key + "\" is missing");
  }
  const json& v = body[key];
  if (!v.is_number_unsigned() || v.get<uint64_t>() < lo || v.get<uint64_t>() > hi) {
    return Error(Errc::kInvalidArgument, std::string("\"") + key + "\": expected a number from " +
                                             std::to_string(lo) + " to " + std::to_string(hi));
  }
  return v.get<uint64_t>();
}

Result<uint32_t> SessionOf(const json& body) {
  auto s = Unsigned(body, "session", 1, UINT32_MAX, std::nullopt);
  if (!s) return s.error();
  return static_cast<uint32_t>(*s);
}

Result<groups::Bytes> ValueOf(const json& body) {
  const bool text = body.contains("value"), hex = body.contains("value_hex");
  if (text == hex) return Error(Errc::kInvalidArgument, "give one of \"value\" or \"value_hex\"");
  const json& v = body[text ? "value" : "value_hex"];
  if (!v.is_string()) return Error(Errc::kInvalidArgument, "the value must be a string");
  std::string bytes = v.get<std::string>();
  if (hex) {
    auto decoded = FromHex(bytes);
    if (!decoded) return Error(Errc::kInvalidArgument, "\"value_hex\": expected hex digits");
    bytes = std::move(*decoded);
  }
  return groups::Bytes(bytes.begin(), bytes.end());
}

// A string field that must be one of two words; `first` when absent.
Result<bool> Choice(const json& body, const char* key, const char* first, const char* second) {
  if (!body.contains(key)) return true;
  const json& v = body[key];
  if (v.is_string() && (v == first || v == second)) return v == first;
  return Error(Errc::kInvalidArgument,
               std::string("\"") + key + "\": expected " + first + " or " + second);
}

Status ParseJoin(const json& body, GroupRequest& req) {
  auto provider = Choice(body, "role", "provider", "subscriber");
  if (!provider) return provider.error();
  req.role = *provider ? groups::Role::kProvider : groups::Role::kSubscriber;
  auto approve = Choice(body, "default_vote", "approve", "reject");
  if (!approve) return approve.error();
  req.default_approve = *approve;
  const json depends = body.value("depends", json::array());
  if (!depends.is_array()) return Error(Errc::kInvalidArgument, "\"depends\": expected a list");
  for (const json& d : depends) {
    if (!d.is_string() || !groups::ValidName(d.get<std::string>())) {
      return Error(Errc::kInvalidArgument,
                   "\"depends\": each must be a group name (1-128 of A-Z a-z 0-9 . _ -)");
    }
    req.depends.push_back(d.get<std::string>());
  }
  if (req.depends.size() > groups::kMaxDepends) {
    return Error(Errc::kInvalidArgument,
                 "\"depends\": at most " + std::to_string(groups::kMaxDepends) + " groups");
  }
  return OkStatus();
}

Status ParsePropose(const json& body, GroupRequest& req) {
  auto value = ValueOf(body);
  if (!value) return value.error();
  if (value->size() > groups::kMaxStateBytes) {
    return Error(Errc::kInvalidArgument,
                 "the value is over " + std::to_string(groups::kMaxStateBytes) + " bytes");
  }
  req.value = std::move(*value);
  auto phases = Unsigned(body, "phases", 1, groups::kMaxPhases, 1);
  if (!phases) return phases.error();
  req.phases = static_cast<uint8_t>(*phases);
  return OkStatus();
}

void Submit(node::GroupsService& service, const std::string& group, const std::string& verb,
            const HttpRequest& r, const Respond& respond) {
  auto body = Body(r);
  if (!body) return respond(FromError(body.error()));
  auto session = SessionOf(*body);
  if (!session) return respond(FromError(session.error()));
  auto wait = Unsigned(*body, "wait_ms", 0, kMaxWaitMs, 0);
  if (!wait) return respond(FromError(wait.error()));
  GroupRequest req;
  req.group = group;
  Status parsed = OkStatus();
  if (verb == "join") {
    req.kind = GroupRequest::Kind::kJoin;
    parsed = ParseJoin(*body, req);
  } else if (verb == "leave") {
    req.kind = GroupRequest::Kind::kLeave;
  } else {
    req.kind = GroupRequest::Kind::kPropose;
    parsed = ParsePropose(*body, req);
  }
  if (!parsed) return respond(FromError(parsed.error()));
  node::GroupsService::OutcomeDone done;
  if (*wait > 0) {
    done = [respond](std::optional<groups::Outcome> o) {
      if (!o) return respond(Json(202, json{{"outcome", "pending"}}));
      respond(Json(200, GroupEventJson(*o)));
    };
  }
  auto id = service.Submit(*session, req, Duration::Millis(static_cast<int64_t>(*wait)), done);
  if (!id) return respond(FromError(id.error()));
  if (*wait == 0) respond(Json(202, json{{"request", RequestJson(*id)}}));
}

void Vote(node::GroupsService& service, const std::string& group, const HttpRequest& r,
          const Respond& respond) {
  auto body = Body(r);
  if (!body) return respond(FromError(body.error()));
  auto session = SessionOf(*body);
  if (!session) return respond(FromError(session.error()));
  if (!body->contains("request") || !(*body)["request"].is_object()) {
    return respond(Fail(400, "\"request\": expected the vote event's request object"));
  }
  const json& q = (*body)["request"];
  auto node = Unsigned(q, "node", 1, UINT16_MAX, std::nullopt);
  if (!node) return respond(FromError(node.error()));
  auto incarnation = Unsigned(q, "incarnation", 0, UINT64_MAX, std::nullopt);
  if (!incarnation) return respond(FromError(incarnation.error()));
  auto seq = Unsigned(q, "seq", 1, UINT64_MAX, std::nullopt);
  if (!seq) return respond(FromError(seq.error()));
  auto phase = Unsigned(*body, "phase", 1, groups::kMaxPhases, 1);
  if (!phase) return respond(FromError(phase.error()));
  if (!body->contains("approve") || !(*body)["approve"].is_boolean()) {
    return respond(Fail(400, "\"approve\": expected true or false"));
  }
  const groups::RequestId id{static_cast<NodeId>(*node), *incarnation, *seq};
  auto s = service.Vote(*session, group, id, static_cast<uint8_t>(*phase),
                        (*body)["approve"].get<bool>());
  respond(s ? Json(200, json{{"voted", true}}) : FromError(s.error()));
}

// The session's events, one JSON line each, until the client hangs up.
void OpenSession(node::GroupsService& service, const Respond& respond) {
  if (service.sessions() >= node::GroupsService::kMaxSessions) {
    return respond(Fail(503, "this node has too many group sessions open"));
  }
  HttpResponse r;
  r.content_type = "application/x-ndjson";
  r.stream = [&service](std::shared_ptr<StreamSink> sink) {
    auto id = service.OpenSession([sink](const groups::Output& o) {
      sink->Write(GroupEventJson(o).dump(-1, ' ', false, json::error_handler_t::replace) + "\n");
    });
    if (!id) {
      sink->Write(json{{"type", "error"}, {"error", id.error().message()}}.dump() + "\n");
      return sink->Close();
    }
    json first = MemberIdJson(service.MemberOf(*id));
    first["type"] = "session";
    first["session"] = *id;
    sink->Write(first.dump() + "\n");
    sink->OnClosed([&service, id = *id] { service.CloseSession(id); });
  };
  respond(std::move(r));
}

void Read(node::GroupsService& service, const std::string& name, const Respond& respond) {
  service.ReadGroups([name, respond](Result<node::GroupsRead> got) {
    if (!got) return respond(FromError(got.error()));
    if (name.empty()) {
      json list = json::array();
      for (const node::StoredGroup& g : got->groups) list.push_back(GroupJson(g, false));
      return respond(Json(200, json{{"groups", list}, {"stale", got->stale}}));
    }
    for (const node::StoredGroup& g : got->groups) {
      if (g.name != name) continue;
      json doc = GroupJson(g, true);
      doc["stale"] = got->stale;
      return respond(Json(200, doc));
    }
    respond(Fail(404, "no group named " + name));
  });
}

}  // namespace

std::string GroupsMetrics(const node::GroupsService& groups) {
  MetricsText t;
  const node::GroupsServiceMetrics& m = groups.metrics();
  t.Gauge("cohort_groups_sessions", "Group sessions (member processes) open on this node.",
          static_cast<double>(groups.sessions()));
  t.Gauge("cohort_groups_is_coordinator", "1 if this node coordinates the groups.",
          groups.core().coordinating() ? 1 : 0);
  t.Counter("cohort_groups_requests_total", "Joins, leaves and proposals of local members.",
            m.requests);
  t.Counter("cohort_groups_messages_sent_total", "Group Services messages sent.", m.messages_sent);
  t.Counter("cohort_groups_messages_received_total", "Group Services messages received.",
            m.messages_received);
  t.Counter("cohort_groups_record_writes_total", "Group records written (each a decision).",
            m.record_writes);
  t.Counter("cohort_groups_write_conflicts_total",
            "Record writes refused because another coordinator wrote the record since.",
            m.write_conflicts);
  t.Counter("cohort_groups_registry_errors_total",
            "Record reads and writes the registry did not answer.", m.registry_errors);
  t.Counter("cohort_groups_malformed_total", "Group messages that did not decode.",
            groups.core().malformed());
  return t.Take();
}

json GroupEventJson(const groups::Output& event) {
  json j;
  if (auto* n = std::get_if<groups::Notify>(&event)) {
    const groups::Change& c = n->change;
    j = json{{"type", "change"},
             {"group", n->group},
             {"version", c.version},
             {"token", c.token},
             {"kind", groups::ChangeKindName(c.kind)}};
    PutRelated(j, n->related);
    if (c.kind == groups::ChangeKind::kState) {
      PutValue(j, "value", c.value);
    } else {
      j["member"] = MemberIdJson(c.member);
      if (c.kind == groups::ChangeKind::kJoin) j["role"] = groups::RoleName(c.role);
    }
  } else if (auto* s = std::get_if<groups::Resync>(&event)) {
    j = json{{"type", "resync"},
             {"group", s->group},
             {"version", s->version},
             {"token", s->token},
             {"members", MembersJson(s->members)}};
    PutRelated(j, s->related);
    PutValue(j, "state", s->state);
  } else if (auto* v = std::get_if<groups::VoteAsk>(&event)) {
    j = json{{"type", "vote"},
             {"group", v->group},
             {"request", RequestJson(v->request)},
             {"version", v->version},
             {"phase", v->phase}};
    PutValue(j, "value", v->value);
  } else if (auto* o = std::get_if<groups::Outcome>(&event)) {
    j = RecentJson(o->outcome);
    j["type"] = "outcome";
    j["group"] = o->group;
  } else if (auto* l = std::get_if<groups::Lost>(&event)) {
    j = json{{"type", "lost"}, {"group", l->group}, {"why", groups::ChangeKindName(l->why)}};
  }
  return j;
}

bool HandleGroups(node::GroupsService* groups, const HttpRequest& r, const std::string& path,
                  const Respond& respond) {
  const std::string prefix = "/v1/groups";
  if (path != prefix && path.rfind(prefix + "/", 0) != 0) return false;
  if (groups == nullptr) {
    respond(Fail(503, "Group Services do not run on this node"));
    return true;
  }
  const std::string rest = path.size() > prefix.size() ? path.substr(prefix.size() + 1) : "";
  const size_t slash = rest.find('/');
  const std::string name = rest.substr(0, slash);
  const std::string verb = slash == std::string::npos ? "" : rest.substr(slash + 1);
  if (r.method == "GET" && verb.empty()) {
    if (!name.empty() && !groups::ValidName(name)) {
      respond(Fail(400, "not a group name: 1-128 of A-Z a-z 0-9 . _ -"));
      return true;
    }
    Read(*groups, name, respond);
    return true;
  }
  if (r.method == "POST" && rest == "sessions") {
    OpenSession(*groups, respond);
    return true;
  }
  const bool submit = verb == "join" || verb == "leave" || verb == "propose";
  if (r.method != "POST" || !(submit || verb == "vote")) {
    respond(Fail(verb.empty() || submit || verb == "vote" ? 405 : 404,
                 r.method + " " + path + ": see the README, \"HTTP API\""));
    return true;
  }
  if (!groups::ValidName(name)) {
    respond(Fail(400, "not a group name: 1-128 of A-Z a-z 0-9 . _ -"));
    return true;
  }
  if (submit) {
    Submit(*groups, name, verb, r, respond);
  } else {
    Vote(*groups, name, r, respond);
  }
  return true;
}

}  // namespace cohort::api
