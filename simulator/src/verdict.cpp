#include "verdict.h"

#include "world.h"

namespace opsync::simulator {

void Verdict::violation(const std::string& checker, std::vector<std::string> nodes,
                        std::vector<std::string> ops, const std::string& message) {
  if (violations_.count(checker)) return;
  violations_.emplace(checker,
                      Violation{checker, world_.now(), std::move(nodes), std::move(ops), message});
  world_.event("world", "violation", checker + ": " + message, to_bytes(checker));
}

void Verdict::check_at_end(bool healed, uint64_t heal_rounds, bool keys_known) {
  std::vector<DeviceReport> reports;
  for (uint32_t d = 0; d < world_.device_count(); ++d) reports.push_back(world_.device(d).report());
  const ServerReport server = world_.server().report();
  figures_.ops_in_log = server.log.size();
  for (const Bytes& stored : server.stored_bytes)
    if (std::optional<std::string> leak = scanner_.scan(stored)) {
      violation("plaintext", {"server"}, {}, "the server stores " + *leak + " in the clear");
      break;
    }
  EndState state{world_.config(),
                 truth_.edits(),
                 truth_.edit_by_op(),
                 truth_.syncs(),
                 truth_.file_contents(),
                 truth_.file_attached_by(),
                 truth_.file_chunks_received_by(),
                 truth_.file_delete_answered_ms(),
                 truth_.log_position_filled_ms(),
                 truth_.uploaded_hlc(),
                 reports,
                 server,
                 healed,
                 heal_rounds,
                 world_.external_server(),
                 keys_known};
  run_end_checkers(world_, state);
}

RunResult Verdict::result(bool trace_replayable) {
  const Config& config = world_.config();
  const RunOptions& options = world_.options();
  RunResult result;
  result.config = config;
  for (const std::string& name : checker_names()) {
    auto it = violations_.find(name);
    if (it != violations_.end()) result.violations.push_back(it->second);
  }
  figures_.events = trace_.event_count();
  figures_.decisions = decisions_.decision_count();
  figures_.simulated_ms = world_.now() - kStartMs;
  figures_.chaos_ms = config.chaos_ms;
  result.figures = figures_;
  result.trace_hash = trace_.hash();
  if (options.keep_decisions) {
    result.decisions = decisions_.log();
    result.event_digests = trace_.digests();
  }
  if (options.keep_events) result.events = trace_.events();
  result.recording = world_.server().recording();
  result.trace_replayable = trace_replayable;
  if (options.clients) {
    result.adapter_command =
        options.adapter_command.empty() ? "(a channel factory)" : options.adapter_command;
    for (uint32_t device : options.reference_devices)
      if (device < world_.device_count()) result.reference_devices.insert(device);
  }
  return result;
}

std::vector<std::string> checker_names() {
  return {"convergence", "nothing_lost", "log_integrity", "causality",          "no_resurrection",
          "files",       "orphans",      "plaintext",     "liveness",           "backoff",
          "revocation",  "sync_errors",  "transfer_cost", "position_stability", "field_answers"};
}

}  // namespace opsync::simulator
