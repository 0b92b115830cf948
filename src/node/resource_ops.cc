// ResourceService: placement on the supervisor, the operations the API offers, and what
// the listings read.
#include "base/log.h"
#include "io/clock.h"
#include "node/node.h"
#include "node/resource_service_impl.h"
#include "resources/ocf_metadata.h"

namespace cohort::node {

using resources::RecordKey;
using resources::ResourceSpec;

resources::PlacementInput ResourceService::Impl::PlacementNow() const {
  resources::PlacementInput in;
  in.specs = mirror.specs;
  std::set<std::string> needed;  // content some resource needs: the only paths looked up
  for (const auto& [name, spec] : mirror.specs)
    needed.insert(spec.content.begin(), spec.content.end());
  const membership::ClusterMap& map = node.membership().map();
  for (const auto& [id, member] : map.members) {
    resources::NodeFacts facts;
    facts.id = id;
    facts.up = member.state == membership::MemberState::kUp;
    for (const auto& [disk, entry] : map.disks) {
      auto path = entry.paths.find(id);
      if (!entry.failed && path != entry.paths.end() &&
          path->second.state == membership::PathState::kOk) {
        facts.disks_ok.insert(disk);
      }
    }
    if (auto inv = mirror.inventories.find(id); inv != mirror.inventories.end()) {
      facts.capacity_mbps = inv->second.capacity_mbps;
      for (const std::string& path : needed) {
        if (resources::Holds(inv->second, path)) facts.content.insert(path);
      }
    }
    in.nodes.push_back(std::move(facts));
  }
  for (const auto& [name, owner] : mirror.owners) in.running[name] = owner.node;
  in.fail_counts = mirror.fails;
  return in;
}

// The supervisor writes each resource's placement when it changes node; placements of
// resources no longer defined are deleted. A node that is supervisor of a map that does not
// know a node holding an owner key is not the cluster's supervisor (a node just started,
// alone until it hears the others): it places nothing, or it would move every resource to
// itself and fight the real supervisor's placements.
void ResourceService::Impl::PlaceAsSupervisor() {
  const Records where = Where();
  if (where.backend == nullptr || io::SteadyNow() < place_after) return;
  const membership::ClusterMap& map = node.membership().map();
  for (const auto& [name, owner] : mirror.owners) {
    if (owner.node != kNoNode && map.members.count(owner.node) == 0) return;
  }
  for (const auto& [name, p] : resources::Place(PlacementNow())) {
    auto stored = mirror.placed.find(name);
    const bool same = stored != mirror.placed.end() && stored->second.node == p.node;
    auto pending = placing.find(name);
    if (same || (pending != placing.end() && pending->second == p.node)) continue;
    placing[name] = p.node;
    where.backend->Put(
        where.prefix + resources::KeyOf({RecordKey::Kind::kPlaced, name}),
        resources::EncodePlaced({p.node, p.reason}),
        Later([this, name, node = p.node, reason = p.reason](Result<int64_t> r) {
          placing.erase(name);
          if (!r) {
            // Tried again at a later tick, not at once: the registry may be
            // read-only for a while.
            ++metrics.registry_errors;
            place_after = io::SteadyNow() + Duration::Millis(100);
            return;
          }
          ++metrics.placements_written;
          Wrote(*r);
          Log(LogLevel::kInfo, "resources", "placed",
              {{"resource", name}, {"node", std::to_string(node)}, {"reason", reason}});
        }));
  }
  for (const auto& [name, p] : mirror.placed) {
    if (mirror.specs.count(name) != 0 || placing.count(name) != 0) continue;
    placing[name] = kNoNode;
    where.backend->Delete(where.prefix + resources::KeyOf({RecordKey::Kind::kPlaced, name}),
                          Later([this, name](Result<int64_t>) { placing.erase(name); }));
  }
}

resources::RegistryView ResourceService::Impl::ViewForAgent() const {
  resources::RegistryView v;
  v.specs = mirror.specs;
  for (const auto& [name, p] : mirror.placed) v.placed[name] = p.node;
  for (const auto& [name, o] : mirror.owners) v.owners[name] = {o.node, o.lease};
  v.fail_counts = mirror.fails;
  v.alive = mirror.alive;
  for (const auto& [name, by_node] : mirror.status) {
    auto owner = mirror.owners.find(name);
    if (owner == mirror.owners.end()) continue;
    auto s = by_node.find(owner->second.node);
    if (s != by_node.end() && s->second.state == "running") v.running.insert(name);
  }
  return v;
}

ResourceInfo ResourceService::Impl::InfoOf(const std::string& name) const {
  ResourceInfo info;
  info.spec = mirror.specs.at(name);
  if (auto p = mirror.placed.find(name); p != mirror.placed.end()) {
    info.placed = p->second.node;
    info.placed_reason = p->second.reason;
  }
  if (auto o = mirror.owners.find(name); o != mirror.owners.end()) info.owner = o->second.node;
  if (auto s = mirror.status.find(name); s != mirror.status.end()) info.status = s->second;
  if (auto f = mirror.fails.find(name); f != mirror.fails.end()) info.fail_counts = f->second;
  return info;
}

std::vector<ResourceInfo> ResourceService::List() const {
  std::vector<ResourceInfo> out;
  for (const auto& [name, spec] : impl_->mirror.specs) out.push_back(impl_->InfoOf(name));
  return out;
}

std::optional<ResourceInfo> ResourceService::Find(const std::string& name) const {
  if (impl_->mirror.specs.count(name) == 0) return std::nullopt;
  return impl_->InfoOf(name);
}

Result<resources::Placement> ResourceService::Explain(const std::string& name) const {
  if (impl_->mirror.specs.count(name) == 0) {
    return Error(Errc::kNotFound, "no resource named " + name);
  }
  return resources::Place(impl_->PlacementNow()).at(name);
}

namespace {

Error NoRegistry() {
  return Error(Errc::kUnavailable, "the registry is not reachable from this node yet");
}

}  // namespace

// An OCF definition's parameters are checked against the agent's meta-data where the agent
// is installed here; one whose meta-data cannot be read is written unchecked (said in the
// log), since the agent's own validate-all and start still judge it.
void ResourceService::Define(const ResourceSpec& spec, StatusDone done) {
  Impl* impl = impl_.get();
  if (spec.cls != resources::ResourceClass::kOcf || !impl->runner.AgentPath(spec.agent)) {
    return impl->Write(spec, done);
  }
  impl->runner.Invoke(
      spec, "meta-data", Duration::Seconds(10),
      impl->Later([impl, spec, done](Result<io::ChildResult> got) {
        std::optional<resources::OcfMetadata> metadata;
        if (got && got->exit_code == 0 && !got->timed_out) {
          if (auto m = resources::ParseOcfMetadata(got->output)) metadata = *m;
        }
        if (!metadata) {
          Log(LogLevel::kWarn, "resources", "agent meta-data not read; parameters not checked",
              {{"resource", spec.name}, {"agent", spec.agent}});
        } else if (auto checked = resources::CheckParameters(spec, *metadata); !checked) {
          return done(checked);
        }
        impl->Write(spec, done);
      }));
}

void ResourceService::Impl::Write(const ResourceSpec& spec, const StatusDone& done) {
  const Records where = Where();
  if (where.backend == nullptr) return done(NoRegistry());
  if (mirror.specs.size() >= resources::kMaxResources && mirror.specs.count(spec.name) == 0) {
    return done(Error(Errc::kInvalidArgument, "at most 1000 resources may be defined"));
  }
  const std::string key = where.prefix + resources::KeyOf({RecordKey::Kind::kDef, spec.name});
  registry::Txn txn;
  txn.compares.push_back(
      {key, registry::Compare::Target::kCreateRevision, registry::Compare::Op::kEqual, "", 0});
  txn.success.push_back({registry::RequestOp::Kind::kPut, key, resources::EncodeSpec(spec)});
  where.backend->Commit(
      txn, Later([done, name = spec.name](Result<registry::TxnResult> r) {
        if (!r) return done(r.error());
        if (!r->succeeded) {
          return done(Error(Errc::kAlreadyExists, "a resource named " + name + " exists already"));
        }
        done(OkStatus());
      }));
}

// The definition as the registry holds it now (not the mirror, which may not have seen a
// definition just made through another node), with its mod revision.
void ResourceService::Impl::ReadSpec(
    const std::string& name, std::function<void(Result<std::pair<ResourceSpec, int64_t>>)> done) {
  const Records where = Where();
  if (where.backend == nullptr) return done(NoRegistry());
  where.backend->Get(where.prefix + resources::KeyOf({RecordKey::Kind::kDef, name}), false,
                     Later([name, done](Result<std::optional<registry::KeyValue>> kv) {
                       if (!kv) return done(kv.error());
                       if (!*kv) return done(Error(Errc::kNotFound, "no resource named " + name));
                       auto spec = resources::ParseSpec((*kv)->value);
                       if (!spec) return done(spec.error());
                       done(std::make_pair(*spec, (*kv)->mod_revision));
                     }));
}

void ResourceService::Remove(const std::string& name, StatusDone done) {
  impl_->ReadSpec(name, [impl = impl_.get(), name, done](auto read) {
    if (!read) return done(read.error());
    impl->RemoveRecords(name, done);
  });
}

void ResourceService::Impl::RemoveRecords(const std::string& name, const StatusDone& done) {
  const Records where = Where();
  if (where.backend == nullptr) return done(NoRegistry());
  // The definition goes; its owner stops it and gives its key back. Its records go with it.
  registry::Txn txn;
  for (auto kind : {RecordKey::Kind::kDef, RecordKey::Kind::kPlaced}) {
    txn.success.push_back(
        {registry::RequestOp::Kind::kDelete, where.prefix + resources::KeyOf({kind, name})});
  }
  for (const char* prefix : {"fails/", "status/"}) {
    txn.success.push_back(
        {registry::RequestOp::Kind::kDelete, where.prefix + prefix + name + "/", "", true});
  }
  where.backend->Commit(txn, Later([done](Result<registry::TxnResult> r) {
                          done(r ? OkStatus() : Status(r.error()));
                        }));
}

void ResourceService::Change(const std::string& name, std::function<Status(ResourceSpec&)> change,
                             StatusDone done) {
  impl_->ReadSpec(name, [impl = impl_.get(), name, change, done](auto read) {
    if (!read) return done(read.error());
    auto [spec, revision] = *read;
    if (auto s = change(spec); !s) return done(s);
    if (auto v = resources::Validate(spec); !v) return done(v);
    const Records where = impl->Where();
    if (where.backend == nullptr) return done(NoRegistry());
    const std::string key = where.prefix + resources::KeyOf({RecordKey::Kind::kDef, name});
    registry::Txn txn;
    txn.compares.push_back({key, registry::Compare::Target::kModRevision,
                            registry::Compare::Op::kEqual, "", revision});
    txn.success.push_back({registry::RequestOp::Kind::kPut, key, resources::EncodeSpec(spec)});
    where.backend->Commit(txn, impl->Later([done, name](Result<registry::TxnResult> r) {
      if (!r) return done(r.error());
      if (!r->succeeded) {
        return done(Error(Errc::kAlreadyExists,
                          "resource " + name + " changed meanwhile (or was removed): try again"));
      }
      done(OkStatus());
    }));
  });
}

void ResourceService::Clear(const std::string& name, StatusDone done) {
  Impl* impl = impl_.get();
  Change(
      name,
      [](ResourceSpec& s) {
        s.moved_to = kNoNode;
        ++s.cleared;  // every node's agent unblocks it (resource_service.cc, ApplyOne)
        return OkStatus();
      },
      [impl, name, done](Status changed) {
        if (!changed) return done(changed);
        const Records where = impl->Where();
        if (where.backend == nullptr) return done(NoRegistry());
        registry::Txn txn;
        txn.success.push_back(
            {registry::RequestOp::Kind::kDelete, where.prefix + "fails/" + name + "/", "", true});
        where.backend->Commit(txn, impl->Later([done](Result<registry::TxnResult> r) {
          done(r ? OkStatus() : Status(r.error()));
        }));
      });
}

void ResourceService::Invoke(const std::string& name, const std::string& action, Duration timeout,
                             std::function<void(Result<io::ChildResult>)> done) {
  const ResourceSpec* spec = impl_->SpecOf(name);
  if (spec == nullptr) return done(Error(Errc::kNotFound, "no resource named " + name));
  impl_->runner.Invoke(*spec, action, timeout, impl_->Later(std::move(done)));
}

}  // namespace cohort::node
