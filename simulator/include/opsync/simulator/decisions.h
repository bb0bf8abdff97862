// Every random choice of a simulation, drawn from named streams and recorded in a decision log.
//
// One 64-bit seed determines a run. Each stream ("network/device-3", "workload", "faults/crash",
// ...) has its own generator, seeded from the run's seed and the stream's name, so adding a fault
// kind or a node adds a stream and leaves the draws of every other stream as they were. Draws are
// integers in [0, bound): no floating point and no std:: distributions, whose results differ
// between standard libraries.
//
// Every draw is recorded, in order, per stream: the decision log. A run can be replayed from the
// log instead of the seed's generators; a stream whose log runs out answers 0. Zero is always the
// simplest choice a caller can make (no fault, the shortest delay, the first key), so a log with
// values removed or lowered still replays, into a simpler run: that is what shrinking does.
//
// Randomness that is not a decision (the ids and nonces a node draws) comes from node_random(),
// also derived from the seed by name, and is not recorded: replaying a log regenerates it.
//
// Thread safety: none; a simulation runs on one thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "opsync/protocol/random.h"

namespace opsync::simulator {

// The values drawn by each stream, in order.
using DecisionLog = std::map<std::string, std::vector<uint64_t>>;

// A generator seeded from (seed, name), for node randomness and for streams.
uint64_t derive_seed(uint64_t seed, std::string_view name);

class Stream {
 public:
  // A value in [0, bound). REQUIRES: bound > 0.
  uint64_t draw(uint64_t bound);
  // lo + draw(hi - lo + 1): a value in [lo, hi]. REQUIRES: lo <= hi.
  uint64_t range(uint64_t lo, uint64_t hi);
  // True with probability ppm / 1,000,000; a draw of 0 is false, so the simplest choice is "no".
  bool chance_ppm(uint32_t ppm);

  const std::string& name() const { return name_; }

 private:
  friend class Decisions;
  Stream(std::string name, uint64_t seed, const std::vector<uint64_t>* replay);

  std::string name_;
  SeededRandom random_;
  const std::vector<uint64_t>* replay_;  // nullptr: draw from random_
  size_t replayed_ = 0;
  std::vector<uint64_t> recorded_;
};

class Decisions {
 public:
  // Draws from generators derived from `seed`.
  explicit Decisions(uint64_t seed);
  // Replays `log`; streams it lacks, and values past a stream's end, answer 0.
  Decisions(uint64_t seed, DecisionLog log);
  Decisions(const Decisions&) = delete;
  Decisions& operator=(const Decisions&) = delete;

  // The stream named `name`, created on first use. The reference stays valid.
  Stream& stream(std::string_view name);
  // A node's generator for ids and nonces (not recorded).
  std::unique_ptr<SeededRandom> node_random(std::string_view node) const;

  uint64_t seed() const { return seed_; }
  bool replaying() const { return replay_ != nullptr; }
  // What every stream drew so far.
  DecisionLog log() const;
  uint64_t decision_count() const;

 private:
  uint64_t seed_;
  std::unique_ptr<const DecisionLog> replay_;
  std::map<std::string, Stream, std::less<>> streams_;
};

}  // namespace opsync::simulator
