// The simulated network between the devices and the server: each request's way to the server and
// its answer's way back, with the drawn latency and, in the chaos phase, the drawn losses,
// resets, slow requests and duplicates; partitions; and the faults a script aims at one request.
// Answers and failures reach the device through DeviceNode::on_answer / on_failure.
//
// Thread safety: none. Everything runs on the thread that calls World::run().
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ground_truth.h"
#include "opsync/client/http.h"
#include "opsync/simulator/decisions.h"
#include "opsync/simulator/run.h"
#include "opsync/simulator/trace.h"

namespace opsync::simulator {

class World;
class DeviceNode;

// A fault a script aims at one request of a device.
struct TargetedFault {
  uint32_t device = 0;
  std::string kind;   // drop, drop-answer, reset
  std::string match;  // "METHOD path-fragment"
  uint32_t cut_percent = 50;
};

class Network {
 public:
  // The network of `world` and its `devices` (every device, those that join later too); it adds
  // its events to `trace`, counts its messages in `figures`, and tells `truth` what devices
  // received.
  Network(World& world, Trace& trace, Figures& figures, GroundTruth& truth, uint32_t devices);

  // Sends a request from `device` for its task `task`; the answer or the failure comes back
  // through DeviceNode::on_answer / on_failure, unless the device crashed meanwhile.
  void send(DeviceNode& device, uint64_t task, client::HttpRequest request, std::string token);
  // The device an exchange in flight is of.
  uint32_t device_of(uint64_t exchange) const;

  // Cuts the device's way to the server and/or back until `until_ms` (a cut that lasts longer
  // stays).
  void partition(uint32_t device, bool to_server, bool from_server, uint64_t until_ms);
  // A script's offline and online: both ways cut for good, or open.
  void set_offline(uint32_t device, bool offline);
  void add_targeted(TargetedFault fault) { targeted_.push_back(std::move(fault)); }
  // Before the heal phase: no partition and no targeted fault is left.
  void heal();

 private:
  struct Exchange {
    uint32_t device = 0;
    uint64_t task = 0;
    uint64_t incarnation = 0;
    uint64_t sent_ms = 0;
    uint64_t server_incarnation = 0;
    client::HttpRequest request;
    std::string token;
    bool answered = false;
  };

  bool partitioned(uint32_t device, bool to_server) const;
  uint64_t latency(Stream& s) const;
  std::optional<TargetedFault> take_targeted(uint32_t device, const client::HttpRequest& request,
                                             const std::string& kind);
  void arrive(uint64_t id, bool duplicate);
  void fail(uint64_t id, const std::string& what, uint64_t at_ms);
  void deliver(uint64_t id, client::HttpResponse response);

  World& world_;
  Trace& trace_;
  Figures& figures_;
  GroundTruth& truth_;
  std::map<uint64_t, Exchange> exchanges_;
  uint64_t exchange_count_ = 0;
  std::vector<TargetedFault> targeted_;
  // Partitions: per device, until when each direction is cut.
  std::vector<uint64_t> cut_to_server_until_;
  std::vector<uint64_t> cut_from_server_until_;
};

}  // namespace opsync::simulator
