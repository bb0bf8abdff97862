#include "opsync/simulator/decisions.h"

#include "opsync/protocol/check.h"
#include "opsync/protocol/sha256.h"

namespace opsync::simulator {

uint64_t derive_seed(uint64_t seed, std::string_view name) {
  Sha256 hasher;
  hasher.update(std::string_view("opsync-sim/v1 stream"));
  uint8_t seed_bytes[8];
  for (int i = 0; i < 8; ++i) seed_bytes[i] = static_cast<uint8_t>(seed >> (56 - 8 * i));
  hasher.update(seed_bytes, sizeof seed_bytes);
  hasher.update(name);
  return read_u64(hasher.finish().data());
}

Stream::Stream(std::string name, uint64_t seed, const std::vector<uint64_t>* replay)
    : name_(std::move(name)), random_(derive_seed(seed, name_)), replay_(replay) {}

uint64_t Stream::draw(uint64_t bound) {
  OPSYNC_CHECK(bound > 0);
  uint64_t value = 0;
  if (replay_ == nullptr) {
    value = random_.below(bound);
  } else if (replayed_ < replay_->size()) {
    // A log edited by shrinking, or replayed against a smaller configuration, may hold values a
    // bound no longer admits: the largest admitted value stands in for them.
    value = std::min((*replay_)[replayed_++], bound - 1);
  }
  recorded_.push_back(value);
  return value;
}

uint64_t Stream::range(uint64_t lo, uint64_t hi) {
  OPSYNC_CHECK(lo <= hi);
  if (hi - lo == UINT64_MAX) return lo + draw(UINT64_MAX);
  return lo + draw(hi - lo + 1);
}

bool Stream::chance_ppm(uint32_t ppm) {
  constexpr uint64_t kMillion = 1'000'000;
  if (ppm == 0) return false;
  return draw(kMillion) >= kMillion - std::min<uint64_t>(ppm, kMillion);
}

Decisions::Decisions(uint64_t seed) : seed_(seed) {}

Decisions::Decisions(uint64_t seed, DecisionLog log)
    : seed_(seed), replay_(std::make_unique<const DecisionLog>(std::move(log))) {}

Stream& Decisions::stream(std::string_view name) {
  auto it = streams_.find(name);
  if (it != streams_.end()) return it->second;
  const std::vector<uint64_t>* replay = nullptr;
  static const std::vector<uint64_t> kEmpty;
  if (replay_) {
    auto recorded = replay_->find(std::string(name));
    replay = recorded == replay_->end() ? &kEmpty : &recorded->second;
  }
  return streams_.emplace(std::string(name), Stream(std::string(name), seed_, replay))
      .first->second;
}

std::unique_ptr<SeededRandom> Decisions::node_random(std::string_view node) const {
  return std::make_unique<SeededRandom>(derive_seed(seed_, "node/" + std::string(node)));
}

DecisionLog Decisions::log() const {
  DecisionLog out;
  for (const auto& [name, stream] : streams_)
    if (!stream.recorded_.empty()) out.emplace(name, stream.recorded_);
  return out;
}

uint64_t Decisions::decision_count() const {
  uint64_t count = 0;
  for (const auto& [name, stream] : streams_) count += stream.recorded_.size();
  return count;
}

}  // namespace opsync::simulator
