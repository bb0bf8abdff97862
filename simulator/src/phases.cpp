#include "phases.h"

#include <algorithm>

#include "fault_plan.h"
#include "ground_truth.h"
#include "network.h"
#include "scheduler.h"
#include "server_life.h"
#include "workload.h"
#include "world.h"

namespace opsync::simulator {
namespace {

constexpr uint64_t kHourMs = 3'600'000;
constexpr uint64_t kSetupBudgetMs = 10 * 60 * 1000;  // setup must finish in 10 virtual minutes
constexpr uint64_t kHealRoundBudgetMs = 30 * 60 * 1000;
// A heal round lets every device finish what it started: up to a few thousand exchanges. Thirty
// minutes hold them at the named profiles' latencies (tens of milliseconds); a drawn network that
// takes seconds per message needs proportionally longer. Seed 31254 (10 to 32 s each way, one
// device moving 872 edits and their files in about 1,500 requests) was reported by liveness while
// it made progress in every round.
constexpr uint64_t kHealRoundTripsMin = 4000;
constexpr uint64_t kGarbageEveryMs = 10 * 60 * 1000;

// A device's monotonic clock: it counts from the device's boot (a different reading on each, so
// that nothing mistakes it for the wall clock) at the rate of the device's oscillator.
NodeClock monotonic_clock(uint64_t true_ms, uint32_t device, int32_t drift_ppm) {
  const int64_t since_boot_ms = 1'000'000 + int64_t{device} * 7'919;
  return NodeClock(true_ms, since_boot_ms - static_cast<int64_t>(true_ms), drift_ppm);
}

}  // namespace

Phases::Phases(World& world, Scheduler& scheduler, std::unique_ptr<ServerNode>& server,
               std::vector<std::unique_ptr<DeviceNode>>& devices, Network& network,
               Workload& workload, FaultPlan& fault_plan, ServerLife& server_life,
               GroundTruth& truth, Figures& figures)
    : world_(world),
      config_(world.config()),
      scheduler_(scheduler),
      server_(server),
      devices_(devices),
      network_(network),
      workload_(workload),
      fault_plan_(fault_plan),
      server_life_(server_life),
      truth_(truth),
      figures_(figures) {}

void Phases::run() {
  setup();
  plan_chaos();
  scheduler_.run_until(chaos_start_ms_ + config_.chaos_ms);
  phase_ = Phase::kDrain;
  // Messages in flight land; no fault strikes them.
  scheduler_.run_events(world_.now() + config_.faults.timeout_ms +
                        config_.faults.latency_ms_max * 2 + config_.faults.latency_spike_ms_max);
  heal();
  collect();
  phase_ = Phase::kDone;
}

void Phases::setup() {
  phase_ = Phase::kSetup;
  const bool dataans = config_.protocol == Protocol::kDataans03;
  if (world_.external_server())
    server_ = make_external_server(world_, world_.options().server_url, world_.options().recording);
  else
    server_ = dataans ? make_dataans_server(world_) : make_opsync_server(world_);
  server_->clock = NodeClock(world_.now(), 0, 0);
  const uint32_t total = config_.devices + config_.faults.joins;
  for (uint32_t d = 0; d < total; ++d) {
    devices_.push_back(dataans ? make_dataans_device(world_, d) : make_client_device(world_, d));
    devices_.back()->clock = NodeClock(world_.now(), 0, 0);
    devices_.back()->monotonic = monotonic_clock(world_.now(), d, 0);
  }
  // Clocks are drawn for every device, including those that join later, so that joins do not
  // shift the draws of the others.
  if (config_.script.empty()) {
    const FaultProfile& f = config_.faults;
    for (auto& d : devices_) {
      Stream& s = world_.stream("clock/" + d->name);
      const int64_t offset = static_cast<int64_t>(s.range(0, 2 * f.clock_offset_ms_max)) -
                             static_cast<int64_t>(f.clock_offset_ms_max);
      const int32_t drift = static_cast<int32_t>(s.range(0, 2 * uint64_t{f.drift_ppm_max})) -
                            static_cast<int32_t>(f.drift_ppm_max);
      d->clock = NodeClock(world_.now(), offset, drift);
      d->monotonic = monotonic_clock(world_.now(), d->index, drift);
    }
    Stream& s = world_.stream("clock/server");
    const int64_t offset = static_cast<int64_t>(s.range(0, 2 * f.server_clock_offset_ms_max)) -
                           static_cast<int64_t>(f.server_clock_offset_ms_max);
    server_->clock = NodeClock(world_.now(), offset, 0);
    server_clock_offset_ms_ = offset;
  }
  workload_.draw_keys();
  world_.add_plaintext(to_bytes(world_.password()), "the password");

  devices_[0]->start_setup(true);
  scheduler_.run_events(world_.now() + kSetupBudgetMs);
  for (uint32_t d = 1; d < config_.devices; ++d) {
    devices_[0]->invite(d);
    scheduler_.run_events(world_.now() + kSetupBudgetMs);
  }
  for (uint32_t d = 0; d < config_.devices; ++d)
    if (devices_[d]->life != DeviceNode::Life::kUp)
      world_.violation("liveness", {devices_[d]->name}, {},
                       "the device could not join the workspace without faults");
}

void Phases::plan_chaos() {
  phase_ = Phase::kChaos;
  chaos_start_ms_ = world_.now();
  world_.event("world", "phase", "chaos", to_bytes("chaos"));
  if (!config_.script.empty()) {
    plan_script();
    return;
  }
  workload_.plan_edits();
  fault_plan_.plan();
  for (uint32_t d = 0; d < config_.devices; ++d) workload_.plan_sync_schedule(d);
  // The server collects garbage periodically, as opsync-server does.
  for (uint64_t t = chaos_start_ms_ + kGarbageEveryMs; t < chaos_start_ms_ + config_.chaos_ms;
       t += kGarbageEveryMs)
    world_.schedule(t, [this] {
      if (server_->up()) server_->collect_garbage();
    });
}

void Phases::plan_script() {
  for (const ScriptStep& step : config_.script)
    if (!step.key.empty()) workload_.add_key(step.key);
  for (const ScriptStep& step : config_.script) {
    const uint64_t at = chaos_start_ms_ + step.at_ms;
    world_.schedule(at, [this, step] {
      DeviceNode& d = *devices_.at(step.device);
      if (step.action == "put" || step.action == "delete" || step.action == "detach") {
        d.edit(step.action, step.key, to_bytes(step.value), 0);
      } else if (step.action == "attach") {
        d.edit("attach", step.key, {}, step.file_bytes);
      } else if (step.action == "sync") {
        d.sync(false);
      } else if (step.action == "clock") {
        d.clock.set(world_.now(), step.clock_offset_ms, step.clock_frozen);
        world_.event(d.name, "clock-set",
                     "the clock is set " + std::to_string(step.clock_offset_ms) +
                         " ms from true time" + (step.clock_frozen ? ", standing still" : ""),
                     to_bytes(std::to_string(step.clock_offset_ms)));
      } else if (step.action == "offline") {
        network_.set_offline(step.device, true);
      } else if (step.action == "online") {
        network_.set_offline(step.device, false);
      } else if (step.action == "server-clock") {
        server_->clock.set(world_.now(), step.clock_offset_ms, step.clock_frozen);
        world_.event("server", "clock-set",
                     "the server's clock is set " + std::to_string(step.clock_offset_ms) +
                         " ms from true time" + (step.clock_frozen ? ", standing still" : ""),
                     to_bytes(std::to_string(step.clock_offset_ms)));
      } else if (step.action == "join") {
        world_.event(d.name, "join", "a new device asks to join", to_bytes("join"));
        devices_[0]->invite(step.device);
      } else if (step.action == "reinvite") {
        world_.event(d.name, "reinvite", "the owner sends this device a new token",
                     to_bytes("reinvite"));
        devices_[0]->invite(step.device);
      } else if (step.action == "revoke") {
        world_.request_revocation(step.device);
      } else if (step.action == "backup") {
        server_->backup();
        world_.event("server", "backup", "a backup of the storage", to_bytes("backup"));
      } else if (step.action == "restore") {
        server_life_.restore(step.steps);
      } else if (step.action == "server-crash") {
        server_life_.kill(step.steps);
      } else if (step.action == "crash") {
        d.arm_crash(step.steps, 5000);
      } else {
        network_.add_targeted(
            TargetedFault{step.device, step.action, step.match, step.cut_percent});
      }
    });
  }
}

uint64_t Phases::heal_round_budget_ms() const {
  // Latency is drawn uniformly between its bounds: a round trip takes their sum on average.
  const uint64_t round_trip_ms =
      uint64_t{config_.faults.latency_ms_min} + config_.faults.latency_ms_max;
  return std::max(kHealRoundBudgetMs, kHealRoundTripsMin * round_trip_ms);
}

void Phases::heal() {
  phase_ = Phase::kHeal;
  world_.event("world", "phase", "heal", to_bytes("heal"));
  network_.heal();
  server_life_.restart("the server restarts for the heal phase");
  for (auto& d : devices_) d->prepare_for_heal();
  // Joins that have not completed get their chance now, with no faults.
  scheduler_.run_events(world_.now() + heal_round_budget_ms());
  for (uint32_t round = 1; round <= config_.heal_rounds_max; ++round) {
    heal_rounds_ = round;
    const std::vector<SyncRecord>& syncs = truth_.syncs();
    const size_t first = syncs.size();
    for (auto& d : devices_) d->sync(true);
    scheduler_.run_events(world_.now() + heal_round_budget_ms());
    bool quiet = true;
    size_t ran = 0;
    for (size_t i = first; i < syncs.size(); ++i) {
      // A device whose token the owner revoked keeps trying, as a stolen token would: its
      // syncs fail, and say nothing of whether the others became quiet.
      if (!syncs[i].heal || world_.revocation_intended(syncs[i].device)) continue;
      ++ran;
      quiet = quiet && syncs[i].ok && !syncs[i].moved;
    }
    for (auto& d : devices_)
      if (d->busy() && !world_.revocation_intended(d->index)) quiet = false;
    if (quiet && ran > 0) {
      healed_ = true;
      break;
    }
    if (ran == 0 && std::none_of(devices_.begin(), devices_.end(),
                                 [](const auto& d) { return d->life == DeviceNode::Life::kUp; })) {
      break;
    }
  }
  figures_.heal_rounds = heal_rounds_;
  if (!healed_) {
    std::vector<std::string> nodes;
    std::string last_error;
    for (auto& d : devices_)
      if (d->busy()) {
        nodes.push_back(d->name);
        last_error = d->name + " was still busy with a sync or a call at the end of the round";
      }
    for (auto it = truth_.syncs().rbegin(); it != truth_.syncs().rend(); ++it)
      if (it->heal && (!it->ok || it->moved)) {
        nodes.push_back(devices_[it->device]->name);
        if (last_error.empty())
          last_error = it->ok ? "it still moved operations or files" : it->error;
        if (nodes.size() >= 4) break;
      }
    world_.violation("liveness", nodes, {},
                     "the devices did not become quiet within " +
                         std::to_string(config_.heal_rounds_max) +
                         " heal rounds with every fault off; the last: " + last_error);
  }
}

void Phases::collect() {
  phase_ = Phase::kCollect;
  // Past the retention time of deleted files and the expiry of abandoned uploads, the server
  // collects (FILE-011); the orphans checker then finds what nobody deleted.
  scheduler_.run_until(world_.now() + 2 * kHourMs + 1);
  server_->collect_garbage();
  world_.event("world", "phase", "collect", to_bytes("collect"));
  // Each device syncs once more, as it would the next time it runs: past the retention time it
  // removes the copies it kept of files no head references (FILE-040).
  if (config_.protocol != Protocol::kOpsyncV1) return;
  for (auto& d : devices_) d->sync(true);
  scheduler_.run_events(world_.now() + heal_round_budget_ms());
}

}  // namespace opsync::simulator
