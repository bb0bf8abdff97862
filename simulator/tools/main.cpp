// opsync-sim: run the deterministic simulator, one seed or a swarm of them.
//
//   opsync-sim run --seed 7                        one run of the default scenario
//   opsync-sim swarm --seeds 10000 --jobs 2        every seed twice, determinism checked
//   opsync-sim merge shard-*.json                  the summaries of a sharded swarm, merged
//   opsync-sim replay bug-seed-42.json             a failure again, from its decision log
//   opsync-sim shrink bug-seed-42.json -o small.json
//   opsync-sim render small.json -o trace.html     a space-time diagram (or --format shiviz)
//   opsync-sim record scenario.json -o bug.json    a configuration's run as a bug file
//   opsync-sim run --server http://127.0.0.1:8420  the same devices and faults against a real
//   server opsync-sim import laptop.trace phone.trace -o bug.json   traces of opsync-client
//   --trace, replayed
//
// Exit codes: 0 every checker held (replay: the run was reproduced), 1 a checker failed (or a
// determinism check; replay: the run differs), 2 bad usage.
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "certify.h"
#include "common.h"
#include "opsync/client/http_driver.h"
#include "opsync/simulator/bugfile.h"
#include "opsync/simulator/import.h"
#include "opsync/simulator/render.h"
#include "opsync/simulator/run.h"
#include "opsync/simulator/shrink.h"
#include "swarm.h"

using namespace opsync;
using namespace opsync::simulator;
using namespace opsync::simulator::tool;

