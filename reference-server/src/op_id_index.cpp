#include "op_id_index.h"

#include <cstring>

#include "opsync/protocol/check.h"

namespace opsync::server {
namespace {

constexpr size_t kInitialSlots = 1024;  // a power of two

}  // namespace

uint64_t OpIdIndex::mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

OpIdIndex::OpIdIndex(uint64_t salt, size_t slots_max) : salt_(salt), slots_max_(slots_max) {}

uint64_t OpIdIndex::fingerprint(const OpId& id) const {
  uint64_t low = 0, high = 0;
  std::memcpy(&low, id.bytes.data(), 8);
  std::memcpy(&high, id.bytes.data() + 8, 8);
  const uint64_t f = mix(mix(low ^ salt_) ^ high ^ (salt_ << 1));
  return f == 0 ? 1 : f;  // 0 marks an empty slot
}

void OpIdIndex::start(int64_t workspace) {
  forget(workspace);
  recency_.push_front(workspace);
  Table& t = workspaces_[workspace];
  t.slots.resize(kInitialSlots);
  t.recency = recency_.begin();
  slots_total_ += kInitialSlots;
  evict_beyond(slots_max_, workspace);
}

OpIdIndex::Table& OpIdIndex::table(int64_t workspace) {
  auto it = workspaces_.find(workspace);
  OPSYNC_CHECK_MSG(it != workspaces_.end(),
                   "the op id index of a workspace used before it was loaded");
  recency_.splice(recency_.begin(), recency_, it->second.recency);  // most recently used now
  return it->second;
}

void OpIdIndex::add(int64_t workspace, const OpId& id, uint64_t seq) {
  OPSYNC_CHECK(seq != 0);
  Table& t = table(workspace);
  if ((t.used + 1) * 4 > t.slots.size() * 3) {
    grow(t);
    evict_beyond(slots_max_, workspace);
  }
  const size_t mask = t.slots.size() - 1;
  const uint64_t f = fingerprint(id);
  // Linear probing; the load bound guarantees an empty slot, so the loop ends within size() steps.
  for (size_t i = f & mask, probes = 0; probes < t.slots.size(); i = (i + 1) & mask, ++probes) {
    if (t.slots[i].fingerprint == 0) {
      t.slots[i] = Slot{f, seq};
      ++t.used;
      return;
    }
  }
  OPSYNC_CHECK_MSG(false, "op id index full despite its load bound");
}

bool OpIdIndex::find(int64_t workspace, const OpId& id,
                     const std::function<bool(uint64_t)>& visit) {
  Table& t = table(workspace);
  const size_t mask = t.slots.size() - 1;
  const uint64_t f = fingerprint(id);
  for (size_t i = f & mask, probes = 0; probes < t.slots.size(); i = (i + 1) & mask, ++probes) {
    const Slot& slot = t.slots[i];
    if (slot.fingerprint == 0) return false;
    if (slot.fingerprint == f && visit(slot.seq)) return true;
  }
  return false;
}

void OpIdIndex::grow(Table& t) {
  std::vector<Slot> old = std::move(t.slots);
  t.slots.assign(old.size() * 2, Slot{});
  slots_total_ += old.size();
  const size_t mask = t.slots.size() - 1;
  for (const Slot& slot : old) {
    if (slot.fingerprint == 0) continue;
    size_t i = slot.fingerprint & mask;
    while (t.slots[i].fingerprint != 0)
      i = (i + 1) & mask;  // ends: the new table is under half full
    t.slots[i] = slot;
  }
}

void OpIdIndex::forget(int64_t workspace) {
  auto it = workspaces_.find(workspace);
  if (it == workspaces_.end()) return;
  slots_total_ -= it->second.slots.size();
  recency_.erase(it->second.recency);
  workspaces_.erase(it);
}

void OpIdIndex::evict_beyond(size_t slots_max, int64_t keep) {
  // Bounded by the number of workspaces held; the one in use stays whatever its size.
  while (slots_total_ > slots_max && recency_.size() > 1) {
    const int64_t oldest = recency_.back();
    if (oldest == keep) break;
    forget(oldest);
  }
}

}  // namespace opsync::server
