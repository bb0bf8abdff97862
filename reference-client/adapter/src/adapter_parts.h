// The reference adapter's parts that read or write only the device's store, private to src/: the
// state dump (state_dump.cpp) and the client defects made through the store (defects.cpp).
#pragma once

#include <cstdint>
#include <string>

#include "opsync/adapter/reference_adapter.h"
#include "opsync/client/device.h"
#include "opsync/protocol/check.h"

namespace opsync::adapter {

// The adapter's own calls to the store do not fail unless the device is broken; a failure stops
// the run with its message.
template <typename T>
T must(Result<T> result) {
  OPSYNC_CHECK_MSG(result.ok(), result.ok() ? "" : result.error().to_string().c_str());
  return std::move(result).value();
}
inline void must(const Status& status) {
  OPSYNC_CHECK_MSG(status.ok(), status.ok() ? "" : status.error().to_string().c_str());
}

// The state dump (ADP-061): objects, files, queues and the mirror, as the store holds them.
DeviceState dump_device_state(client::LocalStore& store);

// ClientDefect::kWallClock and kPlaintext: the reference client's local edit (Device's
// commit) made through the store's public interface, with the one defect.
Status defective_commit(client::Device& device, RandomSource& random, ClientDefect defect,
                        uint64_t wall_ms, const std::string& key, OpType type, const Bytes& value,
                        const client::ObjectView& current);

// ClientDefect::kNoCopyRetention, through the store's public interface: the copy of a file
// goes with its DELETE.
void drop_kept_copies(client::LocalStore& store);

// ClientDefect::kNoCopyExpiry: every sync finds the kept copies freshly deleted.
void restart_kept_copies_time(client::LocalStore& store, uint64_t wall_ms);

}  // namespace opsync::adapter