namespace {

// The command that runs a run again: its bug file when one was written, else its configuration
// file with the flags that changed it, else every flag that shaped it.
std::string replay_command(const std::string& program, const Config& config,
                           const std::string& saved, const std::string& config_path) {
  if (!saved.empty()) return program + " replay " + saved;
  std::ostringstream out;
  out << program << " run";
  if (!config_path.empty()) out << " --config " << config_path;
  out << " --seed " << config.seed << " --protocol " << protocol_name(config.protocol);
  if (config.variant != Variant::kNone) out << " --variant " << variant_name(config.variant);
  if (config_path.empty())
    out << " --devices " << config.devices << " --ops " << config.ops << " --chaos-ms "
        << config.chaos_ms << " --faults " << config.faults.name;
  return out.str();
}

// ---- run ----------------------------------------------------------------------------------------

struct RunFlags {
  uint64_t seed = 1;
  bool seed_given = false;
  uint32_t devices = 5;
  uint32_t ops = 500;
  uint64_t chaos_ms = 600000;
  std::string faults = "everything";
  std::string protocol = "opsync-v1";
  std::string variant = "none";
  std::string config_path;
  std::string out_dir;
  bool json = false;
  bool protocol_given = false;
  bool variant_given = false;
  std::string server;
  std::string device_stores = "memory";
  std::string adapter;  // a client under test on every device (spec/client-adapter.md)
  std::vector<std::string> shaping_flags_given;  // --devices, --ops, --chaos-ms, --faults
  std::string program = "opsync-sim";
};

int run_command(const RunFlags& flags) {
  Config config;
  if (!flags.config_path.empty()) {
    // The configuration says how many devices, edits and faults: a flag that would say it too is
    // refused rather than ignored.
    if (!flags.shaping_flags_given.empty())
      throw UsageError{
          flags.shaping_flags_given.front() +
          " shapes a run that --config describes already: edit the configuration instead (--seed, "
          "--protocol and --variant may go with --config)"};
    config = config_from_file(flags.config_path);
    if (flags.seed_given) config.seed = flags.seed;
    // A scenario runs under either protocol, or a variant: the flags choose.
    if (flags.protocol_given) {
      std::optional<Protocol> protocol = protocol_from_name(flags.protocol);
      if (!protocol)
        throw UsageError{"--protocol must be opsync-v1 or dataans-0.3, not \"" + flags.protocol +
                         "\""};
      config.protocol = *protocol;
    }
    if (flags.variant_given) {
      config.variant = variant_or_usage_error(flags.variant);
    }
  } else {
    config = default_config(flags.seed);
    Result<FaultProfile> profile = load_fault_profile(flags.faults);
    if (!profile.ok()) throw UsageError{profile.error().message};
    config.faults = *profile;
    config.devices = flags.devices;
    config.ops = flags.ops;
    config.chaos_ms = flags.chaos_ms;
    std::optional<Protocol> protocol = protocol_from_name(flags.protocol);
    if (!protocol)
      throw UsageError{"--protocol must be opsync-v1 or dataans-0.3, not \"" + flags.protocol +
                       "\""};
    config.protocol = *protocol;
    config.variant = variant_or_usage_error(flags.variant);
  }
  RunOptions options;
  if (flags.device_stores != "memory" && flags.device_stores != "files")
    throw UsageError{"--device-stores must be memory or files, not \"" + flags.device_stores +
                     "\""};
  options.device_stores = flags.device_stores == "files" ? RunOptions::DeviceStores::kFiles
                                                         : RunOptions::DeviceStores::kMemory;
  if (!flags.server.empty()) {
    // Against a real server: only the faults a client can cause, and the server keeps its own
    // configuration; its answers are recorded in the bug file.
    config = for_external_server(config);
    if (Status external = validate_for_external_server(config); !external.ok())
      throw UsageError{external.error().message};
    options.server_url = flags.server;
  }
  if (Status valid = validate(config); !valid.ok()) throw UsageError{valid.error().message};
  if (!flags.adapter.empty()) {
    if (config.protocol != Protocol::kOpsyncV1 || config.variant != Variant::kNone)
      throw UsageError{"--adapter runs a client under test under opsync-v1, with no --variant"};
    const RunOptions channels = client_channels(flags.adapter, adapter::kTurnTimeoutMsDefault);
    options.clients = channels.clients;
    options.adapter_command = channels.adapter_command;
  }

  // One run, keeping what a bug file needs: a run against a server cannot be run again the same.
  options.keep_decisions = true;
  options.keep_events = true;
  const auto start = std::chrono::steady_clock::now();
  RunResult result;
  try {
    result = run(config, options);
  } catch (const ExternalServerError& e) {
    throw UsageError{e.message};
  } catch (const ChannelBroken& broken) {
    throw UsageError{"the client's adapter broke opsync-client-adapter/1: " + broken.message};
  }
  const uint64_t wall_ms = wall_ms_since(start);
  std::string saved;
  if (!result.passed()) saved = save_bug(bug_file_of(result), flags.out_dir);
  const std::string replay = replay_command(flags.program, config, saved, flags.config_path);
  const Figures& f = result.figures;
  if (flags.json) {
    nlohmann::json out = {{"verdict", result.passed() ? "pass" : "fail"},
                          {"seed", config.seed},
                          {"protocol", protocol_name(config.protocol)},
                          {"variant", variant_name(config.variant)},
                          {"faults", config.faults.name},
                          {"trace_hash", hash_hex(result.trace_hash)},
                          {"wall_ms", wall_ms},
                          {"server", flags.server.empty() ? "the reference core" : flags.server},
                          {"figures", figures_json(f)},
                          {"violations", nlohmann::json::array()},
                          {"replay", replay}};
    for (const Violation& v : result.violations) out["violations"].push_back(violation_json(v));
    std::cout << out.dump() << "\n";
  } else {
    std::cout << (result.passed() ? "PASS" : "FAIL") << "  seed " << config.seed << ", "
              << protocol_name(config.protocol)
              << (config.variant != Variant::kNone
                      ? " (" + std::string(variant_name(config.variant)) + ")"
                      : "")
              << ", faults " << config.faults.name
              << (flags.server.empty() ? "" : ", against the server at " + flags.server) << "\n";
    for (const Violation& v : result.violations) {
      std::cout << "  " << v.checker << " at " << v.time_ms - 1'764'000'000'000ull << " ms";
      if (!v.nodes.empty()) {
        std::cout << " (";
        for (size_t i = 0; i < v.nodes.size(); ++i) std::cout << (i ? ", " : "") << v.nodes[i];
        std::cout << ")";
      }
      std::cout << ": " << v.message << "\n";
    }
    std::cout << "  " << f.events << " events, " << f.edits << " edits, " << f.ops_in_log
              << " operations in the log, " << f.files_attached << " files, " << f.syncs
              << " syncs (" << f.syncs_failed << " failed), " << f.requests << " requests, "
              << f.bytes_to_server << " bytes up and " << f.bytes_from_server << " down\n";
    std::cout << "  " << f.chaos_ms / 1000 << " s of chaos, " << f.simulated_ms / 1000
              << " s simulated in " << wall_ms << " ms (" << (wall_ms ? f.chaos_ms / wall_ms : 0)
              << "x real time over the chaos)\n";
    std::cout << "  trace " << hash_hex(result.trace_hash) << "\n";
    if (!result.passed()) std::cout << "  replay: " << replay << "\n";
  }
  return result.passed() ? kExitPass : kExitFail;
}

// ---- bug files: replay, shrink, render, record --------------------------------------------------

// A bug file of a run that had no verdict: the run again from its seed, in a process of its own.
int replay_error(const BugFile& bug, bool json, const RunOptions& channels) {
  constexpr uint32_t kTimeoutS = 600;
  const IsolatedRun again = run_isolated(bug.config, kTimeoutS, &channels);
  const bool reproduced = !again.completed;
  if (json) {
    nlohmann::json out = {{"reproduced", reproduced}, {"recorded_error", *bug.error}};
    if (again.completed)
      out["verdict"] = again.passed ? "pass" : "fail";
    else
      out["error"] = again.error;
    std::cout << out.dump() << "\n";
  } else if (reproduced) {
    std::cout << "reproduced: the run still ends without a verdict\n  " << again.error
              << "\n  recorded: " << *bug.error << "\n";
  } else {
    std::cout << "NOT reproduced: the run now ends with a verdict ("
              << (again.passed ? "pass" : "fail") << "); it was recorded as: " << *bug.error
              << "\n";
  }
  return reproduced ? kExitPass : kExitFail;
}

int replay_command_run(const std::string& path, bool json, bool rewrite, const std::string& server,
                       const std::string& adapter) {
  BugFile bug = bug_from_file(path);
  const RunOptions channels = replay_channels(bug, adapter);
  if (bug.error) {
    if (rewrite || !server.empty())
      throw UsageError{path + " records a run without a verdict: replay it alone"};
    return replay_error(bug, json, channels);
  }
  if (!server.empty()) {
    if (Status external = validate_for_external_server(bug.config); !external.ok())
      throw UsageError{external.error().message};
    if (rewrite) throw UsageError{"--rewrite records a replay of the code, not of a live server"};
  }
  const auto start = std::chrono::steady_clock::now();
  Replay r;
  try {
    r = replay(bug, false, server, &channels);
  } catch (const ChannelBroken& broken) {
    throw UsageError{"the client's adapter broke opsync-client-adapter/1 during the replay: " +
                     broken.message};
  } catch (const ExternalServerError& e) {
    if (!server.empty()) throw UsageError{e.message};
    // Against the recording: the code asked the server something the recorded run did not.
    if (json) {
      std::cout << nlohmann::json{{"reproduced", false},
                                  {"same_trace", false},
                                  {"same_verdict", false},
                                  {"recorded_trace_hash", hash_hex(bug.trace_hash)},
                                  {"parted", e.message}}
                       .dump()
                << "\n";
    } else {
      std::cout << "NOT reproduced: the code changed since the bug file was written\n  "
                << e.message << "\n";
    }
    return kExitFail;
  }
  if (!server.empty()) {
    // A live server answers anew (its ids, its clock): the trace differs; the verdict counts.
    std::cout << (r.same_verdict ? "same verdict" : "another verdict") << " from the server at "
              << server << ":";
    for (const Violation& v : r.result.violations)
      std::cout << "\n  " << v.checker << ": " << v.message;
    if (r.result.violations.empty()) std::cout << " every checker held";
    std::cout << "\n";
    return r.same_verdict ? kExitPass : kExitFail;
  }
  const uint64_t wall_ms = wall_ms_since(start);
  // The checker the bug file is about comes first, as in the file.
  std::stable_partition(r.result.violations.begin(), r.result.violations.end(),
                        [&](const Violation& v) { return v.checker == bug.checker(); });
  // A client that draws randomness of its own replays its verdict, not its trace (ADP-081).
  const bool verdict_only = bug.client && !bug.client->trace_replayable;
  const bool reproduced = (r.same_trace || verdict_only) && r.same_verdict;
  std::string parted;
  if (r.parted_at) {
    const size_t i = *r.parted_at;
    if (i < r.result.events.size()) {
      const TraceEvent& e = r.result.events[i];
      parted = "event " + std::to_string(i) + " at " +
               std::to_string(e.time_ms - r.result.events.front().time_ms) + " ms, " + e.node +
               " " + e.kind + ": " + e.detail;
    } else {
      parted = "event " + std::to_string(i) + ": the replay ended after " +
               std::to_string(r.result.events.size()) + " events, the recording had " +
               std::to_string(bug.event_digests.size());
    }
  }
  if (rewrite && !reproduced) {
    if (!r.same_verdict) {
      std::cerr << "opsync-sim: " << path << " no longer fails the same checkers; not rewritten\n";
      return kExitFail;
    }
    BugFile updated = bug_file_of(r.result);
    updated.description = bug.description;
    updated.expect = bug.expect;
    updated.imported = bug.imported;  // the field's exchanges are the input, not the result
    if (Status saved = save_bug_file(updated, path); !saved.ok())
      throw UsageError{saved.error().message};
    std::cout << "rewrote " << path << ": same verdict, trace now " << hash_hex(updated.trace_hash)
              << "\n";
    return kExitPass;
  }
  if (json) {
    nlohmann::json out = {{"reproduced", reproduced},
                          {"same_trace", r.same_trace},
                          {"same_verdict", r.same_verdict},
                          {"trace_hash", hash_hex(r.result.trace_hash)},
                          {"recorded_trace_hash", hash_hex(bug.trace_hash)},
                          {"wall_ms", wall_ms},
                          {"violations", nlohmann::json::array()}};
    if (r.parted_at) out["parted_at"] = {{"event", *r.parted_at}, {"where", parted}};
    if (!bug.description.empty()) out["description"] = bug.description;
    for (const Violation& v : r.result.violations) out["violations"].push_back(violation_json(v));
    std::cout << out.dump() << "\n";
  } else if (reproduced && !r.same_trace) {
    std::cout << "reproduced: the same verdict (the client draws randomness of its own, so its "
                 "trace differs from run to "
                 "run), in "
              << wall_ms << " ms\n";
    for (const Violation& v : r.result.violations)
      std::cout << "  " << v.checker << ": " << v.message << "\n";
    if (r.result.violations.empty()) std::cout << "  every checker held, as recorded\n";
  } else if (reproduced) {
    std::cout << "reproduced: the same " << r.result.figures.events << " events, trace "
              << hash_hex(r.result.trace_hash) << ", in " << wall_ms << " ms\n";
    if (!bug.description.empty()) std::cout << "  scenario: " << bug.description << "\n";
    for (const Violation& v : r.result.violations)
      std::cout << "  " << v.checker << ": " << v.message << "\n";
    if (r.result.violations.empty()) std::cout << "  every checker held, as recorded\n";
  } else {
    std::cout << "NOT reproduced: the code changed since the bug file was written\n";
    if (!bug.description.empty()) std::cout << "  scenario: " << bug.description << "\n";
    std::cout << "  trace " << hash_hex(r.result.trace_hash) << ", recorded "
              << hash_hex(bug.trace_hash) << "\n";
    if (r.parted_at) std::cout << "  the traces part at " << parted << "\n";
    std::cout << "  recorded verdict: ";
    for (const Violation& v : bug.violations) std::cout << v.checker << " ";
    std::cout << (bug.violations.empty() ? "pass" : "") << "\n  replayed verdict: ";
    for (const Violation& v : r.result.violations) std::cout << v.checker << " ";
    std::cout << (r.result.violations.empty() ? "pass" : "") << "\n";
  }
  return reproduced ? kExitPass : kExitFail;
}

int shrink_command(const std::string& path, const std::string& out, uint32_t tries,
                   const std::string& server, const std::string& adapter) {
  if (out.empty()) throw UsageError{"shrink needs -o FILE for the smaller bug file"};
  const BugFile bug = bug_from_file(path);
  const RunOptions channels = replay_channels(bug, adapter);
  if (bug.error)
    throw UsageError{
        path +
        " records a run that crashed or hung, with no decisions to shrink: replay it to see the "
        "crash again"};
  if (bug.checker().empty())
    throw UsageError{path + " records a run that failed no checker: nothing to shrink"};
  if (bug.imported)
    throw UsageError{path +
                     " holds traces of real devices: they replay as they are, they do not shrink"};
  if (!server.empty() && !bug.server)
    throw UsageError{path + " was not found against a server; shrink it without --server"};
  std::cout << "shrinking " << path << ", which fails " << bug.checker()
            << (server.empty() ? "" : ", against the server at " + server) << "\n";
  if (bug.server && server.empty())
    std::cout << "  (its recorded answers answer only its own schedule: give --server URL to "
                 "shrink against a live server)\n";
  const ShrinkResult result = shrink(
      bug, tries, [](const std::string& line) { std::cout << "  " << line << "\n"
                                                          << std::flush; },
      server, bug.client ? &channels : nullptr);
  if (Status saved = save_bug_file(result.smaller, out); !saved.ok())
    throw UsageError{saved.error().message};
  auto describe = [](const ScheduleSize& s) {
    return "schedule " + std::to_string(s.schedule()) + " (" + std::to_string(s.decisions) +
           " decisions, " + std::to_string(s.script_steps) + " script steps), " +
           std::to_string(s.events) + " events, " + std::to_string(s.devices) + " devices, " +
           std::to_string(s.ops) + " edits, " + std::to_string(s.chaos_ms) + " ms of chaos";
  };
  std::cout << "before: " << describe(result.before) << "\nafter:  " << describe(result.after)
            << "\n";
  std::cout << "the schedule is "
            << (result.after.schedule() ? result.before.schedule() / result.after.schedule() : 0)
            << " times smaller after " << result.tries << " tries; " << out << " still fails "
            << bug.checker() << "\n";
  return kExitPass;
}

int render_command(const std::string& path, const std::string& out, const std::string& format,
                   const std::string& adapter) {
  if (out.empty()) throw UsageError{"render needs -o FILE"};
  if (format != "html" && format != "shiviz")
    throw UsageError{"--format must be html or shiviz, not \"" + format + "\""};
  const BugFile bug = bug_from_file(path);
  if (bug.error)
    throw UsageError{path + " records a run that crashed or hung: it has no trace to draw"};
  const RunOptions channels = replay_channels(bug, adapter);
  Replay r = replay(bug, /*keep_bodies=*/true, "", &channels);
  // The checker the bug file is about comes first, as in the file.
  std::stable_partition(r.result.violations.begin(), r.result.violations.end(),
                        [&](const Violation& v) { return v.checker == bug.checker(); });
  const std::string text =
      format == "html"
          ? render_html(r.result, "opsync-sim: " + std::filesystem::path(path).filename().string(),
                        bug.description)
          : render_shiviz(r.result);
  std::ofstream file(out);
  file << text;
  if (!file) throw UsageError{"cannot write " + out};
  std::cout << "wrote " << out << " (" << r.result.events.size() << " events"
            << (r.same_trace ? ""
                             : "; the replay differs from the recording: the code changed since")
            << ")\n";
  return kExitPass;
}

int import_command(const std::vector<std::string>& traces, const std::string& out, uint64_t seed) {
  Result<ImportedTrace> trace = read_client_traces(traces);
  if (!trace.ok()) throw UsageError{trace.error().message};
  const Config config = imported_config(*trace, seed);
  RunOptions options;
  options.keep_decisions = true;
  options.keep_events = true;
  const RunResult replayed = replay_imported(*trace, config, options);
  BugFile bug = bug_file_of(replayed);
  bug.imported = std::move(*trace);
  if (Status saved = save_bug_file(bug, out); !saved.ok()) throw UsageError{saved.error().message};
  std::cout << "imported " << bug.imported->exchanges.size() << " exchanges and "
            << bug.imported->commits.size() << " commits of " << bug.imported->devices.size()
            << " devices into " << out << "\n";
  for (const Violation& v : bug.violations)
    std::cout << "  " << v.checker << ": " << v.message << "\n";
  const uint64_t not_compared = replayed.figures.answers_not_compared;
  if (bug.violations.empty())
    std::cout << "  the reference core answers "
              << (not_compared == 0 ? "every request" : "every request it can be asked")
              << " as the field server did\n";
  if (not_compared > 0)
    std::cout << "  " << not_compared
              << " answers not compared: they answer tokens issued before the traces begin "
              << "(trace every command from init on to compare them all)\n";
  std::cout << "  trace " << hash_hex(bug.trace_hash) << "; opsync-sim replay " << out
            << ", opsync-sim render " << out << " -o trace.html\n";
  return bug.violations.empty() ? kExitPass : kExitFail;
}

int record_command(const std::string& path, const std::string& out) {
  if (out.empty()) throw UsageError{"record needs -o FILE"};
  const nlohmann::json json = read_json_file(path);
  if (json.is_object() && json.contains("format")) {
    // A bug file: recorded again from its decision log, recording or imported traces (a
    // description or expect added by hand is kept).
    BugFile bug = bug_from_file(path);
    if (bug.error)
      throw UsageError{path +
                       " records a run that crashed or hung: there is nothing to record again"};
    const RunOptions channels = replay_channels(bug);
    Replay r = replay(bug, false, "", &channels);
    BugFile again = bug_file_of(r.result);
    again.imported = bug.imported;
    if (json.contains("expect") && json["expect"].contains("recorded") &&
        !json["expect"]["recorded"].empty()) {
      const std::string first = json["expect"]["recorded"][0].get<std::string>();
      std::stable_partition(again.violations.begin(), again.violations.end(),
                            [&](const Violation& v) { return v.checker == first; });
    }
    again.description = json.value("description", "");
    if (json.contains("expect")) again.expect = json["expect"];
    if (Status saved = save_bug_file(again, out); !saved.ok())
      throw UsageError{saved.error().message};
    std::cout << "wrote " << out << ": "
              << (again.violations.empty() ? "every checker held" : "fails " + again.checker())
              << ", trace " << hash_hex(again.trace_hash) << "\n";
    return kExitPass;
  }
  const Config config = config_from_file(path);
  RunOptions options;
  options.keep_decisions = true;
  options.keep_events = true;
  BugFile bug = bug_file_of(run(config, options));
  if (json.is_object() && json.contains("description") && json["description"].is_string())
    bug.description = json["description"];
  if (json.is_object() && json.contains("expect")) {
    bug.expect = json["expect"];
    // A scenario names first the checker it is there to show.
    const nlohmann::json recorded = json["expect"].value("recorded", nlohmann::json::array());
    if (recorded.is_array() && !recorded.empty() && recorded[0].is_string())
      std::stable_partition(bug.violations.begin(), bug.violations.end(), [&](const Violation& v) {
        return v.checker == recorded[0].get<std::string>();
      });
  }
  if (Status saved = save_bug_file(bug, out); !saved.ok()) throw UsageError{saved.error().message};
  std::cout << "wrote " << out << ": "
            << (bug.violations.empty() ? "every checker held" : "fails " + bug.checker())
            << ", trace " << hash_hex(bug.trace_hash) << "\n";
  return kExitPass;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "opsync-sim: the deterministic simulator of OpSync (its README: simulator/README.md in the "
      "source, /usr/share/doc/opsync/simulator/README.md when installed)"};
  app.set_version_flag("--version", "opsync-sim 0.1.0 (protocol version 1)");
  app.require_subcommand(1);
  // Runs against live servers (run --server, replay --server, shrink --server) reach them through
  // the reference client's HTTP driver: the simulator library itself holds no socket code.
  set_server_connector([](const std::string& url) -> Result<std::unique_ptr<client::Transport>> {
    Result<std::unique_ptr<client::HttpTransport>> transport = client::HttpTransport::connect(url);
    if (!transport.ok()) return transport.error();
    return std::unique_ptr<client::Transport>(std::move(*transport));
  });

