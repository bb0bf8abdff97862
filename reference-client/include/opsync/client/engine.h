// The sync engine: one sync of a device's LocalStore with a server (spec section 9), as a state
// machine that owns no socket, thread or clock.
//
// A driver asks next(now) for the next step: a request to send, a time to wait until (backoff
// after a transport failure, SYNC-010), or the end. It answers every request with on_response() or
// on_transport_failure(), passing the time again. The time is the device's two clocks (DeviceTime):
// stamps and the server's time are on its wall clock; waits and round trips on its monotonic clock,
// so that a wall clock that is set, steps or stands still never stretches a wait (SYNC-020).
// Between the two it may call work() to apply what the previous answer brought while the request
// travels. The same engine runs behind cpp-httplib (http_driver.h) and, in the simulator, over a
// simulated network with simulated time; with the same responses, times and random source it makes
// the same requests.
//
// What one sync does, in order (spec 9.1):
//   1. GET /v1/info: the protocol version (VER-002), the limits, a clock offset estimate (HLC-010).
//   2. GET /ops?after_seq=m: the prefix check (SYNC-001). On a mismatch or after_seq_beyond_head,
//      GET /blocks up to the mirror's block count, then truncate the mirror to the verified prefix
//      (SYNC-002).
//   3. Pages of GET /ops from the mirror's end, each applied in one store transaction (SYNC-004,
//      SYNC-012), taking in every applied timestamp (HLC-002).
//   4. Files that this device holds and has not committed are uploaded and committed (FILE-021),
//      then the outbox and the candidates are uploaded in batches (SYNC-005); clock_skew rejections
//      are re-stamped and sent again (HLC-020..022); other rejections are kept (SYNC-011).
//   5. Catch-up pages when acknowledgements landed beyond the mirror (step 6 of 9.1), and another
//      upload round if a stale claim sent operations back to the queue.
//   6. File reconciliation of every referenced file by the table of spec 11.4: resumable chunked
//      uploads and downloads, one chunk in memory at a time (FILE-031, FILE-032); then files no
//      head references any more are deleted here and on the server (FILE-022).
//
// Every piece of progress is committed to the store as it happens, so a sync interrupted anywhere
// (kill -9 included) resumes where it stopped: the next sync re-reads from the mirror's end, and
// chunk transfers restart at the first chunk not recorded as done.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "opsync/client/http.h"
#include "opsync/client/store.h"
#include "opsync/protocol/crypto.h"
#include "opsync/protocol/random.h"

namespace opsync::client {

// The device's unwrapped data keys, by key id, as subkeys (spec 5.3).
struct Keyring {
  uint32_t current_key_id = 1;
  std::map<uint32_t, Subkeys> keys;

