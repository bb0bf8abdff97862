// The reference client behind opsync-client-adapter/1: its Device, SyncEngine and LocalStore,
// driven by the adapter protocol's events. The program opsync-client-adapter runs it over its
// standard input and output; the simulator runs it in its own process, with the stores in memory,
// through the same messages as values.
//
// Deliberate defects (--variant of opsync-client-adapter, --variant of opsync-sim) change one
// behaviour of the reference client at this edge, each the companion of a simulator checker
// (simulator/README.md, "Broken variants"); everything else is the code that ships.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "opsync/adapter/messages.h"
#include "opsync/client/store.h"

namespace opsync::adapter {

enum class ClientDefect : uint8_t {
  kNone,
  kNoDedupe,           // an edit whose upload went unanswered is made again, as a new operation
  kWallClock,          // edits stamped with the raw wall clock, not the HLC
  kForgetLostUploads,  // an upload with no answer is taken as refused: never sent again
  kPlaintext,          // payloads sent unencrypted
  kNoFileDelete,       // the DELETE of an unreferenced file (FILE-022) is never sent
  kNoCopyRetention,  // a deleted file's copy goes at once, not after the retention time (FILE-040)
  kNoCopyExpiry,     // a deleted file's kept copy is never removed (FILE-040)
  kWallClockWaits,   // backoff waits measured on the wall clock (SYNC-020)
};
std::string_view client_defect_name(ClientDefect defect);
std::optional<ClientDefect> client_defect_from_name(std::string_view name);
std::vector<ClientDefect> all_client_defects();  // kNone excluded

struct ReferenceAdapterOptions {
  // Where the device keeps its state: blobs, database (empty: files in the start event's dir).
  // after_durable_step is the adapter's own.
  client::StoreOptions store;
  ClientDefect defect = ClientDefect::kNone;
  // Wipes the store when its database is not a file of the directory (a memdb URI): a start that
  // finds a join a kill left unfinished starts over. Files in the directory are removed anyway.
  std::function<void()> wipe_store;
};

class ReferenceAdapter final : public Adapter {
 public:
  explicit ReferenceAdapter(ReferenceAdapterOptions options);
  ~ReferenceAdapter() override;
  ReferenceAdapter(const ReferenceAdapter&) = delete;
  ReferenceAdapter& operator=(const ReferenceAdapter&) = delete;

  Yield on_event(const Event& event, client::DeviceTime now, TurnHost& host) override;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace opsync::adapter
