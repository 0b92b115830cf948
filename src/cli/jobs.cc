// `cohort distribute`, `cohort job list|show|wait|end` and `cohort ctp ...` (INTERFACE.md):
// content distribution through the local daemon, which is the job's base server.
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <thread>

#include "cli/call.h"
#include "cli/job_print.h"
#include "io/files.h"
#include "io/job_content.h"

namespace cohort::cli {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

void PrintLines(const std::vector<std::string>& lines) {
  for (const auto& l : lines) std::printf("%s\n", l.c_str());
}
void PrintJob(const json& job) { PrintLines(JobLines(job)); }
void PrintJobList(const json& list) { PrintLines(JobListLines(list)); }

constexpr int kListingTimeoutMs = 300000;

// Polls the job until `done(job)`; on a terminal, redraws the server lines in place.
constexpr int kCommandsShown = 200;

Result<json> Follow(const Globals& g, const std::string& id, bool show, double timeout_s,
                    const std::function<bool(const json&)>& done) {
  const bool tty = show && !g.json && ::isatty(STDOUT_FILENO);
  const auto start = std::chrono::steady_clock::now();
  size_t drawn = 0;
  auto last_plain = start;
  bool first = true;
  for (;;) {
    // A long poll: back at once when a server's state changes, else after 250 ms to redraw.
    // The summary: a job of many files has a large document, fetched whole once at the end.
    auto job = Call{g}.Do("GET", "/v1/jobs/" + id + "?commands=0" + (first ? "" : "&wait_ms=250"));
    first = false;
    if (!job) return job;
    if (tty) {
      if (drawn > 0) std::printf("\033[%zuA", drawn);
      auto lines = ServerLines(*job);
      for (const auto& l : lines) std::printf("\033[K%s\n", l.c_str());
      drawn = lines.size();
      std::fflush(stdout);
    } else if (show && !g.json &&
               std::chrono::steady_clock::now() - last_plain > std::chrono::seconds(5)) {
      last_plain = std::chrono::steady_clock::now();
      int done_count = 0;
      for (const auto& s : (*job)["servers"]) done_count += s["state"] == "completed";
      std::printf("%s: %d/%zu servers completed\n", id.c_str(), done_count,
                  (*job)["servers"].size());
      std::fflush(stdout);
    }
    // The whole document at the end, unless it lists more commands than a screen shows
    // and is not asked for as JSON (the base builds it for the answer).
    if (done(*job)) {
      if (!g.json && job->value("command_count", 0) > kCommandsShown) return job;
      return Call{g}.Do("GET", "/v1/jobs/" + id);
    }
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (timeout_s > 0 && elapsed > timeout_s) {
      return Error(Errc::kTimeout, "job " + id + " still " + (*job)["state"].get<std::string>() +
                                       " after " + std::to_string(static_cast<int>(timeout_s)) +
                                       " s");
    }
  }
}

int Finish(const Globals& g, const Result<json>& job) {
  if (!job) return Fail(1, job.error().message());
  if (g.json) {
    std::printf("%s\n", job->dump(2).c_str());
  } else {
    PrintJob(*job);
  }
  return (*job)["state"] == "completed" ? 0 : 1;
}

std::string B64(const std::string& bytes) {
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);
  return out;
}

std::string Unb64(const std::string& text) {
  std::string out(text.size(), '\0');
  size_t n = 0;
  sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                    text.size(), nullptr, &n, nullptr, sodium_base64_VARIANT_ORIGINAL);
  out.resize(n);
  return out;
}

