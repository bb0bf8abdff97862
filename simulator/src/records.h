// What the simulator records of a run for its checkers: the edits and syncs as they happen, and
// the devices' and the server's reports at the end.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "opsync/protocol/crypto.h"
#include "opsync/protocol/lww.h"
#include "opsync/protocol/op.h"

namespace opsync::simulator {

// ---- what the checkers learn about the run ----------------------------------------------------

// One local edit, as the simulator made it: enough to say what it saw and what it wrote.
struct EditRecord {
  uint64_t index = 0;  // in the order edits were made; a re-done edit keeps its original's index
  uint32_t device = 0;
  uint64_t time_ms = 0;
  uint64_t clock_ms = 0;
  std::string kind;  // put, delete, attach, detach
  std::string key;
  OpId op;
  Hlc hlc;                           // the operation's timestamp (Dataans: created_at, 0)
  std::vector<OpId> seen;            // the key's operations the device held as heads before
  std::optional<OpId> previous_own;  // the device's edit before this one
  // False for an operation the device made with no edit asking for it (a retry that writes an
  // edit again under a new id): the log must not hold one (SYNC-008).
  bool requested = true;
};

// One sync of one device, from its start to its end.
struct SyncRecord {
  uint32_t device = 0;
  uint64_t start_ms = 0;
  uint64_t end_ms = 0;
  bool finished = false;
  bool ok = false;
  std::string error;                // the error's code and message when it failed
  uint32_t faults_seen = 0;         // faults that touched this sync (lost messages, restarts, ...)
  bool heal = false;                // in the heal phase
  bool moved = false;               // anything went either way
  uint64_t held_at_start = 0;       // mirror length (opsync) or operations held (Dataans)
  uint64_t redundant_ops = 0;       // operations received that the device held at the start
  uint64_t redundancy_allowed = 0;  // after a divergence: what followed the last matching block
  uint64_t ops_received = 0;
  uint64_t bytes_received = 0;
  uint64_t bytes_sent = 0;
};

// A device's objects as a reader sees them: per key, its heads, winner first (Dataans: the
// note, as one head).
struct HeadView {
  OpId id;
  Hlc hlc;
  bool deleted = false;
  Bytes value;
  std::vector<FileId> files;
  bool operator==(const HeadView&) const = default;
};
using ObjectsView = std::map<std::string, std::vector<HeadView>>;

// A device at the end of the run, for the checkers.
struct DeviceReport {
  std::string name;
  bool live = false;             // joined, not revoked: the checkers hold it to convergence
  std::string excepted_because;  // why not live
  ObjectsView objects;
  std::map<FileId, Bytes> file_copies;  // verified copies it holds
  std::set<FileId> referenced_files;    // by its heads
  std::set<FileId>
      unreferenced_copies;  // copies of files no head references and never deleted (FILE-022)
  std::set<FileId>
      retained_copies;  // copies of files no head references, kept after their DELETE (FILE-040)
  uint64_t pending_ops = 0;                // not yet acknowledged
  std::set<OpId> rejected_ops;             // kept, never uploaded (SYNC-011)
  std::map<OpId, Hlc> pending_hlc;         // its unacknowledged operations' timestamps now
                                           // (re-stamping after clock_skew may have lowered them)
  std::optional<Hash> mirror_prefix_hash;  // opsync: prefix hash of its mirror, and its length
  uint64_t mirror_length = 0;
};

// The server at the end of the run.
struct ServerReport {
  std::vector<OpId> log;                          // in log order
  std::vector<uint64_t> seqs;                     // positions as stored
  std::vector<std::optional<ObjectOp>> meanings;  // decrypted, nullopt when unreadable
  std::map<FileId, std::string> file_states;      // every file it holds, any state
  std::vector<Bytes> stored_bytes;                // everything it stores, for the plaintext scan
};

}  // namespace opsync::simulator
