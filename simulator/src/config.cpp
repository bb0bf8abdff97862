#include "opsync/simulator/config.h"

#include <algorithm>
#include <bit>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "opsync/protocol/check.h"
#include "opsync/simulator/decisions.h"

namespace opsync::simulator {
namespace {

constexpr uint64_t kDayMs = 24ull * 3600 * 1000;
constexpr uint64_t kHourMs = 3600ull * 1000;
constexpr uint32_t kMillion = 1'000'000;
constexpr uint32_t kDevicesMax = 64;

Error bad(std::string_view path, const std::string& message) {
  return Error(Code::kInvalidField, std::string(path), std::string(path) + ": " + message);
}

// Reads the members of one JSON object strictly: each member once, of the right type and range;
// finish() rejects the members nobody asked for.
class ObjectReader {
 public:
  ObjectReader(const nlohmann::json& json, std::string_view path) : json_(json), path_(path) {
    if (!json.is_object()) error_ = bad(path, "must be an object");
  }

  template <typename T>
  void integer(const char* name, T& out, uint64_t lo, uint64_t hi) {
    const nlohmann::json* member = find(name);
    if (!member) return;
    if (!member->is_number_unsigned() &&
        !(member->is_number_integer() && member->get<int64_t>() >= 0))
      return fail(name, "must be a non-negative integer");
    const uint64_t value = member->get<uint64_t>();
    if (value < lo || value > hi)
      return fail(name, "must be from " + std::to_string(lo) + " to " + std::to_string(hi));
    out = static_cast<T>(value);
  }
  void signed_integer(const char* name, int64_t& out, int64_t lo, int64_t hi) {
    const nlohmann::json* member = find(name);
    if (!member) return;
    if (!member->is_number_integer()) return fail(name, "must be an integer");
    const int64_t value = member->get<int64_t>();
    if (value < lo || value > hi)
      return fail(name, "must be from " + std::to_string(lo) + " to " + std::to_string(hi));
    out = value;
  }
  void string(const char* name, std::string& out) {
    const nlohmann::json* member = find(name);
    if (!member) return;
    if (!member->is_string()) return fail(name, "must be a string");
    out = member->get<std::string>();
  }
  void boolean(const char* name, bool& out) {
    const nlohmann::json* member = find(name);
    if (!member) return;
    if (!member->is_boolean()) return fail(name, "must be true or false");
    out = member->get<bool>();
  }
  const nlohmann::json* member(const char* name) { return find(name); }

  void fail(const std::string& name, const std::string& message) {
    if (!error_) error_ = bad(path_ + "." + name, message);
  }
  Status finish() {
    if (error_) return *error_;
    for (const auto& [name, value] : json_.items())
      if (!seen_.count(name)) return bad(path_ + "." + name, "unknown member");
    return {};
  }
  const std::string& path() const { return path_; }

 private:
  const nlohmann::json* find(const char* name) {
    seen_.insert(name);
    if (error_ || !json_.is_object()) return nullptr;
    auto it = json_.find(name);
    return it == json_.end() ? nullptr : &*it;
  }

