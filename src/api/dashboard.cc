#include "api/dashboard.h"

namespace cohort::api {

std::string_view DashboardHtml() {
  static constexpr std::string_view kPage = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>cohort</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; margin: 0 0 .2em; }
h2 { font-size: 1.05em; margin: 1.4em 0 .4em; }
table { border-collapse: collapse; }
th, td { padding: .2em .8em; text-align: left; border-bottom: 1px solid #ddd; }
th { background: #f4f4f4; }
.up, .ok, .reachable, .local { color: #17702c; }
.failed, .unreachable { color: #b3261e; font-weight: bold; }
.degraded, .joining, .left { color: #9a6700; }
#error { color: #b3261e; }
.muted { color: #777; }
</style>
</head>
<body>
<h1 id="title">cohort</h1>
<div id="summary" class="muted">loading…</div>
<div id="error"></div>
<h2>Cluster map</h2><div id="map"></div>
<h2>Topology: disk access from each node</h2><div id="disks"></div>
<h2>Disk usage</h2><div id="diskusage"></div>
<h2>Node usage</h2><div id="nodeusage"></div>
<h2>Topology: connectivity <span id="seen" class="muted"></span></h2><div id="topo"></div>
<div id="levels"></div>
<script>
"use strict";
function esc(v) {
  return String(v).replace(/[&<>"]/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]));
}
function cell(v, cls) {
  const text = v === null || v === undefined ? "–" : esc(v);
  return "<td" + (cls ? ' class="' + esc(cls) + '"' : "") + ">" + text + "</td>";
}
function table(head, rows) {
  if (!rows.length) return '<p class="muted">none</p>';
  return "<table><tr>" + head.map(h => "<th>" + esc(h) + "</th>").join("") + "</tr>" +
         rows.map(r => "<tr>" + r.join("") + "</tr>").join("") + "</table>";
}
function gib(b) { return b === null ? null : (b / 1073741824).toFixed(1) + " GiB"; }
// M14: a level above this cluster, its members' sub-clusters summed.
function levelTable(l) {
  const head = "<h2>Level " + esc(l.depth) + ": " + esc(l.name) + ' <span class="muted">(this ' +
               "cluster's subtree is its node " + esc(l.node) +
               (l.map_version === null ? "; nothing known of it yet)" :
                "; supervisor " + esc(l.supervisor ?? "not elected yet") + ", map version " +
                esc(l.map_version) + ")") +
               "</span></h2>";
  const a = l.aggregate;
  const total = a ? "<p>" + esc(a.members_up + " of " + a.members + " up, " + a.capacity_mbps +
                                " Mb/s (" + a.free_mbps + " free)") + "</p>" : "";
  return head + total + table(["node", "state", "up", "capacity Mb/s", "free Mb/s",
                               "capacity unknown", "disks ok", "degraded", "failed"],
      l.members.map(m => {
        const x = m.aggregate, d = x ? x.disk_counts : null;
        return [cell(m.id), cell(m.state, m.state), cell(x && x.members_up + "/" + x.members),
                cell(x && x.capacity_mbps), cell(x && x.free_mbps), cell(x && x.capacity_unknown),
                cell(d && d.ok),
                cell(d && d.degraded), cell(d && d.failed)];
      })) +
      (l.omitted ? '<p class="muted">' + esc(l.omitted) + " more members not listed: the view " +
                   "sent down is over its 480 KiB bound</p>" : "");
}
async function refresh() {
  try {
    const [status, t] = await Promise.all(
        ["/v1/status", "/v1/tables"].map(p => fetch(p).then(r => r.json())));
    document.getElementById("error").textContent = "";
    document.getElementById("title").textContent =
        "cohort — cluster " + status.cluster + ", node " + status.node.id + " (" + status.role + ")";
    document.getElementById("summary").textContent =
        "supervisor " + (t.supervisor ?? "–") + " · map version " + t.map_version +
        " · bus " + status.bus.mode + " · uptime " + status.uptime_s.toFixed(0) + " s";
    document.getElementById("map").innerHTML = table(["node", "name", "state", "supervisor", "addresses"],
        t.cluster_map.map(m => [cell(m.id), cell(m.name), cell(m.state, m.state),
                                cell(m.supervisor ? "yes" : ""), cell(m.addresses.join(", "))]));
    document.getElementById("disks").innerHTML = table(["disk", "state", "access"],
        t.topology.disks.map(d => [cell(d.id), cell(d.state, d.state),
            "<td>" + d.access.map(a => '<span class="' + esc(a.path) + '">' + esc(a.node) + ": " +
                                       esc(a.path) + "</span>").join(" &nbsp; ") + "</td>"]));
    document.getElementById("diskusage").innerHTML = t.usage_from === null
        ? '<p class="muted">' + esc(t.usage_error) + "</p>"
        : table(["disk", "state", "size", "free", "used %", "busy %", "check ms"],
            t.disk_usage.map(d => [cell(d.id), cell(d.state, d.state), cell(gib(d.total_bytes)),
                                   cell(gib(d.free_bytes)), cell(d.used_percent),
                                   cell(d.busy_percent), cell(d.probe_ms)]));
    document.getElementById("nodeusage").innerHTML = t.usage_from === null ? "" :
        table(["node", "name", "capacity Mb/s", "tx Mb/s", "rx Mb/s", "load", "age ms"],
            t.node_usage.map(n => [cell(n.id), cell(n.name), cell(n.capacity_mbps), cell(n.tx_mbps),
                                   cell(n.rx_mbps), cell(n.load), cell(n.age_ms)]));
    document.getElementById("seen").textContent = "(as seen from node " + t.seen_from + ")";
    document.getElementById("topo").innerHTML = table(["node", "state", "addresses"],
        t.topology.nodes.map(n => [cell(n.id), cell(n.state, n.state),
            "<td>" + n.addresses.map(a => '<span class="' + esc(a.status) + '">' + esc(a.address) +
                                          (a.preferred ? " *" : "") + "</span>").join(", ") + "</td>"]));
    document.getElementById("levels").innerHTML = (t.levels || []).map(levelTable).join("");
  } catch (e) {
    document.getElementById("error").textContent = "cannot reach this node's API: " + e;
  }
}
refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>
)html";
  return kPage;
}

}  // namespace cohort::api
