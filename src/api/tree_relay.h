// TreeRelay: API requests for a node anywhere in the tree (M14). A request with the header
// `Cohort-Node: <path>` (ids from the root level down, e.g. 2/3) is carried by
// hierarchy::RelayCore over the sealed transport of each level on the way, answered by the
// target node's own API as if asked there (its token checked there), and its answer
// returned to the client. A streamed answer (a watch) is not relayed: it is refused, naming
// the node's own API. Runs on the node's loop thread.
#pragma once

#include <map>
#include <memory>

#include "api/server.h"
#include "hierarchy/relay.h"
#include "io/timer.h"

namespace cohort::node {
class HierarchyService;
}

namespace cohort::api {

class TreeRelay {
 public:
  // `local` answers the requests this node is the target of (Api::Handle).
  TreeRelay(node::HierarchyService& hierarchy, boost::asio::io_context& io, Handler local);
  ~TreeRelay();
  TreeRelay(const TreeRelay&) = delete;
  TreeRelay& operator=(const TreeRelay&) = delete;

  // The server's handler: requests for another node are relayed, the rest answered here.
  void Handle(const HttpRequest& request, Respond respond);

 private:
  void Relay(const HttpRequest& request, const hierarchy::NodePath& target, Respond respond);
  void Execute(hierarchy::RelayExecute e);
  void Process(hierarchy::RelayOutputs& out);
  void Arm();

  node::HierarchyService& hierarchy_;
  Handler local_;
  hierarchy::RelayCore core_;
  boost::asio::io_context& io_;
  std::map<uint64_t, Respond> waiting_;  // this node's clients, by request id
  io::Timer timer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // answers hold it weakly
};

}  // namespace cohort::api
