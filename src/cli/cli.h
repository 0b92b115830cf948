// The `cohort` command line: a client of the daemon's HTTP/JSON API (INTERFACE.md). Every
// command takes --json; errors are one `error: ...` line on stderr, exit 2 for bad usage, 1
// otherwise.
#pragma once

#include <string>
#include <vector>

#include "base/endpoint.h"
#include "base/result.h"

namespace cohort::cli {

struct Globals {
  Endpoint api{0x7f000001, 7201};
  bool json = false;
  std::string token_file;
  std::string node;  // --node: the path of the node anywhere in the tree a command is for
};

int Main(int argc, char** argv);

// dev.cc: `cohort dev up|down`.
struct DevUpOptions {
  std::string cluster_name = "dev";
  int nodes = 3;
  std::string dir = "cohort-dev";
  int base_port = 7100;
  int adapters = 2;
  int registry_servers = -1;  // the first N nodes run a registry server (etcd); -1: min(3, nodes)
  int timeout_s = 30;
  // Disks shared by every node: DIR/disks/<id>, reached by node k through its own access
  // path DIR/n<k>/disks/<id> (a symlink), so one node's path can fail alone (M11).
  std::vector<std::string> disks;
  // [timing] for every node; 0 keeps the daemon's default.
  int period_ms = 0;
  int miss_limit = 0;
  int notify_ms = 0;
  std::string multicast;         // [cluster] multicast for every node; empty: unicast bus
  int upload_mbps = 0;           // [distribution] upload_mbps for every node; 0: no limit
  int upload_idle_s = 0;         // [distribution] upload_idle_s for every node; 0: the default
  int forget_after_s = 0;        // [distribution] forget_after_s for every node; 0: the default
  int stream_capacity_mbps = 0;  // [node] stream_capacity_mbps for every node; 0: the default
  bool streams = false;          // every node serves streams ([stream] listen P+600+k)
  // M14: "SxN" runs S clusters of N nodes (DIR/c<i>/) as the nodes of one parent cluster;
  // "GxSxN" runs G parent clusters of S clusters each under one root. Cluster i's node k is
  // node (i-1)*N+k of the flat port plan (transport P+g, API P+100+g), its address in the
  // level above 127.0.0.1:P+400+g, two levels above P+500+g.
  std::string shape;
  // One level above a shape's cluster (its [cluster.parent], then [cluster.parent.parent]).
  struct Level {
    int id = 0;  // the level below's node id here
    std::string name;
    std::string key_file;
    int port_offset = 400;  // its addresses: 127.0.0.1:P+port_offset+g
    int first_port = 0;     // of the whole shape: P
    int per_cluster = 0;    // N
    int seed_first = 1;     // the leaf clusters whose node 1 is a seed, by flat index
    int seed_last = 0;
    int members = 0;  // its priority: 1..members
  };
  std::vector<Level> levels;
  int level_factor = 5;  // each level's level_factor for a shape's nodes
};
int DevUp(const Globals& g, const DevUpOptions& o);
int DevDown(const Globals& g, const std::string& dir);

// Prints `error: message` to stderr and returns `code`.
int Fail(int code, const std::string& message);

}  // namespace cohort::cli
