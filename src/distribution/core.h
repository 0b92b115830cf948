// Content distribution (SPEC D, seed S4), sans-I/O: the decisions, never the bytes.
//
// A job's content is one byte stream: its file commands' contents back to back, in command
// order (Manifest::FileOffset). Every server keeps one number per job, the length of the
// stream prefix it holds; pipelining (D4), resume (D13) and source switching (D8) are all
// "continue the stream at that offset".
//
// - NodeAgent runs on every server holding the job. It accepts or declines offers to feed it
//   (D8: a faster source wins), and on its first offer takes the index list of servers not
//   yet approached (D5), orders it by upload rate (D7) and hands it to up to `fanout`
//   downstream servers at once (D6), each getting a share of the rest. A downstream that dies
//   is replaced by the next server of the share it was given, so a chain heals itself.
// - JobTracker runs on the base server (D1, D9, D11, D12): every server's and command's
//   state from the servers' reports; servers that went quiet are queried, repaired (fed
//   again from a source that has the data, at the offset they reached) and reactivated; the
//   job ends completed, or failed naming the servers that never finished.
//
// Drivers: src/node/distributor.cc (TCP, files) and src/sim/distribution_sim.cc (virtual
// links). Both call these classes on one thread; no clocks, no I/O here.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "base/ids.h"
#include "base/time.h"

namespace cohort::distribution {

enum class CommandKind : uint8_t { kFile = 0, kMkdir = 1, kEnd = 2 };
enum class CommandState : uint8_t { kNew = 0, kInProgress = 1, kCompleted = 2, kFailed = 3 };
enum class ServerState : uint8_t { kNew = 0, kReceiving = 1, kCompleted = 2, kFailed = 3 };
const char* CommandKindName(CommandKind k);
// The inverse of CommandKindName; nullopt for any other text.
std::optional<CommandKind> CommandKindFromName(const std::string& name);
const char* CommandStateName(CommandState s);
const char* ServerStateName(ServerState s);
enum class JobState : uint8_t { kRunning = 0, kCompleted = 1, kFailed = 2 };
const char* JobStateName(JobState s);
// The inverses of ServerStateName and JobStateName; nullopt for any other text.
std::optional<ServerState> ServerStateFromName(const std::string& name);
std::optional<JobState> JobStateFromName(const std::string& name);
// Where one server stands in a job, as a command's state is derived from it.
struct ServerProgress {
  uint32_t commands_done = 0;
  ServerState state = ServerState::kNew;
};
// The state of the job's command at `index`: completed once every server did it, failed
// if a failed server lacks it in a failed job, in progress once any server did it or is
// receiving. The tracker's and a saved job document's reading of it.
CommandState CommandStateOf(size_t index, const std::vector<ServerProgress>& servers, JobState job);

struct Command {
  uint32_t id = 0;
  CommandKind kind = CommandKind::kFile;
  std::string path;  // relative to the job's destination folder; empty for kEnd
  uint64_t size = 0;
  uint32_t mode = 0644;
  int64_t mtime_ns = 0;
  uint32_t uid = 0, gid = 0;  // the origin's owner; applied where the receiver may (root)
  bool operator==(const Command&) const = default;
};

// The job object's content part (D2): its commands in order. Grows while the job runs
// (D10) until its kEnd command.
struct Manifest {
  std::string job;  // unique per base server
  NodeId base = kNoNode;
  std::string dest;  // folder under each server's content root
  std::vector<Command> commands;

