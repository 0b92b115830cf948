// A member process of a group, written against the client library (client/groups_client.h):
// it joins GROUP through the daemon at API, approves every proposal except an empty value,
// prints each change, proposes VALUE if given, and leaves on Ctrl-C. If the daemon restarts,
// it connects again and joins again by itself.
//
//   group_member 127.0.0.1:7201 TOKEN_FILE video [VALUE]
#include <csignal>
#include <cstdio>
#include <fstream>
#include <string>

#include "client/groups_client.h"

namespace {
volatile std::sig_atomic_t stop = 0;
}

int main(int argc, char** argv) {
  if (argc < 4 || argc > 5) {
    std::fprintf(stderr, "usage: %s API TOKEN_FILE GROUP [VALUE]\n", argv[0]);
    return 2;
  }
  std::string token;
  std::getline(std::ifstream(argv[2]), token);
  const std::string group = argv[3];

  cohort::client::GroupsClient member({.api = argv[1], .token = token});
  member.on_change = [](const cohort::client::GroupChange& c) {
    std::printf("%s v%llu %s %s (token %lld)\n", c.group.c_str(),
                static_cast<unsigned long long>(c.version), c.kind.c_str(), c.value.c_str(),
                static_cast<long long>(c.token));
    std::fflush(stdout);
  };
  member.on_vote = [](const cohort::client::VoteRequest& v) { return !v.value.empty(); };
  member.on_lost = [](const std::string& g, const std::string& why) {
    std::fprintf(stderr, "lost membership of %s (%s); joining again\n", g.c_str(), why.c_str());
  };
  member.on_reconnect = [] { std::fprintf(stderr, "the daemon restarted; joined again\n"); };

  auto joined = member.Join(group);
  if (!joined || !joined->committed) {
    std::fprintf(stderr, "error: join %s: %s\n", group.c_str(),
                 joined ? joined->reason.c_str() : joined.error().message().c_str());
    return 1;
  }
  if (argc == 5) {
    auto outcome = member.Propose(group, argv[4]);
    if (!outcome) {
      std::fprintf(stderr, "error: %s\n", outcome.error().message().c_str());
      return 1;
    }
    std::printf("proposal %s\n", outcome->committed
                                     ? ("committed as v" + std::to_string(outcome->version)).c_str()
                                     : ("not committed: " + outcome->reason).c_str());
    std::fflush(stdout);
  }
  std::signal(SIGINT, [](int) { stop = 1; });
  std::signal(SIGTERM, [](int) { stop = 1; });
  while (!stop) {
    if (auto s = member.Run(200); !s) {
      std::fprintf(stderr, "error: %s\n", s.error().message().c_str());
      return 1;
    }
  }
  (void)member.Leave(group);
  return 0;
}
