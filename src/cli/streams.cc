// `cohort content list|where` and `cohort stream open|list|get` (INTERFACE.md "Streams";
// W1, W2, M13): the catalog, sessions, and a client that follows a stream to the node
// placed for it and resumes elsewhere when that node fails. Every command takes --json.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "base/url.h"
#include "cli/call.h"
#include "io/http_fetch.h"
#include "wire/sha256.h"

namespace cohort::cli {
namespace {

using nlohmann::json;

std::string Holders(const json& item) {
  std::string out;
  for (const json& h : item["holders"]) {
    out += (out.empty() ? "" : " ") + Text(h["node"]) +
           (h["disk"].get<std::string>().empty() ? "" : "/" + Text(h["disk"])) +
           (h["state"] == "available" ? "" : "(" + Text(h["state"]) + ")");
  }
  return out;
}

void PrintContent(const json& doc) {
  std::printf("%-40s %14s %-16s %s\n", "PATH", "BYTES", "SHA-256", "HOLDERS");
  for (const json& i : doc["items"]) {
    std::printf("%-40s %14s %-16s %s\n", Text(i["path"]).c_str(), Text(i["bytes"]).c_str(),
                (Text(i["digest"]).substr(0, 12) + "...").c_str(), Holders(i).c_str());
  }
  if (doc["items"].empty()) std::printf("(no content)\n");
  if (!doc["next"].is_null()) {
    std::printf("(more: --after %s)\n", Text(doc["next"]).c_str());
  }
}

void PrintWhere(const json& doc) {
  std::printf("%s: %s bytes, sha-256 %s\n", Text(doc["path"]).c_str(),
              Text(doc["version"]["bytes"]).c_str(), Text(doc["version"]["digest"]).c_str());
  std::printf("%5s %-10s %-12s %4s %22s  %s\n", "NODE", "DISK", "STATE", "RANK", "LOAD/CAPACITY",
              "STREAM");
  for (const json& h : doc["holders"]) {
    const std::string load = h.contains("load_kbps")
                                 ? Text(h["load_kbps"]) + "/" + Text(h["capacity_kbps"]) + " kbit/s"
                                 : "-";
    std::printf("%5s %-10s %-12s %4s %22s  %s\n", Text(h["node"]).c_str(),
                h["disk"].get<std::string>().empty() ? "(root)" : Text(h["disk"]).c_str(),
                Text(h["state"]).c_str(), Text(h["rank"]).c_str(), load.c_str(),
                Text(h["stream"]).c_str());
  }
}

void PrintStreams(const json& doc) {
  std::printf("supervisor: node %s; %s sessions, %s reassigned, %s refused\n",
              Text(doc["supervisor"]).c_str(), Text(doc["sessions_total"]).c_str(),
              Text(doc["reassigned_total"]).c_str(), Text(doc["refused_total"]).c_str());
  std::printf("%5s %-4s %8s %22s %8s  %s\n", "NODE", "UP", "SESSIONS", "LOAD/CAPACITY", "REFUSED",
              "STREAM");
  for (const json& n : doc["nodes"]) {
    const std::string load = Text(n["load_kbps"]) + "/" +
                             (n["capacity_kbps"] == 0 ? "-" : Text(n["capacity_kbps"])) + " kbit/s";
    std::printf("%5s %-4s %8s %22s %8s  %s\n", Text(n["node"]).c_str(),
                n["up"] == true ? "yes" : "no", Text(n["sessions"]).c_str(), load.c_str(),
                Text(n["refused_total"]).c_str(), Text(n["stream"]).c_str());
  }
  if (doc["sessions"].empty()) return;
  std::printf("\n%-20s %5s %-9s %8s %12s %5s  %s\n", "SESSION", "NODE", "STATE", "KBIT/S", "OFFSET",
              "MOVES", "PATH");
  for (const json& s : doc["sessions"]) {
    std::printf("%-20s %5s %-9s %8s %12s %5s  %s\n", Text(s["id"]).c_str(), Text(s["node"]).c_str(),
                Text(s["state"]).c_str(), Text(s["bitrate_kbps"]).c_str(),
                Text(s["offset"]).c_str(), Text(s["moves"]).c_str(), Text(s["path"]).c_str());
  }
}

std::string StreamTarget(const std::string& path, int bitrate_kbps, const std::string& session,
                         uint64_t offset, int avoid) {
  std::string t =
      "/v1/streams/" + PercentEncodePath(path) + "?bitrate_kbps=" + std::to_string(bitrate_kbps);
  if (!session.empty()) t += "&session=" + session + "&offset=" + std::to_string(offset);
  if (avoid != 0) t += "&avoid=" + std::to_string(avoid);
  return t;
}

struct GetOptions {
  std::string path, out;
  int bitrate_kbps = 0;
  int timeout_ms = 2000;
  int attempts = 20;        // nodes tried in turn
  int give_up_ms = 30'000;  // asking the API again while the cluster re-forms
  int max_kbps = 0;         // a player's pace: read no faster than this (0: as fast as it comes)
};

// Sleeps as needed to keep the average rate since `t0` at most `kbps`.
void Pace(std::chrono::steady_clock::time_point t0, uint64_t bytes, int kbps) {
  if (kbps <= 0) return;
  const auto due = t0 + std::chrono::microseconds(bytes * 8'000 / static_cast<uint64_t>(kbps));
  if (due > std::chrono::steady_clock::now()) std::this_thread::sleep_until(due);
}

// Follows the stream to its node and, when that node fails, asks again with the session,
// the offset reached and the node to avoid, and resumes there with a Range request (If-Range:
// the same version); then checks the SHA-256 the ETag names.
Result<json> StreamGet(const Globals& g, const GetOptions& o) {
  const int fd = ::open(o.out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Error(Errc::kIo, "cannot write '" + o.out + "'");
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  const auto t0 = std::chrono::steady_clock::now();
  std::string session, etag;
  uint64_t offset = 0;
  int avoid = 0, resumes = 0;
  bool complete = false;
  json nodes = json::array();
  std::string last_error;
  const auto give_up = t0 + std::chrono::milliseconds(o.give_up_ms);
  for (int attempt = 0; attempt < o.attempts && std::chrono::steady_clock::now() < give_up;) {
    auto placed = Call{g}.Do("GET", StreamTarget(o.path, o.bitrate_kbps, session, offset, avoid));
    if (!placed) {
      last_error = placed.error().message();
      if (placed.error().code() == Errc::kNotFound) return placed.error();
      std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the cluster re-forms
      continue;
    }
    ++attempt;
    session = Text((*placed)["session"]);
    const int node = (*placed)["node"].get<int>();
    nodes.push_back(node);
    auto url = io::ParseHttpUrl((*placed)["url"].get<std::string>());
    if (!url) return url.error();
    uint64_t paced = offset;
    const auto pace = [&](uint64_t n) { Pace(t0, paced += n, o.max_kbps); };
    auto got = io::HttpFetch(url->first, url->second, offset, etag, fd, o.timeout_ms, pace);
    if (got && got->status / 100 == 2) {
      // A 200 to a Range request: the file changed (If-Range) — start again from 0.
      if (got->status == 200 && offset > 0) {
        if (::ftruncate(fd, 0) != 0 || ::lseek(fd, 0, SEEK_SET) != 0) {
          return Error(Errc::kIo, "cannot rewrite '" + o.out + "'");
        }
        offset = 0;
        paced = 0;
        got = io::HttpFetch(url->first, url->second, 0, "", fd, o.timeout_ms, pace);
        if (!got || got->status / 100 != 2) continue;
        etag = got->etag;  // the version now served
      }
      if (etag.empty()) etag = got->etag;
      offset += got->written;
      if (got->complete) {
        complete = true;
        break;
      }
      last_error = "node " + std::to_string(node) + ": " + got->ended;
    } else {
      last_error = got ? "node " + std::to_string(node) + " answered " +
                             std::to_string(got->status) + ": " + got->text
                       : got.error().message();
    }
    avoid = node;
    ++resumes;
  }
  if (!complete) return Error(Errc::kUnavailable, "the stream did not complete: " + last_error);
  // The bytes assembled, against the digest the servers named.
  wire::Sha256 sha;
  std::vector<uint8_t> buf(1 << 20);
  const int rfd = ::open(o.out.c_str(), O_RDONLY | O_CLOEXEC);
  if (rfd < 0) return Error(Errc::kIo, "cannot read '" + o.out + "'");
  for (ssize_t n; (n = ::read(rfd, buf.data(), buf.size())) > 0;) {
    sha.Update(buf.data(), static_cast<size_t>(n));
  }
  ::close(rfd);
  const std::string digest = wire::DigestToHex(sha.Digest());
  const std::string expected = etag.size() > 9 ? etag.substr(8, etag.size() - 9) : "";
  json doc{{"path", o.path},       {"out", o.out},
           {"bytes", offset},      {"session", session},
           {"nodes", nodes},       {"resumes", resumes},
           {"sha256", digest},     {"verified", digest == expected},
           {"ms", MillisSince(t0)}};
  if (digest != expected) {
    return Error(Errc::kMalformed,
                 "the bytes received hash to " + digest + ", not " +
                     (expected.empty() ? "a digest the servers named" : expected));
  }
  return doc;
}

}  // namespace

void AddStreamCommands(CLI::App& app, const Globals& g, int& rc) {
  auto* content = app.add_subcommand("content", "the content catalog: who holds what (W1)");
  content->require_subcommand(1);
  static std::string prefix, after, path;
  static int node = 0, limit = 0;
  auto* list = content->add_subcommand("list", "paths in order, with every copy and its state");
  list->add_option("--prefix", prefix, "only paths starting with this");
  list->add_option("--after", after, "start after this path (the previous page's `next`)");
  list->add_option("--node", node, "only what this node holds")->check(CLI::Range(1, 65535));
  list->add_option("--limit", limit, "at most this many paths (default 100)")
      ->check(CLI::Range(1, 1000));
  list->callback([&g, &rc] {
    std::string t = "/v1/content?prefix=" + UrlEncode(prefix) + "&after=" + UrlEncode(after);
    if (node != 0) t += "&node=" + std::to_string(node);
    if (limit != 0) t += "&limit=" + std::to_string(limit);
    rc = Print(g, Call{g}.Do("GET", t), PrintContent);
  });
  auto* where = content->add_subcommand("where", "the copies of one path: state, rank, load");
  where->add_option("path", path, "the content path")->required();
  where->callback([&g, &rc] {
    rc = Print(g, Call{g}.Do("GET", "/v1/content/where?path=" + UrlEncode(path)), PrintWhere);
  });

  auto* stream = app.add_subcommand("stream", "stream sessions placed on the nodes (W2, M13)");
  stream->require_subcommand(1);
  static GetOptions get;
  auto* open = stream->add_subcommand("open", "place a session and print its stream URL");
  open->add_option("path", get.path, "the content path")->required();
  open->add_option("--bitrate-kbps", get.bitrate_kbps, "the session's rate (default: the node's)")
      ->check(CLI::Range(1, 100'000'000));
  open->callback([&g, &rc] {
    rc = Print(g, Call{g}.Do("GET", StreamTarget(get.path, get.bitrate_kbps, "", 0, 0)),
               [](const json& d) { std::printf("%s\n", Text(d["url"]).c_str()); });
  });
  auto* ls = stream->add_subcommand("list", "sessions, and each node's load against capacity");
  ls->add_option("--node", node, "only this node's")->check(CLI::Range(1, 65535));
  ls->callback([&g, &rc] {
    rc = Print(g, Call{g}.Do("GET", "/v1/streams" + (node ? "?node=" + std::to_string(node) : "")),
               PrintStreams);
  });
  auto* fetch = stream->add_subcommand(
      "get", "download a stream, resuming on another node if its node fails; verify its digest");
  fetch->add_option("path", get.path, "the content path")->required();
  fetch->add_option("--out", get.out, "the file to write")->required();
  fetch->add_option("--bitrate-kbps", get.bitrate_kbps, "the session's rate")
      ->check(CLI::Range(1, 100'000'000));
  fetch->add_option("--timeout-ms", get.timeout_ms, "a node silent this long is left")
      ->check(CLI::Range(50, 600'000));
  fetch->add_option("--max-kbps", get.max_kbps, "read no faster than this, as a player would")
      ->check(CLI::Range(1, 100'000'000));
  fetch->callback([&g, &rc] {
    rc = Print(g, StreamGet(g, get), [](const json& d) {
      std::printf("%s: %s bytes from node%s %s in %s ms (%s resumes), sha-256 %s verified\n",
                  Text(d["out"]).c_str(), Text(d["bytes"]).c_str(),
                  d["nodes"].size() > 1 ? "s" : "", d["nodes"].dump().c_str(),
                  Text(d["ms"]).c_str(), Text(d["resumes"]).c_str(), Text(d["sha256"]).c_str());
    });
  });
}

}  // namespace cohort::cli
