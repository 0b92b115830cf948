#include "cli/call.h"

#include <cctype>
#include <cstdio>
#include <cstdlib>

#include "io/files.h"
#include "io/http_client.h"

namespace cohort::cli {

using nlohmann::json;

Result<json> Call::Do(const std::string& method, const std::string& target, const json& body,
                      bool auth, int timeout_ms) {
  return Send(method, target, body.is_null() ? "" : body.dump(), auth, timeout_ms);
}

Result<json> Call::Send(const std::string& method, const std::string& target,
                        const std::string& body, bool auth, int timeout_ms) {
  std::string bearer;
  if (auth) {
    if (token_.empty()) {
      auto token = Token();
      if (!token) return token.error();
      token_ = *token;
    }
    bearer = token_;
  }
  auto reply = io::HttpCall(g.api, method, target, body, bearer, timeout_ms, 0, SIZE_MAX, g.node);
  if (!reply) return reply.error();
  json doc = json::parse(reply->body, nullptr, false);
  if (reply->status >= 300) {
    const std::string msg = !doc.is_discarded() && doc.contains("error")
                                ? doc["error"].get<std::string>()
                                : "HTTP " + std::to_string(reply->status);
    const Errc code = reply->status == 404   ? Errc::kNotFound
                      : reply->status == 409 ? Errc::kAlreadyExists
                      : reply->status == 503 ? Errc::kUnavailable
                                             : Errc::kInvalidArgument;
    return Error(code, msg);
  }
  if (doc.is_discarded()) return Error(Errc::kMalformed, "the API answered with invalid JSON");
  return doc;
}

Result<std::string> Call::Token() {
  std::string path = g.token_file;
  if (path.empty() && std::getenv("COHORT_TOKEN_FILE") != nullptr) {
    path = std::getenv("COHORT_TOKEN_FILE");
  }
  // The node's data folder is on its machine, not necessarily this one.
  if (path.empty() && !g.node.empty()) {
    return Error(Errc::kPermission, "a change for node " + g.node +
                                        " needs that node's API token: pass --token-file FILE "
                                        "(or $COHORT_TOKEN_FILE) with a copy of its api.token");
  }
  if (path.empty()) {
    auto status = Do("GET", "/v1/status");
    if (!status) return status.error();
    path = (*status)["data_dir"].get<std::string>() + "/api.token";
  }
  auto text = io::ReadFile(path);
  if (!text) {
    return Error(Errc::kPermission, "cannot read the API token '" + path +
                                        "' (run as the daemon's user, or pass --token-file)");
  }
  std::string t = *text;
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
  if (t.empty()) {
    return Error(Errc::kPermission, "the API token file '" + path + "' is empty (the token is in " +
                                        "api.token in the node's data folder)");
  }
  return t;
}

std::string Text(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

int Print(const Globals& g, const Result<json>& doc,
          const std::function<void(const json&)>& human) {
  if (!doc) return Fail(1, doc.error().message());
  if (g.json) {
    std::printf("%s\n", doc->dump(2).c_str());
  } else {
    human(*doc);
  }
  return 0;
}

int64_t MillisSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               t0)
      .count();
}

std::string UrlEncode(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace cohort::cli
