// What the CLI prints for distribution jobs (INTERFACE.md job documents): plain functions
// from a document to lines of text, so the tables are tested without a daemon.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace cohort::cli {

// "512 B", "1.5 MiB", ...; "-" for null.
std::string Bytes(double bytes);
std::string Bytes(const nlohmann::json& bytes);
// A header, then one line per server: state, bytes and percent, rate, source, ETA or error.
std::vector<std::string> ServerLines(const nlohmann::json& job);
// `job show`: the job's line, its error if any, its servers and its commands (or their
// count, for a summary without them).
std::vector<std::string> JobLines(const nlohmann::json& job);
// `job list`: one line per job of {"jobs": [...]}.
std::vector<std::string> JobListLines(const nlohmann::json& list);

}  // namespace cohort::cli
