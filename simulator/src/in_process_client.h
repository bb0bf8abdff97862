// The reference client in the simulator's process: its adapter called directly, its database in
// memory (or a file of the device's directory), its blobs in memory. The simulator's client
// variants are the reference client's deliberate defects (adapter::ClientDefect), chosen here.
#pragma once

#include <memory>
#include <string>

#include "opsync/client/blobs.h"
#include "opsync/simulator/channel.h"
#include "opsync/simulator/config.h"

namespace opsync::simulator {

class MemoryDisk;

// What outlives the reference client's "process" in this one: its disk (the database and the
// blobs), as a machine's disk outlives a killed program. Each channel it opens is a new process
// of the client on that disk.
class InProcessDisk {
 public:
  // `memory_database_uri`: the database in SQLite's memdb VFS under this URI; empty: the
  // database is a file of the device's directory.
  InProcessDisk(const std::string& memory_database_uri, Variant variant);
  ~InProcessDisk();
  InProcessDisk(const InProcessDisk&) = delete;
  InProcessDisk& operator=(const InProcessDisk&) = delete;

  // A new process of the reference client on this disk, with the variant's defect.
  std::unique_ptr<AdapterChannel> open_channel();
  // Closes the database, after every channel closed its own connection.
  void close();

 private:
  std::shared_ptr<client::MemoryBlobStore> blobs_ = std::make_shared<client::MemoryBlobStore>();
  std::unique_ptr<MemoryDisk> database_;  // nullptr: the database is a file of the directory
  Variant variant_;
};

}  // namespace opsync::simulator
