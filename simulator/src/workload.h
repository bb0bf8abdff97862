// The workload of a run: the keys devices edit, the edits drawn over the chaos phase (in bursts,
// on hot keys or any), each device's online and offline stretches with a sync every few seconds,
// and the contents of attached files.
//
// Thread safety: none. Everything runs on the thread that calls World::run().
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "opsync/protocol/bytes.h"
#include "opsync/protocol/random.h"
#include "opsync/simulator/decisions.h"

namespace opsync::simulator {

class World;

class Workload {
 public:
  explicit Workload(World& world);

  // The run's keys, drawn at setup; a script's keys join them.
  void draw_keys();
  void add_key(const std::string& key);
  const std::vector<std::string>& keys() const { return keys_; }
  // The edits of the chaos phase, scheduled on the devices.
  void plan_edits();
  // Online stretches with a sync every few seconds, offline stretches without: a phone on the
  // move, a laptop closed for lunch. From now (a device that joins late) to the chaos phase's end.
  void plan_sync_schedule(uint32_t device);
  // Bytes of content for a new attached file (not a decision: drawn from the run's content
  // stream).
  Bytes file_content_bytes(uint64_t size);

 private:
  std::string next_edit_key(Stream& s);

  World& world_;
  std::vector<std::string> keys_;
  std::unique_ptr<SeededRandom> content_random_;
};

}  // namespace opsync::simulator
