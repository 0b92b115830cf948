// The channel between the member DCM that defines a node and that node's DCM (C7, steps
// 2–3 and 11–12), before the node holds any key of the cluster. Both sides know a one-time
// join token that the node made and an operator carried over (`cohort join-token`); every
// message is JSON sealed with AES-256-GCM under a key derived from it, so nothing — the
// cluster key least of all — crosses the network in the clear, and only a holder of the
// token can ask or answer. Layout: "CJ1", 1 direction byte ('q' request, 'a' answer),
// 12-byte random nonce, ciphertext, 16-byte tag; the first 4 bytes are the associated data.
// An answer names the request's random id, so an answer cannot be replayed to another
// request. Decoders refuse anything malformed with one line (tests/fuzz/fuzz_schema.cc).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/config.h"
#include "base/ids.h"
#include "base/result.h"
#include "wire/seal.h"

namespace cohort::dcm {

// A new join token: 32 random bytes as 64 hex digits.
std::string NewJoinToken();
// The AEAD key both sides derive from the token.
wire::Key JoinKey(const std::string& token);
// The AEAD key of kOnline/kOffline messages, derived from a cluster key (which the
// transport uses only through its own subkeys).
wire::Key ControlKey(const wire::Key& cluster_key);

enum class DefineOp { kHello, kCommit, kAbort, kOnline, kOffline };
const char* DefineOpName(DefineOp op);

// What the member asks. kHello: who are you, what do you keep of this cluster (step 2).
// kCommit: write this definition locally, erasing any older one, and go online (step 11).
// kAbort: erase what a commit of this request wrote (rollback).
// kOnline, kOffline: a member of a cluster the node is defined to asks it to start in that
// cluster or to leave it (`node online|offline`), sealed under the cluster's key rather
// than a join token (node_control.h).
struct DefineMessage {
  DefineOp op = DefineOp::kHello;
  std::string request;  // random id, echoed by the answer
  std::string cluster_id;
  std::string cluster_name;
  NodeId number = kNoNode;       // kCommit, kAbort, kOnline, kOffline
  int64_t sent_ms = 0;           // kOnline, kOffline: the sender's wall clock
  std::string name;              // kCommit
  std::string uid;               // kCommit: the UID the definition was written with
  std::string key;               // kCommit: the cluster key's text (wire::KeyToText)
  std::vector<NodeId> priority;  // kCommit: [cluster] priority
  std::vector<Endpoint> seeds;   // kCommit: [cluster] seeds
  std::vector<RegistryServerConfig> registry_servers;  // kCommit
  uint32_t registry_heartbeat_ms = 100;                // kCommit
  uint32_t registry_election_ms = 1000;                // kCommit
};

struct DefineAnswer {
  std::string request;
  bool ok = false;
  std::string error;                  // when not ok
  std::string uid;                    // kHello
  std::optional<NodeId> kept_number;  // kHello: a definition kept of this cluster
  std::string kept_uid;
};

std::string SealDefine(const wire::Key& key, const DefineMessage& m);
Result<DefineMessage> OpenDefine(const wire::Key& key, std::string_view sealed);
std::string SealAnswer(const wire::Key& key, const DefineAnswer& a);
Result<DefineAnswer> OpenAnswer(const wire::Key& key, std::string_view sealed);

// The JSON forms inside the envelope (exposed for the fuzz target and tests).
std::string DefineMessageText(const DefineMessage& m);
Result<DefineMessage> ParseDefineMessage(std::string_view text);
std::string DefineAnswerText(const DefineAnswer& a);
Result<DefineAnswer> ParseDefineAnswer(std::string_view text);

}  // namespace cohort::dcm