int CtpGet(const Globals& g, int node, const std::string& path, std::string out) {
  if (out.empty()) out = fs::path(path).filename().string();
  const std::string temp = out + ".cohort-get";
  FILE* f = std::fopen(temp.c_str(), "wb");
  if (!f) return Fail(1, temp + ": " + std::strerror(errno));
  uint64_t offset = 0;
  json stat;
  for (;;) {
    auto r = Call{g}.Do("GET", "/v1/ctp?op=get&node=" + std::to_string(node) + "&path=" +
                                   UrlEncode(path) + "&offset=" + std::to_string(offset));
    if (!r) {
      std::fclose(f);
      ::unlink(temp.c_str());
      return Fail(1, r.error().message());
    }
    std::string data = Unb64(r->value("data_base64", ""));
    std::fwrite(data.data(), 1, data.size(), f);
    offset += data.size();
    stat = *r;
    if (data.empty() || offset >= stat.value("size", uint64_t{0})) break;
  }
  std::fclose(f);
  ::chmod(temp.c_str(), stat.value("mode", 0644u));
  const int64_t mtime = stat.value("mtime_ns", int64_t{0});
  struct timespec times[2] = {{mtime / 1000000000, mtime % 1000000000},
                              {mtime / 1000000000, mtime % 1000000000}};
  ::utimensat(AT_FDCWD, temp.c_str(), times, 0);
  if (std::rename(temp.c_str(), out.c_str()) != 0)
    return Fail(1, out + ": " + std::strerror(errno));
  if (!g.json)
    std::printf("%s: %llu bytes from n%d:%s\n", out.c_str(),
                static_cast<unsigned long long>(offset), node, path.c_str());
  return 0;
}

int CtpPut(const Globals& g, int node, const std::string& path, const std::string& from) {
  struct stat st {};
  if (::stat(from.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return Fail(1, from + ": not a readable file");
  }
  auto content = io::ReadFile(from);
  if (!content) return Fail(1, content.error().message());
  const size_t chunk = 192 * 1024;  // base64 of it stays under the API's body limit
  uint64_t offset = 0;
  do {
    std::string part = content->substr(offset, chunk);
    const bool last = offset + part.size() >= content->size();
    json body{{"node", node},
              {"op", "put"},
              {"path", path},
              {"offset", offset},
              {"last", last},
              {"mode", st.st_mode & 07777},
              {"mtime_ns", int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec},
              {"data_base64", B64(part)}};
    auto r = Call{g}.Do("POST", "/v1/ctp", body, true);
    if (!r) return Fail(1, r.error().message());
    offset += part.size();
  } while (offset < content->size());
  if (!g.json)
    std::printf("n%d:%s: %llu bytes from %s\n", node, path.c_str(),
                static_cast<unsigned long long>(offset), from.c_str());
  return 0;
}

std::string AbsolutePath(const std::string& p) {
  std::string abs = fs::absolute(p).lexically_normal().string();
  if (abs.size() > 1 && abs.back() == '/') abs.pop_back();  // "dir/" names the folder "dir"
  return abs;
}

json AbsolutePaths(const std::vector<std::string>& paths) {
  json out = json::array();
  for (const auto& p : paths) out.push_back(AbsolutePath(p));
  return out;
}

// D4 from the client's side: its files and folders as the entries of an upload job, and
// the files whose bytes follow, in stream order.
struct Upload {
  bool active = false;                                  // false: the daemon reads the paths itself
  std::vector<std::pair<std::string, uint64_t>> files;  // source path and size
  uint64_t size = 0;
};

Result<Upload> CollectUpload(const std::vector<std::string>& paths, json* entries) {
  Upload u;
  for (const auto& p : paths) {
    const std::string abs = AbsolutePath(p);
    std::vector<distribution::Command> commands;
    std::vector<std::string> sources;
    if (auto s = io::CollectPath(abs, fs::path(abs).filename().string(), &commands, &sources); !s) {
      return s.error();
    }
    for (size_t i = 0; i < commands.size(); ++i) {
      json e = io::CommandJson(commands[i]);
      e.erase("id");  // the base numbers the job's commands
      entries->push_back(std::move(e));
      if (commands[i].kind != distribution::CommandKind::kFile) continue;
      u.files.emplace_back(sources[i], commands[i].size);
      u.size += commands[i].size;
    }
  }
  return u;
}

// Streams the upload's bytes, which begin at stream offset `base` of job `id`, in chunks
// under the API's body limit. After an error it asks the base how far it got and goes on
// from there (D13), a few times before it gives up.
Status SendUpload(const Globals& g, const std::string& id, const Upload& u, uint64_t base) {
  if (!u.active) return OkStatus();
  constexpr uint64_t kChunk = 512 * 1024;
  constexpr int kAttempts = 5;
  const bool tty = !g.json && ::isatty(STDOUT_FILENO);
  Call call{g};
  uint64_t at = 0;  // bytes of this upload the base holds
  int failures = 0;
  std::string chunk;
  const auto start = std::chrono::steady_clock::now();
  auto last_draw = start;
  while (at < u.size) {
    size_t file = 0;
    uint64_t file_start = 0;
    while (file_start + u.files[file].second <= at) file_start += u.files[file++].second;
    const auto& [path, size] = u.files[file];
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Error(Errc::kIo, path + ": " + std::strerror(errno));
    chunk.resize(std::min(kChunk, file_start + size - at));
    const ssize_t n = ::pread(fd, chunk.data(), chunk.size(), static_cast<off_t>(at - file_start));
    ::close(fd);
    if (n != static_cast<ssize_t>(chunk.size())) {
      return Error(Errc::kIo, path + ": shorter than when the job was created");
    }
    auto r = call.Send("PUT", "/v1/jobs/" + id + "/stream?offset=" + std::to_string(base + at),
                       chunk, true, 30000);
    if (r) {
      failures = 0;
    } else {
      if (++failures >= kAttempts) {
        return Error(r.error().code(), "the upload of job " + id + " stopped at " + Bytes(at) +
                                           " of " + Bytes(u.size) + ": " + r.error().message());
      }
      std::this_thread::sleep_for(std::chrono::seconds(1));  // let a restarting base come back
      auto doc = call.Do("GET", "/v1/jobs/" + id);
      if (doc) r = json{{"upload_bytes", doc->value("upload_bytes", base + at)}};
    }
    if (r) at = std::max<uint64_t>((*r)["upload_bytes"].get<uint64_t>(), base) - base;
    const auto now = std::chrono::steady_clock::now();
    if (tty && (now - last_draw > std::chrono::milliseconds(250) || at >= u.size)) {
      last_draw = now;
      const double s = std::chrono::duration<double>(now - start).count();
      std::printf("\r\033[Kuploaded %s of %s (%s/s)", Bytes(at).c_str(), Bytes(u.size).c_str(),
                  Bytes(s > 0 ? at / s : 0).c_str());
      if (at >= u.size) std::printf("\n");
      std::fflush(stdout);
    }
  }
  return OkStatus();
}

// The request body's content: the files' paths, read by a daemon on this machine, or (for
// a daemon elsewhere, or with --upload) upload entries whose bytes SendUpload streams.
Result<json> ContentBody(const Globals& g, const std::vector<std::string>& paths, bool upload,
                         Upload* u) {
  if (!upload && (g.api.ip >> 24) == 127) return json{{"paths", AbsolutePaths(paths)}};
  json entries = json::array();
  auto collected = CollectUpload(paths, &entries);
  if (!collected) return collected.error();
  *u = std::move(*collected);
  u->active = true;
  return json{{"upload", true}, {"entries", std::move(entries)}};
}

}  // namespace

