// Api: the HTTP/JSON handlers of cohortd (INTERFACE.md "HTTP API"), free of any HTTP library
// so they can be tested without sockets. server.h feeds them parsed requests.
//
// Handlers read the node's state and queue commands; they hold no protocol logic. Requests
// that change state need `Authorization: Bearer <token>`. Runs on the node's loop thread.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "node/node.h"

namespace cohort::api {

struct HttpRequest {
  std::string method;  // "GET", "POST", "DELETE"
  std::string target;  // path and query
  std::string body;
  std::string authorization;  // the Authorization header, if any
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

using Respond = std::function<void(HttpResponse)>;

class Api {
 public:
  explicit Api(node::Node& node) : node_(node) {}
  // Calls `respond` exactly once, now or later (ping answers when its requests finish).
  void Handle(const HttpRequest& request, Respond respond);

 private:
  HttpResponse Status() const;
  HttpResponse Addresses() const;
  HttpResponse Members() const;
  HttpResponse Metrics() const;
  HttpResponse Keys() const;
  HttpResponse Ready() const;
  node::Node& node_;
};

}  // namespace cohort::api
