// The registry's TLS credentials (issue 17, item 5): etcd's client and peer traffic is
// encrypted and both ends prove they hold a certificate of the cluster.
//
// Scheme. Each cluster key K (wire/seal.h) defines a certificate authority: its P-256
// private key is HKDF-SHA256(K, "cohort registry CA") and its name "cohort registry CA
// <key id>". Every node holding K derives the same CA key, so no CA is ever copied between
// nodes and nothing new must be kept secret: whoever holds the cluster key can already join
// the cluster. Each node makes, at every start, a fresh P-256 key of its own and a
// certificate for it signed by the CA of the key in use, valid for the node's addresses,
// for both TLS server and client use (etcd's members dial each other). It trusts the CAs of
// every key in its keyring, so a key rotation (install everywhere, use everywhere, remove)
// keeps every pair of nodes able to talk at each step. The files live in
// data_dir/registry/tls: ca.pem (the trusted CAs), node.pem, node.key (mode 0600).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/ids.h"
#include "base/result.h"
#include "wire/seal.h"

namespace cohort::dcm {

struct TlsCredentials {
  std::string ca_pem;    // the trusted CAs, one certificate per key in the keyring
  std::string cert_pem;  // this node's certificate
  std::string key_pem;   // its private key (PKCS#8)
};

// The CA certificate of `key`, self-signed. Its public key and name are the same on every
// node; the certificate's serial and signature differ, which no verifier minds.
Result<std::string> RegistryCaPem(const wire::Key& key);

// This node's credentials: trusting the CAs of every key in `ring`, signed by the CA of the
// key in use, valid for `ips` (IPv4, host order) as subject alternative names.
// REQUIRES: !ring.empty().
Result<TlsCredentials> IssueNodeCredentials(const wire::Keyring& ring, NodeId node,
                                            const std::vector<uint32_t>& ips);

// Writes the three files into `dir` (created, mode 0700), each atomically.
Status WriteCredentials(const std::string& dir, const TlsCredentials& credentials);

}  // namespace cohort::dcm
