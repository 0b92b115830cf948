#include "node/data_conn.h"

#include <gtest/gtest.h>

#include <optional>

namespace cohort::node {
namespace {

using boost::asio::ip::tcp;
namespace dist = distribution;

wire::Keyring RingOf(const wire::Key& key) {
  wire::Keyring ring;
  ring.Install(key);
  return ring;
}

// A listener on 127.0.0.1 that accepts one connection as node 1 with `ring`.
struct Listener {
  boost::asio::io_context& io;
  const wire::Keyring& ring;
  tcp::acceptor acceptor{io, tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0)};
  std::shared_ptr<DataConn> conn;
  std::optional<bool> accepted;
  std::vector<dist::Message> received;

  void AcceptOne() {
    acceptor.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
      ASSERT_FALSE(ec);
      conn = std::make_shared<DataConn>(std::move(socket), ring, 1);
      conn->SetHandlers([this](dist::Message& m) { received.push_back(m); }, nullptr);
      conn->Accept([this](bool ok) {
        EXPECT_FALSE(accepted.has_value()) << "Accept's callback ran twice";
        accepted = ok;
      });
    });
  }
};

void RunUntil(boost::asio::io_context& io, const std::function<bool()>& done) {
  io.restart();
  for (int i = 0; i < 200 && !done(); ++i) io.run_for(std::chrono::milliseconds(10));
}

TEST(DataConn, PeersWithTheKeyShakeHandsAndExchangeMessages) {
  boost::asio::io_context io;
  const wire::Keyring ring = RingOf(wire::GenerateKey());
  Listener l{io, ring};
  l.AcceptOne();
  std::shared_ptr<DataConn> dialer;
  int called = 0;
  DataConn::Connect(io, l.acceptor.local_endpoint(), ring, 2, 1, [&](std::shared_ptr<DataConn> c) {
    ++called;
    dialer = c;
    if (c) c->Send(dist::QueryMsg{"2-7"});
  });
  RunUntil(io, [&] { return !l.received.empty(); });
  ASSERT_TRUE(dialer);
  EXPECT_EQ(called, 1);
  EXPECT_EQ(l.accepted, true);
  EXPECT_EQ(l.conn->peer(), 2);
  ASSERT_EQ(l.received.size(), 1u);
  EXPECT_EQ(std::get<dist::QueryMsg>(l.received[0]).job, "2-7");
}

TEST(DataConn, APeerWithoutTheKeyIsRefusedOnBothSides) {
  boost::asio::io_context io;
  const wire::Keyring ring = RingOf(wire::GenerateKey());
  const wire::Keyring other = RingOf(wire::GenerateKey());
  Listener l{io, ring};
  l.AcceptOne();
  std::optional<bool> dialed;
  DataConn::Connect(io, l.acceptor.local_endpoint(), other, 2, 1,
                    [&](std::shared_ptr<DataConn> c) { dialed = c != nullptr; });
  RunUntil(io, [&] { return dialed.has_value() && l.accepted.has_value(); });
  EXPECT_EQ(dialed, false);
  EXPECT_EQ(l.accepted, false);
}

TEST(DataConn, AMessageTheValidatorRefusesIsAnsweredAndNeverHandled) {
  boost::asio::io_context io;
  const wire::Keyring ring = RingOf(wire::GenerateKey());
  Listener l{io, ring};
  l.AcceptOne();
  std::vector<dist::Message> answers;
  std::shared_ptr<DataConn> dialer;
  DataConn::Connect(io, l.acceptor.local_endpoint(), ring, 2, 1, [&](std::shared_ptr<DataConn> c) {
    dialer = c;
    ASSERT_TRUE(c);
    c->SetHandlers([&](dist::Message& m) { answers.push_back(m); }, nullptr);
    c->Send(dist::CancelMsg{"../../etc/x", "bye"});
  });
  RunUntil(io, [&] { return !answers.empty(); });
  ASSERT_EQ(answers.size(), 1u);
  const auto* result = std::get_if<dist::ResultMsg>(&answers[0]);
  ASSERT_NE(result, nullptr);
  EXPECT_NE(result->error.find("not a job id"), std::string::npos) << result->error;
  EXPECT_TRUE(l.received.empty());
}

TEST(DataConn, NoListenerMeansNoConnectionAndOneCallback) {
  boost::asio::io_context io;
  const wire::Keyring ring = RingOf(wire::GenerateKey());
  tcp::endpoint nowhere;
  {
    tcp::acceptor a(io, tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0));
    nowhere = a.local_endpoint();
  }  // closed: connections to it are refused
  int called = 0;
  std::shared_ptr<DataConn> got;
  DataConn::Connect(io, nowhere, ring, 2, 1, [&](std::shared_ptr<DataConn> c) {
    ++called;
    got = c;
  });
  RunUntil(io, [&] { return called > 0; });
  io.run_for(std::chrono::milliseconds(50));
  EXPECT_EQ(called, 1);
  EXPECT_FALSE(got);
}

}  // namespace
}  // namespace cohort::node
