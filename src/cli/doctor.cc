// `cohort doctor` (INTERFACE.md "Health"): the cluster's health on one screen, each problem
// as what is wrong, where, since when and what to do. The exit code is the verdict's, for
// scripts and monitoring: 0 healthy, 1 degraded, 2 down (a daemon that does not answer is
// down too).
#include <cctype>
#include <cstdio>
#include <ctime>
#include <string>

#include "cli/call.h"

namespace cohort::cli {
namespace {

using nlohmann::json;

std::string Clock(int64_t ms) {
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::localtime_r(&secs, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &tm);
  return text;
}

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string Lasting(const json& seconds) {
  if (!seconds.is_number_integer()) return "";
  const int64_t s = seconds.get<int64_t>();
  if (s < 120) return std::to_string(s) + " s";
  if (s < 7200) return std::to_string(s / 60) + " min";
  return std::to_string(s / 3600) + " h " + std::to_string(s / 60 % 60) + " min";
}

void PrintHealth(const json& d) {
  const json by = d.value("checked_by", json::object());
  std::printf("cluster %s, as node %s (%s) sees it at %s\n",
              Text(d.value("cluster", json())).c_str(), Text(by.value("id", json())).c_str(),
              Text(by.value("name", json())).c_str(), Clock(d.value("at_ms", int64_t{0})).c_str());
  std::printf("%s: %s\n\n", Upper(d.value("verdict", std::string("down"))).c_str(),
              Text(d.value("summary", json())).c_str());
  std::string line;
  const json areas = d.value("areas", json::object());
  for (const char* area :
       {"node", "members", "supervisor", "registry", "disks", "networks", "jobs", "resources"}) {
    if (!areas.contains(area)) continue;
    line += std::string(line.empty() ? "  " : " · ") + area + " " + Text(areas[area]);
  }
  std::printf("%s\n", line.c_str());
  const json problems = d.value("problems", json::array());
  if (problems.empty()) {
    std::printf("\nno problem found\n");
    return;
  }
  std::printf("\n%zu problem%s, the worst first:\n", problems.size(),
              problems.size() == 1 ? "" : "s");
  for (const json& p : problems) {
    std::printf("  [%s] %s\n", p["severity"].get<std::string>().c_str(), Text(p["what"]).c_str());
    std::string where = "      where: " + Text(p["where"]);
    if (p["since_ms"].is_number_integer()) {
      where += "  since " + Clock(p["since_ms"].get<int64_t>()) + " (" + Lasting(p["for_s"]) + ")";
    }
    std::printf("%s\n      do:    %s\n", where.c_str(), Text(p["action"]).c_str());
  }
}

}  // namespace

void AddDoctorCommand(CLI::App& app, const Globals& g, int& rc) {
  app.add_subcommand("doctor",
                     "the whole cluster's health on one screen: each problem with where, since "
                     "when and what to do; exit 0 healthy, 1 degraded, 2 down")
      ->callback([&g, &rc] {
        auto doc = Call{g}.Do("GET", "/v1/health");
        if (!doc) {
          if (g.json) {
            std::printf(
                "%s\n",
                json{{"verdict", "down"}, {"exit_code", 2}, {"error", doc.error().message()}}
                    .dump(2)
                    .c_str());
          } else {
            // "cannot reach …" when nothing answered; else the node's own refusal.
            std::printf("DOWN: %s\n", doc.error().message().c_str());
          }
          rc = 2;
          return;
        }
        if (g.json) {
          std::printf("%s\n", doc->dump(2).c_str());
        } else {
          PrintHealth(*doc);
        }
        const int code = doc->value("exit_code", 2);
        rc = code >= 0 && code <= 2 ? code : 2;
      });
}

}  // namespace cohort::cli
