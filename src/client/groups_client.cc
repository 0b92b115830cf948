#include "client/groups_client.h"

#include <chrono>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "base/endpoint.h"
#include "base/text.h"
#include "io/http_client.h"

namespace cohort::client {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// A request's identity as the feed names it.
std::string RequestKey(const json& r) {
  if (!r.is_object()) return "";
  return r.value("node", json(0)).dump() + "/" + r.value("incarnation", json(0)).dump() + "/" +
         r.value("seq", json(0)).dump();
}

MemberRef MemberOf(const json& j) {
  MemberRef m;
  if (!j.is_object()) return m;
  m.node = j.value("node", uint16_t{0});
  m.incarnation = j.value("incarnation", uint64_t{0});
  m.local = j.value("local", uint32_t{0});
  m.role = j.value("role", std::string());
  return m;
}

}  // namespace

void PutValue(nlohmann::json& doc, const std::string& key, const std::string& bytes) {
  if (IsValidUtf8(bytes)) {
    doc[key] = bytes;
  } else {
    doc[key + "_hex"] = ToHex(bytes);
  }
}

std::string ValueOf(const nlohmann::json& doc, const std::string& key) {
  if (doc.contains(key) && doc[key].is_string()) return doc[key].get<std::string>();
  const std::string hex = key + "_hex";
  if (doc.contains(hex) && doc[hex].is_string()) {
    if (auto bytes = FromHex(doc[hex].get<std::string>())) return *bytes;
  }
  return "";
}

