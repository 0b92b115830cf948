// The node's secrets on disk. The keyring (T8): data_dir/keyring.json once the daemon has run
// (the keys installed at run time and the one in use), else the single key of cluster.key_file;
// for a cluster defined at run time, clusters/<id>/keyring.json.
// Read by the transport, which seals with it, and by the configuration manager, which derives the
// registry's TLS credentials from it (dcm/tls.h).
#pragma once

#include <string>

#include "base/config.h"
#include "base/result.h"
#include "wire/seal.h"

namespace cohort::node {

std::string KeyringPath(const Config& config);
// A damaged keyring.json or key file is an error naming the file and the way out.
Result<wire::Keyring> LoadKeyring(const Config& config);
Status SaveKeyring(const Config& config, const wire::Keyring& ring);

// The API token in data_dir/api.token (mode 0600), made on first use: what a request that
// changes state must carry, whether the node runs in a cluster or waits to be defined.
Result<std::string> LoadApiToken(const std::string& data_dir);

}  // namespace cohort::node
