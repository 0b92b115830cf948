#include "api/responses.h"

namespace cohort::api {

using nlohmann::json;

HttpResponse Json(int status, const json& doc) {
  // Text that is not UTF-8 is escaped where it enters a document (base/text.h); should any
  // slip through, it is replaced rather than failing the answer.
  return {status, "application/json",
          doc.dump(2, ' ', false, json::error_handler_t::replace) + "\n"};
}

HttpResponse Fail(int status, const std::string& message) {
  return Json(status, json{{"error", message}});
}

HttpResponse FromError(const Error& e) {
  switch (e.code()) {
    case Errc::kInvalidArgument:
      return Fail(400, e.message());
    case Errc::kNotFound:
      return Fail(404, e.message());
    case Errc::kAlreadyExists:
      return Fail(409, e.message());
    case Errc::kPermission:
      return Fail(403, e.message());
    case Errc::kUnavailable:
      return Fail(503, e.message());
    default:
      return Fail(500, e.message());
  }
}

Result<json> Body(const HttpRequest& r) {
  json doc = json::parse(r.body.empty() ? "{}" : r.body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Error(Errc::kInvalidArgument, "request body must be a JSON object");
  }
  return doc;
}

std::string StringField(const json& body, const char* key) {
  auto it = body.find(key);
  return it != body.end() && it->is_string() ? it->get<std::string>() : "";
}

bool ConstantTimeEqual(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::optional<NodeId> NodeNumber(const std::string& text) {
  const int id = std::atoi(text.c_str());
  if (id < 1 || id > 65535 || std::to_string(id) != text) return std::nullopt;
  return static_cast<NodeId>(id);
}

std::function<void(Result<std::string>)> MessageReply(Respond respond) {
  return [respond = std::move(respond)](Result<std::string> message) {
    if (!message) return respond(FromError(message.error()));
    respond(Json(200, nlohmann::json{{"message", *message}}));
  };
}

}  // namespace cohort::api
