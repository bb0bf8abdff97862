// What a client's traffic and waits say, for the checkers: the figures of a sync (what it moved,
// what it received again), the chunks of an interrupted upload sent again (FILE-031), and the
// waits between attempts (SYNC-010, SYNC-020). The device feeds them its requests and answers.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "node_host.h"

namespace opsync::simulator {

// The traffic of one device's syncs, from which the checkers learn what each moved.
class SyncTraffic {
 public:
  explicit SyncTraffic(NodeHost& world) : world_(world) {}

  // A sync begins; the device's copy of the log held `held_at_start` operations.
  void start(uint64_t held_at_start);
  // A request or an answer of the sync in progress.
  void observe_request(const HttpRequest& request);
  void observe_answer(const HttpRequest& request, const HttpResponse& response);
  // The client committed an operation of its own.
  void hold(const OpId& id) { held_ids_.insert(id); }
  // The operations of the pages the client received are held once it goes on to its next
  // request or ends its sync (it applies a page before, or while, it asks for the next); a kill
  // before that loses them.
  void settle_received();
  void forget_unsettled() { received_ids_.clear(); }
  // The sync ended: its figures into `record`, and the counts start again.
  void finish(SyncRecord& record);

 private:
  NodeHost& world_;
  bool read_ops_ = false;        // the first GET /ops (the prefix check) went out
  uint64_t last_after_seq_ = 0;  // the after_seq of the latest GET /ops
  bool searching_ = false;       // a divergence search (GET /blocks) since that read
  uint64_t searched_from_ = 0;   // the mirror's length when it began
  uint64_t held_at_start_ = 0;
  std::set<OpId> held_ids_;         // operations the client holds: committed or received
  std::vector<OpId> received_ids_;  // received in pages, not yet settled
  uint64_t redundant_ = 0;
  uint64_t received_ = 0;
  uint64_t allowance_ = 0;
  uint64_t last_page_redundant_ = 0;  // of the latest page, forgiven if its hash starts a search
  bool moved_ = false;
};

// FILE-031: an interrupted upload resumes with the chunks the server lacks. A chunk whose
// upload the server confirmed to this device is not sent again, unless the server said since
// that it lacks it (a file status listing it missing, a file it does not know or created anew)
// or a restore may have taken it.
class ChunkUploads {
 public:
  ChunkUploads(NodeHost& world, std::string device_name)
      : world_(world), device_name_(std::move(device_name)) {}

  void check_request(const HttpRequest& request);
  void note_answer(const HttpRequest& request, const HttpResponse& response);

 private:
  using ChunkKey = std::pair<std::string, uint32_t>;  // the file id as in the target, the index

  NodeHost& world_;
  std::string device_name_;
  std::set<ChunkKey> confirmed_chunks_;
  uint64_t restores_at_confirmations_ = 0;
};

// SYNC-010, SYNC-020: a wait between attempts lasts what the client asked, at most the cap, in
// true time give or take the drift of the device's oscillator, whatever its wall clock does.
class BackoffWatch {
 public:
  BackoffWatch(NodeHost& world, std::string device_name)
      : world_(world), device_name_(std::move(device_name)) {}

  // The client waits for `asked_ms` on its monotonic clock (a wait already begun goes on).
  void wait_begins(uint64_t asked_ms);
  // The client acts again: the wait, if any, is over.
  void wait_ends();
  void forget() { began_.reset(); }

 private:
  struct WaitBegan {
    uint64_t true_ms = 0;
    uint64_t asked_ms = 0;  // on the device's monotonic clock
  };

  NodeHost& world_;
  std::string device_name_;
  std::optional<WaitBegan> began_;
};

}  // namespace opsync::simulator
