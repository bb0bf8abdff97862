// What the checkers learn from a client's own state: its dump (adapter::DeviceState) as a
// DeviceReport, and the workspace's keys derived from the owner's key record as a device would.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "opsync/adapter/messages.h"
#include "opsync/protocol/crypto.h"
#include "opsync/protocol/messages.h"
#include "records.h"

namespace opsync::simulator {

// The client's objects, file copies and pending operations into `out`.
void add_state_to_report(const adapter::DeviceState& state, DeviceReport& out);

// The workspace's keys, from the key record the owner put and the password and passphrase
// (spec 5.2): the operation key opens the server's log for the checkers.
struct WorkspaceKeys {
  Subkeys subkeys;
  std::function<std::optional<ObjectOp>(const WireOp&)> decrypt_op;
};
std::optional<WorkspaceKeys> derive_workspace_keys(const PutKeyRequest& key_record,
                                                   const std::string& password,
                                                   const std::string& passphrase,
                                                   const WorkspaceId& workspace);

}  // namespace opsync::simulator
