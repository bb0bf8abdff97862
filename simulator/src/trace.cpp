#include "opsync/simulator/trace.h"

namespace opsync::simulator {
namespace {

void put_u64(Sha256& hasher, uint64_t value) {
  uint8_t bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<uint8_t>(value >> (56 - 8 * i));
  hasher.update(bytes, sizeof bytes);
}

// Length-prefixed, so that no two events hash alike by running their fields together.
void put_field(Sha256& hasher, const void* data, size_t size) {
  put_u64(hasher, size);
  hasher.update(data, size);
}

}  // namespace

Trace::Trace(bool keep_events, bool keep_bodies)
    : keep_events_(keep_events), keep_bodies_(keep_bodies) {}

void Trace::add(TraceEvent event, ByteView bytes) {
  put_u64(event_hasher_, event.time_ms);
  put_field(event_hasher_, event.node.data(), event.node.size());
  put_field(event_hasher_, event.kind.data(), event.kind.size());
  put_field(event_hasher_, bytes.data(), bytes.size());
  const Hash event_hash = event_hasher_.finish();
  hasher_.update(event_hash.view());
  event.digest = read_u64(event_hash.data());
  digests_.push_back(event.digest);
  ++count_;
  if (!keep_events_) return;
  if (keep_bodies_) event.body.assign(bytes.begin(), bytes.end());
  events_.push_back(std::move(event));
}

}  // namespace opsync::simulator