bool ValidGroupName(const std::string& name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

GroupsClient::GroupsClient(Options options) : options_(std::move(options)) {}
GroupsClient::~GroupsClient() = default;

Status GroupsClient::Connect() {
  if (stream_) return OkStatus();
  // A session that broke (seen inside a request): a new one, with the groups joined again.
  if (session_ != 0 && options_.reconnect_ms > 0) return Reconnect();
  joined_.clear();  // without reconnecting, the old session's memberships ended with it
  lost_.clear();
  return Open();
}

Status GroupsClient::Open() {
  auto api = Endpoint::Parse(options_.api);
  if (!api) return api.error();
  auto stream = io::HttpLineStream::Open(*api, "POST", "/v1/groups/sessions", "", options_.token);
  if (!stream) return stream.error();
  auto first = (*stream)->NextLine(10000);
  if (!first) return first.error();
  if (!*first) return Error(Errc::kTimeout, "the daemon opened no group session in 10 s");
  const json j = json::parse(**first, nullptr, false);
  const bool ok = j.is_object() && j.contains("type") && j["type"] == "session" &&
                  j.contains("session") && j["session"].is_number_unsigned() &&
                  j["session"].get<uint64_t>() > 0 && j["session"].get<uint64_t>() <= UINT32_MAX;
  if (!ok) {
    const bool said = j.is_object() && j.contains("error") && j["error"].is_string();
    return Error(Errc::kUnavailable, "the daemon refused a group session" +
                                         (said ? ": " + j["error"].get<std::string>() : ""));
  }
  session_ = j["session"].get<uint32_t>();
  try {
    self_ = MemberOf(j);
  } catch (const json::exception&) {
    self_ = MemberRef{};
  }
  stream_ = std::move(*stream);
  calls_ = std::make_unique<io::HttpConnection>(*api, options_.token);
  return OkStatus();
}

Status GroupsClient::Reconnect() {
  stream_.reset();
  const auto deadline = Clock::now() + std::chrono::milliseconds(options_.reconnect_ms);
  auto backoff = std::chrono::milliseconds(100);
  std::map<std::string, JoinOptions> groups;
  groups.swap(joined_);
  while (true) {
    Status opened = Open();
    if (!opened && opened.error().code() == Errc::kPermission) {
      joined_ = std::move(groups);
      return opened.error();  // a wrong token stays wrong
    }
    if (opened) {
      lost_.clear();
      for (const auto& [group, o] : groups) {
        auto joined = Join(group, o);
        if (!stream_) break;  // broke again: start over
        // Not joined yet (the daemon is still finding its cluster): Run tries again.
        if (!joined) {
          joined_[group] = o;
          lost_.insert(group);
        } else if (!Joined(joined) && on_lost) {
          on_lost(group, "join refused: " + joined->reason);
        }
      }
      if (stream_) {
        if (on_reconnect) on_reconnect();
        return OkStatus();
      }
      joined_.clear();
    }
    if (stop_ || Clock::now() + backoff > deadline) {
      joined_ = std::move(groups);
      return Error(Errc::kUnavailable, "the group session broke and the daemon at " + options_.api +
                                           " did not take a new one in time");
    }
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
  }
}

// A join that made the process a member: committed now, or earlier (a join that came back
// after its answer was lost is refused as "already-member").
bool GroupsClient::Joined(const Result<Outcome>& outcome) {
  return outcome && (outcome->committed || outcome->reason == "already-member");
}

Result<Outcome> GroupsClient::Join(const std::string& group, const JoinOptions& o) {
  for (const std::string& d : o.depends) {
    if (!ValidGroupName(d)) {
      return Error(Errc::kInvalidArgument, "'" + EscapeInvalidUtf8(d) + "' is not a group name");
    }
  }
  json body{{"role", o.provider ? "provider" : "subscriber"},
            {"default_vote", o.default_approve ? "approve" : "reject"},
            {"depends", o.depends}};
  auto outcome = Submit(group, "join", body.dump());
  if (Joined(outcome)) joined_[group] = o;
  return outcome;
}

Result<Outcome> GroupsClient::Leave(const std::string& group) {
  joined_.erase(group);  // whatever comes of it: not to be joined again
  lost_.erase(group);
  // A broken session's memberships ended with it: nothing to leave (version 0).
  if (!stream_ && session_ != 0) return Outcome{true, 0, ""};
  return Submit(group, "leave", "{}");
}

Result<Outcome> GroupsClient::Propose(const std::string& group, const std::string& value,
                                      int phases) {
  json body{{"phases", phases}};
  PutValue(body, "value", value);
  return Submit(group, "propose", body.dump());
}

Result<Outcome> GroupsClient::Submit(const std::string& group, const std::string& verb,
                                     const std::string& body_text) {
  if (!ValidGroupName(group)) {
    return Error(Errc::kInvalidArgument, "'" + EscapeInvalidUtf8(group) +
                                             "' is not a group name: 1-128 of A-Z a-z 0-9 . _ -");
  }
  COHORT_TRY(Connect());
  json body = json::parse(body_text);
  body["session"] = session_;
  auto reply = calls_->Call("POST", "/v1/groups/" + group + "/" + verb, body.dump());
  if (!reply) return reply.error();
  const json answer = json::parse(reply->body, nullptr, false);
  if (reply->status != 202 || !answer.is_object() || !answer.contains("request")) {
    const std::string why = answer.is_object() ? answer.value("error", reply->body) : reply->body;
    return Error(reply->status == 404 ? Errc::kNotFound : Errc::kInvalidArgument,
                 verb + " " + group + ": " + why);
  }
  const std::string want = RequestKey(answer["request"]);
  std::optional<Outcome> outcome;
  const auto deadline = Clock::now() + std::chrono::milliseconds(options_.outcome_timeout_ms);
  while (!outcome) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      return Error(Errc::kTimeout, verb + " " + group + ": no outcome within " +
                                       std::to_string(options_.outcome_timeout_ms) + " ms");
    }
    COHORT_TRY(Next(static_cast<int>(left), &want, &outcome));
  }
  return *outcome;
}

Status GroupsClient::Run(int timeout_ms) {
  COHORT_TRY(Connect());
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!stop_.exchange(false)) {
    int wait = 200;  // so Stop() from a signal handler is seen
    if (timeout_ms >= 0) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) break;
      wait = static_cast<int>(std::min<int64_t>(left, wait));
    }
    COHORT_TRY(Next(wait, nullptr, nullptr));
    COHORT_TRY(Rejoin());
  }
  return OkStatus();
}

