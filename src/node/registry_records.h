// Where a service of the daemon keeps its records: the registry and the service's key prefix
// (dcm/schema.h), or no backend while there is none (no registry configured, the cluster id
// not read yet). Asked again at each use, since both can change at run time.
#pragma once

#include <functional>
#include <string>

namespace cohort::registry {
class RegistryBackend;
}

namespace cohort::node {

struct RegistryRecords {
  registry::RegistryBackend* backend = nullptr;
  std::string prefix;
};
using RecordsSource = std::function<RegistryRecords()>;

}  // namespace cohort::node