  const Subkeys* find(uint32_t key_id) const;
  const Subkeys& current() const;  // REQUIRES: the current key is present
  // The operation as the object store sees it, opened with the key it names (spec 5.3) and parsed
  // (spec 10.1): the one place an operation is decrypted. nullopt when its key is not on this
  // device, or its payload does not open or does not parse (VER-007, LWW-003).
  std::optional<ObjectOp> open_op(const WireOp& op) const;
};

struct SyncOptions {
  // Attempts per request before the sync fails with kTransport. Backoff between them follows
  // SYNC-010: 2^attempt units, at most backoff_cap_ms.
  uint32_t transport_attempts_max = 6;
  uint64_t backoff_unit_ms = 1000;
  uint64_t backoff_cap_ms = 64000;
  // Upload rounds (each: upload everything pending, then catch up) before giving up; more are
  // needed only when a restored server or stale claims keep sending operations back. (clock_skew
  // rejections are bounded per operation: three re-stamps of one in one sync, HLC-020.)
  uint32_t upload_rounds_max = 8;
  // Divergence searches (spec 9.1 step 3) in one sync before it fails with kProtocolError: one
  // is a server restored from backup, several mean the log keeps changing under the sync.
  uint32_t divergence_searches_max = 4;
  // Operations per page asked of the server (the `limit` of GET /ops); 0 leaves it to the server's
  // page_ops_max. Small pages make every sync read several, which tests use.
  uint32_t page_ops_max = 0;
};

// What a sync did, for the one-line summary and for tests.
struct SyncReport {
  uint64_t requests = 0;
  uint64_t ops_uploaded = 0;      // acknowledged after an upload of ours
  uint64_t ops_applied = 0;       // new to this device
  uint64_t ops_acknowledged = 0;  // ours (or candidates) found in the server's pages
  uint64_t ops_restamped = 0;     // re-stamped after clock_skew (HLC-020)
  uint64_t ops_rejected = 0;      // kept, not uploaded (SYNC-011)
  uint64_t ops_unreadable = 0;    // VER-007 / LWW-003
  bool diverged = false;          // the prefix check failed and blocks were compared
  uint64_t verified_prefix = 0;   // p after the prefix check or the last divergence search
  uint64_t ops_unverified = 0;    // mirror operations every divergence search set aside, summed:
                                  // what the sync may have to read again
  uint64_t files_uploaded = 0;    // committed by this sync
  uint64_t files_downloaded = 0;  // verified and stored by this sync
  uint64_t files_pending = 0;     // wait or missing (FILE-033)
  uint64_t files_deleted =
      0;  // no longer referenced: DELETE sent, the copy kept (FILE-022, FILE-040)
  uint64_t files_expired =
      0;  // copies of unreferenced files removed after the retention time (FILE-040)
  uint64_t chunks_uploaded = 0;
  uint64_t chunks_downloaded = 0;
  uint64_t file_bytes_moved = 0;    // plaintext bytes of chunks moved either way
  uint64_t file_bytes_planned = 0;  // plaintext bytes of every transfer started, for progress
  int64_t clock_offset_ms = 0;      // the estimate this sync used
  uint64_t max_clock_skew_ms = 0;   // the server's, for HLC-011
};

// The device's two clocks at one moment. The wall clock tells the time of day: the user or the
// system may set it, it may step either way or stand still. The monotonic clock only moves
// forward, at the rate of the device's oscillator (CLOCK_MONOTONIC, std::chrono::steady_clock);
// its zero means nothing, so only differences of its readings are used.
struct DeviceTime {
  uint64_t wall_ms = 0;
  uint64_t monotonic_ms = 0;

  // Both clocks reading the same: for drivers and tests whose wall clock never jumps.
  static constexpr DeviceTime same(uint64_t ms) { return DeviceTime{ms, ms}; }
};

struct SendRequest {
  HttpRequest request;
};
// Ask again when the monotonic clock reads `until_monotonic_ms` (SYNC-010, SYNC-020).
struct WaitUntil {
  uint64_t until_monotonic_ms = 0;
};
struct SyncFinished {
  std::optional<Error> error;  // nullopt: the sync completed
};
using SyncStep = std::variant<SendRequest, WaitUntil, SyncFinished>;

class SyncEngine {
 public:
  // The store must stay open, and nothing else may write to it, until the engine finishes.
  SyncEngine(LocalStore& store, const Keyring& keys, RandomSource& random,
             SyncOptions options = {});
  ~SyncEngine();
  SyncEngine(const SyncEngine&) = delete;
  SyncEngine& operator=(const SyncEngine&) = delete;

  // The next step at device time `now`. After SendRequest, the driver must report the outcome
  // before calling next() again; after WaitUntil it calls next() once the monotonic clock reached
  // that reading; after SyncFinished the engine is done and keeps answering the same.
  SyncStep next(DeviceTime now);
  void on_response(const HttpResponse& response, DeviceTime now);
  void on_transport_failure(const std::string& what, DeviceTime now);

  // Work the last answer left for later, so that it overlaps the next request's trip: applying a
  // page of operations while the next page is fetched (spec 9.1 step 4). After next() returned
  // SendRequest, a driver may call work() while that request is on its way, from its own thread
  // (it touches the store, never the request or the transport); on_response() and
  // on_transport_failure() do the work first when the driver did not. The store ends the same
  // either way. If the work fails, the sync ends with that error and the answer is ignored.
  bool has_work() const;
  void work();

  const SyncReport& report() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// How long a driver waits before retrying after `attempt` failures (attempt counts from 0):
// SYNC-010's 2^attempt units, capped.
uint64_t backoff_ms(uint32_t attempt, uint64_t unit_ms, uint64_t cap_ms);

}  // namespace opsync::client