  uint64_t StreamSize() const;  // sum of the file sizes
  // Offset of command `index`'s first byte in the stream (files before it, summed).
  uint64_t FileOffset(size_t index) const;
  bool ended() const { return !commands.empty() && commands.back().kind == CommandKind::kEnd; }
  // Adds commands, refusing any after kEnd. Ids must continue the sequence.
  bool Append(const std::vector<Command>& more);
};

// Splits the servers still to approach among up to `fanout` downstream servers: the first
// `fanout` of `ordered` become targets and each gets a near-equal contiguous share of the
// rest as its own index list (D5, D6). `ordered` is already in approach order (D7).
struct Share {
  NodeId target = kNoNode;
  std::vector<NodeId> list;
};
std::vector<Share> SplitList(const std::vector<NodeId>& ordered, size_t fanout);
// Descending upload rate (bytes/s) (D7). A server whose rate is unknown (absent or 0) counts
// as fast as the fastest known: it is approached before any measured slower, so a server
// known to be slow never holds back one that may be fast, and it is measured in this job.
// Ties keep the order given, so a relay that knows no rates keeps its source's order.
std::vector<NodeId> OrderByRate(std::vector<NodeId> servers,
                                const std::map<NodeId, double>& upload_rates);

// ---- NodeAgent ----
struct Offer {
  NodeId source = kNoNode;
  std::vector<NodeId> list;  // servers this node is to approach; empty for a repair feed
  double rate = 0;           // bytes/s the source says it can send (D8)
  // The relay whose place the source takes (it saw that relay die): a receiver still fed
  // by it switches at once, though it may not have noticed the loss itself yet.
  NodeId replaces = kNoNode;
};

struct AgentOptions {
  size_t fanout = 1;
  // D8: switch to an offering source only if it is this much faster than the current one.
  double switch_factor = 1.5;
};

class NodeAgent {
 public:
  NodeAgent(NodeId self, AgentOptions options) : self_(self), options_(options) {}

  // What the driver must do after an event.
  struct StartFeed {  // connect to `target` and offer it the job with `list`
    NodeId target;
    std::vector<NodeId> list;
    NodeId replaces = kNoNode;  // Offer::replaces
  };
  struct StopFeed {  // stop being fed by `peer` (the connection closes)
    NodeId peer;
  };
  struct DropFeed {  // stop feeding `target` (the connection closes); its share is not handed on
    NodeId target;
  };
  using Action = std::variant<StartFeed, StopFeed, DropFeed>;

  // An offer to feed this node. Returns whether it is accepted; accepting may stop the
  // current source (D8) and, on the first offer, start feeds downstream (D5/D6). A node
  // that `holds_everything` (completed, or the origin) declines but still takes the list.
  bool OnOffer(const Offer& offer, const std::map<NodeId, double>& upload_rates,
               std::vector<Action>* actions, bool holds_everything = false);
  // The current source stopped (died, closed, or was switched away by the driver).
  void OnSourceLost(NodeId source);
  double source_rate() const { return source_rate_; }
  // The driver measured the current source's rate (bytes/s over its last interval).
  void SetSourceRate(double rate) { source_rate_ = rate; }
  NodeId source() const { return source_; }

  // A downstream feed ended: `completed` if the target holds everything, otherwise it died
  // or refused: its share is handed to the next server in it.
  void OnFeedEnded(NodeId target, bool completed, std::vector<Action>* actions);
  // Feed `target` with `list` to approach. A switch offer from the base (`only_if_free`) is
  // refused (false) while this node already feeds `fanout` servers: taking it would slow
  // them down. Unless this node feeds `replaces`, the target's hung source: that feed moves
  // nothing, so it is dropped for the target's.
  bool AddFeed(NodeId target, std::vector<NodeId> list, std::vector<Action>* actions,
               bool only_if_free = false, NodeId replaces = kNoNode);
  const std::map<NodeId, std::vector<NodeId>>& feeds() const { return feeds_; }

 private:
  NodeId self_;
  AgentOptions options_;
  NodeId source_ = kNoNode;
  double source_rate_ = 0;
  std::set<NodeId> approached_;                  // offered to, or given to another source
  std::map<NodeId, std::vector<NodeId>> feeds_;  // target -> the share it was given
};

// ---- JobTracker ----
struct TrackerOptions {
  Duration stall = Duration::Seconds(3);  // a server silent this long is queried
  Duration wait = Duration::Seconds(10);  // D12 wait period before a failed server is retried
  int max_repairs = 20;                   // then it stays failed
  // D8 at the base: a receiver fed at under this fraction of the best rate seen is offered
  // a completed server as a source; the receiver switches if that is faster.
  double switch_ratio = 0.5;
  // A receiver whose offset and commands have not moved this long, while its source has
  // held more than it for a stall period, is offered another source: its own is live and
  // sends nothing. One whose source the base has found failed (it answers nothing: hung,
  // or cut off) is offered another once it has not moved for a stall period.
  Duration stuck = Duration::Seconds(10);
};

// What a server says about the job, in a report or a query's answer.
struct ServerReport {
  NodeId server = kNoNode;
  bool has_job = true;
  uint64_t offset = 0;  // stream bytes held
  NodeId source = kNoNode;
  double rate = 0;             // bytes/s being received
  uint32_t commands_done = 0;  // commands completed, in order
  bool completed = false;      // every command through kEnd completed
  std::string error;           // a command failed here (e.g. disk full)
};

class JobTracker {
 public:
  JobTracker(Manifest manifest, std::vector<NodeId> servers, TrackerOptions options, Instant now);