  const nlohmann::json& json_;
  std::string path_;
  std::set<std::string> seen_;
  std::optional<Error> error_;
};

FaultProfile base_profile(std::string name) {
  FaultProfile p;
  p.name = std::move(name);
  return p;
}

FaultProfile lossy() {
  FaultProfile p = base_profile("lossy");
  p.latency_ms_min = 1;
  p.latency_ms_max = 120;
  p.latency_spike_ppm = 10000;
  p.latency_spike_ms_max = 20000;
  p.request_loss_ppm = 20000;
  p.response_loss_ppm = 20000;
  p.duplicate_ppm = 10000;
  p.reset_ppm = 30000;
  p.slow_ppm = 5000;
  p.slow_ms_max = 30000;
  return p;
}

FaultProfile partitions() {
  FaultProfile p = base_profile("partitions");
  p.partitions_per_hour = 40;
  p.partition_ms_min = 2000;
  p.partition_ms_max = 90000;
  p.one_way_percent = 50;
  return p;
}

FaultProfile skewed_clocks() {
  FaultProfile p = base_profile("skewed-clocks");
  p.clock_offset_ms_max = 7 * kDayMs;
  p.drift_ppm_max = 500;
  p.clock_steps_per_hour = 20;
  p.clock_step_ms_max = kHourMs;
  p.clock_freezes_per_hour = 10;
  p.clock_freeze_ms_max = 120000;
  p.server_clock_offset_ms_max = 5 * 60 * 1000;
  p.server_clock_steps_per_hour = 2;
  p.server_clock_step_ms_max = 2 * 60 * 1000;
  return p;
}

FaultProfile crashes() {
  FaultProfile p = base_profile("crashes");
  p.device_crashes_per_hour = 6;
  p.device_down_ms_max = 30000;
  p.crash_steps_max = 40;
  p.server_crashes_per_hour = 4;
  p.server_down_ms_max = 20000;
  return p;
}

FaultProfile restore() {
  FaultProfile p = base_profile("restore");
  p.backups_per_hour = 12;
  p.restores_per_hour = 3;
  return p;
}

FaultProfile everything() {
  FaultProfile p = lossy();
  p.name = "everything";
  const FaultProfile parts = partitions(), clocks = skewed_clocks(), crash = crashes(),
                     back = restore();
  p.partitions_per_hour = parts.partitions_per_hour;
  p.partition_ms_min = parts.partition_ms_min;
  p.partition_ms_max = parts.partition_ms_max;
  p.one_way_percent = parts.one_way_percent;
  p.clock_offset_ms_max = clocks.clock_offset_ms_max;
  p.drift_ppm_max = clocks.drift_ppm_max;
  p.clock_steps_per_hour = clocks.clock_steps_per_hour;
  p.clock_step_ms_max = clocks.clock_step_ms_max;
  p.clock_freezes_per_hour = clocks.clock_freezes_per_hour;
  p.clock_freeze_ms_max = clocks.clock_freeze_ms_max;
  p.server_clock_offset_ms_max = clocks.server_clock_offset_ms_max;
  p.server_clock_steps_per_hour = clocks.server_clock_steps_per_hour;
  p.server_clock_step_ms_max = clocks.server_clock_step_ms_max;
  p.device_crashes_per_hour = crash.device_crashes_per_hour;
  p.device_down_ms_max = crash.device_down_ms_max;
  p.crash_steps_max = crash.crash_steps_max;
  p.server_crashes_per_hour = crash.server_crashes_per_hour;
  p.server_down_ms_max = crash.server_down_ms_max;
  p.backups_per_hour = back.backups_per_hour;
  p.restores_per_hour = back.restores_per_hour;
  p.joins = 1;
  p.revocations = 1;
  return p;
}

}  // namespace

std::string_view protocol_name(Protocol protocol) {
  return protocol == Protocol::kOpsyncV1 ? "opsync-v1" : "dataans-0.3";
}

std::optional<Protocol> protocol_from_name(std::string_view name) {
  if (name == "opsync-v1") return Protocol::kOpsyncV1;
  if (name == "dataans-0.3") return Protocol::kDataans03;
  return std::nullopt;
}

std::vector<Variant> all_variants() {
  return {Variant::kNone,
          Variant::kNoDedupe,
          Variant::kHiddenRestore,
          Variant::kWallClock,
          Variant::kForgetLostUploads,
          Variant::kPlaintext,
          Variant::kNoFileDelete,
          Variant::kNoCopyRetention,
          Variant::kNoCopyExpiry,
          Variant::kWallClockWaits,
          Variant::kRestoreRevivesTokens};
}

std::string_view variant_name(Variant variant) {
  switch (variant) {
    case Variant::kNone:
      return "none";
    case Variant::kNoDedupe:
      return "no-dedupe";
    case Variant::kHiddenRestore:
      return "hidden-restore";
    case Variant::kWallClock:
      return "wall-clock";
    case Variant::kForgetLostUploads:
      return "forget-lost-uploads";
    case Variant::kPlaintext:
      return "plaintext";
    case Variant::kNoFileDelete:
      return "no-file-delete";
    case Variant::kNoCopyRetention:
      return "no-copy-retention";
    case Variant::kNoCopyExpiry:
      return "no-copy-expiry";
    case Variant::kWallClockWaits:
      return "wall-clock-waits";
    case Variant::kRestoreRevivesTokens:
      return "restore-revives-tokens";
  }
  return "?";
}

std::optional<Variant> variant_from_name(std::string_view name) {
  for (Variant v : all_variants())
    if (variant_name(v) == name) return v;
  return std::nullopt;
}

std::vector<std::string> profile_names() {
  return {"none", "lossy", "partitions", "skewed-clocks", "crashes", "restore", "everything"};
}

std::optional<FaultProfile> named_profile(std::string_view name) {
  if (name == "none") return base_profile("none");
  if (name == "lossy") return lossy();
  if (name == "partitions") return partitions();
  if (name == "skewed-clocks") return skewed_clocks();
  if (name == "crashes") return crashes();
  if (name == "restore") return restore();
  if (name == "everything") return everything();
  return std::nullopt;
}

Config default_config(uint64_t seed) {
  Config config;
  config.seed = seed;
  config.faults = everything();
  return config;
}

nlohmann::json to_json(const FaultProfile& p) {
  return {{"name", p.name},
          {"latency_ms_min", p.latency_ms_min},
          {"latency_ms_max", p.latency_ms_max},
          {"latency_spike_ppm", p.latency_spike_ppm},
          {"latency_spike_ms_max", p.latency_spike_ms_max},
          {"request_loss_ppm", p.request_loss_ppm},
          {"response_loss_ppm", p.response_loss_ppm},
          {"duplicate_ppm", p.duplicate_ppm},
          {"reset_ppm", p.reset_ppm},
          {"timeout_ms", p.timeout_ms},
          {"slow_ppm", p.slow_ppm},
          {"slow_ms_max", p.slow_ms_max},
          {"partitions_per_hour", p.partitions_per_hour},
          {"partition_ms_min", p.partition_ms_min},
          {"partition_ms_max", p.partition_ms_max},
          {"one_way_percent", p.one_way_percent},
          {"partition_devices_max", p.partition_devices_max},
          {"clock_offset_ms_max", p.clock_offset_ms_max},
          {"drift_ppm_max", p.drift_ppm_max},
          {"clock_steps_per_hour", p.clock_steps_per_hour},
          {"clock_step_ms_max", p.clock_step_ms_max},
          {"clock_freezes_per_hour", p.clock_freezes_per_hour},
          {"clock_freeze_ms_max", p.clock_freeze_ms_max},
          {"server_clock_offset_ms_max", p.server_clock_offset_ms_max},
          {"server_clock_steps_per_hour", p.server_clock_steps_per_hour},
          {"server_clock_step_ms_max", p.server_clock_step_ms_max},
          {"device_crashes_per_hour", p.device_crashes_per_hour},
          {"device_down_ms_max", p.device_down_ms_max},
          {"crash_steps_max", p.crash_steps_max},
          {"server_crashes_per_hour", p.server_crashes_per_hour},
          {"server_down_ms_max", p.server_down_ms_max},
          {"backups_per_hour", p.backups_per_hour},
          {"restores_per_hour", p.restores_per_hour},
          {"joins", p.joins},
          {"revocations", p.revocations}};
}

Result<FaultProfile> fault_profile_from_json(const nlohmann::json& json, std::string_view path) {
  FaultProfile p = base_profile("custom");
  ObjectReader r(json, path);
  r.string("name", p.name);
  r.integer("latency_ms_min", p.latency_ms_min, 0, 600000);
  r.integer("latency_ms_max", p.latency_ms_max, 0, 600000);
  r.integer("latency_spike_ppm", p.latency_spike_ppm, 0, kMillion);
  r.integer("latency_spike_ms_max", p.latency_spike_ms_max, 0, 3600000);
  r.integer("request_loss_ppm", p.request_loss_ppm, 0, 500000);
  r.integer("response_loss_ppm", p.response_loss_ppm, 0, 500000);
  r.integer("duplicate_ppm", p.duplicate_ppm, 0, kMillion);
  r.integer("reset_ppm", p.reset_ppm, 0, 500000);
  r.integer("timeout_ms", p.timeout_ms, 100, 600000);
  r.integer("slow_ppm", p.slow_ppm, 0, 500000);
  r.integer("slow_ms_max", p.slow_ms_max, 1, 3600000);
  r.integer("partitions_per_hour", p.partitions_per_hour, 0, 3600);
  r.integer("partition_ms_min", p.partition_ms_min, 1, 3600000);
  r.integer("partition_ms_max", p.partition_ms_max, 1, 3600000);
  r.integer("one_way_percent", p.one_way_percent, 0, 100);
  r.integer("partition_devices_max", p.partition_devices_max, 1, kDevicesMax);
  r.integer("clock_offset_ms_max", p.clock_offset_ms_max, 0, 7 * kDayMs);
  r.integer("drift_ppm_max", p.drift_ppm_max, 0, 500);
  r.integer("clock_steps_per_hour", p.clock_steps_per_hour, 0, 3600);
  r.integer("clock_step_ms_max", p.clock_step_ms_max, 0, 7 * kDayMs);
  r.integer("clock_freezes_per_hour", p.clock_freezes_per_hour, 0, 3600);
  r.integer("clock_freeze_ms_max", p.clock_freeze_ms_max, 0, 3600000);
  r.integer("server_clock_offset_ms_max", p.server_clock_offset_ms_max, 0, 7 * kDayMs);
  r.integer("server_clock_steps_per_hour", p.server_clock_steps_per_hour, 0, 3600);
  r.integer("server_clock_step_ms_max", p.server_clock_step_ms_max, 0, 7 * kDayMs);
  r.integer("device_crashes_per_hour", p.device_crashes_per_hour, 0, 3600);
  r.integer("device_down_ms_max", p.device_down_ms_max, 0, 3600000);
  r.integer("crash_steps_max", p.crash_steps_max, 0, 10000);
  r.integer("server_crashes_per_hour", p.server_crashes_per_hour, 0, 3600);
  r.integer("server_down_ms_max", p.server_down_ms_max, 0, 3600000);
  r.integer("backups_per_hour", p.backups_per_hour, 0, 3600);
  r.integer("restores_per_hour", p.restores_per_hour, 0, 3600);
  r.integer("joins", p.joins, 0, kDevicesMax - 1);
  r.integer("revocations", p.revocations, 0, kDevicesMax - 1);
  if (Status s = r.finish(); !s.ok()) return s.error();
  if (p.latency_ms_min > p.latency_ms_max)
    return bad(std::string(path) + ".latency_ms_max", "is below latency_ms_min");
  if (p.partition_ms_min > p.partition_ms_max)
    return bad(std::string(path) + ".partition_ms_max", "is below partition_ms_min");
  return p;
}

namespace {

const std::set<std::string>& script_actions() {
  static const std::set<std::string> actions = {
      "put",    "delete",       "attach",       "detach",      "sync",    "clock",  "offline",
      "online", "join",         "drop",         "drop-answer", "reset",   "backup", "restore",
      "crash",  "server-crash", "server-clock", "revoke",      "reinvite"};
  return actions;
}

nlohmann::json to_json(const ScriptStep& s) {
  nlohmann::json out = {{"at_ms", s.at_ms}, {"device", s.device}, {"action", s.action}};
  if (!s.key.empty()) out["key"] = s.key;
  if (!s.value.empty()) out["value"] = s.value;
  if (s.file_bytes) out["file_bytes"] = s.file_bytes;
  if (s.action == "clock" || s.action == "server-clock") {
    out["clock_offset_ms"] = s.clock_offset_ms;
    out["clock_frozen"] = s.clock_frozen;
  }
  if (!s.match.empty()) out["match"] = s.match;
  if (s.action == "reset") out["cut_percent"] = s.cut_percent;
  if (s.action == "crash" || s.action == "restore" || s.action == "server-crash")
    out["steps"] = s.steps;
  return out;
}

Result<ScriptStep> script_step_from_json(const nlohmann::json& json, const std::string& path) {
  ScriptStep s;
  ObjectReader r(json, path);
  r.integer("at_ms", s.at_ms, 0, 7 * kDayMs);
  r.integer("device", s.device, 0, kDevicesMax - 1);
  r.string("action", s.action);
  r.string("key", s.key);
  r.string("value", s.value);
  r.integer("file_bytes", s.file_bytes, 0, 64ull << 20);
  r.signed_integer("clock_offset_ms", s.clock_offset_ms, -static_cast<int64_t>(30 * kDayMs),
                   static_cast<int64_t>(30 * kDayMs));
  r.boolean("clock_frozen", s.clock_frozen);
  r.string("match", s.match);
  r.integer("cut_percent", s.cut_percent, 0, 99);
  r.integer("steps", s.steps, 0, 100000);
  if (Status status = r.finish(); !status.ok()) return status.error();
  if (!script_actions().count(s.action))
    return bad(path + ".action", "unknown action \"" + s.action + "\"");
  return s;
}

}  // namespace

Status validate(const Config& c) {
  if (c.devices < 1 || c.devices > kDevicesMax) return bad("devices", "must be from 1 to 64");
  if (c.devices + c.faults.joins > kDevicesMax)
    return bad("faults.joins", "would make more than 64 devices");
  if (c.faults.revocations >= c.devices + c.faults.joins && c.faults.revocations > 0)
    return bad("faults.revocations", "must leave at least one device besides the owner");
  if (c.ops > 1'000'000) return bad("ops", "must be at most 1000000");
  if (c.chaos_ms < 1000 || c.chaos_ms > 30 * kDayMs)
    return bad("chaos_ms", "must be from 1000 to 30 days");
  if (c.keys < 1 || c.keys > 100000) return bad("keys", "must be from 1 to 100000");
  if (c.hot_keys > c.keys) return bad("hot_keys", "must be at most keys");
  if (c.delete_percent + c.attach_percent + c.detach_percent > 100)
    return bad("attach_percent", "delete, attach and detach percents add up to more than 100");
  if (c.file_chunks_max < 1 || c.file_chunks_max > 64)
    return bad("file_chunks_max", "must be from 1 to 64");
  if (c.sync_interval_ms_min < 1 || c.sync_interval_ms_min > c.sync_interval_ms_max)
    return bad("sync_interval_ms_max", "must be at least sync_interval_ms_min, itself at least 1");
  if (c.online_ms_min < 1 || c.online_ms_min > c.online_ms_max)
    return bad("online_ms_max", "must be at least online_ms_min, itself at least 1");
  if (c.offline_ms_min > c.offline_ms_max)
    return bad("offline_ms_max", "must be at least offline_ms_min");
  if (c.heal_rounds_max < 1 || c.heal_rounds_max > 1000)
    return bad("heal_rounds_max", "must be from 1 to 1000");
  for (size_t i = 0; i < c.script.size(); ++i) {
    const ScriptStep& step = c.script[i];
    if (step.device >= c.devices + c.faults.joins && step.action != "join")
      return bad("script[" + std::to_string(i) + "].device",
                 "names a device the run does not have");
    if ((step.action == "revoke" || step.action == "reinvite") && step.device == 0)
      return bad("script[" + std::to_string(i) + "].device",
                 "the owner (device 0) cannot " + step.action + " itself");
  }
  // A scripted run makes its own schedule: the profile's network faults (latency, spikes, losses,
  // duplicates, resets, slow requests) apply to its messages, and `joins` sizes its devices, but
  // nothing is drawn on a schedule. A profile asking for scheduled faults would be ignored, so it
  // is refused: the script has a step for each.
  if (!c.script.empty()) {
    const FaultProfile& f = c.faults;
    const std::pair<const char*, uint64_t> scheduled[] = {
        {"partitions_per_hour", f.partitions_per_hour},
        {"clock_offset_ms_max", f.clock_offset_ms_max},
        {"drift_ppm_max", f.drift_ppm_max},
        {"clock_steps_per_hour", f.clock_steps_per_hour},
        {"clock_freezes_per_hour", f.clock_freezes_per_hour},
        {"server_clock_offset_ms_max", f.server_clock_offset_ms_max},
        {"server_clock_steps_per_hour", f.server_clock_steps_per_hour},
        {"device_crashes_per_hour", f.device_crashes_per_hour},
        {"server_crashes_per_hour", f.server_crashes_per_hour},
        {"backups_per_hour", f.backups_per_hour},
        {"restores_per_hour", f.restores_per_hour},
        {"revocations", f.revocations}};
    for (const auto& [name, value] : scheduled)
      if (value != 0)
        return bad(
            std::string("faults.") + name,
            "a scripted run draws no scheduled faults: use the script's steps (offline, clock, "
            "server-clock, crash, server-crash, backup, restore, revoke) instead");
  }
  if (c.protocol == Protocol::kDataans03 && c.variant != Variant::kNone)
    return bad("variant", "variants change opsync-v1; dataans-0.3 has none");
  return {};
}

nlohmann::json to_json(const Config& c) {
  nlohmann::json script = nlohmann::json::array();
  for (const ScriptStep& s : c.script) script.push_back(to_json(s));
  return {{"seed", c.seed},
          {"protocol", protocol_name(c.protocol)},
          {"variant", variant_name(c.variant)},
          {"devices", c.devices},
          {"ops", c.ops},
          {"chaos_ms", c.chaos_ms},
          {"keys", c.keys},
          {"hot_keys", c.hot_keys},
          {"delete_percent", c.delete_percent},
          {"attach_percent", c.attach_percent},
          {"detach_percent", c.detach_percent},
          {"file_chunks_max", c.file_chunks_max},
          {"sync_interval_ms_min", c.sync_interval_ms_min},
          {"sync_interval_ms_max", c.sync_interval_ms_max},
          {"online_ms_min", c.online_ms_min},
          {"online_ms_max", c.online_ms_max},
          {"offline_ms_min", c.offline_ms_min},
          {"offline_ms_max", c.offline_ms_max},
          {"heal_rounds_max", c.heal_rounds_max},
          {"faults", to_json(c.faults)},
          {"script", script}};
}

Result<Config> config_from_json(const nlohmann::json& json) {
  Config c;
  ObjectReader r(json, "config");
  r.integer("seed", c.seed, 0, UINT64_MAX);
  std::string protocol = std::string(protocol_name(c.protocol)),
              variant = std::string(variant_name(c.variant));
  r.string("protocol", protocol);
  r.string("variant", variant);
  r.integer("devices", c.devices, 1, kDevicesMax);
  r.integer("ops", c.ops, 0, 1'000'000);
  r.integer("chaos_ms", c.chaos_ms, 1000, 30 * kDayMs);
  r.integer("keys", c.keys, 1, 100000);
  r.integer("hot_keys", c.hot_keys, 0, 100000);
  r.integer("delete_percent", c.delete_percent, 0, 100);
  r.integer("attach_percent", c.attach_percent, 0, 100);
  r.integer("detach_percent", c.detach_percent, 0, 100);
  r.integer("file_chunks_max", c.file_chunks_max, 1, 64);
  r.integer("sync_interval_ms_min", c.sync_interval_ms_min, 1, 3600000);
  r.integer("sync_interval_ms_max", c.sync_interval_ms_max, 1, 3600000);
  r.integer("online_ms_min", c.online_ms_min, 1, 30 * kDayMs);
  r.integer("online_ms_max", c.online_ms_max, 1, 30 * kDayMs);
  r.integer("offline_ms_min", c.offline_ms_min, 0, 30 * kDayMs);
  r.integer("offline_ms_max", c.offline_ms_max, 0, 30 * kDayMs);
  r.integer("heal_rounds_max", c.heal_rounds_max, 1, 1000);
  if (const nlohmann::json* faults = r.member("faults")) {
    Result<FaultProfile> profile = fault_profile_from_json(*faults, "config.faults");
    if (!profile.ok()) return profile.error();
    c.faults = *profile;
  }
  if (const nlohmann::json* script = r.member("script")) {
    if (!script->is_array()) return bad("config.script", "must be an array");
    for (size_t i = 0; i < script->size(); ++i) {
      Result<ScriptStep> step =
          script_step_from_json((*script)[i], "config.script[" + std::to_string(i) + "]");
      if (!step.ok()) return step.error();
      c.script.push_back(*step);
    }
  }
  if (Status s = r.finish(); !s.ok()) return s.error();
  std::optional<Protocol> p = protocol_from_name(protocol);
  if (!p) return bad("config.protocol", "must be opsync-v1 or dataans-0.3");
  c.protocol = *p;
  std::optional<Variant> v = variant_from_name(variant);
  if (!v) return bad("config.variant", "unknown variant \"" + variant + "\"");
  c.variant = *v;
  if (Status s = validate(c); !s.ok()) return s.error();
  return c;
}

Result<FaultProfile> load_fault_profile(std::string_view name_or_path) {
  if (std::optional<FaultProfile> named = named_profile(name_or_path)) return *named;
  std::ifstream in{std::string(name_or_path)};
  if (!in) {
    std::string names;
    for (const std::string& n : profile_names()) names += (names.empty() ? "" : ", ") + n;
    return Error(Code::kNotFound, "faults",
                 "\"" + std::string(name_or_path) + "\" is neither a profile (" + names +
                     ") nor a readable file");
  }
  nlohmann::json json = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded())
    return Error(Code::kMalformedJson, "faults",
                 std::string(name_or_path) + " is not well-formed JSON");
  Result<FaultProfile> profile = fault_profile_from_json(json);
  if (!profile.ok())
    return Error(profile.error().code, profile.error().field,
                 std::string(name_or_path) + ": " + profile.error().message);
  return profile;
}

