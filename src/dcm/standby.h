// A node waiting to be defined (C7, the non-member DCM's side): it runs no cluster
// protocol, only its API, and answers a defining member over the join-token channel
// (define_wire.h). A commit writes the cluster's definition to local storage —
// clusters/<id>/config/cluster.json and cluster.key (0600), the cluster in
// dcm/configuration with this node's number and UID, current and target pointing at it — and
// from then on the node's configuration is its file's [node], [transport], [api] and the rest,
// plus that cluster (DefinedConfig).
#pragma once

#include <optional>
#include <string>

#include "base/config.h"
#include "base/result.h"
#include "dcm/define_wire.h"
#include "dcm/storage.h"

namespace cohort::dcm {

class Standby {
 public:
  // Reads this machine's UID (config.uid_file) and opens local storage.
  static Result<Standby> Open(const Config& config);

  // A fresh one-time join token, replacing any earlier one (dcm/join.token, 0600).
  Result<std::string> NewToken();
  // The key of the current join token; an error when none was made.
  Result<wire::Key> TokenKey() const;

  // Steps 3 and 12, and the rollback: the answer to a defining member's message.
  DefineAnswer Answer(const DefineMessage& m);
  // True once a commit went through: the node should start in its cluster.
  bool defined() const { return defined_; }

  const std::string& uid() const { return uid_; }
  const LocalConfiguration& local() const { return local_; }

 private:
  Standby(Config config, LocalStorage storage, std::string uid, LocalConfiguration local)
      : config_(std::move(config)),
        storage_(std::move(storage)),
        uid_(std::move(uid)),
        local_(std::move(local)) {}
  Status Commit(const DefineMessage& m);
  Status Abort(const DefineMessage& m);
  std::string TokenPath() const;

  Config config_;
  LocalStorage storage_;
  std::string uid_;
  LocalConfiguration local_;
  bool defined_ = false;
  // The commit that defined this node: its request alone may roll it back, under the key
  // of the token it used up.
  std::string committed_request_;
  std::optional<wire::Key> committed_key_;
};

// The configuration of a node whose file has no [cluster]: `file` completed from the
// cluster its local storage names as current. Nothing when it has none (it waits to be
// defined); an error when the stored definition is damaged.
Result<std::optional<Config>> DefinedConfig(const Config& file);

// The UID in config.uid_file (C4).
Result<std::string> ReadUid(const Config& config);

}  // namespace cohort::dcm