// Joins again the groups the member was failed out of; a group that cannot be joined now
// is tried again after the next event or wait.
Status GroupsClient::Rejoin() {
  std::set<std::string> lost;
  lost.swap(lost_);
  for (const std::string& group : lost) {
    auto it = joined_.find(group);
    if (it == joined_.end()) continue;
    const JoinOptions options = it->second;  // an event during the join may erase it
    auto again = Join(group, options);
    if (!again) {
      lost_.insert(group);  // not known: tried again after the next event or wait
    } else if (!Joined(again)) {
      joined_.erase(group);  // refused for good (rejected, invalid): not tried again
      if (on_lost) on_lost(group, "join refused: " + again->reason);
    }
    if (!stream_) break;  // the session broke: Next reconnects, which joins them all
  }
  return OkStatus();
}

Status GroupsClient::Next(int timeout_ms, const std::string* want,
                          std::optional<Outcome>* outcome) {
  if (!stream_) {
    if (want != nullptr) return Error(Errc::kUnavailable, "the group session broke");
    return Connect();  // a new session: joined again, or (not reconnecting) a fresh one
  }
  auto line = stream_->NextLine(timeout_ms);
  if (line) {
    if (*line) Handle(**line, want, outcome);
    return OkStatus();
  }
  if (options_.reconnect_ms <= 0 || want != nullptr) {
    // A request in flight cannot be told apart from one lost with the session.
    const Error broke = line.error();
    stream_.reset();
    if (want == nullptr) return broke;
    return Error(Errc::kUnavailable,
                 "the group session broke before the outcome was known (" + broke.message() + ")");
  }
  return Reconnect();
}

void GroupsClient::Handle(const std::string& line, const std::string* want,
                          std::optional<Outcome>* outcome) {
  const json j = json::parse(line, nullptr, false);
  if (!j.is_object()) return;
  try {
    Dispatch(j, want, outcome);
  } catch (const json::exception&) {
    // A field of the wrong type: the line is skipped, as one that does not parse.
  }
}

void GroupsClient::Dispatch(const nlohmann::json& j, const std::string* want,
                            std::optional<Outcome>* outcome) {
  const std::string type = j.value("type", "");
  if (type == "change" || type == "resync") {
    GroupChange c;
    c.group = j.value("group", "");
    c.for_group = j.value("for_group", "");
    c.kind = type == "resync" ? "resync" : j.value("kind", "");
    c.version = j.value("version", uint64_t{0});
    c.token = j.value("token", int64_t{0});
    c.member = MemberOf(j.value("member", json()));
    c.value = ValueOf(j, type == "resync" ? "state" : "value");
    for (const json& m : j.value("members", json::array())) c.members.push_back(MemberOf(m));
    if (on_change) on_change(c);
  } else if (type == "vote") {
    VoteRequest v;
    v.group = j.value("group", "");
    v.version = j.value("version", uint64_t{0});
    v.phase = j.value("phase", 1);
    v.value = ValueOf(j, "value");
    const json r = j.value("request", json::object());
    v.node = r.value("node", uint16_t{0});
    v.incarnation = r.value("incarnation", uint64_t{0});
    v.seq = r.value("seq", uint64_t{0});
    const bool approve = on_vote ? on_vote(v) : true;
    json body{{"session", session_}, {"request", r}, {"phase", v.phase}, {"approve", approve}};
    // A vote that does not arrive becomes the group's default vote: nothing to retry.
    (void)calls_->Call("POST", "/v1/groups/" + v.group + "/vote", body.dump());
  } else if (type == "outcome") {
    if (want != nullptr && outcome != nullptr && RequestKey(j.value("request", json())) == *want) {
      *outcome = Outcome{j.value("committed", false), j.value("version", uint64_t{0}),
                         j.value("reason", std::string())};
    }
  } else if (type == "lost") {
    const std::string group = j.value("group", "");
    if (options_.rejoin) {
      lost_.insert(group);
    } else {
      joined_.erase(group);
    }
    if (on_lost) on_lost(group, j.value("why", ""));
  }
}

}  // namespace cohort::client
