#include "mirror_ids.h"

#include <algorithm>
#include <utility>

#include "opsync/protocol/check.h"

namespace opsync::client::detail {
namespace {

constexpr size_t kIdBytes = 16;
constexpr size_t kPrefixBytes = 4;

// Ids are random on the wire, but not in every test: mix both halves.
uint64_t slot_hash(const OpId& id) {
  uint64_t x = read_u64(id.bytes.data()) ^ (read_u64(id.bytes.data() + 8) * 0x9E3779B97F4A7C15u);
  x ^= x >> 31;
  x *= 0xBF58476D1CE4E5B9u;
  x ^= x >> 29;
  return x;
}

}  // namespace

MirrorIds MirrorIds::load(sql::Connection& db, uint64_t mirror_size, uint32_t recent_ids_min) {
  OPSYNC_CHECK(recent_ids_min > 0);
  sql::Statement& rows =
      db.prepare("SELECT first_seq, ids FROM mirror_recent_ids ORDER BY first_seq");
  std::optional<MirrorIds> out;
  while (rows.step()) {
    const uint64_t first_seq = rows.u64(0);
    const Bytes ids = rows.blob(1);
    OPSYNC_CHECK_MSG(first_seq >= 1 && !ids.empty() && ids.size() % kIdBytes == 0,
                     "a malformed row of recent mirror ids");
    if (!out) out.emplace(MirrorIds(first_seq - 1, recent_ids_min));
    OPSYNC_CHECK_MSG(first_seq == out->end() + 1, "the recent mirror ids have a gap");
    for (size_t at = 0; at < ids.size(); at += kIdBytes) {
      OpId id;
      std::copy_n(ids.begin() + static_cast<std::ptrdiff_t>(at), kIdBytes, id.bytes.begin());
      out->recent_.push_back(id);
    }
  }
  if (!out) out.emplace(MirrorIds(mirror_size, recent_ids_min));
  OPSYNC_CHECK_MSG(out->end() == mirror_size,
                   "the recent mirror ids do not end where the mirror does");
  out->ids_flushed_ = out->recent_.size();
  out->rehash(out->recent_.size());
  return std::move(*out);
}

std::optional<uint64_t> MirrorIds::find(sql::Connection& db, const OpId& id) {
  if (!slots_.empty()) {
    const size_t mask = slots_.size() - 1;
    for (size_t slot = slot_hash(id) & mask; slots_[slot] != 0; slot = (slot + 1) & mask) {
      const size_t i = slots_[slot] - 1;
      if (recent_[i] == id) return settled_ + 1 + i;
    }
  }
  if (settled_ == 0) return std::nullopt;
  if (!settled_prefixes_ && settled_probes_ >= std::max<uint32_t>(1, recent_ids_min_ / 2) &&
      settled_ <= kMirrorSettledPrefixesMax)
    read_settled_prefixes(db);
  if (settled_prefixes_ && !std::binary_search(settled_prefixes_->begin(), settled_prefixes_->end(),
                                               read_u32(id.bytes.data())))
    return std::nullopt;
  ++settled_probes_;
  sql::Statement& settled = db.prepare(kSettledIdLookup);
  settled.bind(1, id);
  if (!settled.step()) return std::nullopt;
  const uint64_t seq = settled.u64(0);
  OPSYNC_CHECK_MSG(seq <= settled_, "a settled mirror id beyond the settled positions");
  settled.reset();
  return seq;
}

void MirrorIds::append(const OpId& id, uint64_t seq) {
  OPSYNC_CHECK_MSG(seq == end() + 1, "mirror ids appended out of order");
  OPSYNC_CHECK_MSG(recent_.size() < UINT32_MAX - 1, "too many recent mirror ids");
  recent_.push_back(id);
  if (2 * recent_.size() > slots_.size()) {
    rehash(recent_.size());
  } else {
    index(recent_.size() - 1);
  }
}

void MirrorIds::truncate(sql::Connection& db, uint64_t size) {
  OPSYNC_CHECK(size <= end());
  if (size == end()) return;
  if (size >= settled_) {
    recent_.resize(size - settled_);
  } else {
    // Rare (a server restored from a backup), so a scan of the settled tier is acceptable.
    db.prepare("DELETE FROM mirror_ids WHERE seq > ?").bind(1, size).run();
    settled_ = size;
    recent_.clear();
    settled_prefixes_.reset();
    settled_probes_ = 0;
  }
  rewrite_recent_rows_ = true;
  ids_flushed_ = 0;
  rehash(recent_.size());
}

void MirrorIds::flush(sql::Connection& db) {
  if (recent_.size() >= recent_ids_max()) {
    settle(db);
    return;
  }
  if (rewrite_recent_rows_) {
    db.prepare("DELETE FROM mirror_recent_ids").run();
    rewrite_recent_rows_ = false;
  }
  while (ids_flushed_ < recent_.size()) {
    const size_t count = std::min<size_t>(recent_.size() - ids_flushed_, kMirrorRecentIdsPerRow);
    Bytes ids;
    ids.reserve(count * kIdBytes);
    for (size_t i = ids_flushed_; i < ids_flushed_ + count; ++i)
      ids.insert(ids.end(), recent_[i].bytes.begin(), recent_[i].bytes.end());
    db.prepare("INSERT INTO mirror_recent_ids (first_seq, ids) VALUES (?, ?)")
        .bind(1, settled_ + 1 + ids_flushed_)
        .bind(2, ByteView(ids))
        .run();
    ids_flushed_ += count;
  }
}

uint64_t MirrorIds::recent_ids_max() const {
  return std::max<uint64_t>(recent_ids_min_, std::min<uint64_t>(settled_ / 8, kMirrorRecentIdsCap));
}

void MirrorIds::index(size_t i) {
  const size_t mask = slots_.size() - 1;
  size_t slot = slot_hash(recent_[i]) & mask;
  while (slots_[slot] != 0) slot = (slot + 1) & mask;
  slots_[slot] = static_cast<uint32_t>(i + 1);
}

void MirrorIds::rehash(size_t count) {
  size_t capacity = 16;
  while (capacity < 2 * count) capacity *= 2;
  slots_.assign(capacity, 0);
  for (size_t i = 0; i < recent_.size(); ++i) index(i);
}

void MirrorIds::settle(sql::Connection& db) {
  // In prefix order (big-endian, so the integers sort as SQLite compares the blobs), so that
  // consecutive inserts land on the same leaf.
  std::vector<std::pair<uint32_t, uint32_t>> order;  // (prefix, index into recent_)
  order.reserve(recent_.size());
  for (size_t i = 0; i < recent_.size(); ++i)
    order.emplace_back(read_u32(recent_[i].bytes.data()), static_cast<uint32_t>(i));
  std::sort(order.begin(), order.end());
  if (settled_prefixes_) {
    const auto middle = static_cast<std::ptrdiff_t>(settled_prefixes_->size());
    for (const auto& [prefix, i] : order) settled_prefixes_->push_back(prefix);
    std::inplace_merge(settled_prefixes_->begin(), settled_prefixes_->begin() + middle,
                       settled_prefixes_->end());
    if (settled_prefixes_->size() > kMirrorSettledPrefixesMax) settled_prefixes_.reset();
  }
  sql::Statement& insert = db.prepare("INSERT INTO mirror_ids (id_prefix, seq) VALUES (?, ?)");
  for (const auto& [prefix, i] : order) {
    insert.bind(1, ByteView(recent_[i].bytes.data(), kPrefixBytes)).bind(2, settled_ + 1 + i).run();
    insert.reset();
  }
  db.prepare("DELETE FROM mirror_recent_ids").run();
  settled_ += recent_.size();
  recent_.clear();
  ids_flushed_ = 0;
  rewrite_recent_rows_ = false;
  rehash(0);
}

void MirrorIds::read_settled_prefixes(sql::Connection& db) {
  std::vector<uint32_t> prefixes;
  prefixes.reserve(settled_);
  // In key order, which is the prefixes' order.
  sql::Statement& rows = db.prepare("SELECT id_prefix FROM mirror_ids ORDER BY id_prefix, seq");
  while (rows.step()) {
    const FixedBytes<kPrefixBytes> prefix = rows.fixed<kPrefixBytes>(0);
    prefixes.push_back(read_u32(prefix.bytes.data()));
  }
  OPSYNC_CHECK_MSG(prefixes.size() == settled_,
                   "the settled mirror ids do not cover the settled positions");
  OPSYNC_CHECK(std::is_sorted(prefixes.begin(), prefixes.end()));
  settled_prefixes_ = std::move(prefixes);
}

}  // namespace opsync::client::detail
