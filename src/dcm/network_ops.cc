// C11: edits of the network objects, and the map every node reads back and applies.
#include "dcm/dcm_impl.h"

namespace cohort::dcm {

void Dcm::Impl::RefreshNetworks() {
  if (networks_reading || cluster_id.empty() || node == nullptr) return;
  networks_reading = true;
  // A read: the client's, not the guard's (which refuses transactions while read-only).
  client->Commit(schema::ReadNetworks(cluster_id), OnLoop([this](Result<registry::TxnResult> r) {
                   networks_reading = false;
                   if (!r || node == nullptr) return;
                   const schema::StoredNetworks stored = schema::ParseNetworks(*r);
                   for (const std::string& key : stored.damaged) {
                     if (!damaged_networks_logged.insert(key).second) continue;
                     Log(LogLevel::kWarn, "dcm", "damaged network object in the registry: skipped",
                         {{"key", key}});
                   }
                   node->SetNetworkMap(stored.map);
                   DefineOwnSubnets(stored);
                 }));
}

ServerRoute Dcm::Impl::RouteTo(const RegistryServerConfig& s) const {
  ServerRoute r;
  if (node == nullptr) return r;
  r.priority = node->network_map().Priority(s.client.ip, Service::kRegistry);
  for (const auto& n : node->transport().View()) {
    if (n.id != s.id) continue;
    for (const auto& a : n.addresses) {
      if (a.info.address.ip == s.client.ip && a.reachable) r.hops = a.hops;
    }
  }
  return r;
}

void Dcm::Impl::DefineOwnSubnets(const schema::StoredNetworks& stored) {
  if (!status || status->phase != registry::Phase::kReadWrite || publishing) return;
  for (const auto& a : node->transport().options().adapters) {
    if (stored.map.SubnetOf(a.info.address.ip) != nullptr) continue;
    schema::NetworkEdit e;
    e.kind = schema::NetworkEdit::Kind::kDefineSubnet;
    e.subnet = Subnet::FromAddressMask(a.info.address.ip, a.info.mask);
    e.implicit = true;
    auto txn = schema::PlanEdit(cluster_id, stored, e, NewClusterId());
    if (!txn) continue;
    // One at a time; the next refresh (a second later) defines the next.
    guard->Commit(*txn, OnLoop([this, e](Result<registry::TxnResult> r) {
      if (!r || !r->succeeded) return;  // another node was first
      Log(LogLevel::kInfo, "dcm", "subnet defined: an adapter of this node is on it",
          {{"subnet", e.subnet.ToString()}});
      Audit("network_edit", {{"edit", schema::DescribeEdit(e) + " (implicitly)"}});
    }));
    return;
  }
}

void Dcm::Impl::EditNetworks(schema::NetworkEdit edit, int attempts, Reply done) {
  guard->Commit(
      schema::ReadNetworks(cluster_id),
      OnLoop([this, edit, attempts, done](Result<registry::TxnResult> r) {
        if (!r) return done(r.error());
        auto txn = schema::PlanEdit(cluster_id, schema::ParseNetworks(*r), edit, NewClusterId());
        if (!txn) return done(txn.error());
        guard->Commit(*txn, OnLoop([this, edit, attempts, done](Result<registry::TxnResult> w) {
          if (!w) return done(w.error());
          if (!w->succeeded) {  // changed between the read and the write
            if (attempts > 1) return EditNetworks(edit, attempts - 1, done);
            return done(Error(Errc::kUnavailable,
                              "the network objects kept changing meanwhile: try "
                              "again"));
          }
          const std::string what = schema::DescribeEdit(edit);
          Log(LogLevel::kInfo, "dcm", what);
          Audit("network_edit", {{"edit", what}});
          RefreshNetworks();  // applied here at once, elsewhere within a second
          done(what);
        }));
      }));
}

void Dcm::ReadNetworks(std::function<void(Result<schema::StoredNetworks>)> done) {
  Impl& d = *impl_;
  if (!has_registry()) return done(Error(Errc::kUnavailable, "this node has no registry"));
  if (d.cluster_id.empty()) {
    return done(Error(Errc::kUnavailable, "this node has not reached its cluster's registry yet"));
  }
  d.client->Commit(schema::ReadNetworks(d.cluster_id),
                   d.OnLoop([done](Result<registry::TxnResult> r) {
                     if (!r) return done(r.error());
                     done(schema::ParseNetworks(*r));
                   }));
}

void Dcm::EditNetworks(schema::NetworkEdit edit, std::function<void(Result<std::string>)> done) {
  Impl& d = *impl_;
  if (!has_registry()) return done(Error(Errc::kUnavailable, "this node has no registry"));
  if (d.cluster_id.empty()) {
    return done(Error(Errc::kUnavailable, "this node has not reached its cluster's registry yet"));
  }
  d.EditNetworks(std::move(edit), 3, std::move(done));
}

}  // namespace cohort::dcm
