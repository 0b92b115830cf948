// The parts of `cohort dev up` that both a flat cluster (dev.cc) and a shape of nested
// clusters (dev_shape.cc) use. Internal to the CLI.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "base/result.h"
#include "cli/cli.h"

namespace cohort::cli::devup {

using Clock = std::chrono::steady_clock;

struct Agreement {
  nlohmann::json table;  // any node's address table
  int supervisor = 0;
};

// The waiting line of `dev up` (cli/progress.h): in place on a terminal, a line per change
// when piped, nothing with --json (stdout is the document).
void Waiting(const Globals& g, const std::string& line);
// The folder, its key and disks, ready for the daemons; none of its nodes may be running.
Status Prepare(const DevUpOptions& o, const std::string& dir);
// Starts every node; on a failure the ones started are stopped again.
Status StartNodes(const DevUpOptions& o, const std::string& dir, std::map<int, pid_t>& pids);
// Stops the daemons started; returns a line saying so, for an error message.
std::string StopStarted(const std::map<int, pid_t>& pids);
Result<nlohmann::json> GetFromNode(const DevUpOptions& o, int k, const std::string& target);
// Every node up in one cluster under one supervisor, with one address table.
Result<Agreement> WaitAgreement(const Globals& g, const DevUpOptions& o, const std::string& dir,
                                std::map<int, pid_t>& pids, Clock::time_point deadline);
Status WaitRegistry(const Globals& g, const DevUpOptions& o, const std::string& dir,
                    Clock::time_point deadline);
nlohmann::json DevUpDocument(const DevUpOptions& o, const std::string& dir,
                             std::map<int, pid_t>& pids, const Agreement& a);
void PrintDevUp(const nlohmann::json& out, int base_port);

// dev_shape.cc: node k's [cluster.parent] tables ("" without a shape).
std::string ParentConfigs(int k, const DevUpOptions& o);
// `dev up --shape`: the clusters of a shape, their parents, and a root.
int DevUpShape(const Globals& g, const DevUpOptions& o, const std::string& dir);

}  // namespace cohort::cli::devup
