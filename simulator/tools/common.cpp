#include "common.h"

#include "process_channel.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <fstream>

namespace opsync::simulator::tool {

uint64_t wall_ms_since(std::chrono::steady_clock::time_point start) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now() - start)
                                   .count());
}

nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UsageError{"cannot read " + path};
  nlohmann::json json = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) throw UsageError{path + " is not well-formed JSON"};
  return json;
}

nlohmann::json figures_json(const Figures& f) {
  return {{"events", f.events},
          {"decisions", f.decisions},
          {"simulated_ms", f.simulated_ms},
          {"chaos_ms", f.chaos_ms},
          {"edits", f.edits},
          {"ops_in_log", f.ops_in_log},
          {"files_attached", f.files_attached},
          {"syncs", f.syncs},
          {"syncs_failed", f.syncs_failed},
          {"requests", f.requests},
          {"bytes_to_server", f.bytes_to_server},
          {"bytes_from_server", f.bytes_from_server},
          {"messages_lost", f.messages_lost},
          {"device_crashes", f.device_crashes},
          {"server_crashes", f.server_crashes},
          {"restores", f.restores},
          {"partitions", f.partitions},
          {"heal_rounds", f.heal_rounds}};
}

nlohmann::json violation_json(const Violation& v) {
  return {{"checker", v.checker},
          {"time_ms", v.time_ms},
          {"nodes", v.nodes},
          {"ops", v.ops},
          {"message", v.message}};
}

std::string save_bug(const BugFile& bug, const std::string& dir, const std::string& name) {
  std::error_code ec;
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  const std::string stem =
      (dir.empty() ? std::string(".") : dir) + "/" +
      (!name.empty() ? name
                     : "bug-seed-" + std::to_string(bug.config.seed) +
                           (bug.config.variant != Variant::kNone
                                ? "-" + std::string(variant_name(bug.config.variant))
                                : "") +
                           (bug.server ? "-server" : ""));
  // Bounded: a thousand runs of one seed into one directory is far beyond any use.
  for (int copy = 1; copy <= 1000; ++copy) {
    const std::string path = stem + (copy == 1 ? "" : "-" + std::to_string(copy)) + ".json";
    if (std::filesystem::exists(path, ec)) {
      // Another run's file is kept; the same run's (the same configuration and trace, or the same
      // error) is written again.
      Result<BugFile> held = load_bug_file(path);
      const bool same = held.ok() && held->config == bug.config &&
                        held->trace_hash == bug.trace_hash && held->error == bug.error;
      if (!same) continue;
    }
    if (Status saved = save_bug_file(bug, path); !saved.ok())
      throw UsageError{saved.error().message};
    return path;
  }
  throw UsageError{"a thousand bug files of seed " + std::to_string(bug.config.seed) + " in " +
                   dir + " already: clear it"};
}

std::string save_failure(const Config& config, const std::string& dir, const RunOptions* channels,
                         const std::string& name) {
  RunOptions options = channels ? *channels : RunOptions{};
  options.keep_decisions = true;
  options.keep_events = true;
  return save_bug(bug_file_of(run(config, options)), dir, name);
}

RunOptions client_channels(const std::string& adapter, uint64_t turn_timeout_ms,
                           std::set<uint32_t> reference_devices) {
  RunOptions options;
  if (adapter.empty()) return options;
  options.clients = process_channels(adapter, turn_timeout_ms);
  options.adapter_command = adapter;
  options.turn_timeout_ms = turn_timeout_ms;
  options.reference_devices = std::move(reference_devices);
  return options;
}

RunOptions replay_channels(const BugFile& bug, const std::string& adapter) {
  if (!bug.client) {
    if (!adapter.empty())
      throw UsageError{
          "--adapter: this bug file is of the reference client, not of a client under test"};
    return {};
  }
  return client_channels(adapter.empty() ? bug.client->adapter : adapter,
                         adapter::kTurnTimeoutMsDefault, bug.client->reference_devices);
}

Config config_from_file(const std::string& path) {
  nlohmann::json json = read_json_file(path);
  if (json.is_object() && json.contains("format")) {
    Result<BugFile> bug = bug_file_from_json(json);
    if (!bug.ok()) throw UsageError{path + ": " + bug.error().message};
    return bug->config;
  }
  const nlohmann::json& body = json.is_object() && json.contains("config") ? json["config"] : json;
  Result<Config> config = config_from_json(body);
  if (!config.ok()) throw UsageError{path + ": " + config.error().message};
  return *config;
}

BugFile bug_from_file(const std::string& path) {
  Result<BugFile> bug = load_bug_file(path);
  if (!bug.ok()) throw UsageError{bug.error().message};
  return *bug;
}

uint64_t parse_seed(const std::string& flag, const std::string& text) {
  const bool digits =
      !text.empty() && text.size() <= 20 &&
      std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (digits && (text.size() < 20 || text <= "18446744073709551615")) return std::stoull(text);
  throw CLI::ValidationError(
      flag, "must be a whole number from 0 to 18446744073709551615, not \"" + text + "\"");
}

std::string variant_list() {
  std::string names;
  for (Variant v : all_variants()) {
    if (v == Variant::kNone) continue;
    if (!names.empty()) names += ", ";
    names += variant_name(v);
  }
  return names;
}

Variant variant_or_usage_error(const std::string& name) {
  if (std::optional<Variant> variant = variant_from_name(name)) return *variant;
  throw UsageError{"--variant: unknown variant \"" + name +
                   "\"; the variants are none (the reference code), " + variant_list()};
}

}  // namespace opsync::simulator::tool
