// The trace of a run: every event in order, hashed.
//
// The trace hash is SHA-256 over every event in order: its true time, its node, its kind and its
// bytes (a message's method, target and body, or its status and body; an edit's operation id and
// plaintext; a fault's parameters). The same seed and configuration give the same hash on every
// run and in every build configuration (release, sanitizers); a changed hash means the run did
// something else. Each event also carries the reading of its node's own clock and a line of
// detail, and message events name their exchange and peer, which is what a space-time diagram
// draws; the events themselves are kept only when asked for (rendering, bug files).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "opsync/protocol/bytes.h"
#include "opsync/protocol/sha256.h"

namespace opsync::simulator {

struct TraceEvent {
  uint64_t time_ms = 0;   // true virtual time
  std::string node;       // "server", "device-0", ... or "world" for phase changes
  std::string kind;       // e.g. "send", "arrive", "answer", "deliver", "lost", "edit", "crash"
  std::string detail;     // one line for people
  uint64_t clock_ms = 0;  // what the node's own clock read at that moment
  uint64_t exchange = 0;  // message events: the request/response pair they belong to
  std::string peer;       // message events: the other end
  std::string body;       // kept bytes (message bodies), only when the trace keeps bodies
  uint64_t digest = 0;    // the first 8 bytes of SHA-256 over what the trace hash took in
};

class Trace {
 public:
  // keep_events: keep every event (with its bytes when keep_bodies) for rendering and bug files.
  Trace(bool keep_events, bool keep_bodies);

  void add(TraceEvent event, ByteView bytes);

  // SHA-256 over every event so far.
  Hash hash() const { return hasher_.digest(); }
  uint64_t event_count() const { return count_; }
  const std::vector<TraceEvent>& events() const { return events_; }
  // Per-event digests (always kept: 8 bytes each), to find where two runs part.
  const std::vector<uint64_t>& digests() const { return digests_; }

 private:
  bool keep_events_;
  bool keep_bodies_;
  Sha256 hasher_;
  Sha256 event_hasher_;
  uint64_t count_ = 0;
  std::vector<TraceEvent> events_;
  std::vector<uint64_t> digests_;
};

}  // namespace opsync::simulator
