// Shrinking a bug file to its essence: delta debugging over the configuration (fewer devices,
// fewer edits, fewer faults, shorter phases, smaller files), the script of a scenario, and the
// decision log (streams cut short, decisions set to zero, the simplest choice), keeping every
// change after which the same checker still fails. Each try is one replay; the number of tries is
// bounded.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "opsync/simulator/bugfile.h"

namespace opsync::simulator {

// How big a run is: what a person reading it has to follow.
struct ScheduleSize {
  uint64_t decisions = 0;  // random decisions drawn
  uint64_t nonzero_decisions = 0;
  uint64_t script_steps = 0;
  uint64_t events = 0;
  uint32_t devices = 0;
  uint32_t ops = 0;
  uint64_t chaos_ms = 0;

  // The schedule: every decision the run drew and every scripted step.
  uint64_t schedule() const { return decisions + script_steps; }
};
ScheduleSize size_of(const BugFile& bug);

struct ShrinkResult {
  BugFile smaller;  // replays to its own trace hash and fails the same checker
  ScheduleSize before;
  ScheduleSize after;
  uint32_t tries = 0;
};

// REQUIRES: the bug has a failed checker. `progress` gets a line for every change kept. A bug
// found against an external server shrinks against the live server at `server_url` (each try
// records its own answers); without one, only against its recorded answers, which answer no
// other schedule: nothing shrinks then.
// A bug of a client under test (BugFile::client) shrinks through `channels` (their `clients`,
// `adapter_command` and `turn_timeout_ms`), as replay() takes them.
ShrinkResult shrink(const BugFile& bug, uint32_t tries_max,
                    const std::function<void(const std::string&)>& progress,
                    const std::string& server_url = "", const RunOptions* channels = nullptr);

}  // namespace opsync::simulator
