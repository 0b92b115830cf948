#include "api/tree_relay.h"

#include <exception>

#include "base/log.h"
#include "io/asio.h"
#include "io/clock.h"
#include "node/hierarchy_service.h"

namespace cohort::api {

namespace {

HttpResponse FromRelayed(hierarchy::RelayedResponse r) {
  return HttpResponse{r.status, std::move(r.content_type), std::move(r.body), nullptr};
}

hierarchy::RelayedResponse ToRelayed(const HttpResponse& r, const std::string& self) {
  if (r.stream) {
    return hierarchy::RelayError(
        501, "a streamed answer is not relayed: ask node " + self + "'s own API for it");
  }
  return hierarchy::RelayedResponse{static_cast<uint16_t>(r.status), r.content_type, r.body};
}

}  // namespace

TreeRelay::TreeRelay(node::HierarchyService& hierarchy, boost::asio::io_context& io, Handler local)
    : hierarchy_(hierarchy),
      local_(std::move(local)),
      // Ids new across restarts, so an answer to a request of an earlier run matches none.
      core_(hierarchy::RelayOptions{.first_id = io::WallMillis() << 20}),
      io_(io),
      timer_(io) {
  hierarchy_.OnRelay([this](uint8_t level, NodeId from, std::span<const uint8_t> bytes) {
    hierarchy::RelayOutputs out;
    core_.OnMessage(io::SteadyNow(), hierarchy_.Position(), level, from, bytes, out);
    Process(out);
  });
}

TreeRelay::~TreeRelay() { hierarchy_.OnRelay(nullptr); }

void TreeRelay::Handle(const HttpRequest& request, Respond respond) {
  if (request.node.empty()) return local_(request, std::move(respond));
  auto path = hierarchy::ParsePath(request.node);
  if (!path) {
    return respond(
        {400, "application/json",
         hierarchy::RelayError(400, "header Cohort-Node: " + path.error().message()).body});
  }
  if (*path == hierarchy_.Position().path) return local_(request, std::move(respond));
  Relay(request, *path, std::move(respond));
}

void TreeRelay::Relay(const HttpRequest& request, const hierarchy::NodePath& target,
                      Respond respond) {
  hierarchy::RelayOutputs out;
  const uint64_t id =
      core_.Originate(io::SteadyNow(), hierarchy_.Position(), target,
                      {request.method, request.target, request.authorization, request.body}, out);
  waiting_[id] = std::move(respond);
  Process(out);
}

// This node is the target: its API answers as if asked here.
void TreeRelay::Execute(hierarchy::RelayExecute e) {
  const std::string self = hierarchy::PathText(hierarchy_.Position().path);
  HttpRequest request{std::move(e.request.method),
                      std::move(e.request.target),
                      std::move(e.request.body),
                      std::move(e.request.authorization),
                      "relay from node " + hierarchy::PathText(e.origin),
                      ""};
  std::weak_ptr<bool> alive = alive_;
  auto answer = [this, alive, id = e.id, hops = e.hops, self](HttpResponse r) {
    if (alive.expired()) return;
    hierarchy::RelayOutputs out;
    core_.Answer(id, hops, ToRelayed(r, self), out);
    Process(out);
  };
  // As the HTTP server does: a handler that throws answers 500, the loop goes on.
  try {
    local_(request, answer);
  } catch (const std::exception& ex) {
    answer({500, "application/json",
            hierarchy::RelayError(500, std::string("internal error: ") + ex.what()).body, nullptr});
  }
}

void TreeRelay::Process(hierarchy::RelayOutputs& out) {
  for (auto& o : out) {
    if (auto* s = std::get_if<hierarchy::RelaySend>(&o)) {
      // Not sent: the origin's deadline answers for it.
      if (auto sent = hierarchy_.SendRelay(s->level, s->to, s->bytes); !sent) {
        Log(LogLevel::kWarn, "relay", "a relayed message could not be sent",
            {{"level", std::to_string(s->level)},
             {"to", std::to_string(s->to)},
             {"error", sent.error().message()}});
      }
    } else if (auto* e = std::get_if<hierarchy::RelayExecute>(&o)) {
      // Later, not from inside the transport's delivery: the API may change what delivers.
      boost::asio::post(io_, [this, alive = std::weak_ptr<bool>(alive_), e = std::move(*e)] {
        if (!alive.expired()) Execute(e);
      });
    } else if (auto* a = std::get_if<hierarchy::RelayAnswered>(&o)) {
      auto it = waiting_.find(a->id);
      if (it == waiting_.end()) continue;
      Respond respond = std::move(it->second);
      waiting_.erase(it);
      respond(FromRelayed(std::move(a->response)));
    }
  }
  out.clear();
  Arm();
}

void TreeRelay::Arm() {
  const Instant next = core_.NextDeadline();
  if (next == Instant::Max()) return timer_.Cancel();
  timer_.At(next, [this] {
    hierarchy::RelayOutputs out;
    core_.Tick(io::SteadyNow(), out);
    Process(out);
  });
}

}  // namespace cohort::api
