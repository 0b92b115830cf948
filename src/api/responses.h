// The JSON answers every API handler gives: a document, an error document {"error": ...}
// with the HTTP status for an Error's code, and a request body parsed as a JSON object.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>

#include "api/handlers.h"
#include "base/ids.h"
#include "base/result.h"

namespace cohort::api {

HttpResponse Json(int status, const nlohmann::json& doc);
HttpResponse Fail(int status, const std::string& message);
// 400 invalid argument, 404 not found, 403 permission, 503 unavailable, else 500.
HttpResponse FromError(const Error& e);
// The body as a JSON object ("{}" when empty); anything else is kInvalidArgument.
Result<nlohmann::json> Body(const HttpRequest& r);
// A string field of a request body; "" when absent or of another type (the caller's
// parsing of "" says what was expected).
std::string StringField(const nlohmann::json& body, const char* key);
// A node number as written in a path: 1 to 65535, digits only; nothing otherwise.
std::optional<NodeId> NodeNumber(const std::string& text);
// The answer to an operation that ends with a message for people: {"message"}, or the error.
std::function<void(Result<std::string>)> MessageReply(Respond respond);
// Compares a request's Authorization header with the expected one in time independent of
// where they differ.
bool ConstantTimeEqual(const std::string& a, const std::string& b);

}  // namespace cohort::api
