#include "dcm/define_wire.h"

#include <nlohmann/json.hpp>

#include "wire/aead.h"
#include "wire/sha256.h"

namespace cohort::dcm {
namespace {

using nlohmann::json;

constexpr std::string_view kMagic = "CJ1";
constexpr size_t kHeader = 4;  // magic and direction
constexpr size_t kMaxText = 64 * 1024;

std::string Seal(const wire::Key& key, char direction, const std::string& text) {
  const wire::Key random = wire::GenerateKey();  // 32 bytes from the OS; 12 make the nonce
  std::string out(kMagic);
  out += direction;
  out.append(reinterpret_cast<const char*>(random.data()), wire::kAeadNonceSize);
  const size_t at = out.size();
  out.resize(at + text.size() + wire::kAeadTagSize);
  auto* bytes = reinterpret_cast<uint8_t*>(out.data());
  wire::AeadSeal(wire::Cipher::kAes256Gcm, key.data(), random.data(),
                 wire::ByteView(bytes, kHeader), reinterpret_cast<const uint8_t*>(text.data()),
                 text.size(), bytes + at);
  return out;
}

Result<std::string> Open(const wire::Key& key, char direction, std::string_view sealed) {
  const size_t min = kHeader + wire::kAeadNonceSize + wire::kAeadTagSize;
  if (sealed.size() < min || sealed.size() > min + kMaxText ||
      sealed.substr(0, kMagic.size()) != kMagic || sealed[3] != direction) {
    return Error(Errc::kMalformed, "not a sealed definition message");
  }
  const auto* bytes = reinterpret_cast<const uint8_t*>(sealed.data());
  const size_t size = sealed.size() - min;
  std::string text(size, '\0');
  if (!wire::AeadOpen(wire::Cipher::kAes256Gcm, key.data(), bytes + kHeader,
                      wire::ByteView(bytes, kHeader), bytes + kHeader + wire::kAeadNonceSize, size,
                      reinterpret_cast<uint8_t*>(text.data()))) {
    return Error(Errc::kPermission,
                 "the message does not open with this key (a wrong or expired join token, or "
                 "another cluster's key?)");
  }
  return text;
}

// Field readers for untrusted JSON: a missing or mistyped field is an error, never a throw.
struct Fields {
  const json& doc;
  std::string bad;
  std::string Text(const char* k, bool required = true) {
    if (doc.contains(k) && doc[k].is_string()) return doc[k].get<std::string>();
    if (required && bad.empty()) bad = std::string("'") + k + "' must be a string";
    return "";
  }
  int64_t Number(const char* k, int64_t lo, int64_t hi, int64_t absent) {
    if (!doc.contains(k)) return absent;
    if (doc[k].is_number_integer()) {
      const int64_t v = doc[k].get<int64_t>();
      if (v >= lo && v <= hi) return v;
    }
    if (bad.empty()) bad = std::string("'") + k + "' is out of range";
    return absent;
  }
  bool Flag(const char* k) {
    if (!doc.contains(k)) return false;
    if (doc[k].is_boolean()) return doc[k].get<bool>();
    if (bad.empty()) bad = std::string("'") + k + "' must be true or false";
    return false;
  }
  const json& Array(const char* k) {
    static const json empty = json::array();
    if (!doc.contains(k)) return empty;
    if (doc[k].is_array()) return doc[k];
    if (bad.empty()) bad = std::string("'") + k + "' must be a list";
    return empty;
  }
};

Status ReadCommit(Fields& f, DefineMessage& m) {
  m.name = f.Text("name");
  m.uid = f.Text("uid");
  m.key = f.Text("key");
  m.registry_heartbeat_ms =
      static_cast<uint32_t>(f.Number("registry_heartbeat_ms", 1, 60'000, 100));
  m.registry_election_ms =
      static_cast<uint32_t>(f.Number("registry_election_ms", 5, 600'000, 1000));
  for (const json& p : f.Array("priority")) {
    if (!p.is_number_unsigned() || p.get<uint64_t>() == 0 || p.get<uint64_t>() > 65535) {
      return Error(Errc::kMalformed, "bad priority entry " + p.dump());
    }
    m.priority.push_back(p.get<NodeId>());
  }
  for (const json& s : f.Array("seeds")) {
    auto e = Endpoint::Parse(s.is_string() ? s.get<std::string>() : "");
    if (!e) return Error(Errc::kMalformed, "bad seed " + s.dump());
    m.seeds.push_back(*e);
  }
  for (const json& s : f.Array("registry_servers")) {
    if (!s.is_object()) return Error(Errc::kMalformed, "bad registry server " + s.dump());
    Fields r{s, ""};
    const int64_t id = r.Number("id", 1, 65535, 0);
    auto client = Endpoint::Parse(r.Text("client"));
    auto peer = Endpoint::Parse(r.Text("peer"));
    if (id == 0 || !client || !peer || !r.bad.empty()) {
      return Error(Errc::kMalformed, "bad registry server " + s.dump());
    }
    m.registry_servers.push_back({static_cast<NodeId>(id), *client, *peer});
  }
  return OkStatus();
}

}  // namespace

std::string NewJoinToken() { return wire::RandomHex(32); }

namespace {

wire::Key Derive(const std::string& label, const uint8_t* secret, size_t size) {
  wire::Sha256 h;
  h.Update(reinterpret_cast<const uint8_t*>(label.data()), label.size() + 1);  // with its NUL
  h.Update(secret, size);
  const wire::Sha256Digest d = h.Digest();
  wire::Key k;
  std::copy(d.begin(), d.end(), k.begin());
  return k;
}

}  // namespace

wire::Key JoinKey(const std::string& token) {
  return Derive("cohort join v1", reinterpret_cast<const uint8_t*>(token.data()), token.size());
}

wire::Key ControlKey(const wire::Key& cluster_key) {
  return Derive("cohort control v1", cluster_key.data(), cluster_key.size());
}

const char* DefineOpName(DefineOp op) {
  switch (op) {
    case DefineOp::kHello:
      return "hello";
    case DefineOp::kCommit:
      return "commit";
    case DefineOp::kAbort:
      return "abort";
    case DefineOp::kOnline:
      return "online";
    case DefineOp::kOffline:
      return "offline";
  }
  return "?";
}

std::string DefineMessageText(const DefineMessage& m) {
  json doc{{"op", DefineOpName(m.op)},
           {"request", m.request},
           {"cluster_id", m.cluster_id},
           {"cluster_name", m.cluster_name},
           {"number", m.number}};
  if (m.sent_ms != 0) doc["sent_ms"] = m.sent_ms;
  if (m.op == DefineOp::kCommit) {
    json servers = json::array();
    for (const auto& s : m.registry_servers) {
      servers.push_back(
          {{"id", s.id}, {"client", s.client.ToString()}, {"peer", s.peer.ToString()}});
    }
    json seeds = json::array();
    for (const auto& e : m.seeds) seeds.push_back(e.ToString());
    doc.update({{"name", m.name},
                {"uid", m.uid},
                {"key", m.key},
                {"priority", m.priority},
                {"seeds", seeds},
                {"registry_servers", servers},
                {"registry_heartbeat_ms", m.registry_heartbeat_ms},
                {"registry_election_ms", m.registry_election_ms}});
  }
  return doc.dump();
}

Result<DefineMessage> ParseDefineMessage(std::string_view text) {
  const json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return Error(Errc::kMalformed, "a definition message is a JSON object");
  Fields f{doc, ""};
  DefineMessage m;
  const std::string op = f.Text("op");
  if (op == "hello") {
    m.op = DefineOp::kHello;
  } else if (op == "commit") {
    m.op = DefineOp::kCommit;
  } else if (op == "abort") {
    m.op = DefineOp::kAbort;
  } else if (op == "online") {
    m.op = DefineOp::kOnline;
  } else if (op == "offline") {
    m.op = DefineOp::kOffline;
  } else if (f.bad.empty()) {
    return Error(Errc::kMalformed, "unknown definition operation '" + op + "'");
  }
  m.request = f.Text("request");
  m.cluster_id = f.Text("cluster_id");
  m.cluster_name = f.Text("cluster_name");
  m.number = static_cast<NodeId>(f.Number("number", 0, 65535, 0));
  m.sent_ms = f.Number("sent_ms", 0, INT64_MAX, 0);
  if (m.op == DefineOp::kCommit) COHORT_TRY(ReadCommit(f, m));
  if (!f.bad.empty()) return Error(Errc::kMalformed, "definition message: " + f.bad);
  if (m.request.empty() || m.cluster_id.empty()) {
    return Error(Errc::kMalformed, "definition message without a request or cluster id");
  }
  return m;
}

std::string DefineAnswerText(const DefineAnswer& a) {
  json doc{{"request", a.request},
           {"ok", a.ok},
           {"error", a.error},
           {"uid", a.uid},
           {"kept_uid", a.kept_uid}};
  doc["kept_number"] = a.kept_number ? json(*a.kept_number) : json(nullptr);
  return doc.dump();
}

Result<DefineAnswer> ParseDefineAnswer(std::string_view text) {
  const json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return Error(Errc::kMalformed, "a definition answer is a JSON object");
  Fields f{doc, ""};
  DefineAnswer a;
  a.request = f.Text("request");
  a.ok = f.Flag("ok");
  a.error = f.Text("error", false);
  a.uid = f.Text("uid", false);
  a.kept_uid = f.Text("kept_uid", false);
  if (doc.contains("kept_number") && !doc["kept_number"].is_null()) {
    a.kept_number = static_cast<NodeId>(f.Number("kept_number", 1, 65535, 0));
  }
  if (!f.bad.empty()) return Error(Errc::kMalformed, "definition answer: " + f.bad);
  return a;
}

std::string SealDefine(const wire::Key& key, const DefineMessage& m) {
  return Seal(key, 'q', DefineMessageText(m));
}

Result<DefineMessage> OpenDefine(const wire::Key& key, std::string_view sealed) {
  auto text = Open(key, 'q', sealed);
  if (!text) return text.error();
  return ParseDefineMessage(*text);
}

std::string SealAnswer(const wire::Key& key, const DefineAnswer& a) {
  return Seal(key, 'a', DefineAnswerText(a));
}

Result<DefineAnswer> OpenAnswer(const wire::Key& key, std::string_view sealed) {
  auto text = Open(key, 'a', sealed);
  if (!text) return text.error();
  return ParseDefineAnswer(*text);
}

}  // namespace cohort::dcm
