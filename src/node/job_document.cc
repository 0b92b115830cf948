#include "node/job_document.h"

#include <filesystem>
#include <map>
#include <string_view>
#include <unordered_set>

#include "base/text.h"
#include "distribution/messages.h"
#include "distribution/validate.h"
#include "io/files.h"
#include "io/job_content.h"
#include "node/distributor.h"

namespace cohort::node {

using distribution::Command;
using distribution::CommandKind;
using json = nlohmann::json;

json JobDocument(const distribution::JobTracker& t, const FileDigests& digests, Instant started,
                 Instant now, std::optional<uint64_t> upload_bytes, bool with_commands) {
  json servers = json::array();
  for (const auto& [id, v] : t.servers()) {
    json s{{"id", id},
           {"state", distribution::ServerStateName(v.state)},
           {"bytes", v.offset},
           {"source", v.source == kNoNode ? json(nullptr) : json(v.source)},
           {"rate_bps", static_cast<uint64_t>(v.rate)}};
    // A server that finished shows its average: a transfer shorter than a rate window
    // would otherwise show 0 B/s.
    const double took = (v.completed_at - started).seconds();
    if (v.state == distribution::ServerState::kCompleted && took > 0) {
      s["rate_bps"] = static_cast<uint64_t>(static_cast<double>(v.offset) / took);
    }
    if (!v.error.empty()) s["error"] = EscapeInvalidUtf8(v.error);  // may name a file
    if (v.repairs > 0) s["repairs"] = v.repairs;
    s["commands_done"] = v.commands_done;
    if (v.state == distribution::ServerState::kCompleted) {
      s["completed_s"] = (v.completed_at - started).seconds();
    }
    servers.push_back(std::move(s));
  }
  const distribution::Manifest& m = t.manifest();
  json commands = json::array();
  const auto progress = t.Progress();
  for (size_t i = 0; with_commands && i < m.commands.size(); ++i) {
    const Command& c = m.commands[i];
    json cj = io::CommandJson(c);
    cj["state"] =
        distribution::CommandStateName(distribution::CommandStateOf(i, progress, t.State()));
    if (c.kind == CommandKind::kFile && i < digests.size() && digests[i]) {
      cj["sha256"] = wire::DigestToHex(*digests[i]);
    }
    commands.push_back(std::move(cj));
  }
  json doc{{"id", m.job},
           {"state", distribution::JobStateName(t.State())},
           {"final", t.Final()},
           {"base", m.base},
           {"size", m.StreamSize()},
           {"elapsed_s", (now - started).seconds()},
           {"servers", std::move(servers)},
           {"command_count", m.commands.size()}};
  if (with_commands) doc["commands"] = std::move(commands);
  io::SetPath(doc, m.dest, "dest");
  // An upload's progress: where the client resumes after an error.
  if (upload_bytes) doc["upload_bytes"] = *upload_bytes;
  if (t.cancelled()) doc["error"] = EscapeInvalidUtf8(t.cancel_reason());
  return doc;
}

std::string DocumentText(const json& doc, int indent) {
  return doc.dump(indent, ' ', false, json::error_handler_t::replace);
}

std::string CommandsLogLine(const std::vector<Command>& commands, size_t from,
                            const std::vector<std::string>& sources) {
  json line{{"commands", json::array()}, {"sources_hex", json::array()}};
  for (size_t i = from; i < commands.size(); ++i) {
    line["commands"].push_back(io::CommandJson(commands[i]));
    if (i < sources.size()) line["sources_hex"].push_back(ToHex(sources[i]));
  }
  return DocumentText(line) + "\n";
}

std::string DigestsLogLine(const std::vector<std::pair<uint32_t, wire::Sha256Digest>>& digests) {
  json list = json::array();
  for (const auto& [id, digest] : digests) list.push_back({id, wire::DigestToHex(digest)});
  return DocumentText(json{{"digests", std::move(list)}}) + "\n";
}

namespace {

// The log's lines merged into `doc` (see ReadSavedJob).
Status MergeLog(json& doc, const std::string& log) {
  json commands = json::array(), sources = json::array();
  std::map<uint32_t, std::string> digests;
  size_t at = 0;
  while (at < log.size()) {
    const size_t end = log.find('\n', at);
    if (end == std::string::npos) break;  // cut short: never acknowledged, left out
    const json line = json::parse(log.substr(at, end - at), nullptr, false);
    at = end + 1;
    if (line.is_object() && line.contains("commands") && line["commands"].is_array() &&
        line.value("sources_hex", json::array()).is_array()) {
      for (const auto& c : line["commands"]) commands.push_back(c);
      for (const auto& h : line.value("sources_hex", json::array())) sources.push_back(h);
    } else if (line.is_object() && line.contains("digests") && line["digests"].is_array()) {
      for (const auto& d : line["digests"]) {
        if (!d.is_array() || d.size() != 2 || !d[0].is_number_unsigned() || !d[1].is_string()) {
          return Error(Errc::kMalformed, "a damaged digest in the job's log");
        }
        digests[d[0].get<uint32_t>()] = d[1].get<std::string>();
      }
    } else {
      return Error(Errc::kMalformed, "a damaged line in the job's log");
    }
  }
  for (auto& c : commands) {
    if (!c.is_object() || !c.contains("id") || !c["id"].is_number_unsigned()) {
      return Error(Errc::kMalformed, "a damaged command in the job's log");
    }
    auto d = digests.find(c["id"].get<uint32_t>());
    if (d != digests.end()) c["sha256"] = d->second;
  }
  doc["commands"] = std::move(commands);
  doc["sources_hex"] = std::move(sources);
  return OkStatus();
}

// Each command's "state", from the servers' progress the summary holds.
void AddCommandStates(json& doc) {
  std::vector<distribution::ServerProgress> progress;
  for (const auto& s : doc.value("servers", json::array())) {
    auto state = distribution::ServerStateFromName(s.value("state", ""));
    progress.push_back(
        {s.value("commands_done", uint32_t{0}), state.value_or(distribution::ServerState::kNew)});
  }
  const auto job = distribution::JobStateFromName(doc.value("state", ""))
                       .value_or(distribution::JobState::kFailed);
  json& commands = doc["commands"];
  for (size_t i = 0; i < commands.size(); ++i) {
    commands[i]["state"] =
        distribution::CommandStateName(distribution::CommandStateOf(i, progress, job));
  }
}

}  // namespace

Result<json> ReadSavedJob(const std::string& dir, const std::string& id) {
  const std::string path = dir + "/" + id + ".json";
  auto text = io::ReadFile(path);
  if (!text) return text.error();
  json doc = json::parse(*text, nullptr, false);
  if (!doc.is_object() || doc.value("id", json()) != id || !doc.contains("state") ||
      !doc["state"].is_string() || !doc.value("servers", json()).is_array()) {
    return Error(Errc::kMalformed, "damaged job document " + path);
  }
  if (doc.contains("commands")) return doc;  // an earlier version's, whole
  auto log = io::ReadFile(dir + "/" + id + ".log");
  if (!log) return log.error();
  try {
    if (auto s = MergeLog(doc, *log); !s) {
      return Error(Errc::kMalformed, dir + "/" + id + ".log: " + s.error().message());
    }
    AddCommandStates(doc);
  } catch (const json::exception& e) {
    return Error(Errc::kMalformed, dir + "/" + id + ".log: " + e.what());
  }
  return doc;
}

std::pair<std::string, std::string> FinishedTexts(json doc) {
  doc.erase("sources");
  doc.erase("sources_hex");
  std::string whole = DocumentText(doc);
  if (doc.contains("commands") && doc["commands"].is_array()) {
    doc["command_count"] = doc["commands"].size();
    doc.erase("commands");
  }
  return {std::move(whole), DocumentText(doc)};
}

Result<SavedJob> ParseSavedJob(const json& doc, NodeId self) {
  SavedJob saved;
  distribution::Manifest& m = saved.manifest;
  try {
    m.job = doc.at("id").get<std::string>();
    m.base = self;
    auto dest = io::PathOf(doc, "dest");
    if (!dest) return dest.error();
    m.dest = std::move(*dest);
    std::vector<Command> commands;
    for (const auto& c : doc.at("commands")) {
      auto x = io::CommandFromJson(c);
      if (!x) return x.error();
      commands.push_back(std::move(*x));
      saved.digests.push_back(wire::DigestFromHex(c.value("sha256", "")));
    }
    m.commands = std::move(commands);
    if (auto s = distribution::CheckManifest(m); !s) {
      return Error(Errc::kMalformed, "damaged job document: " + s.error().message());
    }
    for (const auto& s : doc.at("servers")) saved.servers.push_back(s.at("id").get<NodeId>());
    // Exact bytes in "sources_hex" (file names need not be UTF-8); "sources" before that.
    if (doc.contains("sources_hex")) {
      for (const auto& hex : doc.at("sources_hex")) {
        auto bytes = FromHex(hex.get<std::string>());
        if (!bytes) return Error(Errc::kMalformed, "damaged job document: bad 'sources_hex'");
        saved.sources.push_back(std::move(*bytes));
      }
    } else {
      saved.sources = doc.at("sources").get<std::vector<std::string>>();
    }
    saved.upload = doc.contains("upload_bytes");
    saved.elapsed_s = doc.value("elapsed_s", 0.0);
  } catch (const json::exception& e) {
    return Error(Errc::kMalformed, std::string("damaged job document: ") + e.what());
  }
  return saved;
}

Result<std::vector<Command>> CollectContent(const JobContent& content,
                                            std::vector<std::string>* sources) {
  if (content.upload) {
    if (!content.paths.empty()) {
      return Error(Errc::kInvalidArgument, "an upload names entries, not paths");
    }
    for (const Command& c : content.entries) {
      if (c.kind == CommandKind::kEnd) {
        return Error(Errc::kInvalidArgument, "entries are files and folders ('end' ends)");
      }
    }
    return content.entries;
  }
  if (!content.entries.empty()) {
    return Error(Errc::kInvalidArgument, "entries come with an upload");
  }
  std::vector<Command> commands;
  for (const auto& p : content.paths) {
    auto s = io::CollectPath(p, std::filesystem::path(p).filename().string(), &commands, sources);
    if (!s) return s.error();
  }
  return commands;
}

Status NumberCommands(std::vector<Command>& commands, const std::vector<Command>& existing,
                      uint32_t next_id) {
  std::unordered_set<std::string_view> files;
  for (const auto& c : existing) {
    if (c.kind == CommandKind::kFile) files.insert(c.path);
  }
  for (auto& c : commands) {
    if (c.kind == CommandKind::kFile && !files.insert(c.path).second) {
      return Error(Errc::kAlreadyExists, c.path + " is already in the job");
    }
    c.id = next_id++;
  }
  return OkStatus();
}

namespace {

std::string Record(const distribution::Message& m) {
  const wire::Bytes b = distribution::Encode(m);
  std::string record(4, '\0');
  for (int i = 0; i < 4; ++i) record[i] = static_cast<char>((b.size() >> (8 * i)) & 0xff);
  return record.append(b.begin(), b.end());
}

}  // namespace

std::string ManifestFileText(const distribution::Manifest& manifest) {
  return Record(distribution::OfferMsg{manifest, {}, 0});
}

std::string ManifestMoreText(const std::vector<Command>& more) {
  return Record(distribution::CommandsMsg{more});
}

std::optional<distribution::Manifest> LoadManifestFile(const std::string& path,
                                                       const std::string& job) {
  auto saved = io::ReadFile(path);
  if (!saved) return std::nullopt;
  std::optional<distribution::Manifest> manifest;
  size_t at = 0;
  while (at + 4 <= saved->size()) {
    size_t n = 0;
    for (int i = 0; i < 4; ++i) n |= size_t{static_cast<uint8_t>((*saved)[at + i])} << (8 * i);
    if (n > saved->size() - at - 4) break;  // cut short: never acknowledged, left out
    auto m = distribution::Decode(
        wire::ByteView(reinterpret_cast<const uint8_t*>(saved->data() + at + 4), n));
    at += 4 + n;
    auto* offer = m && !manifest ? std::get_if<distribution::OfferMsg>(&*m) : nullptr;
    auto* more = m && manifest ? std::get_if<distribution::CommandsMsg>(&*m) : nullptr;
    if (offer) {
      manifest = std::move(offer->manifest);
    } else if (!more || !distribution::CheckCommands(manifest->commands, more->commands) ||
               !manifest->Append(more->commands)) {
      return std::nullopt;
    }
  }
  if (!manifest || manifest->job != job || !distribution::CheckManifest(*manifest)) {
    return std::nullopt;
  }
  return manifest;
}

}  // namespace cohort::node
