#include "api/registry_api.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "api/config_api.h"
#include "api/responses.h"
#include "dcm/dcm.h"

namespace cohort::api {
namespace {

using nlohmann::json;
using registry::KeyValue;
using registry::WatchEvent;

constexpr int64_t kMaxPollMs = 300'000;

json Item(const KeyValue& kv) {
  return {{"key", kv.key},
          {"value", kv.value},
          {"revision", kv.mod_revision},
          {"create_revision", kv.create_revision},
          {"version", kv.version}};
}

json Event(const WatchEvent& e) {
  json j{{"type", e.type == WatchEvent::Type::kPut ? "put" : "delete"},
         {"key", e.kv.key},
         {"revision", e.kv.mod_revision}};
  if (e.type == WatchEvent::Type::kPut) j["value"] = e.kv.value;
  return j;
}

// The registry's members in node order (etcd lists them by member id), offline ones marked.
json ServerList(const std::vector<registry::EtcdMember>& members,
                const std::vector<NodeId>& offline) {
  auto node_of = [](const registry::EtcdMember& m) {
    const bool named = m.name.size() > 1 && m.name[0] == 'n';
    return named ? std::atoi(m.name.c_str() + 1) : 0;
  };
  std::vector<registry::EtcdMember> sorted = members;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [&](const auto& a, const auto& b) { return node_of(a) < node_of(b); });
  json list = json::array();
  for (const auto& m : sorted) {
    char id[17];
    std::snprintf(id, sizeof id, "%016llx", static_cast<unsigned long long>(m.id));
    const int node = node_of(m);
    const bool off = std::find(offline.begin(), offline.end(), node) != offline.end();
    list.push_back({{"id", node != 0 ? json(node) : json(nullptr)},
                    {"name", m.name},
                    {"member_id", id},
                    {"learner", m.learner},
                    {"health", off && !m.answers ? "offline"
                               : m.answers       ? "ok"
                                                 : "unreachable"},
                    {"offline", off},
                    {"leader", m.leader},
                    {"peer_urls", m.peer_urls},
                    {"client_urls", m.client_urls}});
  }
  return list;
}

Result<bool> Serializable(const std::string& target) {
  const std::string c = QueryParam(target, "consistency");
  if (c.empty() || c == "linearizable") return false;
  if (c == "local") return true;
  return Error(Errc::kInvalidArgument, "'consistency' must be linearizable or local");
}

json StatusDocument(dcm::Dcm& dcm) {
  const auto& s = dcm.registry_status();
  // Until the first status answer nothing can be written: read-only (INTERFACE.md's two
  // phases); `state` tells "starting" apart.
  json doc{{"phase", registry::PhaseName(s ? s->phase : registry::Phase::kReadOnly)},
           {"state", dcm.registry_state()}};
  if (s) {
    doc["leader"] = s->leader == kNoNode ? json(nullptr) : json(s->leader);
    doc["servers"] = s->servers;
    doc["term"] = s->term;
    doc["commit_index"] = s->commit_index;
    doc["revision"] = s->revision;
  }
  if (!dcm.registry_error().empty()) doc["error"] = dcm.registry_error();
  doc["client_order"] = dcm.registry_order();
  doc["cluster_id"] = dcm.cluster_id();
  if (!dcm.server_state().empty()) {
    doc["local_server"] = {{"state", dcm.server_state()}, {"restarts", dcm.server_restarts()}};
  }
  return doc;
}

// Streams every change under the prefix as one JSON line, until the client leaves or the
// watch ends (then a last line says why).
void StreamWatch(dcm::Dcm& dcm, const std::string& prefix, int64_t from, const Respond& respond) {
  HttpResponse r;
  r.content_type = "application/x-ndjson";
  registry::RegistryBackend* reg = &dcm.registry();
  r.stream = [reg, prefix, from](std::shared_ptr<StreamSink> sink) {
    auto id = reg->Watch(prefix, from, [sink](Result<std::vector<WatchEvent>> events) {
      if (!events) {
        sink->Write(json{{"error", events.error().message()}}.dump() + "\n");
        sink->Close();
        return;
      }
      std::string lines;
      for (const auto& e : *events) lines += Event(e).dump() + "\n";
      sink->Write(std::move(lines));
    });
    if (!id) {
      sink->Write(json{{"error", id.error().message()}}.dump() + "\n");
      sink->Close();
      return;
    }
    sink->OnClosed([reg, watch = *id] { reg->CancelWatch(watch); });
  };
  respond(std::move(r));
}

}  // namespace