namespace {

// Integer-only draws for the swarm (no floating point: the same on every standard library).
class SwarmDraw {
 public:
  explicit SwarmDraw(Stream& s) : s_(s) {}

  uint64_t uniform(uint64_t lo, uint64_t hi) { return s_.range(lo, hi); }
  // Log-uniform in [lo, hi]: a power of two drawn uniformly, then a value within it, so that 1 ms
  // and 1 hour are as likely as 1 s and 10 s; when lo is 0, zero one time in sixteen.
  uint64_t log_uniform(uint64_t lo, uint64_t hi) {
    OPSYNC_CHECK(lo <= hi);
    if (lo == 0) {
      if (hi == 0 || s_.draw(16) == 0) return 0;
      lo = 1;
    }
    if (lo == hi) return lo;
    const uint32_t e_lo = static_cast<uint32_t>(std::bit_width(lo)) - 1;
    const uint32_t e_hi = static_cast<uint32_t>(std::bit_width(hi)) - 1;
    const uint32_t e = static_cast<uint32_t>(s_.range(e_lo, e_hi));
    const uint64_t from = std::max<uint64_t>(lo, uint64_t{1} << e);
    const uint64_t to = e >= 63 ? hi : std::min<uint64_t>(hi, (uint64_t{2} << e) - 1);
    return s_.range(from, to);
  }
  // On with `percent` chance.
  bool on(uint32_t percent) { return s_.draw(100) < percent; }

