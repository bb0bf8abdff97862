// A rate limit per client address (LIM-020): at most `per_minute` events a minute from one
// address, with bursts of up to `per_minute`. Private to the server core.
//
// Each address has a generic cell rate algorithm bucket (the "theoretical arrival time" of its
// next event), kept in integers scaled by per_minute so that no rounding accumulates. Time comes
// from the caller, so the limiter is as deterministic as the core.
//
// Bounded: at most kAddressesMax addresses are tracked. An address whose bucket has refilled is
// the same as an unknown one and is forgotten when room is needed; when every tracked address
// is still limited, a new one is refused too (the limiter fails closed rather than forget).
//
// Thread safety: admit() may be called from many threads.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "opsync/protocol/check.h"

namespace opsync::server {

class RateLimiter {
 public:
  static constexpr size_t kAddressesMax = 65536;
  static constexpr uint64_t kPerMinuteMax =
      1000000;  // keeps scaled times within 64 bits until year 2500
  static constexpr uint64_t kMinuteMs = 60000;

  // REQUIRES: 1 <= per_minute <= kPerMinuteMax.
  explicit RateLimiter(uint64_t per_minute) : per_minute_(per_minute) {
    OPSYNC_CHECK(per_minute >= 1 && per_minute <= kPerMinuteMax);
  }

  // Counts one event from `address` at `now_ms` and returns nullopt, or, when the address is
  // over its rate, counts nothing and returns how many milliseconds until it may try again.
  std::optional<uint64_t> admit(const std::string& address, uint64_t now_ms) {
    // Scaled units: one event costs kMinuteMs; a burst of per_minute events is tolerated.
    const uint64_t now = now_ms * per_minute_;
    const uint64_t tolerance = (per_minute_ - 1) * kMinuteMs;
    std::lock_guard lock(mutex_);
    auto it = next_.find(address);
    if (it == next_.end()) {
      if (next_.size() >= kAddressesMax) forget_refilled(now);
      if (next_.size() >= kAddressesMax) return kMinuteMs / per_minute_ + 1;  // fail closed
      it = next_.emplace(address, now).first;
    }
    const uint64_t arrival = std::max(it->second, now);
    if (arrival - now > tolerance) {
      const uint64_t wait = arrival - tolerance - now;
      return (wait + per_minute_ - 1) / per_minute_;  // ceiling, in milliseconds
    }
    it->second = arrival + kMinuteMs;
    OPSYNC_CHECK(it->second - now <= tolerance + kMinuteMs);
    return std::nullopt;
  }

  size_t tracked() {
    std::lock_guard lock(mutex_);
    return next_.size();
  }

 private:
  void forget_refilled(uint64_t now) {
    for (auto it = next_.begin(); it != next_.end();)
      it = it->second <= now ? next_.erase(it) : std::next(it);
  }

  const uint64_t per_minute_;
  std::mutex mutex_;
  std::map<std::string, uint64_t> next_;  // address -> theoretical arrival time, scaled (a map:
                                          // addresses may be chosen by clients)
};

}  // namespace opsync::server