  RunFlags run_flags;
  CLI::App* run_cmd = app.add_subcommand(
      "run", "One run: the verdict of every checker, the figures, the trace hash");
  run_cmd->add_option_function<std::string>(
      "--seed",
      [&](const std::string& text) {
        run_flags.seed = parse_seed("--seed", text);
        run_flags.seed_given = true;
      },
      "The run's seed, 0 to 2^64-1 (default 1)");
  CLI::Option* devices_flag =
      run_cmd->add_option("--devices", run_flags.devices, "Devices at the start, 1 to 64")
          ->check(CLI::Range(1, 64));
  CLI::Option* ops_flag = run_cmd->add_option("--ops", run_flags.ops, "Edits over the chaos phase")
                              ->check(CLI::Range(0, 1000000));
  CLI::Option* chaos_flag = run_cmd->add_option(
      "--chaos-ms", run_flags.chaos_ms, "Length of the chaos phase in virtual milliseconds");
  CLI::Option* faults_flag =
      run_cmd->add_option("--faults", run_flags.faults,
                          "A profile (none, lossy, partitions, skewed-clocks, crashes, "
                          "restore, everything) or a JSON file");
  run_cmd->add_option_function<std::string>(
      "--protocol",
      [&](const std::string& p) {
        run_flags.protocol = p;
        run_flags.protocol_given = true;
      },
      "opsync-v1 (the reference code) or dataans-0.3");
  run_cmd->add_option_function<std::string>(
      "--variant",
      [&](const std::string& v) {
        run_flags.variant = v;
        run_flags.variant_given = true;
      },
      "A deliberately broken opsync-v1: " + variant_list());
  run_cmd->add_option("--config", run_flags.config_path,
                      "Run a configuration, a scenario or a bug file's configuration");
  run_cmd->add_option("--out", run_flags.out_dir,
                      "Where a failure's bug file is written (default .)");
  run_cmd->add_flag("--json", run_flags.json,
                    "One JSON object: verdict, trace_hash, figures, violations");
  run_cmd->add_option(
      "--device-stores", run_flags.device_stores,
      "The devices' databases: memory (SQLite's memdb, the default) or files (as the client keeps "
      "them); the run is the same either way");
  run_cmd->add_option(
      "--adapter", run_flags.adapter,
      "Run a client under test on every device: this command, speaking opsync-client-adapter/1 "
      "(spec/client-adapter.md)");
  run_cmd->add_option(
      "--server", run_flags.server,
      "Drive a real server at this URL (http://host:port) instead of the reference core; its "
      "answers go into the bug file");

