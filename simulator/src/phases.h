// The phases of a run: setup (the nodes, their clocks, the owner's workspace and the devices
// joining it without faults), chaos (the workload and the fault plan, or a script's steps), drain
// (messages in flight land), heal (rounds of syncs with every fault off, until the devices are
// quiet) and collect (the server's and the devices' collection past the retention time). The
// checks at the end follow (World::run).
//
// Thread safety: none. Everything runs on the thread that calls World::run().
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "opsync/simulator/config.h"
#include "opsync/simulator/run.h"

namespace opsync::simulator {

class World;
class Scheduler;
class ServerNode;
class DeviceNode;
class Network;
class Workload;
class FaultPlan;
class ServerLife;
class GroundTruth;

class Phases {
 public:
  // The phases of `world`, on its `scheduler`. The setup creates the nodes the world owns,
  // `server` and `devices`; the chaos phase draws from `workload` and `fault_plan`; the heal
  // phase heals `network`, restarts the server through `server_life`, reads the syncs in `truth`
  // and counts its rounds in `figures`.
  Phases(World& world, Scheduler& scheduler, std::unique_ptr<ServerNode>& server,
         std::vector<std::unique_ptr<DeviceNode>>& devices, Network& network, Workload& workload,
         FaultPlan& fault_plan, ServerLife& server_life, GroundTruth& truth, Figures& figures);

  // Runs the phases from setup to collect.
  void run();

  // Faults strike messages in the chaos phase only.
  bool in_chaos() const { return phase_ == Phase::kChaos; }
  uint64_t chaos_start_ms() const { return chaos_start_ms_; }
  int64_t server_clock_offset_ms() const { return server_clock_offset_ms_; }
  // The heal phase ended quiet within its budget, after heal_rounds() rounds.
  bool healed() const { return healed_; }
  uint64_t heal_rounds() const { return heal_rounds_; }

 private:
  enum class Phase { kSetup, kChaos, kDrain, kHeal, kCollect, kDone };
  // Virtual time a heal round (and the collection's last sync) may take: 30 minutes, or 4,000
  // round trips at the drawn latency when that is longer.
  uint64_t heal_round_budget_ms() const;
  void setup();
  void plan_chaos();
  void plan_script();
  void heal();
  void collect();

  World& world_;
  const Config& config_;
  Scheduler& scheduler_;
  std::unique_ptr<ServerNode>& server_;
  std::vector<std::unique_ptr<DeviceNode>>& devices_;
  Network& network_;
  Workload& workload_;
  FaultPlan& fault_plan_;
  ServerLife& server_life_;
  GroundTruth& truth_;
  Figures& figures_;
  Phase phase_ = Phase::kSetup;
  uint64_t chaos_start_ms_ = 0;
  int64_t server_clock_offset_ms_ = 0;  // the server clock's drawn offset
  uint64_t heal_rounds_ = 0;
  bool healed_ = false;
};

}  // namespace opsync::simulator