  struct Query {  // ask `server` for its ServerReport
    NodeId server;
  };
  struct Feed {  // tell `source` to feed `target` from target's offset (repair, D12)
    NodeId source;
    NodeId target;
    bool switch_offer = false;  // D8: target has a source, this one may be faster
    // Target's source, which sends nothing: target drops it. When that source is failed, the
    // Feed goes to its own source where it can, whose upload to it moves nothing.
    NodeId replaces = kNoNode;
  };
  struct Drop {  // tell `server` the job is cancelled (CancelMsg); OnDropped when it answers
    NodeId server;
  };
  using Action = std::variant<Query, Feed, Drop>;

  void OnReport(const ServerReport& report, Instant now);
  // No answer to a query (or the server refused connections): failed until reactivated.
  void OnSilent(NodeId server, const std::string& why, Instant now);
  void Append(const std::vector<Command>& more);
  // Ends the job before every server finished (the operator's cancel, or an upload its
  // client abandoned): each server not completed is failed with `reason`, nothing is
  // queried or repaired any more, and Tick asks every server to drop the job (Drop) until
  // it confirms, again every wait period while it does not (up to max_repairs times). A
  // server that completes before it hears of the cancel still counts as completed.
  void Cancel(const std::string& reason, Instant now);
  void OnDropped(NodeId server);
  bool cancelled() const { return !cancel_reason_.empty(); }
  // Cancelled, and some server still to be told (Tick will send it a Drop).
  bool drops_pending() const;
  const std::string& cancel_reason() const { return cancel_reason_; }
  // Queries and repairs due at `now`.
  std::vector<Action> Tick(Instant now);

  struct ServerView {
    NodeId id = kNoNode;
    ServerState state = ServerState::kNew;
    uint64_t offset = 0;
    NodeId source = kNoNode;
    double rate = 0;
    uint32_t commands_done = 0;
    int repairs = 0;
    std::string error;
    Instant last_heard;
    Instant next_action;
    bool query_pending = false;
    bool unfed = false;  // its last word: no job, no source, or a failed command
    Instant unfed_since;
    double peak_rate = 0;
    Instant switch_offered;
    Instant progressed_at;    // when offset, commands_done or source last changed
    NodeId fed_by = kNoNode;  // the last source it reported, kept when it fails
    std::optional<Instant> behind_source_since;  // its source holds more (SourceHoldsMore)
    Instant completed_at;
    bool drop_pending = false;  // cancelled: not yet confirmed it dropped the job
    int drops_sent = 0;
  };
  const Manifest& manifest() const { return manifest_; }
  const std::map<NodeId, ServerView>& servers() const { return servers_; }
  // What each source uploads now (D7): the summed rates (bytes/s) of the servers receiving
  // from it, for the sources some server reports a nonzero rate from.
  std::map<NodeId, double> UploadRates() const;
  // The best of UploadRates() per source at any Tick of this job: what the base orders its
  // next jobs' servers by.
  const std::map<NodeId, double>& peak_upload_rates() const { return peak_upload_; }
  // kRunning while any server may still finish; then kCompleted or kFailed.
  JobState State() const;
  bool Final() const;
  CommandState StateOf(size_t command_index) const;
  std::vector<ServerProgress> Progress() const;

 private:
  NodeId PickSource(NodeId target) const;
  // Whether the server feeding `v` holds bytes or commands that `v` lacks.
  bool SourceHoldsMore(const ServerView& v) const;
  // The source to offer `v` if the base found its source failed, else kNoNode.
  NodeId SourceOfFailedSource(const ServerView& v) const;
  void OfferSwitches(Instant now, std::vector<Action>* actions);
  std::vector<Action> DropsDue(Instant now);
  Manifest manifest_;
  TrackerOptions options_;
  std::string cancel_reason_;
  std::map<NodeId, ServerView> servers_;
  std::map<NodeId, double> peak_upload_;
};

}  // namespace cohort::distribution
