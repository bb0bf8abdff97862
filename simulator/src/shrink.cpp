#include "opsync/simulator/shrink.h"

#include <algorithm>
#include <chrono>

#include "opsync/protocol/check.h"

namespace opsync::simulator {

ScheduleSize size_of(const BugFile& bug) {
  ScheduleSize s;
  for (const auto& [stream, values] : bug.decisions) {
    s.decisions += values.size();
    for (uint64_t v : values) s.nonzero_decisions += v != 0;
  }
  s.script_steps = bug.config.script.size();
  s.events = bug.event_digests.size();
  s.devices = bug.config.devices;
  s.ops = bug.config.ops;
  s.chaos_ms = bug.config.chaos_ms;
  return s;
}

namespace {

constexpr int kTryWallSecondsMax = 60;

class Shrinker {
 public:
  Shrinker(const BugFile& bug, uint32_t tries_max,
           const std::function<void(const std::string&)>& progress, const std::string& server_url,
           const RunOptions* channels)
      : current_(bug),
        checker_(bug.checker()),
        tries_max_(tries_max),
        progress_(progress),
        server_url_(server_url),
        channels_(channels) {
    OPSYNC_CHECK_MSG(!checker_.empty(), "shrinking a run that failed no checker");
  }

  ShrinkResult run() {
    ShrinkResult out;
    out.before = size_of(current_);
    // Rounds until nothing more goes, or the tries run out.
    for (int round = 0; round < 8 && budget(); ++round) {
      const uint64_t before = size_of(current_).schedule();
      // The configuration and the script first, until they give nothing more: one change there
      // takes many decisions with it.
      for (uint64_t last = UINT64_MAX; size_of(current_).schedule() < last && budget();) {
        last = size_of(current_).schedule();
        shrink_config();
        shrink_script();
      }
      // Then the decisions: coarse chunks in the first round, finer ones after.
      shrink_decisions(/*coarse=*/round == 0);
      if (size_of(current_).schedule() >= before) break;
    }
    out.smaller = current_;
    out.after = size_of(current_);
    out.tries = tries_;
    return out;
  }

 private:
  bool budget() const { return tries_ < tries_max_; }

  // Replays a candidate; keeps it (with the decisions it actually drew) when the checker fails.
  // A simpler configuration is kept when the schedule does not grow; other decisions when the
  // schedule shrinks or has fewer nonzero decisions.
  bool attempt(Config config, DecisionLog decisions, const std::string& what,
               bool simpler_config = false) {
    if (!budget() || !validate(config).ok()) return false;
    ++tries_;
    BugFile candidate = current_;
    candidate.config = std::move(config);
    candidate.decisions = std::move(decisions);
    Replay r;
    // Each try is bounded: a few times the recorded run's events (a zeroed crash stream can kill
    // a device every millisecond), and a minute of wall time in case that is still too much.
    RunOptions limits;
    limits.events_max = 4 * std::max<uint64_t>(current_.event_digests.size(), 1000) + 10'000;
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(kTryWallSecondsMax);
    limits.give_up = [deadline] { return std::chrono::steady_clock::now() > deadline; };
    if (channels_) {
      limits.clients = channels_->clients;
      limits.adapter_command = channels_->adapter_command;
      limits.turn_timeout_ms = channels_->turn_timeout_ms;
    }
    try {
      r = replay(candidate, false, server_url_, &limits);
    } catch (const ExternalServerError&) {
      return false;  // the candidate left the recorded answers (or the server failed)
    } catch (const RunAbandoned& abandoned) {
      ++abandoned_;
      progress_("  a try ran past its bound (" + abandoned.why + "): " + what + " is not kept");
      return false;
    }
    bool fails = false;
    for (const Violation& v : r.result.violations) fails = fails || v.checker == checker_;
    if (!fails) return false;
    BugFile kept = bug_file_of(r.result);
    kept.description = current_.description;
    kept.expect = current_.expect;
    // The checker keeps its place first: a shrunk run that fails earlier checkers too is fine,
    // but the bug file names the one it was shrunk for.
    std::stable_partition(kept.violations.begin(), kept.violations.end(),
                          [&](const Violation& v) { return v.checker == checker_; });
    const ScheduleSize now = size_of(current_), then = size_of(kept);
    if (then.schedule() > now.schedule() || (!simpler_config && then.schedule() == now.schedule() &&
                                             then.nonzero_decisions >= now.nonzero_decisions))
      return false;
    current_ = std::move(kept);
    const ScheduleSize s = size_of(current_);
    progress_(what + ": schedule " + std::to_string(s.schedule()) + " (" +
              std::to_string(s.decisions) + " decisions, " + std::to_string(s.script_steps) +
              " steps), " + std::to_string(s.events) + " events");
    return true;
  }
  bool attempt_config(Config config, const std::string& what) {
    return attempt(std::move(config), current_.decisions, what, /*simpler_config=*/true);
  }

