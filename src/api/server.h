// ApiServer: serves Api over HTTP/1.1 (Boost.Beast) on the node's io_context.
// A connection is kept for further requests when the client asks (HTTP/1.1's default; idle
// for at most 30 s), closed after its answer otherwise or after a streamed answer; bodies over
// 1 MiB are refused. Beast stays inside server.cc.
#pragma once

#include <functional>
#include <memory>

#include "api/handlers.h"
#include "base/endpoint.h"
#include "base/result.h"

namespace boost::asio {
class io_context;
}

namespace cohort::api {

// What serves each request: Api::Handle, or a standby node's handlers.
using Handler = std::function<void(const HttpRequest&, Respond)>;

class ApiServer {
 public:
  ApiServer(boost::asio::io_context& io, Handler handler);
  ~ApiServer();
  Status Listen(const Endpoint& address);
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cohort::api
