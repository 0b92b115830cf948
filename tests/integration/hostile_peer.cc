// cohort-hostile-peer: a test tool that holds the cluster key and plays a hostile member on
// a daemon's data plane. Each case sends one kind of bad input and prints one JSON line of
// what came back: {"case", "answer": "refused: ..." | "accepted" | "closed" | ..., "seconds"}.
// The integration tests (test_hardening.py) check the daemon kept serving and wrote nothing
// outside its content root.
//
// Usage: cohort-hostile-peer KEY_FILE HOST:PORT PEER_ID CASE
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "base/endpoint.h"
#include "distribution/messages.h"
#include "io/asio.h"
#include "io/files.h"
#include "node/data_conn.h"
#include "wire/seal.h"

namespace {

using boost::asio::ip::tcp;
using cohort::distribution::Command;
using cohort::distribution::CommandKind;
using cohort::distribution::Manifest;
using cohort::distribution::Message;
namespace dist = cohort::distribution;

constexpr cohort::NodeId kHostile = 77;  // a node id the daemon's table does not know

Manifest OneFile(const std::string& dest, const std::string& path, uint64_t size = 5,
                 const std::string& job = "77-1") {
  Manifest m;
  m.job = job;
  m.base = kHostile;
  m.dest = dest;
  m.commands = {{1, CommandKind::kFile, path, size}, {2, CommandKind::kEnd}};
  return m;
}

dist::OfferMsg Offer(Manifest m) { return dist::OfferMsg{std::move(m), {}, 0, cohort::kNoNode}; }

// What each case sends once connected; a case with a second message sends it after the
// first answer (an accepted offer, then the bad part).
struct Case {
  std::function<Message()> first;
  std::function<Message()> then;  // optional
};

std::map<std::string, Case> Cases() {
  std::map<std::string, Case> c;
  c["offer-dotdot"] = {[] { return Offer(OneFile("in", "../../escape.txt")); }, nullptr};
  c["offer-absolute"] = {[] { return Offer(OneFile("in", "/tmp/cohort-hostile-abs")); }, nullptr};
  c["offer-dest-dotdot"] = {[] { return Offer(OneFile("../../escape", "f")); }, nullptr};
  c["offer-job-id"] = {[] {
                         Manifest m = OneFile("in", "f");
                         m.job = "../../x";
                         return Offer(m);
                       },
                       nullptr};
  c["offer-reserved"] = {[] { return Offer(OneFile(".cohort/jobs", "77-9.json")); }, nullptr};
  c["offer-symlinked-dest"] = {[] { return Offer(OneFile("outside", "pwned")); }, nullptr};
  c["offer-symlinked-folder"] = {[] { return Offer(OneFile("media", "outside/pwned")); }, nullptr};
  c["offer-huge-sizes"] = {
      [] {
        Manifest m = OneFile("in", "a", UINT64_MAX - 10);
        m.commands.insert(m.commands.begin() + 1, Command{2, CommandKind::kFile, "b", 100});
        m.commands.back().id = 3;
        return Offer(m);
      },
      nullptr};
  c["query-job-id"] = {[] { return dist::QueryMsg{"../../x"}; }, nullptr};
  c["cancel-job-id"] = {[] { return dist::CancelMsg{"../../etc/x", "bye"}; }, nullptr};
  c["feed-job-id"] = {[] { return dist::FeedMsg{"1-1/../../x", 1}; }, nullptr};
  c["ctp-put-reserved"] = {[] {
                             dist::CtpMsg m;
                             m.op = "put";
                             m.path = ".cohort/jobs/77-1.json";
                             m.last = true;
                             m.data = {'x'};
                             return m;
                           },
                           nullptr};
  c["ctp-rm-dotdot"] = {[] {
                          dist::CtpMsg m;
                          m.op = "rm";
                          m.path = "../";
                          m.recursive = true;
                          return m;
                        },
                        nullptr};
  c["commands-dotdot"] = {[] {
                            Manifest m = OneFile("in", "ok.txt");
                            m.commands.pop_back();  // open: more commands may follow
                            return Offer(m);
                          },
                          [] {
                            return dist::CommandsMsg{{{2, CommandKind::kFile, "../../../esc", 1}}};
                          }};
  c["data-past-the-end"] = {[] { return Offer(OneFile("in", "d.txt", 5, "77-2")); },
                            [] {
                              return dist::DataMsg{UINT64_MAX - 2, cohort::wire::Bytes(5)};
                            }};
  return c;
}

std::string Describe(const Message& m) {
  if (auto* r = std::get_if<dist::ResultMsg>(&m)) {
    return r->error.empty() ? "ok" : r->error;
  }
  if (auto* a = std::get_if<dist::AcceptMsg>(&m)) return a->accepted ? "accepted" : "declined";
  if (std::holds_alternative<dist::ReportMsg>(m)) return "report";
  return "other";
}

int Usage() {
  std::fprintf(stderr, "usage: cohort-hostile-peer KEY_FILE HOST:PORT PEER_ID CASE\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) return Usage();
  auto text = cohort::io::ReadFile(argv[1]);
  auto key = text ? cohort::wire::KeyFromText(*text) : cohort::Error(cohort::Errc::kIo, "");
  auto ep = cohort::Endpoint::Parse(argv[2]);
  auto cases = Cases();
  auto it = cases.find(argv[4]);
  if (!key || !ep || it == cases.end()) return Usage();
  cohort::wire::Keyring ring;
  ring.Install(*key);
  const auto peer = static_cast<cohort::NodeId>(std::stoul(argv[3]));
  const Case& kase = it->second;

  boost::asio::io_context io;
  std::string answer = "closed";
  const auto start = std::chrono::steady_clock::now();
  tcp::endpoint to(boost::asio::ip::address_v4(ep->ip), ep->port);
  std::shared_ptr<cohort::node::DataConn> keep;
  bool second = false;  // the case's second message went
  boost::asio::steady_timer limit(io, std::chrono::seconds(10));
  limit.async_wait([&](const boost::system::error_code& ec) {
    if (ec) return;
    answer = "no answer in 10 s";
    if (keep) keep->Abandon();
  });
  cohort::node::DataConn::Connect(io, to, ring, kHostile, peer,
                                  [&](std::shared_ptr<cohort::node::DataConn> conn) {
                                    if (!conn) {
                                      answer = "no handshake";
                                      limit.cancel();
                                      return;
                                    }
                                    keep = conn;
                                    conn->SetHandlers(
                                        [&, conn](Message& m) {
                                          answer = Describe(m);
                                          if (kase.then && !second && answer == "accepted") {
                                            second = true;
                                            conn->Send(kase.then());
                                            return;
                                          }
                                          conn->Abandon();
                                          limit.cancel();
                                        },
                                        [&] { limit.cancel(); });
                                    conn->Send(kase.first());
                                  });
  io.run_for(std::chrono::seconds(11));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const nlohmann::json line{{"case", argv[4]}, {"answer", answer}, {"seconds", seconds}};
  std::printf("%s\n", line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  return 0;
}
