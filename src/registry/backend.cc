#include "registry/backend.h"

namespace cohort::registry {

void RegistryBackend::Put(const std::string& key, const std::string& value, Done<int64_t> done) {
  Commit(Txn{{}, {RequestOp{RequestOp::Kind::kPut, key, value, false}}, {}},
         [done](Result<TxnResult> r) {
           if (!r) return done(r.error());
           done(r->revision);
         });
}

void RegistryBackend::Delete(const std::string& key, Done<int64_t> done) {
  Commit(Txn{{}, {RequestOp{RequestOp::Kind::kDelete, key, "", false}}, {}},
         [done](Result<TxnResult> r) {
           if (!r) return done(r.error());
           done(r->results.empty() ? 0 : r->results[0].deleted);
         });
}

}  // namespace cohort::registry
