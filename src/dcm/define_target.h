// The non-member DCM's side of a node definition (C7): answers a defining member over the
// join-token channel (define_wire.h). A commit writes the cluster's definition to local
// storage (clusters/<id>/config, dcm/clusters.h) and the cluster in dcm/configuration with
// this node's number and UID. A node that waits to be defined (no cluster of its own: it
// runs only its API) is then to start in that cluster: current and target point at it. A
// node that runs in another cluster stays there; the new one is for `cluster move` (C10).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "base/config.h"
#include "base/result.h"
#include "dcm/define_wire.h"
#include "dcm/storage.h"

namespace cohort::dcm {

class DefineTarget {
 public:
  // A waiting node: reads this machine's UID (config.uid_file) and its local storage.
  static Result<DefineTarget> Open(const Config& config);
  // A node running in a cluster, whose DCM keeps `local` (and saves it through `storage`).
  DefineTarget(const Config& config, const LocalStorage& storage, LocalConfiguration& local,
               std::string uid)
      : config_(config), storage_(storage), uid_(std::move(uid)), local_(&local), waiting_(false) {}

  // A fresh one-time join token, replacing any earlier one (dcm/join.token, 0600).
  Result<std::string> NewToken();
  // The key of the current join token; an error when none was made.
  Result<wire::Key> TokenKey() const;

  // Steps 3 and 12, and the rollback: the answer to a defining member's message.
  // `by`: who sent it, for the audit log.
  DefineAnswer Answer(const DefineMessage& m, const std::string& by);
  // True once a commit went through: a waiting node should start in its cluster.
  bool defined() const { return defined_; }

  const std::string& uid() const { return uid_; }
  const LocalConfiguration& local() const { return *local_; }
  LocalConfiguration& local() { return *local_; }
  const LocalStorage& storage() const { return storage_; }

 private:
  DefineTarget(Config config, LocalStorage storage, std::string uid, LocalConfiguration local)
      : config_(std::move(config)),
        storage_(std::move(storage)),
        uid_(std::move(uid)),
        owned_(std::make_unique<LocalConfiguration>(std::move(local))),
        local_(owned_.get()) {}
  Status Commit(const DefineMessage& m);
  Status Abort(const DefineMessage& m);
  std::string TokenPath() const;

  Config config_;
  LocalStorage storage_;
  std::string uid_;
  std::unique_ptr<LocalConfiguration> owned_;  // a waiting node's
  LocalConfiguration* local_;
  bool waiting_ = true;
  bool defined_ = false;
  // The commit that defined this node: its request alone may roll it back, under the key
  // of the token it used up.
  std::string committed_request_;
  std::optional<wire::Key> committed_key_;
};

// The UID in config.uid_file (C4).
Result<std::string> ReadUid(const Config& config);

}  // namespace cohort::dcm
