#include "api/streams_api.h"

#include <nlohmann/json.hpp>

#include "api/metrics_text.h"
#include "api/registry_api.h"
#include "api/responses.h"
#include "base/text.h"
#include "base/url.h"
#include "distribution/validate.h"
#include "io/media_server.h"
#include "node/workload_service.h"

namespace cohort::api {
namespace {

using json = nlohmann::json;
using workload::PlaceOutcome;

constexpr std::string_view kStreamsPrefix = "/v1/streams/";

HttpResponse Unanswered() {
  HttpResponse r = Fail(503, "the supervisor did not answer: the cluster may be electing one");
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

void Forward(node::WorkloadService& w, workload::QueryMsg q, const Respond& respond) {
  w.Query(std::move(q), [respond](std::optional<workload::QueryReplyMsg> reply) {
    if (!reply) return respond(Unanswered());
    respond(HttpResponse{reply->status, "application/json", reply->body + "\n"});
  });
}

std::string StreamUrl(const workload::PlaceReplyMsg& p, const std::string& path,
                      uint64_t bitrate_kbps) {
  return "http://" + p.stream_address + "/media/" + PercentEncodePath(path) +
         "?session=" + std::to_string(p.session) + "&kbps=" + std::to_string(bitrate_kbps) +
         (p.disk.empty() ? "" : "&disk=" + p.disk);
}

HttpResponse Refusal(const std::string& path, const workload::PlaceReplyMsg& p) {
  if (p.outcome == PlaceOutcome::kNotReady) {
    HttpResponse r = Fail(503, "the supervisor is still gathering the catalog: ask again shortly");
    r.headers.emplace_back("Retry-After", "1");
    return r;
  }
  if (p.outcome == PlaceOutcome::kNoHolder) {
    return Fail(404, "no node that is up holds '" + path + "'");
  }
  std::string loads;
  json holders = json::array();
  for (const workload::Holder& h : p.holders) {
    loads += (loads.empty() ? "" : ", ") + std::string("node ") + std::to_string(h.node) + " " +
             std::to_string(h.load_kbps) + "/" + std::to_string(h.capacity_kbps) + " kbit/s";
    holders.push_back(
        {{"node", h.node}, {"load_kbps", h.load_kbps}, {"capacity_kbps", h.capacity_kbps}});
  }
  HttpResponse r = Json(503, {{"error", "no node holding '" + path + "' has capacity: " + loads},
                              {"holders", holders}});
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

void OpenStream(node::WorkloadService& w, const HttpRequest& r, const std::string& path,
                const Respond& respond) {
  const std::string content = PercentDecode(path.substr(kStreamsPrefix.size()), false);
  if (auto s = distribution::CheckWritablePath(content); !s || content.empty()) {
    return respond(Fail(400, "bad content path '" + content + "'"));
  }
  workload::OpenRequest q{content, 0, 0, 0, kNoNode};
  auto bitrate = NumberParam(r.target, "bitrate_kbps", 0, 0, 100'000'000);
  auto session = QueryParam(r.target, "session");
  auto offset = NumberParam(r.target, "offset", 0, 0, int64_t{1} << 62);
  auto avoid = NumberParam(r.target, "avoid", 0, 0, 65535);
  if (!bitrate) return respond(FromError(bitrate.error()));
  if (!offset) return respond(FromError(offset.error()));
  if (!avoid) return respond(FromError(avoid.error()));
  if (!session.empty()) {
    auto id = ParseUnsigned(session);
    if (!id) return respond(Fail(400, "'session' must be a session id, a decimal number"));
    q.session = *id;
  }
  q.bitrate_kbps = static_cast<uint64_t>(*bitrate);
  q.offset = static_cast<uint64_t>(*offset);
  q.avoid = static_cast<NodeId>(*avoid);
  const uint64_t bitrate_kbps =
      q.bitrate_kbps != 0 ? q.bitrate_kbps : w.options().default_bitrate_kbps;
  const bool as_json = r.accept.find("application/json") != std::string::npos;
  w.Place(q, [respond, content, bitrate_kbps, as_json](std::optional<workload::PlaceReplyMsg> p) {
    if (!p) return respond(Unanswered());
    if (p->node == kNoNode) return respond(Refusal(content, *p));
    if (p->stream_address.empty()) {
      return respond(Fail(503, "node " + std::to_string(p->node) + " serves no streams"));
    }
    const std::string url = StreamUrl(*p, content, bitrate_kbps);
    const json body{{"session", std::to_string(p->session)},
                    {"node", p->node},
                    {"url", url},
                    {"rank", p->rank},
                    {"disk", p->disk},
                    {"bitrate_kbps", bitrate_kbps},
                    {"outcome", workload::PlaceOutcomeName(p->outcome)}};
    HttpResponse resp = Json(as_json ? 200 : 302, body);
    if (!as_json) resp.headers.emplace_back("Location", url);
    resp.headers.emplace_back("Cache-Control", "no-store");
    respond(std::move(resp));
  });
}

}  // namespace

bool HandleStreams(node::WorkloadService* workload, const HttpRequest& r, const std::string& path,
                   const Respond& respond) {
  const bool content = path == "/v1/content" || path == "/v1/content/where";
  const bool streams = path == "/v1/streams" || path.starts_with(kStreamsPrefix);
  if (!content && !streams) return false;
  if (r.method != "GET") return respond(Fail(405, "streams and content are read with GET")), true;
  if (workload == nullptr) return respond(Fail(404, "this daemon runs no media workload")), true;
  if (path.starts_with(kStreamsPrefix)) return OpenStream(*workload, r, path, respond), true;
  auto node = NumberParam(r.target, "node", 0, 0, 65535);
  auto limit = NumberParam(r.target, "limit", 0, 0, 1000);
  if (!node) return respond(FromError(node.error())), true;
  if (!limit) return respond(FromError(limit.error())), true;
  workload::QueryMsg q;
  q.node = static_cast<NodeId>(*node);
  q.limit = static_cast<uint32_t>(*limit);
  if (path == "/v1/streams") {
    q.kind = workload::QueryKind::kStreams;
  } else if (path == "/v1/content") {
    q.kind = workload::QueryKind::kContent;
    q.path = QueryParam(r.target, "prefix");
    q.after = QueryParam(r.target, "after");
  } else {
    q.kind = workload::QueryKind::kWhere;
    q.path = QueryParam(r.target, "path");
    if (auto s = distribution::CheckWritablePath(q.path); !s || q.path.empty()) {
      return respond(Fail(400, "'path' must name content: /v1/content/where?path=movies/a.mp4")),
             true;
    }
  }
  Forward(*workload, std::move(q), respond);
  return true;
}

std::string StreamsMetrics(const node::WorkloadService& workload, const io::MediaServer* media) {
  const node::WorkloadMetrics& m = workload.metrics();
  MetricsText t;
  t.Family("cohort_stream_placements_total", "counter",
           "Stream sessions this node placed (W2), by outcome: placed, refused for want of "
           "capacity, or no node holds the content.");
  t.Sample("cohort_stream_placements_total", {{"outcome", "placed"}}, m.placed);
  t.Sample("cohort_stream_placements_total", {{"outcome", "no_capacity"}}, m.refused);
  t.Sample("cohort_stream_placements_total", {{"outcome", "not_found"}}, m.not_found);
  t.Counter("cohort_stream_reassigned_total",
            "Sessions this node sent to a new node after theirs failed (M13).", m.reassigned);
  t.Counter("cohort_workload_unanswered_total",
            "Placement questions the supervisor did not answer in time.", m.unanswered);
  t.Counter("cohort_workload_malformed_total", "Workload messages dropped as malformed.",
            m.malformed);
  if (const workload::Supervisor* tables = workload.supervisor_tables()) {
    t.Gauge("cohort_catalog_items", "Content paths in the catalog (W1; the supervisor only).",
            static_cast<double>(tables->catalog().paths()));
    t.Gauge("cohort_catalog_copies",
            "Copies of content on nodes, all paths together (W1; the supervisor only).",
            static_cast<double>(tables->catalog().copies()));
  }
  if (media != nullptr) {
    const io::MediaMetrics mm = media->metrics();
    t.Gauge("cohort_stream_sessions", "Stream sessions this node's media server serves now.",
            static_cast<double>(media->Sessions().size()));
    t.Counter("cohort_stream_bytes_sent_total", "Media bytes this node's media server sent.",
              mm.bytes_sent);
    t.Counter("cohort_stream_requests_total", "HTTP requests to this node's media server.",
              mm.requests);
    t.Family("cohort_stream_refused_total", "counter",
             "Media requests refused: over capacity (503), no such file (404), malformed (400).");
    t.Sample("cohort_stream_refused_total", {{"reason", "capacity"}}, mm.refused_capacity);
    t.Sample("cohort_stream_refused_total", {{"reason", "not_found"}}, mm.not_found);
    t.Sample("cohort_stream_refused_total", {{"reason", "bad_request"}}, mm.bad_requests);
    t.Gauge("cohort_stream_connections", "Open connections to this node's media server.",
            static_cast<double>(mm.connections));
  }
  return t.Take();
}

}  // namespace cohort::api
