// The fault plan of a run's chaos phase, drawn from the fault profile when the phase begins and
// scheduled on the world: partitions, device clocks stepping and standing still, device crashes,
// the server's crashes, clock steps, backups and restores, devices joining late and revocations.
//
// Thread safety: none. Everything runs on the thread that calls World::run().
#pragma once

#include <cstdint>
#include <vector>

#include "opsync/simulator/decisions.h"
#include "opsync/simulator/run.h"

namespace opsync::simulator {

class World;
class Network;
class Workload;
class DeviceNode;

class FaultPlan {
 public:
  // The faults of `world`, partitions through its `network`; a device that joins late gets a sync
  // schedule from `workload`; `figures` counts the partitions.
  FaultPlan(World& world, Network& network, Workload& workload, Figures& figures);

  // Draws and schedules every fault of the chaos phase, which begins now.
  void plan();

 private:
  // Event times of a rate per hour over the chaos phase: gaps uniform in [1, 2 * mean], so
  // about `per_hour` an hour.
  std::vector<uint64_t> fault_times(Stream& s, uint32_t per_hour) const;
  void plan_partitions();
  void plan_device_faults(DeviceNode& device);  // clock steps and freezes, crashes
  void plan_server_faults();                    // crashes, clock steps, backups, restores
  void plan_membership_changes();               // joins and revocations

  World& world_;
  Network& network_;
  Workload& workload_;
  Figures& figures_;
};

}  // namespace opsync::simulator