Result<int64_t> NumberParam(const std::string& target, const std::string& name, int64_t fallback,
                            int64_t lo, int64_t hi) {
  const std::string text = QueryParam(target, name);
  if (text.empty()) return fallback;
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (end == text.c_str() || *end != '\0' || v < lo || v > hi) {
    return Error(Errc::kInvalidArgument, "'" + name + "' must be a number from " +
                                             std::to_string(lo) + " to " + std::to_string(hi));
  }
  return static_cast<int64_t>(v);
}

bool HandleRegistry(dcm::Dcm* dcm, const HttpRequest& r, const std::string& path,
                    const Respond& respond) {
  if (path.rfind("/v1/registry/", 0) != 0 && path != "/v1/registry") return false;
  if (dcm == nullptr || !dcm->has_registry()) {
    respond(Fail(404, "this node has no registry: its config lists no [registry] servers"));
    return true;
  }
  const bool get = r.method == "GET";
  const std::string& t = r.target;
  if (get && path == "/v1/registry/status") {
    respond(Json(200, StatusDocument(*dcm)));
    return true;
  }
  if (path == "/v1/registry/kv") {
    const std::string key = QueryParam(t, "key");
    if (key.empty()) {
      respond(Fail(400, "'key' is required: /v1/registry/kv?key=..."));
      return true;
    }
    if (get) {
      auto serializable = Serializable(t);
      if (!serializable) return respond(FromError(serializable.error())), true;
      dcm->registry().Get(key, *serializable, [key, respond](Result<std::optional<KeyValue>> kv) {
        if (!kv) return respond(FromError(kv.error()));
        if (!*kv) return respond(Fail(404, "no such key: " + key));
        respond(Json(200, Item(**kv)));
      });
      return true;
    }
    if (r.method == "PUT") {
      auto body = Body(r);
      if (!body || !body->contains("value") || !(*body)["value"].is_string()) {
        respond(Fail(400, "the body must be {\"value\": \"...\"}"));
        return true;
      }
      dcm->registry().Put(key, (*body)["value"].get<std::string>(),
                          [key, respond](Result<int64_t> rev) {
                            if (!rev) return respond(FromError(rev.error()));
                            respond(Json(200, json{{"key", key}, {"revision", *rev}}));
                          });
      return true;
    }
    if (r.method == "DELETE") {
      dcm->registry().Delete(key, [key, respond](Result<int64_t> n) {
        if (!n) return respond(FromError(n.error()));
        respond(Json(200, json{{"key", key}, {"deleted", *n}}));
      });
      return true;
    }
  }
  if (get && path == "/v1/registry/servers") {
    dcm->OfflineServers([dcm, respond](Result<std::vector<NodeId>> offline) {
      if (!offline) return respond(FromError(offline.error()));
      dcm->ListServers(
          [respond, offline = *offline](Result<std::vector<registry::EtcdMember>> members) {
            if (!members) return respond(FromError(members.error()));
            respond(Json(200, json{{"servers", ServerList(*members, offline)}}));
          });
    });
    return true;
  }
  if (r.method == "POST" && path.rfind("/v1/registry/servers/", 0) == 0) {
    // .../<id>/offline or .../<id>/online (C6)
    const std::string rest = path.substr(std::string("/v1/registry/servers/").size());
    const size_t slash = rest.find('/');
    const std::string text = rest.substr(0, slash);
    const std::string verb = slash == std::string::npos ? "" : rest.substr(slash + 1);
    const auto id = NodeNumber(text);
    if (!id || (verb != "offline" && verb != "online")) {
      respond(Fail(404, "no such registry endpoint: POST " + path +
                            " (POST /v1/registry/servers/<id>/offline or /online)"));
      return true;
    }
    dcm->SetServerOffline(*id, verb == "offline", AuditedReply(*dcm, r, respond));
    return true;
  }
  if (r.method == "POST" && path == "/v1/registry/servers") {
    auto parsed = Body(r);
    const json body = parsed ? *parsed : json::object();
    auto text = [&](const char* k) {
      return body.contains(k) && body[k].is_string() ? body[k].get<std::string>() : std::string();
    };
    auto client = Endpoint::Parse(text("client"));
    auto peer = Endpoint::Parse(text("peer"));
    if (!body.contains("id") || !body["id"].is_number_unsigned() || body["id"] == 0 ||
        body["id"] > 65535 || !client || !peer) {
      respond(Fail(400,
                   "the body must be {\"id\": N, \"client\": \"a.b.c.d:port\", "
                   "\"peer\": \"a.b.c.d:port\"}"));
      return true;
    }
    const int catch_up_s = body.contains("catch_up_s") && body["catch_up_s"].is_number_integer()
                               ? body["catch_up_s"].get<int>()
                               : 60;
    dcm->DefineServer({body["id"].get<NodeId>(), *client, *peer},
                      Duration::Seconds(std::clamp(catch_up_s, 1, 600)),
                      AuditedReply(*dcm, r, respond));
    return true;
  }
  if (r.method == "DELETE" && path.rfind("/v1/registry/servers/", 0) == 0) {
    const std::string text = path.substr(std::string("/v1/registry/servers/").size());
    const auto id = NodeNumber(text);
    if (!id) return respond(Fail(400, "'" + text + "' is not a node id")), true;
    dcm->UndefineServer(*id, AuditedReply(*dcm, r, respond));
    return true;
  }
  if (r.method == "POST" && path == "/v1/registry/snapshot") {
    dcm->Snapshot([respond](Result<std::string> blob) {
      if (!blob) return respond(FromError(blob.error()));
      respond({200, "application/octet-stream", std::move(*blob)});
    });
    return true;
  }
  if (get && path == "/v1/registry/list") {
    const std::string prefix = QueryParam(t, "prefix");
    auto limit = NumberParam(t, "limit", 0, 0, 1'000'000);
    auto serializable = Serializable(t);
    if (!limit) return respond(FromError(limit.error())), true;
    if (!serializable) return respond(FromError(serializable.error())), true;
    dcm->registry().Range(
        prefix, static_cast<size_t>(*limit), *serializable,
        [respond](Result<registry::RangeResult> range) {
          if (!range) return respond(FromError(range.error()));
          json items = json::array();
          for (const auto& kv : range->kvs) items.push_back(Item(kv));
          respond(Json(
              200, json{{"items", items}, {"revision", range->revision}, {"more", range->more}}));
        });
    return true;
  }
  if (get && path == "/v1/registry/watch") {
    const std::string prefix = QueryParam(t, "prefix");
    auto index = NumberParam(t, "index", 0, 0, INT64_MAX);
    auto timeout = NumberParam(t, "timeout_ms", 30'000, 0, kMaxPollMs);
    if (!index) return respond(FromError(index.error())), true;
    if (!timeout) return respond(FromError(timeout.error())), true;
    if (QueryParam(t, "stream") == "1" || QueryParam(t, "stream") == "true") {
      StreamWatch(*dcm, prefix, *index, respond);
      return true;
    }
    const int64_t from = *index;
    dcm->WatchOnce(prefix, from, Duration::Millis(*timeout),
                   [respond, from, dcm](Result<std::vector<WatchEvent>> events) {
                     if (!events) return respond(FromError(events.error()));
                     json list = json::array();
                     // From now on and nothing came: the next poll starts after what the
                     // registry held at its latest status, so nothing is missed.
                     int64_t next = from;
                     if (next == 0 && dcm->registry_status()) {
                       next = dcm->registry_status()->revision + 1;
                     }
                     for (const auto& e : *events) {
                       list.push_back(Event(e));
                       next = std::max(next, e.kv.mod_revision + 1);
                     }
                     respond(Json(200, json{{"events", list}, {"index", next}}));
                   });
    return true;
  }
  respond(Fail(404, "no such registry endpoint: " + r.method + " " + path));
  return true;
}

}  // namespace cohort::api
