// The API server over real sockets: connections kept alive for the clients that ask, and a
// kept connection the server dropped replaced by the client without losing the request.
#include "api/server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "base/test_ports.h"
#include "io/asio.h"
#include "io/http_client.h"

namespace cohort::api {
namespace {

// A server answering each request with its target and the client's address, on a loop of
// its own thread.
class Served {
 public:
  explicit Served(uint16_t port)
      : server_(io_, [this](const HttpRequest& r, Respond respond) {
          ++requests_;
          respond({200, "text/plain", r.target + " from " + r.peer, nullptr, {}});
        }) {
    auto listening = server_.Listen(*Endpoint::Parse("127.0.0.1:" + std::to_string(port)));
    EXPECT_TRUE(listening) << listening.error().message();
    thread_ = std::thread([this] { io_.run_for(std::chrono::seconds(30)); });
  }
  ~Served() {
    io_.stop();
    thread_.join();
  }
  int requests() const { return requests_; }

 private:
  boost::asio::io_context io_;
  ApiServer server_;
  std::atomic<int> requests_{0};
  std::thread thread_;
};

std::string PeerOf(const std::string& body) { return body.substr(body.find(" from ") + 6); }

TEST(ApiServerTest, AKeptConnectionCarriesManyRequests) {
  const uint16_t port = FreeLoopbackPort();
  Served served(port);
  io::HttpConnection connection(*Endpoint::Parse("127.0.0.1:" + std::to_string(port)), "");
  std::set<std::string> peers;
  for (int k = 0; k < 20; ++k) {
    auto reply = connection.Call("POST", "/n/" + std::to_string(k), std::string(k * 100, 'x'));
    ASSERT_TRUE(reply) << reply.error().message();
    EXPECT_EQ(reply->status, 200);
    EXPECT_EQ(reply->body.rfind("/n/" + std::to_string(k) + " from ", 0), 0u) << reply->body;
    peers.insert(PeerOf(reply->body));
  }
  EXPECT_EQ(peers.size(), 1u);  // one connection (one client port) for all twenty
  // A client that says "close" still gets its answer, and a connection of its own.
  auto once = io::HttpCall(*Endpoint::Parse("127.0.0.1:" + std::to_string(port)), "GET", "/one");
  ASSERT_TRUE(once) << once.error().message();
  EXPECT_NE(PeerOf(once->body), *peers.begin());
  EXPECT_EQ(served.requests(), 21);
}

TEST(ApiServerTest, AConnectionTheServerDroppedIsReplacedAndTheRequestServed) {
  const uint16_t port = FreeLoopbackPort();
  io::HttpConnection connection(*Endpoint::Parse("127.0.0.1:" + std::to_string(port)), "");
  std::string first_peer;
  {
    Served served(port);
    auto reply = connection.Call("GET", "/before");
    ASSERT_TRUE(reply) << reply.error().message();
    first_peer = PeerOf(reply->body);
  }  // the server goes, and its connections with it (a daemon restarted)
  Served again(port);
  auto reply = connection.Call("GET", "/after");
  ASSERT_TRUE(reply) << reply.error().message();
  EXPECT_EQ(reply->body.rfind("/after from ", 0), 0u) << reply->body;
  EXPECT_NE(PeerOf(reply->body), first_peer);
  EXPECT_EQ(again.requests(), 1);  // served once, not twice
}

TEST(ApiServerTest, NoServerIsAClearError) {
  io::HttpConnection connection(*Endpoint::Parse("127.0.0.1:" + std::to_string(FreeLoopbackPort())),
                                "", 2000);
  auto reply = connection.Call("GET", "/x");
  ASSERT_FALSE(reply);
  EXPECT_NE(reply.error().message().find("cannot reach"), std::string::npos)
      << reply.error().message();
}

}  // namespace
}  // namespace cohort::api
