#include "node/job_document.h"

#include <filesystem>
#include <set>

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
    if (v.state == distribution::ServerState::kCompleted) {
      s["completed_s"] = (v.completed_at - started).seconds();
    }
    servers.push_back(std::move(s));
  }
  const distribution::Manifest& m = t.manifest();
  json commands = json::array();
  for (size_t i = 0; with_commands && i < m.commands.size(); ++i) {
    const Command& c = m.commands[i];
    json cj = io::CommandJson(c);
    cj["state"] = distribution::CommandStateName(t.StateOf(i));
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

void AddSources(json& doc, const std::vector<std::string>& sources) {
  json hex = json::array();
  for (const auto& s : sources) hex.push_back(ToHex(s));
  doc["sources_hex"] = std::move(hex);
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

Result<std::vector<Command>> CollectCommands(const JobContent& content,
                                             const std::vector<Command>& existing, uint32_t next_id,
                                             std::vector<std::string>* sources) {
  std::vector<Command> commands;
  if (content.upload) {
    if (!content.paths.empty()) {
      return Error(Errc::kInvalidArgument, "an upload names entries, not paths");
    }
    for (const Command& c : content.entries) {
      if (c.kind == CommandKind::kEnd) {
        return Error(Errc::kInvalidArgument, "entries are files and folders ('end' ends)");
      }
    }
    commands = content.entries;
  } else {
    if (!content.entries.empty()) {
      return Error(Errc::kInvalidArgument, "entries come with an upload");
    }
    for (const auto& p : content.paths) {
      auto s = io::CollectPath(p, std::filesystem::path(p).filename().string(), &commands, sources);
      if (!s) return s.error();
    }
  }
  std::set<std::string> files;
  for (const auto& c : existing) {
    if (c.kind == CommandKind::kFile) files.insert(c.path);
  }
  for (auto& c : commands) {
    if (c.kind == CommandKind::kFile && !files.insert(c.path).second) {
      return Error(Errc::kAlreadyExists, c.path + " is already in the job");
    }
    c.id = next_id++;
  }
  return commands;
}

std::string ManifestFileText(const distribution::Manifest& manifest) {
  const wire::Bytes b = distribution::Encode(distribution::OfferMsg{manifest, {}, 0});
  return std::string(b.begin(), b.end());
}

std::optional<distribution::Manifest> LoadManifestFile(const std::string& path,
                                                       const std::string& job) {
  auto saved = io::ReadFile(path);
  if (!saved) return std::nullopt;
  auto m = distribution::Decode(
      wire::ByteView(reinterpret_cast<const uint8_t*>(saved->data()), saved->size()));
  auto* offer = m ? std::get_if<distribution::OfferMsg>(&*m) : nullptr;
  if (!offer || offer->manifest.job != job || !distribution::CheckManifest(offer->manifest)) {
    return std::nullopt;
  }
  return std::move(offer->manifest);
}

}  // namespace cohort::node