 private:
  Stream& s_;
};

// Work the devices of one seed may do, in device-milliseconds of chaos: 64 devices for a minute,
// or 6 for ten. Bounds a seed's cost without bounding any one knob's range.
constexpr uint64_t kSwarmDeviceChaosMsMax = 64 * 60'000;
constexpr uint64_t kSwarmDeviceEditsMax = 8000;
// A chance per message below 1 in 10,000 hardly ever strikes in a run of a few hundred messages:
// the kind is as good as off, which the 40% of "off" draws already cover.
constexpr uint64_t kChanceMinPpm = 100;

}  // namespace

Config swarm_config(uint64_t seed, const FaultProfile& base, Protocol protocol) {
  Decisions decisions(seed);
  SwarmDraw d(decisions.stream("swarm"));
  Config c;
  c.seed = seed;
  c.protocol = protocol;
  // The run's shape. Devices in all, log-uniform from 1 to 64; some of them join during the chaos
  // when the joins kind is drawn (below).
  const uint32_t devices_in_all = static_cast<uint32_t>(d.log_uniform(1, kDevicesMax));
  c.devices = devices_in_all;
  c.chaos_ms = d.log_uniform(
      10'000, std::max<uint64_t>(
                  10'000, std::min<uint64_t>(kSwarmDeviceChaosMsMax / c.devices, 10 * 60'000)));
  // Every device applies every edit in the heal: edits times devices bounds that work.
  c.ops = static_cast<uint32_t>(
      d.log_uniform(0, std::min<uint64_t>(1000, kSwarmDeviceEditsMax / c.devices)));
  c.keys = static_cast<uint32_t>(d.log_uniform(1, 1000));
  c.hot_keys = static_cast<uint32_t>(std::min<uint64_t>(c.keys, d.uniform(0, 8)));
  c.delete_percent = static_cast<uint32_t>(d.uniform(0, 40));
  c.attach_percent = static_cast<uint32_t>(d.uniform(0, 30));
  c.detach_percent =
      static_cast<uint32_t>(d.uniform(0, 100 - c.delete_percent - c.attach_percent) / 4);
  c.file_chunks_max = static_cast<uint32_t>(d.log_uniform(1, 8));
  c.sync_interval_ms_min = static_cast<uint32_t>(d.log_uniform(50, 60'000));
  c.sync_interval_ms_max = static_cast<uint32_t>(d.log_uniform(c.sync_interval_ms_min, 120'000));
  c.online_ms_min = static_cast<uint32_t>(d.log_uniform(1'000, 600'000));
  c.online_ms_max = static_cast<uint32_t>(d.log_uniform(c.online_ms_min, 1'200'000));
  c.offline_ms_min = static_cast<uint32_t>(d.log_uniform(0, 300'000));
  c.offline_ms_max = static_cast<uint32_t>(d.log_uniform(c.offline_ms_min, 600'000));

  // The faults: every kind the base profile has is drawn across its range (simulator/README.md,
  // "Swarm seeds"), and each is off with some chance, so that the mixes no profile combines are
  // drawn as often as the profiles themselves.
  FaultProfile f = base_profile(base.name + " (swarm)");
  auto kind = [&](bool in_base) { return in_base && d.on(60); };
  // The network. The heal must be able to finish: latency stays under half the timeout.
  f.latency_ms_max =
      static_cast<uint32_t>(d.log_uniform(1, base.latency_ms_max > 40 ? 60'000 : 40));
  f.latency_ms_min = static_cast<uint32_t>(d.uniform(0, f.latency_ms_max));
  f.timeout_ms = static_cast<uint32_t>(
      d.log_uniform(std::max<uint64_t>(100, 2 * uint64_t{f.latency_ms_max} + 1), 600'000));
  if (kind(base.latency_spike_ppm > 0)) {
    f.latency_spike_ppm = static_cast<uint32_t>(d.log_uniform(kChanceMinPpm, kMillion));
    f.latency_spike_ms_max = static_cast<uint32_t>(d.log_uniform(1, 3'600'000));
  }
  if (kind(base.request_loss_ppm > 0))
    f.request_loss_ppm = static_cast<uint32_t>(d.log_uniform(kChanceMinPpm, 500'000));
  if (kind(base.response_loss_ppm > 0))
    f.response_loss_ppm = static_cast<uint32_t>(d.log_uniform(kChanceMinPpm, 500'000));
  if (kind(base.duplicate_ppm > 0))
    f.duplicate_ppm = static_cast<uint32_t>(d.log_uniform(kChanceMinPpm, kMillion));
  if (kind(base.reset_ppm > 0))
    f.reset_ppm = static_cast<uint32_t>(d.log_uniform(kChanceMinPpm, 500'000));
  if (kind(base.slow_ppm > 0)) {
    f.slow_ppm = static_cast<uint32_t>(d.log_uniform(kChanceMinPpm, 500'000));
    f.slow_ms_max = static_cast<uint32_t>(d.log_uniform(1, 3'600'000));
  }
  if (kind(base.partitions_per_hour > 0)) {
    f.partitions_per_hour = static_cast<uint32_t>(d.log_uniform(1, 3600));
    f.partition_ms_min = static_cast<uint32_t>(d.log_uniform(1, 3'600'000));
    f.partition_ms_max = static_cast<uint32_t>(d.log_uniform(f.partition_ms_min, 3'600'000));
    f.one_way_percent = static_cast<uint32_t>(d.uniform(0, 100));
    f.partition_devices_max = static_cast<uint32_t>(d.uniform(1, kDevicesMax));
  }
  // Clocks. The server's steps stay within half its max_clock_skew_ms (60 s) of its offset, so
  // that no jump goes back by more than the skew: a server whose clock goes back further refuses
  // every upload stamped after the step until it catches up (HLC-030, LOG-006), by design; no
  // device can help it (simulator/README.md, "Swarm seeds").
  if (kind(base.clock_offset_ms_max > 0)) f.clock_offset_ms_max = d.log_uniform(1, 7 * kDayMs);
  if (kind(base.drift_ppm_max > 0)) f.drift_ppm_max = static_cast<uint32_t>(d.log_uniform(1, 500));
  if (kind(base.clock_steps_per_hour > 0)) {
    f.clock_steps_per_hour = static_cast<uint32_t>(d.log_uniform(1, 3600));
    f.clock_step_ms_max = d.log_uniform(1, 7 * kDayMs);
  }
  if (kind(base.clock_freezes_per_hour > 0)) {
    f.clock_freezes_per_hour = static_cast<uint32_t>(d.log_uniform(1, 3600));
    f.clock_freeze_ms_max = static_cast<uint32_t>(d.log_uniform(1, 3'600'000));
  }
  if (kind(base.server_clock_offset_ms_max > 0))
    f.server_clock_offset_ms_max = d.log_uniform(1, 7 * kDayMs);
  if (kind(base.server_clock_steps_per_hour > 0)) {
    f.server_clock_steps_per_hour = static_cast<uint32_t>(d.log_uniform(1, 3600));
    f.server_clock_step_ms_max = d.log_uniform(1, 30'000);
  }
  // Crashes and restores.
  if (kind(base.device_crashes_per_hour > 0)) {
    f.device_crashes_per_hour = static_cast<uint32_t>(d.log_uniform(1, 3600));
    f.crash_steps_max = static_cast<uint32_t>(d.log_uniform(0, 10'000));
    f.device_down_ms_max = static_cast<uint32_t>(d.log_uniform(0, 3'600'000));
  }
  if (kind(base.server_crashes_per_hour > 0)) {
    f.server_crashes_per_hour = static_cast<uint32_t>(d.log_uniform(1, 3600));
    f.server_down_ms_max = static_cast<uint32_t>(d.log_uniform(0, 3'600'000));
  }
  if (kind(base.restores_per_hour > 0)) {
    f.restores_per_hour = static_cast<uint32_t>(d.log_uniform(1, 3600));
    f.backups_per_hour = static_cast<uint32_t>(d.log_uniform(1, 3600));
  } else if (kind(base.backups_per_hour > 0)) {
    f.backups_per_hour = static_cast<uint32_t>(d.log_uniform(1, 3600));
  }
  // Membership: some of the devices join during the chaos, revocations of at most every device but
  // the owner.
  if (devices_in_all > 1 && kind(base.joins > 0)) {
    f.joins = static_cast<uint32_t>(d.log_uniform(1, devices_in_all - 1));
    c.devices = devices_in_all - f.joins;
  }
  if (c.devices + f.joins > 1 && kind(base.revocations > 0))
    f.revocations = static_cast<uint32_t>(d.log_uniform(1, c.devices + f.joins - 1));
  c.faults = f;
  OPSYNC_CHECK_MSG(validate(c).ok(), "a swarm draw outside the configuration's ranges");
  return c;
}

}  // namespace opsync::simulator
