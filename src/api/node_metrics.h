// The node's own families of /metrics (transport, membership, liveness, disks, distribution,
// registry), one function per component; the other components' are beside their handlers.
#pragma once

#include "api/metrics_text.h"

namespace cohort::dcm {
class Dcm;
}
namespace cohort::node {
class Distributor;
class Node;
}  // namespace cohort::node

namespace cohort::api {

void TransportMetrics(const node::Node& node, MetricsText& t);
void MembershipMetrics(const node::Node& node, MetricsText& t);
void LivenessMetrics(const node::Node& node, MetricsText& t);
void DiskMetrics(const node::Node& node, MetricsText& t);
void DistributionMetrics(const node::Distributor& distributor, MetricsText& t);
void RegistryMetrics(const dcm::Dcm& dcm, MetricsText& t);

}  // namespace cohort::api
