// A client under test as a process of its own: opsync-client-adapter/1's JSON lines over its
// standard input and output (spec/client-adapter.md). Only opsync-sim links this: the simulator's
// library holds no process or socket code.
#pragma once

#include <memory>
#include <string>

#include "opsync/simulator/channel.h"

namespace opsync::simulator::tool {

// The channels of `certify-client --adapter CMD`: every device's process runs `command` with
// `sh -c` in opsync-sim's working directory (so relative paths in it mean what they meant where
// the user typed it), in a process group of its own that a kill ends whole. A turn longer than
// `turn_timeout_ms` of wall time is a hang (ADP-011).
ChannelFactory process_channels(std::string command, uint64_t turn_timeout_ms);

}  // namespace opsync::simulator::tool