  void shrink_config() {
    // Shorter phases first: they take most decisions with them.
    // Fewer heal rounds, but not so few that a healthy system could not become quiet (one round
    // moves what is left, the next spreads it, the third finds nothing to do): liveness would then
    // fail for want of time, not for a defect.
    constexpr uint32_t kHealRoundsMin = 3;
    for (uint32_t rounds = kHealRoundsMin; rounds < current_.config.heal_rounds_max && budget();
         ++rounds) {
      Config c = current_.config;
      c.heal_rounds_max = rounds;
      if (attempt_config(c, "heal rounds " + std::to_string(rounds))) break;
    }
    while (current_.config.chaos_ms > 1000 && budget()) {
      Config c = current_.config;
      c.chaos_ms = std::max<uint64_t>(1000, c.chaos_ms / 2);
      if (!attempt_config(c, "chaos " + std::to_string(c.chaos_ms) + " ms")) break;
    }
    while (current_.config.ops > 0 && budget()) {
      Config c = current_.config;
      c.ops /= 2;
      if (!attempt_config(c, std::to_string(c.ops) + " edits")) break;
    }
    // Fewer devices: the last ones go, with their scripted steps (joined devices are the last).
    // Half of them at first, then half as many after each try that no longer fails: a bug among
    // 64 devices that needs two takes about a dozen tries, not sixty.
    for (uint32_t chunk = std::max(1u, current_.config.devices / 2);
         current_.config.devices > 1 && budget();) {
      chunk = std::min(chunk, current_.config.devices - 1);
      Config c = current_.config;
      const uint32_t last = c.devices + c.faults.joins - 1;
      for (uint32_t gone = 0; gone < chunk; ++gone) {
        if (c.faults.joins > 0)
          --c.faults.joins;
        else
          --c.devices;
      }
      const uint32_t first_gone = c.devices + c.faults.joins;
      std::erase_if(c.script, [&](const ScriptStep& s) { return s.device >= first_gone; });
      const std::string what = chunk == 1 ? "without device-" + std::to_string(last)
                                          : "without devices " + std::to_string(first_gone) +
                                                " to " + std::to_string(last);
      if (attempt_config(c, what)) continue;
      if (chunk == 1) break;
      chunk /= 2;
    }
    // Each kind of fault off.
    const FaultProfile none = *named_profile("none");
    struct Knob {
      const char* name;
      std::function<void(FaultProfile&)> off;
    };
    const std::vector<Knob> knobs = {
        {"no partitions", [](FaultProfile& f) { f.partitions_per_hour = 0; }},
        {"no lost requests", [](FaultProfile& f) { f.request_loss_ppm = 0; }},
        {"no lost answers", [](FaultProfile& f) { f.response_loss_ppm = 0; }},
        {"no duplicates", [](FaultProfile& f) { f.duplicate_ppm = 0; }},
        {"no resets", [](FaultProfile& f) { f.reset_ppm = 0; }},
        {"no latency spikes", [](FaultProfile& f) { f.latency_spike_ppm = 0; }},
        {"no clock offsets",
         [](FaultProfile& f) {
           f.clock_offset_ms_max = 0;
           f.server_clock_offset_ms_max = 0;
         }},
        {"no drift", [](FaultProfile& f) { f.drift_ppm_max = 0; }},
        {"no clock steps", [](FaultProfile& f) { f.clock_steps_per_hour = 0; }},
        {"no standing clocks", [](FaultProfile& f) { f.clock_freezes_per_hour = 0; }},
        {"no device crashes", [](FaultProfile& f) { f.device_crashes_per_hour = 0; }},
        {"no server crashes", [](FaultProfile& f) { f.server_crashes_per_hour = 0; }},
        {"no restores",
         [](FaultProfile& f) {
           f.restores_per_hour = 0;
           f.backups_per_hour = 0;
         }},
        {"no joins", [](FaultProfile& f) { f.joins = 0; }},
        {"no revocations", [](FaultProfile& f) { f.revocations = 0; }},
        {"the shortest latency",
         [&none](FaultProfile& f) {
           f.latency_ms_max = f.latency_ms_min;
           (void)none;
         }},
    };
    for (const Knob& knob : knobs) {
      if (!budget()) return;
      Config c = current_.config;
      knob.off(c.faults);
      if (c == current_.config) continue;
      std::erase_if(c.script,
                    [&](const ScriptStep& s) { return s.device >= c.devices + c.faults.joins; });
      attempt_config(c, knob.name);
    }
    struct Workload {
      const char* name;
      std::function<void(Config&)> apply;
    };
    const std::vector<Workload> workload = {
        {"files of one chunk", [](Config& c) { c.file_chunks_max = 1; }},
        {"no attaches",
         [](Config& c) {
           c.attach_percent = 0;
           c.detach_percent = 0;
         }},
        {"no deletes", [](Config& c) { c.delete_percent = 0; }},
        {"one key",
         [](Config& c) {
           c.keys = 1;
           c.hot_keys = 0;
         }},
        {"fewer keys",
         [](Config& c) {
           c.keys = std::max(1u, c.keys / 2);
           c.hot_keys = std::min(c.hot_keys, c.keys);
         }},
    };
    for (const Workload& w : workload) {
      if (!budget()) return;
      Config c = current_.config;
      w.apply(c);
      if (c != current_.config) attempt_config(c, w.name);
    }
  }

