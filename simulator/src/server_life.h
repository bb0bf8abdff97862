// The server's life in a run: the requests it serves (with the plaintext scan, the revocation
// checker and the trace), its kills and restarts, and its restores from backups. Every kill,
// restart and restore goes through here, so that LOG-008's check compares the log across a death
// with the length it had when it died.
//
// Thread safety: none. Everything runs on the thread that calls World::run().
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "ground_truth.h"
#include "opsync/client/http.h"
#include "opsync/simulator/run.h"
#include "opsync/simulator/trace.h"
#include "plaintext.h"

namespace opsync::simulator {

class World;
class Membership;

class ServerLife {
 public:
  // The server of `world`: it adds its answers to `trace`, scans what it receives with `scanner`,
  // has `membership` watch the revocations, tells `truth` of its log, and counts its crashes and
  // restores in `figures`.
  ServerLife(World& world, Trace& trace, GroundTruth& truth, PlaintextScanner& scanner,
             Membership& membership, Figures& figures)
      : world_(world),
        trace_(trace),
        truth_(truth),
        scanner_(scanner),
        membership_(membership),
        figures_(figures) {}

  // The server acts on a request: the plaintext scan, the revocation checker, the trace.
  client::HttpResponse serve(uint32_t device, uint64_t exchange, const client::HttpRequest& request,
                             const std::string& token, const std::string& kind);
  // Kills the server, which restarts on its storage `down_ms` later.
  void kill(uint64_t down_ms);
  // Restarts the server if it is down; `why` goes to the trace.
  void restart(const std::string& why);
  // Restores backup `pick` and starts the server (nothing happens while there is no backup).
  void restore(uint32_t pick);

 private:
  void note_restore();  // positions after a restore may be served anew

  World& world_;
  Trace& trace_;
  GroundTruth& truth_;
  PlaintextScanner& scanner_;
  Membership& membership_;
  Figures& figures_;
  std::optional<uint64_t> log_length_at_death_;  // LOG-008: the log when the server was killed
};

}  // namespace opsync::simulator
