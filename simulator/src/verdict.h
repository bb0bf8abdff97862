// What a run found and what it reports: the first violation of each checker, the checks at the
// end over the end state the checkers read (the nodes' reports and the ground truth), and the
// run's result with its figures.
//
// Thread safety: none. Everything runs on the thread that calls World::run().
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ground_truth.h"
#include "opsync/simulator/decisions.h"
#include "opsync/simulator/run.h"
#include "opsync/simulator/trace.h"
#include "plaintext.h"

namespace opsync::simulator {

class World;

class Verdict {
 public:
  // The verdict on `world`'s run: its `trace` and its `decisions`, what `truth` knows, what
  // `scanner` watches for, and the `figures` the parts counted.
  Verdict(World& world, const Trace& trace, const Decisions& decisions, const GroundTruth& truth,
          const PlaintextScanner& scanner, Figures& figures)
      : world_(world),
        trace_(trace),
        decisions_(decisions),
        truth_(truth),
        scanner_(scanner),
        figures_(figures) {}

  // A checker found a violation: the first of each checker is kept, and goes to the trace.
  void violation(const std::string& checker, std::vector<std::string> nodes,
                 std::vector<std::string> ops, const std::string& message);
  // The checks at the end, over the nodes' reports and the ground truth: the heal phase ended
  // quiet (`healed`) after `heal_rounds`; the workspace's keys are known (`keys_known`).
  void check_at_end(bool healed, uint64_t heal_rounds, bool keys_known);
  // The run's result: the violations in the checkers' order, the figures, the trace's hash;
  // `trace_replayable` is false once a client said it draws randomness of its own.
  RunResult result(bool trace_replayable);

 private:
  World& world_;
  const Trace& trace_;
  const Decisions& decisions_;
  const GroundTruth& truth_;
  const PlaintextScanner& scanner_;
  Figures& figures_;
  std::map<std::string, Violation> violations_;
};

}  // namespace opsync::simulator
