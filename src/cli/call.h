// Calling the daemon's API from a command: the JSON answer or the error it names, and
// printing it as JSON (--json) or for people.
#pragma once

#include <CLI/CLI.hpp>
#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>

#include "cli/cli.h"

namespace cohort::cli {

class Call {
 public:
  explicit Call(const Globals& globals) : g(globals) {}
  const Globals& g;
  // The answer's JSON body; an HTTP error becomes an Error carrying the API's message.
  Result<nlohmann::json> Do(const std::string& method, const std::string& target,
                            const nlohmann::json& body = {}, bool auth = false,
                            int timeout_ms = 10000);
  // The same with a body of raw bytes (an upload's stream).
  Result<nlohmann::json> Send(const std::string& method, const std::string& target,
                              const std::string& body, bool auth, int timeout_ms = 10000);
  // The token comes from --token-file, $COHORT_TOKEN_FILE, or the daemon's data folder.
  Result<std::string> Token();

 private:
  std::string token_;  // read once per Call
};

// Prints the document (JSON with --json, else `human`), or the error; the exit code.
int Print(const Globals& g, const Result<nlohmann::json>& doc,
          const std::function<void(const nlohmann::json&)>& human);

// Milliseconds since `t0` on the steady clock (a command's elapsed time).
int64_t MillisSince(std::chrono::steady_clock::time_point t0);

// A value as a table cell: a string as it is, null as "-", anything else as JSON.
std::string Text(const nlohmann::json& v);

// Percent-encodes a query parameter's value.
std::string UrlEncode(const std::string& s);

// registry.cc: `cohort registry ...`.
void AddRegistryCommands(CLI::App& app, const Globals& g, int& rc);
// jobs.cc: `cohort distribute`, `cohort job ...`, `cohort ctp ...`.
void AddJobCommands(CLI::App& app, const Globals& g, int& rc);
// configuration.cc: `cohort node ...`, `cohort join-token`.
void AddConfigurationCommands(CLI::App& app, const Globals& g, int& rc);
// cluster.cc: `cohort cluster ...`.
void AddClusterCommands(CLI::App& app, const Globals& g, int& rc);
// network.cc: `cohort network ...`, `cohort subnet ...`.
void AddNetworkObjectCommands(CLI::App& app, const Globals& g, int& rc);
// liveness.cc: `cohort liveness`.
void AddLivenessCommands(CLI::App& app, const Globals& g, int& rc);
// groups.cc: `cohort group ...`.
void AddGroupCommands(CLI::App& app, const Globals& g, int& rc);
// resources.cc: `cohort resource ...`.
void AddResourceCommands(CLI::App& app, const Globals& g, int& rc);
// streams.cc: `cohort content ...`, `cohort stream ...`.
void AddStreamCommands(CLI::App& app, const Globals& g, int& rc);
// doctor.cc: `cohort doctor`.
void AddDoctorCommand(CLI::App& app, const Globals& g, int& rc);
// dev.cc: `cohort dev up|down`.
void AddDevCommands(CLI::App& app, const Globals& g, int& rc);
// snapshot.cc: `cohort registry snapshot save|restore`.
void AddSnapshotCommands(CLI::App& registry, const Globals& g, int& rc);

}  // namespace cohort::cli
