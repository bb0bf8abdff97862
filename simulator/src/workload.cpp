#include "workload.h"

#include <algorithm>

#include "world.h"

namespace opsync::simulator {
namespace {

constexpr const char* kBase32 = "abcdefghijklmnopqrstuvwxyz234567";

std::string random_text(Stream& s, size_t length) {
  std::string out;
  for (size_t i = 0; i < length; ++i) out.push_back(kBase32[s.draw(32)]);
  return out;
}

}  // namespace

Workload::Workload(World& world)
    : world_(world),
      content_random_(
          std::make_unique<SeededRandom>(derive_seed(world.config().seed, "contents"))) {}

void Workload::draw_keys() {
  const Config& config = world_.config();
  keys_.clear();
  Stream& key_stream = world_.stream("workload/keys");
  for (uint32_t k = 0; k < config.keys; ++k) {
    keys_.push_back("note/" + std::to_string(k) + "-" + random_text(key_stream, 24));
    // In a payload the key is a JSON string: that form must never reach the server.
    world_.add_plaintext(to_bytes("\"" + keys_.back() + "\""), "the key " + keys_.back());
  }
}

void Workload::add_key(const std::string& key) {
  if (std::find(keys_.begin(), keys_.end(), key) != keys_.end()) return;
  keys_.push_back(key);
  world_.add_plaintext(to_bytes("\"" + key + "\""), "the key " + key);
}

Bytes Workload::file_content_bytes(uint64_t size) { return content_random_->bytes(size); }

void Workload::plan_edits() {
  const Config& config = world_.config();
  if (config.ops == 0) return;
  Stream& s = world_.stream("workload");
  // Edits come in bursts: each edit joins one of ops/3 burst centres, spread over the chaos phase.
  const uint64_t centres = std::max<uint64_t>(1, config.ops / 3);
  std::vector<uint64_t> centre_times;
  for (uint64_t c = 0; c < centres; ++c) centre_times.push_back(s.draw(config.chaos_ms));
  struct Planned {
    uint64_t at;
    uint32_t device;
    std::string kind;
    std::string key;
    Bytes value;
    uint64_t file_bytes;
  };
  std::vector<Planned> planned;
  for (uint32_t i = 0; i < config.ops; ++i) {
    Planned p;
    p.at = world_.chaos_start_ms() +
           std::min<uint64_t>(config.chaos_ms - 1, centre_times[s.draw(centres)] + s.draw(8000));
    p.device = static_cast<uint32_t>(s.draw(config.devices + config.faults.joins));
    const uint64_t roll = s.draw(100);
    if (roll < config.delete_percent)
      p.kind = "delete";
    else if (roll < config.delete_percent + config.attach_percent)
      p.kind = "attach";
    else if (roll < config.delete_percent + config.attach_percent + config.detach_percent)
      p.kind = "detach";
    else
      p.kind = "put";
    p.key = next_edit_key(s);
    p.file_bytes = 0;
    if (p.kind == "attach") {
      // From empty to several chunks, most of them small.
      const uint64_t bucket = s.draw(100);
      const uint64_t chunk = 65536;
      if (bucket < 5)
        p.file_bytes = 0;
      else if (bucket < 65)
        p.file_bytes = s.range(1, 4096);
      else if (bucket < 90)
        p.file_bytes = s.range(4097, chunk);
      else if (config.file_chunks_max > 1)
        p.file_bytes = s.range(chunk + 1, chunk * config.file_chunks_max);
      else
        p.file_bytes = s.range(4097, chunk);  // files of one chunk at most
    }
    planned.push_back(std::move(p));
  }
  Stream& values = world_.stream("workload/values");
  for (Planned& p : planned) {
    if (p.kind != "put") continue;
    p.value = Bytes(values.range(24, 64));
    for (uint8_t& b : p.value) b = static_cast<uint8_t>(values.draw(256));
  }
  for (Planned& p : planned)
    world_.schedule(
        p.at, [this, p] { world_.device(p.device).edit(p.kind, p.key, p.value, p.file_bytes); });
}

std::string Workload::next_edit_key(Stream& s) {
  const Config& config = world_.config();
  if (config.hot_keys > 0 && s.draw(2) == 0) return keys_[s.draw(config.hot_keys)];
  return keys_[s.draw(keys_.size())];
}

void Workload::plan_sync_schedule(uint32_t device) {
  const Config& config = world_.config();
  // Online stretches with a sync every few seconds, offline stretches without: a phone on the
  // move, a laptop closed for lunch.
  Stream& s = world_.stream("schedule/" + world_.device(device).name);
  const uint64_t end = world_.chaos_start_ms() + config.chaos_ms;
  uint64_t t =
      std::max(world_.now(), world_.chaos_start_ms()) + s.range(0, config.sync_interval_ms_max);
  // Bounded: every pass moves t forward by at least one millisecond.
  while (t < end) {
    const uint64_t online_until = t + s.range(config.online_ms_min, config.online_ms_max);
    for (; t < std::min(online_until, end);
         t += s.range(config.sync_interval_ms_min, config.sync_interval_ms_max))
      world_.schedule(t, [this, device] { world_.device(device).sync(false); });
    t = online_until + s.range(config.offline_ms_min, config.offline_ms_max) + 1;
  }
}

}  // namespace opsync::simulator
