#include "fault_plan.h"

#include <algorithm>

#include "world.h"

namespace opsync::simulator {
namespace {

constexpr uint64_t kHourMs = 3'600'000;

}  // namespace

FaultPlan::FaultPlan(World& world, Network& network, Workload& workload, Figures& figures)
    : world_(world), network_(network), workload_(workload), figures_(figures) {}

void FaultPlan::plan() {
  plan_partitions();
  for (uint32_t d = 0; d < world_.device_count(); ++d) plan_device_faults(world_.device(d));
  plan_server_faults();
  plan_membership_changes();
}

std::vector<uint64_t> FaultPlan::fault_times(Stream& s, uint32_t per_hour) const {
  const Config& config = world_.config();
  const uint64_t start = world_.chaos_start_ms();
  const uint64_t end = world_.chaos_start_ms() + config.chaos_ms;
  std::vector<uint64_t> out;
  if (per_hour == 0) return out;
  const uint64_t mean = kHourMs / per_hour;
  for (uint64_t t = start + s.range(1, 2 * mean); t < end; t += s.range(1, 2 * mean))
    out.push_back(t);
  return out;
}

void FaultPlan::plan_partitions() {
  const Config& config = world_.config();
  const FaultProfile& f = config.faults;
  const uint32_t total = static_cast<uint32_t>(world_.device_count());
  Stream& partitions = world_.stream("faults/partition");
  for (uint64_t t : fault_times(partitions, f.partitions_per_hour)) {
    const uint64_t duration = partitions.range(f.partition_ms_min, f.partition_ms_max);
    const uint32_t count = static_cast<uint32_t>(
        partitions.range(1, std::max<uint32_t>(1, std::min(f.partition_devices_max, total))));
    const bool one_way = partitions.draw(100) < f.one_way_percent;
    const bool to_server_only = partitions.draw(2) == 0;
    std::vector<uint32_t> pool(total);
    for (uint32_t d = 0; d < total; ++d) pool[d] = d;
    std::vector<uint32_t> chosen;
    for (uint32_t i = 0; i < count && !pool.empty(); ++i) {
      const size_t pick = partitions.draw(pool.size());
      chosen.push_back(pool[pick]);
      pool.erase(pool.begin() + static_cast<std::ptrdiff_t>(pick));
    }
    world_.schedule(t, [this, chosen, duration, one_way, to_server_only] {
      std::string who;
      for (uint32_t d : chosen) {
        network_.partition(d, !one_way || to_server_only, !one_way || !to_server_only,
                           world_.now() + duration);
        who += (who.empty() ? "" : ",") + world_.device(d).name;
        world_.note_fault_for(d);
      }
      figures_.partitions += 1;
      const std::string shape = !one_way         ? "both ways"
                                : to_server_only ? "device to server"
                                                 : "server to device";
      world_.event("world", "partition",
                   who + " cut " + shape + " for " + std::to_string(duration) + " ms",
                   to_bytes(who + shape + std::to_string(duration)));
    });
  }
}

void FaultPlan::plan_device_faults(DeviceNode& device) {
  const Config& config = world_.config();
  const FaultProfile& f = config.faults;
  DeviceNode* d = &device;
  Stream& s = world_.stream("faults/clock/" + d->name);
  for (uint64_t t : fault_times(s, f.clock_steps_per_hour)) {
    const int64_t delta = static_cast<int64_t>(s.range(0, 2 * f.clock_step_ms_max)) -
                          static_cast<int64_t>(f.clock_step_ms_max);
    world_.schedule(t, [this, d, delta] {
      d->clock.step(world_.now(), delta);
      world_.event(d->name, "clock-step", "the clock jumps " + std::to_string(delta) + " ms",
                   to_bytes(std::to_string(delta)));
    });
  }
  for (uint64_t t : fault_times(s, f.clock_freezes_per_hour)) {
    const uint64_t duration = s.range(1, std::max<uint32_t>(1, f.clock_freeze_ms_max));
    world_.schedule(t, [this, d, duration] {
      if (d->clock.frozen()) return;
      d->clock.freeze(world_.now());
      world_.event(d->name, "clock-freeze",
                   "the clock stands still for " + std::to_string(duration) + " ms",
                   to_bytes(std::to_string(duration)));
      world_.schedule(world_.now() + duration, [this, d] { d->clock.unfreeze(world_.now()); });
    });
  }
  Stream& crashes = world_.stream("faults/crash/" + d->name);
  for (uint64_t t : fault_times(crashes, f.device_crashes_per_hour)) {
    const uint32_t steps = static_cast<uint32_t>(crashes.range(0, f.crash_steps_max));
    const uint64_t down = crashes.range(0, f.device_down_ms_max);
    world_.schedule(t, [d, steps, down] { d->arm_crash(steps, down); });
  }
}

void FaultPlan::plan_server_faults() {
  const Config& config = world_.config();
  const FaultProfile& f = config.faults;
  Stream& server_crashes = world_.stream("faults/server-crash");
  for (uint64_t t : fault_times(server_crashes, f.server_crashes_per_hour)) {
    const uint64_t down = server_crashes.range(0, f.server_down_ms_max);
    world_.schedule(t, [this, down] { world_.kill_server(down); });
  }
  Stream& server_clock = world_.stream("faults/clock/server");
  for (uint64_t t : fault_times(server_clock, f.server_clock_steps_per_hour)) {
    const int64_t delta =
        static_cast<int64_t>(server_clock.range(0, 2 * f.server_clock_step_ms_max)) -
        static_cast<int64_t>(f.server_clock_step_ms_max);
    // Each step puts the server's clock within the step's range of where it would be, rather
    // than adding to the steps before: a walk of steps would wander off by more than the skew the
    // server accepts, which HLC-030 leaves out of what the protocol survives.
    world_.schedule(t, [this, delta] {
      world_.server().clock.set(world_.now(), world_.server_clock_offset_ms() + delta, false);
      world_.event(
          "server", "clock-step",
          "the server's clock jumps to " + std::to_string(delta) + " ms off its usual offset",
          to_bytes(std::to_string(delta)));
    });
  }
  Stream& backups = world_.stream("faults/backup");
  for (uint64_t t : fault_times(backups, f.backups_per_hour))
    world_.schedule(t, [this] {
      world_.server().backup();
      world_.event("server", "backup", "a backup of the storage", to_bytes("backup"));
    });
  Stream& restores = world_.stream("faults/restore");
  for (uint64_t t : fault_times(restores, f.restores_per_hour)) {
    const uint32_t pick = static_cast<uint32_t>(restores.draw(3));
    world_.schedule(t, [this, pick] { world_.restore_server(pick); });
  }
}

void FaultPlan::plan_membership_changes() {
  const Config& config = world_.config();
  const FaultProfile& f = config.faults;
  const uint64_t start = world_.chaos_start_ms();
  Stream& joins = world_.stream("faults/join");
  for (uint32_t j = 0; j < f.joins; ++j) {
    const uint32_t d = config.devices + j;
    const uint64_t t =
        start + config.chaos_ms / 10 + joins.draw(std::max<uint64_t>(1, config.chaos_ms * 6 / 10));
    world_.schedule(t, [this, d] {
      world_.event(world_.device(d).name, "join", "a new device asks to join", to_bytes("join"));
      world_.device(0).invite(d);
      workload_.plan_sync_schedule(d);
    });
  }
  Stream& revokes = world_.stream("faults/revoke");
  for (uint32_t r = 0; r < f.revocations; ++r) {
    const uint64_t t =
        start + config.chaos_ms / 5 + revokes.draw(std::max<uint64_t>(1, config.chaos_ms * 6 / 10));
    const uint64_t pick = revokes.draw(64);
    world_.schedule(t, [this, pick] {
      std::vector<uint32_t> candidates;
      for (uint32_t i = 0; i < world_.device_count(); ++i) {
        const DeviceNode& d = world_.device(i);
        if (d.index != 0 && world_.invitation_for(d.index) &&
            !world_.revocation_intended(d.index) &&
            (d.life == DeviceNode::Life::kUp || d.life == DeviceNode::Life::kDown))
          candidates.push_back(d.index);
      }
      if (candidates.empty()) return;  // more revocations drawn than devices to revoke
      world_.request_revocation(candidates[pick % candidates.size()]);
    });
  }
}

}  // namespace opsync::simulator
