#include "api/jobs_api.h"

#include <sodium.h>

#include "api/registry_api.h"
#include "api/responses.h"
#include "io/job_content.h"
#include "node/distributor.h"

namespace cohort::api {

using json = nlohmann::json;

namespace {

HttpResponse JobDocument(node::Distributor& d, const std::string& id, int status = 200,
                         bool with_commands = true) {
  auto doc = d.JobDocument(id, with_commands);
  if (!doc) return Fail(404, "no job '" + id + "' on this base server");
  return Json(status, json::parse(*doc));
}

void Ctp(node::Distributor& d, const json& b, const Respond& respond) {
  if (!b.contains("node") || !b["node"].is_number_unsigned() || b["node"] == 0 ||
      b["node"] > 65535) {
    return respond(Fail(400, "'node' must be a node id from 1 to 65535"));
  }
  node::Distributor::CtpRequest req;
  req.op = b.value("op", "");
  req.path = b.value("path", "");
  req.mode = b.value("mode", 0u);
  req.mtime_ns = b.value("mtime_ns", int64_t{0});
  req.recursive = b.value("recursive", false);
  req.offset = b.value("offset", uint64_t{0});
  req.last = b.value("last", true);
  const std::string data = b.value("data_base64", "");
  if (!data.empty()) {
    req.data.resize(data.size());
    size_t n = 0;
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(req.data.data()), req.data.size(),
                          data.data(), data.size(), nullptr, &n, nullptr,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
      return respond(Fail(400, "'data_base64' is not base64"));
    }
    req.data.resize(n);
  }
  // The answer is JSON text already (a listing may hold 100,000 entries: made off the loop).
  d.Ctp(b["node"].get<NodeId>(), std::move(req), [respond](Result<std::string> answer) {
    if (!answer) return respond(FromError(answer.error()));
    respond(HttpResponse{200, "application/json", std::move(*answer) + "\n", nullptr});
  });
}

// The content of a job request or addition: "paths", absolute on the base server, or
// "upload": true with "entries" (commands in INTERFACE.md's JSON form, without ids) whose
// bytes follow on PUT /v1/jobs/ID/stream.
Result<node::JobContent> Content(const json& b) {
  node::JobContent content;
  if (b.contains("upload") && !b["upload"].is_boolean()) {
    return Error(Errc::kInvalidArgument, "'upload' must be true or false");
  }
  content.upload = b.value("upload", false);
  if (content.upload) {
    if (!b.contains("entries") || !b["entries"].is_array()) {
      return Error(Errc::kInvalidArgument, "an upload needs 'entries': its files and folders");
    }
    for (const auto& e : b["entries"]) {
      auto c = io::CommandFromJson(e);
      if (!c) return c.error();
      content.entries.push_back(std::move(*c));
    }
    return content;
  }
  const Error bad(Errc::kInvalidArgument, "'paths' must be a list of absolute paths");
  if (!b.contains("paths") || !b["paths"].is_array()) return bad;
  for (const auto& p : b["paths"]) {
    if (!p.is_string() || p.get<std::string>().empty() || p.get<std::string>()[0] != '/') {
      return bad;
    }
    content.paths.push_back(p.get<std::string>());
  }
  return content;
}

// The ID of "/v1/jobs/ID<suffix>", or nullopt for any other path.
std::optional<std::string> JobIdBefore(const std::string& path, const std::string& suffix) {
  const std::string prefix = "/v1/jobs/";
  if (path.size() <= prefix.size() + suffix.size() || path.rfind(prefix, 0) != 0 ||
      path.compare(path.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return std::nullopt;
  }
  return path.substr(prefix.size(), path.size() - prefix.size() - suffix.size());
}

// A query parameter as a decimal number up to `max` ("" is 0); nullopt for anything else.
std::optional<uint64_t> Decimal(const std::string& text, uint64_t max) {
  if (text.size() > 20 || text.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  uint64_t v = 0;
  for (char ch : text) {
    const uint64_t digit = static_cast<uint64_t>(ch - '0');
    if (digit > max || v > (max - digit) / 10) return std::nullopt;
    v = v * 10 + digit;
  }
  return v;
}

// PUT /v1/jobs/ID/stream?offset=N: raw bytes of an upload job's stream, answered once
// they are written.
void Stream(node::Distributor& d, const HttpRequest& r, const std::string& id,
            const Respond& respond) {
  const std::string text = QueryParam(r.target, "offset");
  const auto offset = Decimal(text, UINT64_MAX);
  if (text.empty() || !offset) {
    return respond(Fail(400, "'offset' must be the stream offset of the body's first byte"));
  }
  d.Stream(id, *offset, r.body, [&d, id, respond](Result<uint64_t> have) {
    if (have) return respond(Json(200, json{{"upload_bytes", *have}}));
    if (have.error().code() != Errc::kAlreadyExists) return respond(FromError(have.error()));
    // Where to resume, for the client to read rather than parse out of the message.
    json doc = json::parse(d.JobDocument(id).value_or("{}"));
    respond(Json(409, json{{"error", have.error().message()},
                           {"upload_bytes", doc.value("upload_bytes", uint64_t{0})}}));
  });
}

}  // namespace

bool HandleJobs(node::Distributor* d, const HttpRequest& r, const std::string& path,
                const Respond& respond) {
  const bool jobs = path == "/v1/jobs" || path.rfind("/v1/jobs/", 0) == 0;
  if (!jobs && path != "/v1/ctp") return false;
  if (d == nullptr) {
    respond(Fail(503, "content distribution is not running on this node"));
    return true;
  }
  if (path == "/v1/ctp") {
    if (r.method == "GET") {
      const auto node = Decimal(QueryParam(r.target, "node"), 65535);
      const auto offset = Decimal(QueryParam(r.target, "offset"), UINT64_MAX);
      if (!node || !offset) {
        respond(Fail(400, "'node' and 'offset' must be decimal numbers (node up to 65535)"));
        return true;
      }
      json b{{"node", *node},
             {"op", QueryParam(r.target, "op")},
             {"path", QueryParam(r.target, "path")},
             {"recursive", QueryParam(r.target, "recursive") == "1"},
             {"offset", *offset}};
      const std::string op = b["op"];
      if (op != "ls" && op != "stat" && op != "get") {
        respond(Fail(400, "GET /v1/ctp reads only (op ls, stat or get)"));
        return true;
      }
      Ctp(*d, b, respond);
      return true;
    }
    auto body = Body(r);
    if (!body) {
      respond(FromError(body.error()));
      return true;
    }
    Ctp(*d, *body, respond);
    return true;
  }
  if (r.method == "GET" && path == "/v1/jobs") {
    json list = json::array();
    // ?commands=0: summaries (a job of many files makes a large document).
    const bool commands = QueryParam(r.target, "commands") != "0";
    for (const auto& id : d->JobIds()) {
      list.push_back(json::parse(*d->JobDocument(id, commands)));
    }
    respond(Json(200, json{{"jobs", list}}));
    return true;
  }
  if (r.method == "GET") {
    // ?wait_ms=N: answer when the job or a server changes state, or after N ms (at most 60 s).
    const std::string id = path.substr(std::string("/v1/jobs/").size());
    const std::string wait = QueryParam(r.target, "wait_ms");
    const bool commands = QueryParam(r.target, "commands") != "0";
    if (wait.empty()) {
      d->WhenResumed(id,
                     [d, id, respond, commands] { respond(JobDocument(*d, id, 200, commands)); });
      return true;
    }
    const auto wait_ms = Decimal(wait, 999999);
    if (!wait_ms) {
      respond(Fail(400, "'wait_ms' must be a number of milliseconds up to 60000"));
      return true;
    }
    const int64_t ms = std::min<int64_t>(static_cast<int64_t>(*wait_ms), 60000);
    d->WaitForChange(id, Duration::Millis(ms),
                     [d, id, respond, commands] { respond(JobDocument(*d, id, 200, commands)); });
    return true;
  }
  if (r.method == "POST" && path == "/v1/jobs") {
    auto body = Body(r);
    if (!body) {
      respond(FromError(body.error()));
      return true;
    }
    node::JobRequest req;
    const json& b = *body;
    auto content = Content(b);
    if (!content) {
      respond(FromError(content.error()));
      return true;
    }
    req.content = std::move(*content);
    req.dest = b.value("dest", "");
    if (b.contains("open") && !b["open"].is_boolean()) {
      respond(Fail(400, "'open' must be true or false"));
      return true;
    }
    req.open = b.value("open", false);
    if (b.contains("servers") && b["servers"].is_array()) {
      for (const auto& s : b["servers"]) {
        if (!s.is_number_unsigned() || s == 0 || s > 65535) {
          respond(Fail(400, "'servers' must be \"all\" or a list of node ids"));
          return true;
        }
        req.servers.push_back(s.get<NodeId>());
      }
    }
    const bool commands = QueryParam(r.target, "commands") != "0";
    d->Submit(std::move(req), [d, respond, commands](Result<std::string> id) {
      respond(id ? JobDocument(*d, *id, 201, commands) : FromError(id.error()));
    });
    return true;
  }
  if (auto id = JobIdBefore(path, "/end"); id && r.method == "POST") {
    auto s = d->End(*id);
    respond(s ? JobDocument(*d, *id) : FromError(s.error()));
    return true;
  }
  if (auto id = JobIdBefore(path, "/cancel"); id && r.method == "POST") {
    auto body = Body(r);
    if (!body) {
      respond(FromError(body.error()));
      return true;
    }
    const json reason = body->contains("reason") ? body->at("reason") : json();
    if (!reason.is_null() && (!reason.is_string() || reason.get<std::string>().empty())) {
      respond(Fail(400, "'reason' must be a non-empty string"));
      return true;
    }
    auto s = d->Cancel(
        *id, reason.is_string() ? reason.get<std::string>() : "cancelled by the operator");
    respond(s ? JobDocument(*d, *id) : FromError(s.error()));
    return true;
  }
  if (auto id = JobIdBefore(path, "/commands"); id && r.method == "POST") {
    auto body = Body(r);
    auto content = body ? Content(*body) : Result<node::JobContent>(body.error());
    if (!content) {
      respond(FromError(content.error()));
      return true;
    }
    const bool commands = QueryParam(r.target, "commands") != "0";
    d->Add(*id, std::move(*content), [d, id = *id, respond, commands](Status s) {
      respond(s ? JobDocument(*d, id, 200, commands) : FromError(s.error()));
    });
    return true;
  }
  if (auto id = JobIdBefore(path, "/stream"); id && r.method == "PUT") {
    Stream(*d, r, *id, respond);
    return true;
  }
  respond(Fail(405, r.method + " is not allowed on " + path));
  return true;
}

}  // namespace cohort::api