  // Delta debugging over the script: drop chunks of steps, halving the chunk size.
  void shrink_script() {
    for (size_t chunk = std::max<size_t>(1, current_.config.script.size() / 2);
         chunk >= 1 && budget(); chunk /= 2) {
      for (size_t start = 0; start < current_.config.script.size() && budget();) {
        Config c = current_.config;
        const size_t end = std::min(c.script.size(), start + chunk);
        c.script.erase(c.script.begin() + static_cast<std::ptrdiff_t>(start),
                       c.script.begin() + static_cast<std::ptrdiff_t>(end));
        if (!attempt_config(c, "without script steps " + std::to_string(start) + ".." +
                                   std::to_string(end - 1)))
          start = end;
      }
      if (chunk == 1) break;
    }
  }

  // Streams emptied (every draw then 0), cut short, or with chunks of decisions set to 0.
  void shrink_decisions(bool coarse) {
    std::vector<std::string> streams;
    for (const auto& [name, values] : current_.decisions) streams.push_back(name);
    // The longest first: they hold the most decisions.
    std::stable_sort(streams.begin(), streams.end(),
                     [&](const std::string& a, const std::string& b) {
                       return current_.decisions[a].size() > current_.decisions[b].size();
                     });
    for (const std::string& stream : streams) {
      if (!budget()) return;
      auto it = current_.decisions.find(stream);
      if (it == current_.decisions.end() ||
          std::all_of(it->second.begin(), it->second.end(), [](uint64_t v) { return v == 0; }))
        continue;
      DecisionLog emptied = current_.decisions;
      emptied.erase(stream);
      if (attempt(current_.config, emptied, "stream " + stream + " at its simplest")) continue;
      // Chunks of nonzero decisions set to zero, halving the chunk.
      for (size_t chunk = std::max<size_t>(1, current_.decisions[stream].size() / 2);
           chunk >= 1 && budget(); chunk /= 2) {
        for (size_t start = 0; start < current_.decisions[stream].size() && budget();
             start += chunk) {
          DecisionLog zeroed = current_.decisions;
          std::vector<uint64_t>& values = zeroed[stream];
          const size_t end = std::min(values.size(), start + chunk);
          bool any = false;
          for (size_t i = start; i < end; ++i) {
            any = any || values[i] != 0;
            values[i] = 0;
          }
          if (any) attempt(current_.config, zeroed, "stream " + stream + " simpler");
        }
        // Bounded effort per stream: down to a sixteenth of it (a quarter in a coarse pass).
        if (chunk == 1 || chunk < current_.decisions[stream].size() / (coarse ? 4 : 16)) break;
      }
    }
  }

  BugFile current_;
  std::string checker_;
  uint32_t tries_max_;
  uint32_t tries_ = 0;
  uint32_t abandoned_ = 0;  // tries stopped by their bound
  const std::function<void(const std::string&)>& progress_;
  std::string server_url_;
  const RunOptions* channels_;  // a client under test's adapter channels, or null
};

}  // namespace

ShrinkResult shrink(const BugFile& bug, uint32_t tries_max,
                    const std::function<void(const std::string&)>& progress,
                    const std::string& server_url, const RunOptions* channels) {
  Shrinker shrinker(bug, tries_max, progress, server_url, channels);
  return shrinker.run();
}

}  // namespace opsync::simulator
