// EtcdRegistry: the System Registry client over etcd's gRPC API (issue 4). Every node is a
// client: it reaches the registry through its ordered server list (C5), failing over to the
// next server when one does not answer. Blocking RPCs run on a worker thread of the client's
// own (and one per watch); answers are handed to `post`, which runs them on the caller's
// thread (the node's loop), so callers see the same contract as with MemoryRegistry.
// gRPC and protobuf stay inside etcd.cc.
#pragma once

#include <memory>
#include <optional>

#include "base/time.h"
#include "registry/backend.h"

namespace grpc {
class ChannelCredentials;
}

namespace cohort::registry {

// One etcd member as the cluster API lists it. A learner that has not started yet has no
// name; it is known by its peer URL.
struct EtcdMember {
  uint64_t id = 0;
  std::string name;
  std::vector<std::string> peer_urls;
  std::vector<std::string> client_urls;
  bool learner = false;
  // Filled by Members(): the member answered a status request at one of its client URLs
  // (one this client was given), and whether it says it is the leader.
  bool answers = false;
  bool leader = false;
};

// TLS with a client certificate (dcm/tls.h makes these): the servers' certificates must
// chain to `ca_pem` and name the address dialled.
struct EtcdTls {
  std::string ca_pem;
  std::string cert_pem;
  std::string key_pem;
};

// gRPC's credentials for `tls` (insecure when unset); for a caller that dials etcd itself.
std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(const std::optional<EtcdTls>& tls);

struct EtcdOptions {
  std::vector<std::string> endpoints;       // "host:port" of etcd client URLs, in preference order
  Duration timeout = Duration::Seconds(2);  // per attempt
  // Runs an answer on the caller's thread. Unset: answers run on the worker thread.
  std::function<void(std::function<void()>)> post;
  std::optional<EtcdTls> tls;  // unset: plaintext
};

class EtcdRegistry : public RegistryBackend {
 public:
  explicit EtcdRegistry(EtcdOptions options);
  ~EtcdRegistry() override;

  void Get(const std::string& key, bool serializable, Done<std::optional<KeyValue>> done) override;
  void Range(const std::string& prefix, size_t limit, bool serializable,
             Done<RangeResult> done) override;
  void Commit(const Txn& txn, Done<TxnResult> done) override;
  void Put(const std::string& key, const std::string& value, Done<int64_t> done) override;
  void Delete(const std::string& key, Done<int64_t> done) override;
  Result<WatchId> Watch(const std::string& prefix, int64_t from_revision,
                        std::function<void(Result<std::vector<WatchEvent>>)> on_events) override;
  void CancelWatch(WatchId id) override;
  void Status(Done<RegistryStatus> done) override;
  void GrantLease(int64_t ttl_seconds, Done<LeaseGrant> done) override;
  void KeepLease(LeaseId id, Done<int64_t> done) override;
  void RevokeLease(LeaseId id, Done<Ok> done) override;
  // C5: from now on, try these servers in this order (the registry's server list changed).
  void SetEndpoints(std::vector<std::string> endpoints);
  // These servers' nodes were declared failed (the membership's word, replacing the last).
  // While some other server is not so marked, they are neither tried nor asked for their
  // status, an attempt waiting on one ends now, and a watch streaming from one ends with an
  // error so that its watcher opens it again on a server that answers. With every server
  // marked, each is used as before. A server left out is trusted again. Any thread.
  void SetDown(const std::vector<std::string>& endpoints);
  // New credentials (a key rotation): every server gets a fresh channel that uses them.
  void SetTls(std::optional<EtcdTls> tls);
  // R6: a snapshot of the whole store from the server that answers first, as etcd sends it
  // (its last 32 bytes are the SHA-256 of the rest). Works without a leader.
  void Snapshot(Done<std::string> done);

  // C6: the registry's own membership. One learner at a time (etcd 3.4's rule); a learner
  // can be promoted once it has caught up with the leader; only the leader moves leadership.
  void Members(Done<std::vector<EtcdMember>> done);
  void AddLearner(const std::string& peer_url, Done<uint64_t> done);  // the new member's id
  void Promote(uint64_t member, Done<Ok> done);
  void Remove(uint64_t member, Done<Ok> done);
  void MoveLeader(uint64_t to, Done<Ok> done);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cohort::registry
