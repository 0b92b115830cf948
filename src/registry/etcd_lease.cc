// Leases over etcd's Lease service. A renewal is one request and one answer on a
// LeaseKeepAlive stream of its own: the node renews a few times a second at most, and a
// stream per renewal fails over between servers like every other call.
#include "registry/etcd.h"
#include "registry/etcd_impl.h"

namespace cohort::registry {

void EtcdRegistry::GrantLease(int64_t ttl_seconds, Done<LeaseGrant> done) {
  if (ttl_seconds <= 0) return done(Error(Errc::kInvalidArgument, "lease TTL must be positive"));
  Impl* impl = impl_.get();
  impl->Enqueue([impl, ttl_seconds, done] {
    pb::LeaseGrantRequest req;
    req.set_ttl(ttl_seconds);
    pb::LeaseGrantResponse resp;
    auto r = impl->Call([&](Impl::Server& s, grpc::ClientContext* c) {
      return s.lease->LeaseGrant(c, req, &resp);
    });
    if (!r) return impl->Answer<LeaseGrant>(done, r.error());
    if (!resp.error().empty()) {
      return impl->Answer<LeaseGrant>(done, Error(Errc::kInternal, "lease grant: " + resp.error()));
    }
    impl->Answer<LeaseGrant>(done, LeaseGrant{resp.id(), resp.ttl()});
  });
}

void EtcdRegistry::KeepLease(LeaseId id, Done<int64_t> done) {
  Impl* impl = impl_.get();
  impl->Enqueue([impl, id, done] {
    pb::LeaseKeepAliveResponse resp;
    auto r = impl->Call([&](Impl::Server& s, grpc::ClientContext* c) {
      auto stream = s.lease->LeaseKeepAlive(c);
      pb::LeaseKeepAliveRequest req;
      req.set_id(id);
      if (stream->Write(req) && stream->Read(&resp)) {
        stream->WritesDone();
        // The server ends its side once ours is done; nothing more is wanted from it.
        c->TryCancel();
        stream->Finish();
        return grpc::Status::OK;
      }
      return stream->Finish();
    });
    if (!r) return impl->Answer<int64_t>(done, r.error());
    // etcd answers a renewal of a lease it no longer has with a TTL of 0.
    if (resp.ttl() <= 0) {
      return impl->Answer<int64_t>(
          done, Error(Errc::kNotFound, "lease " + std::to_string(id) + " has expired"));
    }
    impl->Answer<int64_t>(done, resp.ttl());
  });
}

void EtcdRegistry::RevokeLease(LeaseId id, Done<Ok> done) {
  Impl* impl = impl_.get();
  impl->Enqueue([impl, id, done] {
    pb::LeaseRevokeRequest req;
    req.set_id(id);
    pb::LeaseRevokeResponse resp;
    auto r = impl->Call([&](Impl::Server& s, grpc::ClientContext* c) {
      const grpc::Status st = s.lease->LeaseRevoke(c, req, &resp);
      // Already gone (expired, or revoked by an attempt that timed out) is what was wanted.
      return st.error_code() == grpc::StatusCode::NOT_FOUND ? grpc::Status::OK : st;
    });
    if (!r) return impl->Answer<Ok>(done, r.error());
    impl->Answer<Ok>(done, Ok{});
  });
}

}  // namespace cohort::registry