namespace {

// The options of the distribution and CTP commands (CLI11 binds them by address).
struct JobOptions {
  std::vector<std::string> paths;
  std::string dest, servers = "all", id, out, from, path, reason;
  bool no_wait = false, recursive = false, open = false, upload = false;
  double timeout = 0;
  int node = 0;
};

int Distribute(const Globals& g, const JobOptions& o) {
  Upload upload;
  auto content = ContentBody(g, o.paths, o.upload, &upload);
  if (!content) {
    return Fail(1, content.error().message());
  }
  json body = *content;
  body["dest"] = o.dest;
  body["open"] = o.open;
  if (o.servers != "all") {
    body["servers"] = json::array();
    std::stringstream ss(o.servers);
    for (std::string id; std::getline(ss, id, ',');) {
      try {
        body["servers"].push_back(std::stoi(id));
      } catch (...) {
        return Fail(2, "--servers: expected all or a list of node ids, got '" + o.servers + "'");
      }
    }
  }
  // The document is printed whole only with --no-wait or --open (a job of many files
  // makes a large one); otherwise its summary gives the id and size.
  const bool printed = o.no_wait || o.open;
  auto job = Call{g}.Do("POST", printed ? "/v1/jobs" : "/v1/jobs?commands=0", body, true);
  if (!job) {
    return Fail(1, job.error().message());
  }
  const std::string id = (*job)["id"];
  if (auto s = SendUpload(g, id, upload, 0); !s) {
    return Fail(1, s.error().message());
  }
  if (printed) {
    if (g.json)
      std::printf("%s\n", job->dump(2).c_str());
    else
      std::printf("%s\n", id.c_str());
    return 0;
  }
  if (!g.json) {
    std::printf("job %s: %s to %zu servers\n", id.c_str(),
                Bytes((*job)["size"].get<double>()).c_str(), (*job)["servers"].size());
  }
  return Finish(
      g, Follow(g, id, true, o.timeout, [](const json& j) { return j["state"] != "running"; }));
}

void AddDistribute(CLI::App& app, const Globals& g, int& rc, JobOptions& o) {
  auto* dist = app.add_subcommand(
      "distribute", "send files or folders to servers (peer to peer, pipelined, verified)");
  dist->add_option("paths", o.paths, "files or folders on this machine")->required();
  dist->add_option("--dest", o.dest, "folder under each server's content root")->required();
  dist->add_option("--servers", o.servers, "all (the members that are up) or ID,ID,...");
  dist->add_flag("--no-wait", o.no_wait, "print the job id and return");
  dist->add_flag("--open", o.open,
                 "keep the job open for 'cohort job add' until 'cohort job end' (implies "
                 "--no-wait)");
  dist->add_flag("--upload", o.upload,
                 "stream the files' bytes through the API (the default when the daemon is not on "
                 "127.0.0.0/8); else the daemon reads them from this machine's disk");
  dist->add_option("--timeout", o.timeout, "give up waiting after this many seconds");
  dist->callback([&rc, &g, &o] { rc = Distribute(g, o); });
}

void AddJobSubcommands(CLI::App& app, const Globals& g, int& rc, JobOptions& o) {
  auto* job = app.add_subcommand("job", "distribution jobs on this base server");
  job->require_subcommand(1);
  job->add_subcommand("list", "every job this node is base server for")->callback([&rc, &g] {
    // Summaries unless --json asks for the documents.
    rc = Print(g, Call{g}.Do("GET", g.json ? "/v1/jobs" : "/v1/jobs?commands=0"), PrintJobList);
  });
  auto* show = job->add_subcommand("show", "a job: every server's and command's state");
  show->add_option("id", o.id, "job id")->required();
  show->callback([&rc, &g, &o] { rc = Print(g, Call{g}.Do("GET", "/v1/jobs/" + o.id), PrintJob); });
  auto* wait = job->add_subcommand(
      "wait", "wait until the job is final (completed, or failed with no repair left)");
  wait->add_option("id", o.id, "job id")->required();
  wait->add_option("--timeout", o.timeout, "seconds (default: no limit)");
  wait->callback([&rc, &g, &o] {
    rc = Finish(g, Follow(g, o.id, false, o.timeout, [](const json& j) {
                  return j["state"] == "completed" || j.value("final", true);
                }));
  });
  auto* add_cmd = job->add_subcommand(
      "add", "add files or folders to an open job (D10): they follow the content sent so far");
  add_cmd->add_option("id", o.id, "job id")->required();
  add_cmd->add_option("paths", o.paths, "files or folders on this machine")->required();
  add_cmd->add_flag("--upload", o.upload, "stream the files' bytes (as with distribute)");
  add_cmd->callback([&rc, &g, &o] {
    Upload upload;
    auto content = ContentBody(g, o.paths, o.upload, &upload);
    if (!content) {
      rc = Fail(1, content.error().message());
      return;
    }
    auto added = Call{g}.Do("POST", "/v1/jobs/" + o.id + "/commands", *content, true);
    if (added && upload.active) {
      // The added bytes follow what the job held before: they end its stream.
      const uint64_t size = (*added)["size"].get<uint64_t>();
      if (auto s = SendUpload(g, o.id, upload, size - upload.size); !s) {
        rc = Fail(1, s.error().message());
        return;
      }
      added = Call{g}.Do("GET", "/v1/jobs/" + o.id);
    }
    rc = Print(g, added, PrintJob);
  });
  auto* end = job->add_subcommand("end", "end the job: no more commands, no more repairs");
  end->add_option("id", o.id, "job id")->required();
  end->callback([&rc, &g, &o] {
    rc = Print(g, Call{g}.Do("POST", "/v1/jobs/" + o.id + "/end", json::object(), true), PrintJob);
  });

  auto* cancel = job->add_subcommand(
      "cancel", "stop the job everywhere: partial files deleted, installed ones kept");
  cancel->add_option("id", o.id, "job id")->required();
  cancel->add_option("--reason", o.reason, "what the job document and the logs say")
      ->default_str("cancelled by the operator");
  cancel->callback([&rc, &g, &o] {
    json body{{"reason", o.reason.empty() ? "cancelled by the operator" : o.reason}};
    rc = Print(g, Call{g}.Do("POST", "/v1/jobs/" + o.id + "/cancel", body, true), PrintJob);
  });
}

void AddCtpCommands(CLI::App& app, const Globals& g, int& rc, JobOptions& o) {
  auto* ctp = app.add_subcommand("ctp", "command transfer protocol: a node's content root (D3)");
  ctp->require_subcommand(1);
  auto add = [&](const char* name, const char* help) {
    auto* c = ctp->add_subcommand(name, help);
    c->add_option("node", o.node, "node id")->required();
    c->add_option("path", o.path, "path under the node's content root")->required();
    return c;
  };
  auto* ls = add("ls", "list a folder");
  ls->add_flag("-r,--recursive", o.recursive, "the whole tree");
  ls->callback([&rc, &g, &o] {
    // A recursive listing of a large tree comes in many pages (each asked with a 30 s
    // bound): the answer may take longer than other requests.
    const int timeout_ms = o.recursive ? kListingTimeoutMs : 10000;
    rc = Print(g,
               Call{g}.Do("GET",
                          "/v1/ctp?op=ls&node=" + std::to_string(o.node) +
                              "&path=" + UrlEncode(o.path) + (o.recursive ? "&recursive=1" : ""),
                          json(), false, timeout_ms),
               [](const json& list) {
                 for (const auto& e : list) {
                   std::printf("%-7s %04o %12s  %s\n", e["type"].get<std::string>().c_str(),
                               e["mode"].get<unsigned>(), e["size"].dump().c_str(),
                               e["name"].get<std::string>().c_str());
                 }
               });
  });
  add("stat", "type, size, mode, mtime, owner")->callback([&rc, &g, &o] {
    rc = Print(g,
               Call{g}.Do("GET", "/v1/ctp?op=stat&node=" + std::to_string(o.node) +
                                     "&path=" + UrlEncode(o.path)),
               [](const json& e) { std::printf("%s\n", e.dump(2).c_str()); });
  });
  auto* get = add("get", "download a file with its mode and mtime");
  get->add_option("--out", o.out, "local file (default: the file's name)");
  get->callback([&rc, &g, &o] { rc = CtpGet(g, o.node, o.path, o.out); });
  auto* put = add("put", "upload a file with its mode and mtime (installed atomically)");
  put->add_option("--from", o.from, "local file")->required();
  put->callback([&rc, &g, &o] { rc = CtpPut(g, o.node, o.path, o.from); });
  auto simple = [&](const char* name, const char* help, const char* op) {
    auto* c = add(name, help);
    c->add_flag("-r,--recursive", o.recursive, "with everything inside");
    c->callback([&rc, &g, &o, op] {
      rc = Print(
          g,
          Call{g}.Do(
              "POST", "/v1/ctp",
              json{{"node", o.node}, {"op", op}, {"path", o.path}, {"recursive", o.recursive}},
              true),
          [op, &o](const json&) { std::printf("%s %s: ok\n", op, o.path.c_str()); });
    });
  };
  simple("mkdir", "create a folder (and its parents)", "mkdir");
  simple("rm", "delete a file (or a folder with -r)", "rm");
}

}  // namespace

void AddJobCommands(CLI::App& app, const Globals& g, int& rc) {
  static JobOptions o;
  AddDistribute(app, g, rc, o);
  AddJobSubcommands(app, g, rc, o);
  AddCtpCommands(app, g, rc, o);
}

}  // namespace cohort::cli