  SwarmFlags swarm_flags;
  CLI::App* swarm_cmd =
      app.add_subcommand("swarm", "Many seeds, each with its own draw of faults, each run twice");
  swarm_cmd->add_option("--seeds", swarm_flags.seeds, "How many seeds")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40));
  swarm_cmd->add_option_function<std::string>(
      "--first-seed",
      [&](const std::string& text) { swarm_flags.first_seed = parse_seed("--first-seed", text); },
      "The first seed (default 1)");
  swarm_cmd->add_option("--jobs", swarm_flags.jobs, "Worker processes, 1 to 64")
      ->check(CLI::Range(1, 64));
  swarm_cmd->add_option("--shard", swarm_flags.shard,
                        "I/N: run the I-th of N disjoint slices of the seeds");
  swarm_cmd->add_option("--faults", swarm_flags.faults,
                        "The profile each seed draws from (default everything)");
  swarm_cmd->add_option("--protocol", swarm_flags.protocol, "opsync-v1 or dataans-0.3");
  swarm_cmd->add_option("--variant", swarm_flags.variant,
                        "A deliberately broken opsync-v1: " + variant_list());
  swarm_cmd->add_option("--json", swarm_flags.json_path, "Write the summary as JSON to this file");
  swarm_cmd->add_option(
      "--verdicts", swarm_flags.verdicts_path,
      "Write each seed's verdict and trace hash to this file, one JSON line per seed (to compare "
      "two builds, or in-process devices with an adapter, seed for seed)");
  swarm_cmd->add_option("--out", swarm_flags.out_dir,
                        "Where failing seeds' bug files go (default .)");
  swarm_cmd
      ->add_option(
          "--seed-timeout-s", swarm_flags.seed_timeout_s,
          "A seed with no verdict after this long has hung: its process is killed and the seed "
          "reported as an error (default 600)")
      ->check(CLI::Range(1, 86400));
  swarm_cmd->add_option(
      "--adapter", swarm_flags.adapter,
      "Run a client under test on every device: this command, speaking opsync-client-adapter/1 "
      "(spec/client-adapter.md)");
  swarm_cmd
      ->add_option(
          "--turn-timeout-ms", swarm_flags.turn_timeout_ms,
          "With --adapter: a turn of the adapter longer than this is a hang (default 10000)")
      ->check(CLI::Range(100, 600000));
  swarm_cmd->add_option_function<std::string>(
      "--show", [&](const std::string& text) { swarm_flags.show = parse_seed("--show", text); },
      "Print the configuration seed SEED draws (for run --config) and run nothing");

  std::vector<std::string> merge_paths;
  std::string merge_json;
  CLI::App* merge_cmd = app.add_subcommand("merge", "Merge the JSON summaries of swarm shards");
  merge_cmd->add_option("summaries", merge_paths, "Swarm summaries (swarm --json FILE)")
      ->required();
  merge_cmd->add_option("--json", merge_json, "Write the merged summary to this file");

  std::string bug_path, out_path, format = "html", replay_server;
  bool replay_json = false, rewrite = false;
  uint32_t tries = 400;
  CLI::App* replay_cmd = app.add_subcommand(
      "replay", "Replay a bug file from its decision log; say whether it reproduces");
  replay_cmd->add_option("bug", bug_path, "A bug file (format opsync-bug/1)")->required();
  replay_cmd->add_flag("--json", replay_json,
                       "One JSON object: reproduced, the traces, where they part");
  replay_cmd->add_flag("--rewrite", rewrite,
                       "When the verdict holds but the trace changed, record the new trace");
  replay_cmd->add_option("--server", replay_server,
                         "Replay against a live server at this URL instead of the recorded "
                         "answers; compares verdicts");
  CLI::App* shrink_cmd =
      app.add_subcommand("shrink", "Shrink a bug file while the same checker fails");
  shrink_cmd->add_option("bug", bug_path, "A bug file")->required();
  shrink_cmd->add_option("-o,--out", out_path, "Where the smaller bug file goes")->required();
  shrink_cmd->add_option("--tries", tries, "Replays to try at most (default 400)")
      ->check(CLI::Range(1, 100000));
  std::string shrink_server;
  shrink_cmd->add_option("--server", shrink_server,
                         "A bug found against a server: shrink against the live server here");
  // A bug file of a client under test names its adapter; --adapter runs another command instead
  // (a rebuilt client, or the same one from another directory).
  std::string bug_adapter;
  for (CLI::App* cmd : {replay_cmd, shrink_cmd})
    cmd->add_option(
        "--adapter", bug_adapter,
        "A client's bug file: run this adapter command instead of the one the file names");
  CLI::App* render_cmd =
      app.add_subcommand("render", "Draw a bug file's run: a space-time diagram in one HTML page");
  render_cmd->add_option("bug", bug_path, "A bug file")->required();
  render_cmd->add_option("-o,--out", out_path, "The page (or ShiViz log) to write")->required();
  render_cmd->add_option("--format", format, "html (default) or shiviz");
  render_cmd->add_option(
      "--adapter", bug_adapter,
      "A client's bug file: run this adapter command instead of the one the file names");
  CLI::App* record_cmd =
      app.add_subcommand("record", "Run a configuration or scenario and write its bug file");
  record_cmd->add_option("config", bug_path, "A configuration, scenario or bug file")->required();
  record_cmd->add_option("-o,--out", out_path, "The bug file to write")->required();

  CertifyFlags certify_flags;
  CLI::App* certify_cmd =
      app.add_subcommand("certify-client",
                         "Certify a client: run it behind its adapter (spec/client-adapter.md) "
                         "through the certification's cases and "
                         "a swarm, with opsync-conformance's reports");
  certify_cmd->add_option("--adapter", certify_flags.adapter,
                          "The command that starts one device's adapter, run with sh -c (e.g. "
                          "\"opsync-client-adapter\" "
                          "or \"python3 clients/python/adapter.py\")");
  certify_cmd->add_option("--level", certify_flags.level,
                          "must: the MUST cases only; should (default): every case");
  certify_cmd->add_option("--filter", certify_flags.filters,
                          "Only the cases whose id matches this glob (repeatable)");
  certify_cmd->add_flag("--list", certify_flags.list,
                        "List the cases (with --level and --filter) and run nothing");
  certify_cmd->add_flag(
      "--coverage", certify_flags.coverage,
      "Show which case checks each client-side requirement, or why none does, and run nothing");
  certify_cmd->add_option("--coverage-json", certify_flags.coverage_json,
                          "Write that coverage as JSON to this file");
  certify_cmd->add_option_function<std::string>(
      "--seed", [&](const std::string& text) { certify_flags.seed = parse_seed("--seed", text); },
      "The cases' seed and the swarm's first seed (default 1)");
  certify_cmd->add_option("--swarm-seeds", certify_flags.swarm_seeds,
                          "Seeds of the swarm case, swarm-001 (default " +
                              std::to_string(kCertifySwarmSeedsDefault) + ")");
  certify_cmd->add_option("--jobs", certify_flags.jobs, "Runs at once, 1 to 64 (default 2)")
      ->check(CLI::Range(1, 64));
  certify_cmd->add_option("--known-failures", certify_flags.known_failures,
                          "A file of case ids expected to fail, one per line with the reason");
  certify_cmd->add_option("--junit", certify_flags.junit_path,
                          "Write a JUnit XML report to this file");
  certify_cmd->add_option("--json", certify_flags.json_path, "Write the JSON report to this file");
  certify_cmd->add_option("--html", certify_flags.html_path, "Write the HTML report to this file");
  certify_cmd->add_option("--out", certify_flags.out_dir,
                          "Where the failures' bug files and pages go (default opsync-certify)");
  certify_cmd
      ->add_option("--turn-timeout-ms", certify_flags.turn_timeout_ms,
                   "A turn of the adapter longer than this is a hang (default 10000)")
      ->check(CLI::Range(100, 600000));
  certify_cmd
      ->add_option("--run-timeout-s", certify_flags.run_timeout_s,
                   "A run with no verdict after this long is stopped as an error (default 600)")
      ->check(CLI::Range(1, 86400));

  std::vector<std::string> import_paths;
  uint64_t import_seed = 1;
  CLI::App* import_cmd = app.add_subcommand(
      "import",
      "Turn traces of opsync-client --trace into a bug file that replays their exchanges");
  import_cmd->add_option("traces", import_paths, "Trace files, one or more devices each")
      ->required();
  import_cmd->add_option("-o,--out", out_path, "The bug file to write")->required();
  import_cmd->add_option("--seed", import_seed,
                         "Seed of the reference core's randomness (default 1)");

  // An unknown command is named as such, not as an extra argument of none.
  if (argc > 1 && argv[1][0] != '-') {
    const std::string command = argv[1];
    const std::vector<CLI::App*> commands = app.get_subcommands([](CLI::App*) { return true; });
    if (std::none_of(commands.begin(), commands.end(),
                     [&](CLI::App* c) { return c->get_name() == command; })) {
      std::cerr << "opsync-sim: unknown command \"" << command << "\" (--help lists them)\n";
      return kExitUsage;
    }
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "opsync-sim: " << e.what() << "\n";
    return kExitUsage;
  }
  try {
    // The hints a failure prints name this program as it was started, so that they paste as they
    // are.
    const std::string program = argv[0];
    run_flags.program = swarm_flags.program = certify_flags.program = program;
    for (const CLI::Option* flag : {devices_flag, ops_flag, chaos_flag, faults_flag})
      if (flag->count() > 0) run_flags.shaping_flags_given.push_back(flag->get_name());
    if (run_cmd->parsed()) return run_command(run_flags);
    if (swarm_cmd->parsed()) return swarm_command(swarm_flags);
    if (merge_cmd->parsed()) return merge_command(merge_paths, merge_json);
    if (replay_cmd->parsed())
      return replay_command_run(bug_path, replay_json, rewrite, replay_server, bug_adapter);
    if (shrink_cmd->parsed())
      return shrink_command(bug_path, out_path, tries, shrink_server, bug_adapter);
    if (render_cmd->parsed()) return render_command(bug_path, out_path, format, bug_adapter);
    if (record_cmd->parsed()) return record_command(bug_path, out_path);
    if (import_cmd->parsed()) return import_command(import_paths, out_path, import_seed);
    if (certify_cmd->parsed()) return certify_client_command(certify_flags);
  } catch (const UsageError& e) {
    std::cerr << "opsync-sim: " << e.message << "\n";
    return kExitUsage;
  } catch (const ExternalServerError& e) {
    std::cerr << "opsync-sim: " << e.message << "\n";
    return kExitUsage;
  } catch (const ChannelBroken& e) {
    std::cerr << "opsync-sim: a client's adapter broke opsync-client-adapter/1: " << e.message
              << "\n";
    return kExitUsage;
  }
  return kExitUsage;
}
