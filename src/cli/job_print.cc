#include "cli/job_print.h"

#include <cstdio>

namespace cohort::cli {

using nlohmann::json;

namespace {

std::string Source(const json& s) { return s["source"].is_null() ? "-" : "n" + s["source"].dump(); }

template <typename... Args>
std::string Format(const char* format, Args... args) {
  char line[512];
  std::snprintf(line, sizeof line, format, args...);
  return line;
}

}  // namespace

std::string Bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int u = 0;
  while (b >= 1024 && u < 5) {
    b /= 1024;
    ++u;
  }
  return Format(u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
}

std::string Bytes(const json& v) { return v.is_number() ? Bytes(v.get<double>()) : "-"; }

std::vector<std::string> ServerLines(const json& job) {
  std::vector<std::string> lines;
  const double size = job["size"].get<double>();
  lines.push_back(Format("%-6s %-10s %21s %12s %-6s %s", "SERVER", "STATE", "BYTES", "RATE",
                         "SOURCE", "ETA / ERROR"));
  for (const auto& s : job["servers"]) {
    const double bytes = s["bytes"].get<double>();
    const double rate = s.value("rate_bps", 0.0);
    std::string eta = "-";
    if (s.contains("error")) {
      eta = s["error"].get<std::string>();
    } else if (s["state"] == "receiving" && rate > 0) {
      eta = std::to_string(static_cast<int>((size - bytes) / rate + 0.5)) + " s";
    }
    const int percent = size > 0 ? static_cast<int>(100 * bytes / size) : 100;
    const std::string progress = Bytes(bytes) + " " + std::to_string(percent) + "%";
    lines.push_back(Format("n%-5s %-10s %21s %10s/s %-6s %s", s["id"].dump().c_str(),
                           s["state"].get<std::string>().c_str(), progress.c_str(),
                           Bytes(rate).c_str(), Source(s).c_str(), eta.c_str()));
  }
  return lines;
}

std::vector<std::string> JobLines(const json& job) {
  const std::string id = job["id"].get<std::string>();
  std::vector<std::string> lines{
      Format("job %s: %s (base n%s, %s to '%s', %.1f s)", id.c_str(),
             job["state"].get<std::string>().c_str(), job["base"].dump().c_str(),
             Bytes(job["size"].get<double>()).c_str(), job["dest"].get<std::string>().c_str(),
             job.value("elapsed_s", 0.0))};
  if (job.contains("error")) lines.push_back("error: " + job["error"].get<std::string>());
  for (auto& l : ServerLines(job)) lines.push_back(std::move(l));
  if (!job.contains("commands")) {  // a summary: the job holds many files
    lines.push_back(job.value("command_count", json(0)).dump() + " commands (cohort job show " +
                    id + " lists them)");
    return lines;
  }
  lines.push_back(Format("%-4s %-6s %-12s %s", "CMD", "KIND", "STATE", "PATH"));
  for (const auto& c : job["commands"]) {
    lines.push_back(Format("%-4s %-6s %-12s %s", c["id"].dump().c_str(),
                           c["kind"].get<std::string>().c_str(),
                           c["state"].get<std::string>().c_str(), c.value("path", "").c_str()));
  }
  return lines;
}

std::vector<std::string> JobListLines(const json& list) {
  std::vector<std::string> lines{
      Format("%-10s %-10s %-8s %-10s %s", "JOB", "STATE", "SERVERS", "SIZE", "DEST")};
  for (const auto& j : list["jobs"]) {
    int done = 0;
    for (const auto& s : j["servers"]) done += s["state"] == "completed";
    lines.push_back(Format("%-10s %-10s %3d/%-4zu %-10s %s", j["id"].get<std::string>().c_str(),
                           j["state"].get<std::string>().c_str(), done, j["servers"].size(),
                           Bytes(j["size"].get<double>()).c_str(),
                           j["dest"].get<std::string>().c_str()));
  }
  return lines;
}

}  // namespace cohort::cli
