// How the simulator talks to a device's client: opsync-client-adapter/1 (spec/client-adapter.md),
// one turn at a time. The reference client runs in the simulator's process (its adapter called
// directly, its stores in memory); any other client runs as a process of its own, its events
// and yields carried as JSON lines over pipes (process_channel.h, linked by opsync-sim only).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "opsync/adapter/messages.h"

namespace opsync::simulator {

// Thrown out of a turn by the simulator's TurnHost when the device is killed at a durable step:
// the channel is then discarded (its process killed) and a new one started.
struct DeviceKilled {};

// Thrown out of a turn when the adapter broke the protocol (ADP-080): the run ends in error.
struct ChannelBroken {
  std::string message;
};

class AdapterChannel {
 public:
  virtual ~AdapterChannel() = default;
  // One turn: `event` in, its yield out; the adapter's asks and notices reach `host` as they come.
  virtual adapter::Yield turn(const adapter::Event& event, client::DeviceTime now,
                              adapter::TurnHost& host) = 0;
  // What a reader of a broken run needs beyond the rule it broke: a process's last log and
  // standard-error lines, as indented lines after a newline; empty for an in-process client.
  virtual std::string diagnostics() { return {}; }
};

// A new channel for a device (a new process, after a kill): its index, its name and directory.
struct ChannelRequest {
  uint32_t device = 0;
  std::string name;
  std::string dir;
};
using ChannelFactory = std::function<std::unique_ptr<AdapterChannel>(const ChannelRequest&)>;

}  // namespace opsync::simulator
