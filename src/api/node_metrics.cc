#include "api/node_metrics.h"

#include <map>
#include <string>

#include "dcm/dcm.h"
#include "liveness/messages.h"
#include "membership/messages.h"
#include "node/distributor.h"
#include "node/node.h"

namespace cohort::api {

void TransportMetrics(const node::Node& node, MetricsText& t) {
  const auto& m = node.transport().metrics();
  t.Counter("cohort_transport_datagrams_sent_total", "Sealed datagrams sent.", m.datagrams_sent);
  t.Counter("cohort_transport_datagrams_received_total",
            "Datagrams received, authenticated and accepted.", m.datagrams_received);
  t.Counter("cohort_transport_bytes_sent_total", "Bytes of sealed datagrams sent.", m.bytes_sent);
  t.Counter("cohort_transport_bytes_received_total", "Bytes of accepted datagrams.",
            m.bytes_received);
  t.Family("cohort_transport_datagrams_rejected_total", "counter", "Datagrams dropped, by reason.");
  for (int r = 0; r < wire::kRejectCount; ++r) {
    t.Sample("cohort_transport_datagrams_rejected_total",
             {{"reason", wire::RejectLabel(static_cast<wire::Reject>(r))}}, m.rejected[r]);
  }
  t.Counter("cohort_transport_failovers_total",
            "Requests re-sent to an alternate address after a timeout.", m.failovers);
  t.Counter("cohort_transport_requests_total", "Requests started.", m.requests);
  t.Counter("cohort_transport_requests_failed_total", "Requests with no reply on any address.",
            m.requests_failed);
  t.Counter("cohort_transport_fragments_sent_total", "Fragments sent for large messages.",
            m.fragments_sent);
  t.Counter("cohort_transport_messages_too_large_total",
            "Messages dropped at the sender: larger than a receiver takes or the path carries.",
            m.messages_too_large);
  t.Counter("cohort_transport_table_changes_total", "Address table updates merged.",
            m.table_changes);
  t.Family("cohort_transport_adapter_bytes_sent_total", "counter",
           "Bytes of sealed datagrams sent from each local adapter, by the service they carried "
           "(RM3).");
  const auto& adapters = node.transport().options().adapters;
  for (const auto& [key, bytes] : m.bytes_sent_by) {
    if (key.first >= adapters.size()) continue;
    const char* service = key.second == membership::kChannel ? "membership"
                          : key.second == liveness::kChannel ? "liveness"
                          : key.second == 0                  ? "transport"
                                                             : "other";
    t.Sample("cohort_transport_adapter_bytes_sent_total",
             {{"adapter", adapters[key.first].info.address.ToString()}, {"service", service}},
             bytes);
  }
  t.Gauge("cohort_transport_table_nodes", "Nodes in the address table.",
          node.transport().table().size());
  t.Gauge("cohort_transport_table_version", "Address table version.",
          node.transport().table().version());
}

void MembershipMetrics(const node::Node& node, MetricsText& t) {
  const auto& mm = node.membership().metrics();
  const membership::ClusterMap& map = node.membership().map();
  t.Gauge("cohort_membership_is_supervisor", "1 if this node is the cluster supervisor.",
          node.membership().role() == membership::Role::kSupervisor ? 1 : 0);
  t.Counter("cohort_membership_supervisor_changes_total", "Times this node's supervisor changed.",
            mm.supervisor_changes);
  t.Counter("cohort_membership_failures_declared_total",
            "Failures marked in the map while this node supervised.", mm.failures_declared);
  t.Counter("cohort_membership_declarations_sent_total",
            "Failures this node declared as a ring successor.", mm.declarations_sent);
  t.Gauge("cohort_membership_map_version", "Version of the cluster map this node holds.",
          map.version);
  t.Family("cohort_membership_members", "gauge",
           "Members of the cluster map this node holds, by state.");
  std::map<membership::MemberState, size_t> members;
  for (const auto& [id, member] : map.members) ++members[member.state];
  for (uint8_t st = 0; st <= membership::kMemberStateMax; ++st) {
    const auto state = static_cast<membership::MemberState>(st);
    t.Sample("cohort_membership_members", {{"state", membership::MemberStateName(state)}},
             members[state]);
  }
  t.Family("cohort_membership_disks", "gauge",
           "Disks of the topology table, by state (M11: degraded, a node that is up lost its "
           "path; failed, declared failed).");
  std::map<membership::DiskState, size_t> disks;
  for (const auto& [id, disk] : map.disks) ++disks[map.StateOf(disk)];
  for (auto state : {membership::DiskState::kOk, membership::DiskState::kDegraded,
                     membership::DiskState::kFailed}) {
    t.Sample("cohort_membership_disks", {{"state", membership::DiskStateName(state)}},
             disks[state]);
  }
  t.Counter("cohort_membership_disk_failures_declared_total",
            "Disks declared failed while this node supervised (M11).", mm.disk_failures_declared);
  t.Counter("cohort_membership_disk_path_failures_total",
            "Disk access paths marked failed while this node supervised.", mm.disk_path_failures);
  t.Counter("cohort_membership_messages_sent_total", "Membership messages sent.", mm.messages_sent);
}

void LivenessMetrics(const node::Node& node, MetricsText& t) {
  const auto& lm = node.liveness().metrics();
  t.Counter("cohort_liveness_heartbeats_sent_total", "Heartbeats sent from this node's adapters.",
            lm.heartbeats_sent);
  t.Counter("cohort_liveness_heartbeats_received_total",
            "Heartbeats received on this node's adapters.", lm.heartbeats_received);
  t.Counter("cohort_liveness_heartbeat_bytes_sent_total",
            "Payload bytes of heartbeats sent (before the seal and headers).",
            lm.heartbeat_bytes_sent);
  t.Counter("cohort_liveness_probes_sent_total",
            "Asks for a heartbeat on a path whose heartbeat was overdue.", lm.probes_sent);
  t.Counter("cohort_liveness_silences_total",
            "Times a network of this node's fell silent (nothing heard on its adapters there "
            "while a heartbeat was due): its addresses were reported unheard at once.",
            lm.silences);
  t.Counter("cohort_liveness_rows_sent_total", "Rows of the path matrix this node sent.",
            lm.rows_sent);
  t.Counter("cohort_liveness_rows_received_total", "Newer rows of other nodes received.",
            lm.rows_received);
  t.Counter("cohort_liveness_row_bytes_received_total",
            "Payload bytes of every row received, taken or not (before the seal and headers).",
            lm.row_bytes_received);
  t.Family("cohort_liveness_paths", "gauge",
           "Paths between adapters of different nodes, by network and state, as this node "
           "sees them.");
  for (const liveness::NetworkView& v : node.liveness().View()) {
    std::map<liveness::PathState, size_t> count;
    for (const auto& row : v.paths) {
      for (liveness::PathState p : row) ++count[p];
    }
    for (auto state :
         {liveness::PathState::kUp, liveness::PathState::kDown, liveness::PathState::kUnknown}) {
      t.Sample("cohort_liveness_paths",
               {{"network", v.name}, {"state", liveness::PathStateName(state)}}, count[state]);
    }
  }
}

void DiskMetrics(const node::Node& node, MetricsText& t) {
  t.Counter("cohort_disk_check_failures_total", "This node's disk checks that failed.",
            node.disk_check_failures());
  if (node.disk_checks().empty()) return;
  t.Family("cohort_disk_ok", "gauge", "1 if this node's latest check of the disk passed.");
  for (const auto& [id, c] : node.disk_checks()) {
    t.Sample("cohort_disk_ok", {{"disk", id}}, c.ok ? 1 : 0);
  }
  t.Family("cohort_disk_check_seconds", "gauge",
           "Duration of this node's latest check of the disk.");
  for (const auto& [id, c] : node.disk_checks()) {
    t.Sample("cohort_disk_check_seconds", {{"disk", id}},
             static_cast<double>(c.took.micros()) / 1e6);
  }
}

void DistributionMetrics(const node::Distributor& distributor, MetricsText& t) {
  t.Counter("cohort_distribution_bytes_sent_total", "Job content bytes sent to other servers.",
            distributor.bytes_sent());
  t.Counter("cohort_distribution_bytes_received_total",
            "Job content bytes received from other servers.", distributor.bytes_received());
  t.Gauge("cohort_distribution_jobs_held",
          "Jobs in this node's memory: running, or finished less than forget_after_s ago.",
          distributor.jobs_held());
  t.Family("cohort_distribution_adapter_bytes_sent_total", "counter",
           "Bytes the data plane wrote from each local address (RM3: which network "
           "distribution data took).");
  for (const auto& [ip, bytes] : distributor.bytes_sent_by_adapter()) {
    t.Sample("cohort_distribution_adapter_bytes_sent_total", {{"adapter", Ipv4ToString(ip)}},
             bytes);
  }
}

void RegistryMetrics(const dcm::Dcm& dcm, MetricsText& t) {
  const auto& rs = dcm.registry_status();
  t.Gauge("cohort_registry_has_leader", "1 if the registry has a leader (read-write phase).",
          rs && rs->phase == registry::Phase::kReadWrite ? 1 : 0);
  t.Gauge("cohort_registry_server_restarts", "Times this node's registry server was restarted.",
          dcm.server_restarts());
  t.Gauge("cohort_registry_map_version_published",
          "Highest cluster map version stored in the registry by or before this node.",
          dcm.map_published());
}

}  // namespace cohort::api
