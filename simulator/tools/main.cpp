// opsync-sim: run the deterministic simulator, one seed or a swarm of them.
//
//   opsync-sim run --seed 7                        one run of the default scenario
//   opsync-sim swarm --seeds 10000 --jobs 2        every seed twice, determinism checked
//   opsync-sim merge shard-*.json                  the summaries of a sharded swarm, merged
//   opsync-sim replay bug-seed-42.json             a failure again, from its decision log
//   opsync-sim shrink bug-seed-42.json -o small.json
//   opsync-sim render small.json -o trace.html     a space-time diagram (or --format shiviz)
//   opsync-sim record scenario.json -o bug.json    a configuration's run as a bug file
//   opsync-sim run --server http://127.0.0.1:8420  the same devices and faults against a real server
//   opsync-sim import laptop.trace phone.trace -o bug.json   traces of opsync-client --trace, replayed
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

#include "opsync/simulator/bugfile.h"
#include "opsync/simulator/import.h"
#include "opsync/simulator/render.h"
#include "opsync/simulator/run.h"
#include "opsync/simulator/shrink.h"

using namespace opsync;
using namespace opsync::simulator;

namespace {

constexpr int kExitPass = 0;
constexpr int kExitFail = 1;
constexpr int kExitUsage = 2;
constexpr uint32_t kJobsMax = 64;

// A usage error: one line naming the problem, exit code 2.
struct UsageError {
  std::string message;
};

uint64_t wall_ms_since(std::chrono::steady_clock::time_point start) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count());
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
  return {{"checker", v.checker}, {"time_ms", v.time_ms}, {"nodes", v.nodes}, {"ops", v.ops}, {"message", v.message}};
}

// The command that replays a run: its bug file when one was written, else the flags.
std::string replay_command(const Config& config, const std::string& saved) {
  if (!saved.empty()) return "opsync-sim replay " + saved;
  std::ostringstream out;
  out << "opsync-sim run --seed " << config.seed << " --devices " << config.devices << " --ops " << config.ops
      << " --faults " << config.faults.name << " --protocol " << protocol_name(config.protocol);
  if (config.variant != Variant::kNone) out << " --variant " << variant_name(config.variant);
  return out.str();
}

std::string save_bug(const BugFile& bug, const std::string& dir) {
  std::error_code ec;
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  const std::string path = (dir.empty() ? std::string(".") : dir) + "/bug-seed-" + std::to_string(bug.config.seed) +
                           (bug.server ? "-server" : "") + ".json";
  if (Status saved = save_bug_file(bug, path); !saved.ok()) throw UsageError{saved.error().message};
  return path;
}

// A failure's bug file: the run again, keeping its decisions and its fault schedule.
std::string save_failure(const Config& config, const std::string& dir) {
  RunOptions options;
  options.keep_decisions = true;
  options.keep_events = true;
  return save_bug(bug_file_of(run(config, options)), dir);
}

// A configuration file: a bug file ({"format": "opsync-bug/1", "config": ...}) or a bare
// configuration.
Config config_from_file(const std::string& path) {
  nlohmann::json json = read_json_file(path);
  if (json.is_object() && json.contains("format")) {
    Result<BugFile> bug = bug_file_from_json(json);
    if (!bug.ok()) throw UsageError{path + ": " + bug.error().message};
    return bug->config;
  }
  // A scenario being written: {"config": ..., "description": ..., "expect": ...}.
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

// A seed in plain decimal from 0 to 2^64 - 1: CLI11 would take "-1" as 2^64 - 1.
uint64_t parse_seed(const std::string& flag, const std::string& text) {
  const bool digits = !text.empty() && text.size() <= 20 &&
                      std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (digits && (text.size() < 20 || text <= "18446744073709551615")) return std::stoull(text);
  throw CLI::ValidationError(flag, "must be a whole number from 0 to 18446744073709551615, not \"" + text + "\"");
}

// ---- run ------------------------------------------------------------------------------------------

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
};

int run_command(const RunFlags& flags) {
  Config config;
  if (!flags.config_path.empty()) {
    config = config_from_file(flags.config_path);
    if (flags.seed_given) config.seed = flags.seed;
    // A scenario runs under either protocol, or a variant: the flags choose.
    if (flags.protocol_given) {
      std::optional<Protocol> protocol = protocol_from_name(flags.protocol);
      if (!protocol) throw UsageError{"--protocol must be opsync-v1 or dataans-0.3, not \"" + flags.protocol + "\""};
      config.protocol = *protocol;
    }
    if (flags.variant_given) {
      std::optional<Variant> variant = variant_from_name(flags.variant);
      if (!variant) throw UsageError{"--variant: unknown variant \"" + flags.variant + "\""};
      config.variant = *variant;
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
    if (!protocol) throw UsageError{"--protocol must be opsync-v1 or dataans-0.3, not \"" + flags.protocol + "\""};
    config.protocol = *protocol;
    std::optional<Variant> variant = variant_from_name(flags.variant);
    if (!variant) throw UsageError{"--variant: unknown variant \"" + flags.variant + "\""};
    config.variant = *variant;
  }
  RunOptions options;
  if (!flags.server.empty()) {
    // Against a real server: only the faults a client can cause, and the server keeps its own
    // configuration; its answers are recorded in the bug file.
    config = for_external_server(config);
    if (Status external = validate_for_external_server(config); !external.ok())
      throw UsageError{external.error().message};
    options.server_url = flags.server;
  }
  if (Status valid = validate(config); !valid.ok()) throw UsageError{valid.error().message};

  // One run, keeping what a bug file needs: a run against a server cannot be run again the same.
  options.keep_decisions = true;
  options.keep_events = true;
  const auto start = std::chrono::steady_clock::now();
  RunResult result;
  try {
    result = run(config, options);
  } catch (const ExternalServerError& e) {
    throw UsageError{e.message};
  }
  const uint64_t wall_ms = wall_ms_since(start);
  std::string saved;
  if (!result.passed()) saved = save_bug(bug_file_of(result), flags.out_dir);
  const std::string replay = replay_command(config, saved);
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
              << (config.variant != Variant::kNone ? " (" + std::string(variant_name(config.variant)) + ")" : "")
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
    std::cout << "  " << f.events << " events, " << f.edits << " edits, " << f.ops_in_log << " operations in the log, "
              << f.files_attached << " files, " << f.syncs << " syncs (" << f.syncs_failed << " failed), "
              << f.requests << " requests, " << f.bytes_to_server << " bytes up and " << f.bytes_from_server
              << " down\n";
    std::cout << "  " << f.chaos_ms / 1000 << " s of chaos, " << f.simulated_ms / 1000 << " s simulated in "
              << wall_ms << " ms (" << (wall_ms ? f.chaos_ms / wall_ms : 0) << "x real time over the chaos)\n";
    std::cout << "  trace " << hash_hex(result.trace_hash) << "\n";
    if (!result.passed()) std::cout << "  replay: " << replay << "\n";
  }
  return result.passed() ? kExitPass : kExitFail;
}

// ---- swarm ------------------------------------------------------------------------------------------

struct SwarmFlags {
  uint64_t seeds = 100;
  uint64_t first_seed = 1;
  uint32_t jobs = 1;
  std::string shard = "1/1";
  std::string faults = "everything";
  std::string protocol = "opsync-v1";
  std::string variant = "none";
  std::string json_path;
  std::string out_dir = ".";
};

// One seed's outcome, as a worker reports it on one line.
struct SeedOutcome {
  uint64_t seed = 0;
  bool passed = true;
  bool deterministic = true;
  std::string hash;
  std::vector<std::string> checkers;
  std::string first_message;
  std::string file;
};

std::string encode(const SeedOutcome& o) {
  nlohmann::json j = {{"seed", o.seed},        {"passed", o.passed}, {"deterministic", o.deterministic},
                      {"hash", o.hash},        {"checkers", o.checkers},
                      {"message", o.first_message}, {"file", o.file}};
  return j.dump();
}

SeedOutcome decode(const std::string& line) {
  const nlohmann::json j = nlohmann::json::parse(line);
  SeedOutcome o;
  o.seed = j["seed"];
  o.passed = j["passed"];
  o.deterministic = j["deterministic"];
  o.hash = j["hash"];
  o.checkers = j["checkers"].get<std::vector<std::string>>();
  o.first_message = j["message"];
  o.file = j["file"];
  return o;
}

SeedOutcome run_seed(uint64_t seed, const FaultProfile& base, Protocol protocol, Variant variant,
                     const std::string& out_dir) {
  Config config = swarm_config(seed, base, protocol);
  config.variant = variant;
  const RunResult first = run(config);
  const RunResult second = run(config);
  SeedOutcome outcome;
  outcome.seed = seed;
  outcome.hash = hash_hex(first.trace_hash);
  outcome.deterministic = first.trace_hash == second.trace_hash;
  outcome.passed = first.passed() && outcome.deterministic;
  for (const Violation& v : first.violations) outcome.checkers.push_back(v.checker);
  if (!outcome.deterministic) {
    outcome.checkers.push_back("determinism");
    outcome.first_message = "two runs of the seed gave trace hashes " + hash_hex(first.trace_hash) + " and " +
                            hash_hex(second.trace_hash);
  } else if (!first.violations.empty()) {
    outcome.first_message = first.violations.front().checker + ": " + first.violations.front().message;
  }
  if (!outcome.passed) outcome.file = save_failure(config, out_dir);
  return outcome;
}

std::pair<uint64_t, uint64_t> parse_shard(const std::string& text) {
  const size_t slash = text.find('/');
  try {
    if (slash == std::string::npos) throw std::invalid_argument("no slash");
    size_t used = 0;
    const uint64_t index = std::stoull(text.substr(0, slash), &used);
    if (used != slash) throw std::invalid_argument("index");
    const std::string count_text = text.substr(slash + 1);
    const uint64_t count = std::stoull(count_text, &used);
    if (used != count_text.size()) throw std::invalid_argument("count");
    if (count == 0 || index == 0 || index > count) throw std::invalid_argument("range");
    return {index, count};
  } catch (const std::exception&) {
    throw UsageError{"--shard must be I/N with 1 <= I <= N, not \"" + text + "\""};
  }
}

int swarm_command(const SwarmFlags& flags) {
  Result<FaultProfile> base = load_fault_profile(flags.faults);
  if (!base.ok()) throw UsageError{base.error().message};
  std::optional<Protocol> protocol = protocol_from_name(flags.protocol);
  if (!protocol) throw UsageError{"--protocol must be opsync-v1 or dataans-0.3, not \"" + flags.protocol + "\""};
  std::optional<Variant> variant = variant_from_name(flags.variant);
  if (!variant) throw UsageError{"--variant: unknown variant \"" + flags.variant + "\""};
  if (*protocol == Protocol::kDataans03 && *variant != Variant::kNone)
    throw UsageError{"--variant changes opsync-v1; dataans-0.3 has none"};
  const auto [shard_index, shard_count] = parse_shard(flags.shard);
  if (flags.jobs < 1 || flags.jobs > kJobsMax) throw UsageError{"--jobs must be from 1 to 64"};
  if (flags.first_seed > UINT64_MAX - flags.seeds) throw UsageError{"--first-seed plus --seeds passes 2^64"};
  std::error_code ec;
  std::filesystem::create_directories(flags.out_dir, ec);

  // This shard's seeds: every seed whose position in the range falls to it.
  std::vector<uint64_t> seeds;
  for (uint64_t i = 0; i < flags.seeds; ++i)
    if (i % shard_count == shard_index - 1) seeds.push_back(flags.first_seed + i);

  const auto start = std::chrono::steady_clock::now();
  const bool terminal = isatty(STDERR_FILENO) != 0;
  std::vector<SeedOutcome> outcomes;
  // Workers are processes, each running its share of the seeds one by one on one thread; they
  // report a line per seed through a pipe.
  struct Worker {
    pid_t pid;
    int fd;
    std::string buffer;
  };
  std::vector<Worker> workers;
  const uint32_t jobs = static_cast<uint32_t>(std::min<uint64_t>(flags.jobs, std::max<size_t>(1, seeds.size())));
  std::cout.flush();
  std::cerr.flush();
  for (uint32_t w = 0; w < jobs; ++w) {
    int fds[2];
    if (pipe(fds) != 0) throw UsageError{"cannot create a pipe"};
    const pid_t pid = fork();
    if (pid < 0) throw UsageError{"cannot start a worker"};
    if (pid == 0) {
      close(fds[0]);
      for (size_t i = w; i < seeds.size(); i += jobs) {
        const std::string line = encode(run_seed(seeds[i], *base, *protocol, *variant, flags.out_dir)) + "\n";
        size_t written = 0;
        while (written < line.size()) {  // bounded by the line's length
          const ssize_t n = write(fds[1], line.data() + written, line.size() - written);
          if (n <= 0) _exit(3);
          written += static_cast<size_t>(n);
        }
      }
      close(fds[1]);
      _exit(0);
    }
    close(fds[1]);
    workers.push_back(Worker{pid, fds[0], ""});
  }
  std::map<std::string, uint64_t> by_checker;
  uint64_t failed = 0;
  size_t open = workers.size();
  while (open > 0) {  // bounded: each worker closes its pipe when its seeds are done
    std::vector<pollfd> polls;
    for (const Worker& w : workers)
      if (w.fd >= 0) polls.push_back(pollfd{w.fd, POLLIN, 0});
    if (poll(polls.data(), polls.size(), -1) < 0) continue;
    for (Worker& w : workers) {
      if (w.fd < 0) continue;
      char chunk[4096];
      const ssize_t n = read(w.fd, chunk, sizeof chunk);
      if (n == 0) {
        close(w.fd);
        w.fd = -1;
        --open;
        continue;
      }
      if (n < 0) continue;
      w.buffer.append(chunk, static_cast<size_t>(n));
      for (size_t newline; (newline = w.buffer.find('\n')) != std::string::npos;) {
        SeedOutcome outcome = decode(w.buffer.substr(0, newline));
        w.buffer.erase(0, newline + 1);
        if (!outcome.passed) {
          ++failed;
          for (const std::string& c : outcome.checkers) ++by_checker[c];
          std::cerr << (terminal ? "\r\033[K" : "") << "seed " << outcome.seed << " FAILED: " << outcome.first_message
                    << "\n  replay: opsync-sim replay " << outcome.file << "\n";
        }
        outcomes.push_back(std::move(outcome));
        if (terminal)
          std::cerr << "\r\033[K" << outcomes.size() << "/" << seeds.size() << " seeds, " << failed << " failed, "
                    << wall_ms_since(start) / 1000 << " s" << std::flush;
      }
    }
  }
  bool workers_ok = true;
  for (const Worker& w : workers) {
    int status = 0;
    waitpid(w.pid, &status, 0);
    workers_ok = workers_ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  if (terminal) std::cerr << "\r\033[K";
  const uint64_t wall_ms = wall_ms_since(start);
  std::sort(outcomes.begin(), outcomes.end(), [](const SeedOutcome& a, const SeedOutcome& b) { return a.seed < b.seed; });
  const bool complete = workers_ok && outcomes.size() == seeds.size();

  nlohmann::json summary = {{"format", "opsync-sim-swarm/1"},
                            {"first_seed", flags.first_seed},
                            {"seeds", flags.seeds},
                            {"shard", flags.shard},
                            {"faults", base->name},
                            {"protocol", protocol_name(*protocol)},
                            {"variant", variant_name(*variant)},
                            {"seeds_run", outcomes.size()},
                            {"runs", outcomes.size() * 2},
                            {"failed", failed},
                            {"complete", complete},
                            {"wall_ms", wall_ms},
                            {"jobs", jobs},
                            {"by_checker", by_checker},
                            {"failures", nlohmann::json::array()}};
  for (const SeedOutcome& o : outcomes)
    if (!o.passed)
      summary["failures"].push_back(
          {{"seed", o.seed}, {"checkers", o.checkers}, {"message", o.first_message}, {"file", o.file}});
  if (!flags.json_path.empty()) {
    std::ofstream out(flags.json_path);
    out << summary.dump(2) << "\n";
    if (!out) throw UsageError{"cannot write " + flags.json_path};
  }
  std::cout << outcomes.size() << " seeds (" << outcomes.size() * 2 << " runs, every one compared with its twin), "
            << failed << " failed, in " << wall_ms / 1000.0 << " s with " << jobs << " jobs\n";
  for (const auto& [checker, count] : by_checker) std::cout << "  " << checker << ": " << count << "\n";
  if (!complete) std::cout << "  a worker did not finish its seeds\n";
  return failed == 0 && complete ? kExitPass : kExitFail;
}

// ---- merge ------------------------------------------------------------------------------------------

int merge_command(const std::vector<std::string>& paths, const std::string& json_path) {
  if (paths.empty()) throw UsageError{"merge needs at least one swarm summary"};
  nlohmann::json merged = {{"format", "opsync-sim-swarm/1"}, {"shards", nlohmann::json::array()},
                           {"seeds_run", 0},                 {"runs", 0},
                           {"failed", 0},                    {"complete", true},
                           {"wall_ms", 0},                   {"by_checker", nlohmann::json::object()},
                           {"failures", nlohmann::json::array()}};
  std::set<std::string> shards;
  for (const std::string& path : paths) {
    const nlohmann::json s = read_json_file(path);
    if (!s.is_object() || s.value("format", "") != "opsync-sim-swarm/1")
      throw UsageError{path + " is not a swarm summary (format opsync-sim-swarm/1)"};
    try {
      const std::string shard = s.at("shard");
      if (!shards.insert(shard + "@" + std::to_string(s.at("first_seed").get<uint64_t>())).second)
        throw UsageError{path + ": shard " + shard + " appears twice"};
      merged["shards"].push_back(shard);
      merged["seeds_run"] = merged["seeds_run"].get<uint64_t>() + s.at("seeds_run").get<uint64_t>();
      merged["runs"] = merged["runs"].get<uint64_t>() + s.at("runs").get<uint64_t>();
      merged["failed"] = merged["failed"].get<uint64_t>() + s.at("failed").get<uint64_t>();
      merged["complete"] = merged["complete"].get<bool>() && s.at("complete").get<bool>();
      merged["wall_ms"] = std::max(merged["wall_ms"].get<uint64_t>(), s.at("wall_ms").get<uint64_t>());
      for (const auto& [checker, count] : s.at("by_checker").items())
        merged["by_checker"][checker] = merged["by_checker"].value(checker, uint64_t{0}) + count.get<uint64_t>();
      for (const nlohmann::json& f : s.at("failures")) merged["failures"].push_back(f);
    } catch (const nlohmann::json::exception& e) {
      throw UsageError{path + " is damaged: " + e.what()};
    }
  }
  if (!json_path.empty()) {
    std::ofstream out(json_path);
    out << merged.dump(2) << "\n";
    if (!out) throw UsageError{"cannot write " + json_path};
  }
  std::cout << merged["seeds_run"].get<uint64_t>() << " seeds from " << paths.size() << " shards, "
            << merged["failed"].get<uint64_t>() << " failed\n";
  for (const auto& [checker, count] : merged["by_checker"].items())
    std::cout << "  " << checker << ": " << count.get<uint64_t>() << "\n";
  return merged["failed"].get<uint64_t>() == 0 && merged["complete"].get<bool>() ? kExitPass : kExitFail;
}

// ---- bug files: replay, shrink, render, record ------------------------------------------------------

int replay_command_run(const std::string& path, bool json, bool rewrite, const std::string& server) {
  BugFile bug = bug_from_file(path);
  if (!server.empty()) {
    if (Status external = validate_for_external_server(bug.config); !external.ok())
      throw UsageError{external.error().message};
    if (rewrite) throw UsageError{"--rewrite records a replay of the code, not of a live server"};
  }
  const auto start = std::chrono::steady_clock::now();
  Replay r;
  try {
    r = replay(bug, false, server);
  } catch (const ExternalServerError& e) {
    if (!server.empty()) throw UsageError{e.message};
    // Against the recording: the code asked the server something the recorded run did not.
    if (json) {
      std::cout << nlohmann::json{{"reproduced", false}, {"same_trace", false}, {"same_verdict", false},
                                  {"recorded_trace_hash", hash_hex(bug.trace_hash)}, {"parted", e.message}}
                       .dump()
                << "\n";
    } else {
      std::cout << "NOT reproduced: the code changed since the bug file was written\n  " << e.message << "\n";
    }
    return kExitFail;
  }
  if (!server.empty()) {
    // A live server answers anew (its ids, its clock): the trace differs; the verdict counts.
    std::cout << (r.same_verdict ? "same verdict" : "another verdict") << " from the server at " << server << ":";
    for (const Violation& v : r.result.violations) std::cout << "\n  " << v.checker << ": " << v.message;
    if (r.result.violations.empty()) std::cout << " every checker held";
    std::cout << "\n";
    return r.same_verdict ? kExitPass : kExitFail;
  }
  const uint64_t wall_ms = wall_ms_since(start);
  // The checker the bug file is about comes first, as in the file.
  std::stable_partition(r.result.violations.begin(), r.result.violations.end(),
                        [&](const Violation& v) { return v.checker == bug.checker(); });
  const bool reproduced = r.same_trace && r.same_verdict;
  std::string parted;
  if (r.parted_at) {
    const size_t i = *r.parted_at;
    if (i < r.result.events.size()) {
      const TraceEvent& e = r.result.events[i];
      parted = "event " + std::to_string(i) + " at " + std::to_string(e.time_ms - r.result.events.front().time_ms) +
               " ms, " + e.node + " " + e.kind + ": " + e.detail;
    } else {
      parted = "event " + std::to_string(i) + ": the replay ended after " + std::to_string(r.result.events.size()) +
               " events, the recording had " + std::to_string(bug.event_digests.size());
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
    if (Status saved = save_bug_file(updated, path); !saved.ok()) throw UsageError{saved.error().message};
    std::cout << "rewrote " << path << ": same verdict, trace now " << hash_hex(updated.trace_hash) << "\n";
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
    for (const Violation& v : r.result.violations) out["violations"].push_back(violation_json(v));
    std::cout << out.dump() << "\n";
  } else if (reproduced) {
    std::cout << "reproduced: the same " << r.result.figures.events << " events, trace " << hash_hex(r.result.trace_hash)
              << ", in " << wall_ms << " ms\n";
    for (const Violation& v : r.result.violations) std::cout << "  " << v.checker << ": " << v.message << "\n";
    if (r.result.violations.empty()) std::cout << "  every checker held, as recorded\n";
  } else {
    std::cout << "NOT reproduced: the code changed since the bug file was written\n";
    std::cout << "  trace " << hash_hex(r.result.trace_hash) << ", recorded " << hash_hex(bug.trace_hash) << "\n";
    if (r.parted_at) std::cout << "  the traces part at " << parted << "\n";
    std::cout << "  recorded verdict: ";
    for (const Violation& v : bug.violations) std::cout << v.checker << " ";
    std::cout << (bug.violations.empty() ? "pass" : "") << "\n  replayed verdict: ";
    for (const Violation& v : r.result.violations) std::cout << v.checker << " ";
    std::cout << (r.result.violations.empty() ? "pass" : "") << "\n";
  }
  return reproduced ? kExitPass : kExitFail;
}

int shrink_command(const std::string& path, const std::string& out, uint32_t tries, const std::string& server) {
  if (out.empty()) throw UsageError{"shrink needs -o FILE for the smaller bug file"};
  const BugFile bug = bug_from_file(path);
  if (bug.checker().empty()) throw UsageError{path + " records a run that failed no checker: nothing to shrink"};
  if (bug.imported) throw UsageError{path + " holds traces of real devices: they replay as they are, they do not shrink"};
  if (!server.empty() && !bug.server) throw UsageError{path + " was not found against a server; shrink it without --server"};
  std::cout << "shrinking " << path << ", which fails " << bug.checker()
            << (server.empty() ? "" : ", against the server at " + server) << "\n";
  if (bug.server && server.empty())
    std::cout << "  (its recorded answers answer only its own schedule: give --server URL to shrink against a live server)\n";
  const ShrinkResult result = shrink(
      bug, tries, [](const std::string& line) { std::cout << "  " << line << "\n" << std::flush; }, server);
  if (Status saved = save_bug_file(result.smaller, out); !saved.ok()) throw UsageError{saved.error().message};
  auto describe = [](const ScheduleSize& s) {
    return "schedule " + std::to_string(s.schedule()) + " (" + std::to_string(s.decisions) + " decisions, " +
           std::to_string(s.script_steps) + " script steps), " + std::to_string(s.events) + " events, " +
           std::to_string(s.devices) + " devices, " + std::to_string(s.ops) + " edits, " + std::to_string(s.chaos_ms) +
           " ms of chaos";
  };
  std::cout << "before: " << describe(result.before) << "\nafter:  " << describe(result.after) << "\n";
  std::cout << "the schedule is " << (result.after.schedule() ? result.before.schedule() / result.after.schedule() : 0)
            << " times smaller after " << result.tries << " tries; " << out << " still fails " << bug.checker() << "\n";
  return kExitPass;
}

int render_command(const std::string& path, const std::string& out, const std::string& format) {
  if (out.empty()) throw UsageError{"render needs -o FILE"};
  if (format != "html" && format != "shiviz") throw UsageError{"--format must be html or shiviz, not \"" + format + "\""};
  const BugFile bug = bug_from_file(path);
  Replay r = replay(bug, /*keep_bodies=*/true);
  // The checker the bug file is about comes first, as in the file.
  std::stable_partition(r.result.violations.begin(), r.result.violations.end(),
                        [&](const Violation& v) { return v.checker == bug.checker(); });
  const std::string text = format == "html" ? render_html(r.result, "opsync-sim: " + std::filesystem::path(path).filename().string())
                                            : render_shiviz(r.result);
  std::ofstream file(out);
  file << text;
  if (!file) throw UsageError{"cannot write " + out};
  std::cout << "wrote " << out << " (" << r.result.events.size() << " events"
            << (r.same_trace ? "" : "; the replay differs from the recording: the code changed since") << ")\n";
  return kExitPass;
}

int import_command(const std::vector<std::string>& traces, const std::string& out, uint64_t seed) {
  Result<ImportedTrace> trace = read_client_traces(traces);
  if (!trace.ok()) throw UsageError{trace.error().message};
  const Config config = imported_config(*trace, seed);
  RunOptions options;
  options.keep_decisions = true;
  options.keep_events = true;
  BugFile bug = bug_file_of(replay_imported(*trace, config, options));
  bug.imported = std::move(*trace);
  if (Status saved = save_bug_file(bug, out); !saved.ok()) throw UsageError{saved.error().message};
  std::cout << "imported " << bug.imported->exchanges.size() << " exchanges and " << bug.imported->commits.size()
            << " commits of " << bug.imported->devices.size() << " devices into " << out << "\n";
  for (const Violation& v : bug.violations) std::cout << "  " << v.checker << ": " << v.message << "\n";
  if (bug.violations.empty()) std::cout << "  the reference core answers every request as the field server did\n";
  std::cout << "  trace " << hash_hex(bug.trace_hash) << "; opsync-sim replay " << out << ", opsync-sim render " << out
            << " -o trace.html\n";
  return bug.violations.empty() ? kExitPass : kExitFail;
}

int record_command(const std::string& path, const std::string& out) {
  if (out.empty()) throw UsageError{"record needs -o FILE"};
  const nlohmann::json json = read_json_file(path);
  if (json.is_object() && json.contains("format")) {
    // A bug file: recorded again from its decision log, recording or imported traces (a
    // description or expect added by hand is kept).
    BugFile bug = bug_from_file(path);
    Replay r = replay(bug);
    BugFile again = bug_file_of(r.result);
    again.imported = bug.imported;
    if (json.contains("expect") && json["expect"].contains("recorded") && !json["expect"]["recorded"].empty()) {
      const std::string first = json["expect"]["recorded"][0].get<std::string>();
      std::stable_partition(again.violations.begin(), again.violations.end(),
                            [&](const Violation& v) { return v.checker == first; });
    }
    again.description = json.value("description", "");
    if (json.contains("expect")) again.expect = json["expect"];
    if (Status saved = save_bug_file(again, out); !saved.ok()) throw UsageError{saved.error().message};
    std::cout << "wrote " << out << ": " << (again.violations.empty() ? "every checker held" : "fails " + again.checker())
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
      std::stable_partition(bug.violations.begin(), bug.violations.end(),
                            [&](const Violation& v) { return v.checker == recorded[0].get<std::string>(); });
  }
  if (Status saved = save_bug_file(bug, out); !saved.ok()) throw UsageError{saved.error().message};
  std::cout << "wrote " << out << ": " << (bug.violations.empty() ? "every checker held" : "fails " + bug.checker())
            << ", trace " << hash_hex(bug.trace_hash) << "\n";
  return kExitPass;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"opsync-sim: the deterministic simulator of OpSync (simulator/README.md)"};
  app.require_subcommand(1);

  RunFlags run_flags;
  CLI::App* run_cmd = app.add_subcommand("run", "One run: the verdict of every checker, the figures, the trace hash");
  run_cmd->add_option_function<std::string>("--seed", [&](const std::string& text) {
    run_flags.seed = parse_seed("--seed", text);
    run_flags.seed_given = true;
  }, "The run's seed, 0 to 2^64-1 (default 1)");
  run_cmd->add_option("--devices", run_flags.devices, "Devices at the start, 1 to 64")->check(CLI::Range(1, 64));
  run_cmd->add_option("--ops", run_flags.ops, "Edits over the chaos phase")->check(CLI::Range(0, 1000000));
  run_cmd->add_option("--chaos-ms", run_flags.chaos_ms, "Length of the chaos phase in virtual milliseconds");
  run_cmd->add_option("--faults", run_flags.faults, "A profile (none, lossy, partitions, skewed-clocks, crashes, "
                                                    "restore, everything) or a JSON file");
  run_cmd->add_option_function<std::string>("--protocol", [&](const std::string& p) {
    run_flags.protocol = p;
    run_flags.protocol_given = true;
  }, "opsync-v1 (the reference code) or dataans-0.3");
  run_cmd->add_option_function<std::string>("--variant", [&](const std::string& v) {
    run_flags.variant = v;
    run_flags.variant_given = true;
  },
                      "A deliberately broken opsync-v1: no-dedupe, hidden-restore, wall-clock, forget-lost-uploads, "
                      "plaintext, no-file-delete, no-copy-retention, no-copy-expiry");
  run_cmd->add_option("--config", run_flags.config_path, "Run a configuration, a scenario or a bug file's configuration");
  run_cmd->add_option("--out", run_flags.out_dir, "Where a failure's bug file is written (default .)");
  run_cmd->add_flag("--json", run_flags.json, "One JSON object: verdict, trace_hash, figures, violations");
  run_cmd->add_option("--server", run_flags.server,
                      "Drive a real server at this URL (http://host:port) instead of the reference core; its "
                      "answers go into the bug file");

  SwarmFlags swarm_flags;
  CLI::App* swarm_cmd = app.add_subcommand("swarm", "Many seeds, each with its own draw of faults, each run twice");
  swarm_cmd->add_option("--seeds", swarm_flags.seeds, "How many seeds")->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40));
  swarm_cmd->add_option_function<std::string>("--first-seed", [&](const std::string& text) {
    swarm_flags.first_seed = parse_seed("--first-seed", text);
  }, "The first seed (default 1)");
  swarm_cmd->add_option("--jobs", swarm_flags.jobs, "Worker processes, 1 to 64")->check(CLI::Range(1, 64));
  swarm_cmd->add_option("--shard", swarm_flags.shard, "I/N: run the I-th of N disjoint slices of the seeds");
  swarm_cmd->add_option("--faults", swarm_flags.faults, "The profile each seed draws from (default everything)");
  swarm_cmd->add_option("--protocol", swarm_flags.protocol, "opsync-v1 or dataans-0.3");
  swarm_cmd->add_option("--variant", swarm_flags.variant, "A deliberately broken opsync-v1 (run --help lists them)");
  swarm_cmd->add_option("--json", swarm_flags.json_path, "Write the summary as JSON to this file");
  swarm_cmd->add_option("--out", swarm_flags.out_dir, "Where failing seeds' bug files go (default .)");

  std::vector<std::string> merge_paths;
  std::string merge_json;
  CLI::App* merge_cmd = app.add_subcommand("merge", "Merge the JSON summaries of swarm shards");
  merge_cmd->add_option("summaries", merge_paths, "Swarm summaries (swarm --json FILE)")->required();
  merge_cmd->add_option("--json", merge_json, "Write the merged summary to this file");

  if (argc > 1 && argv[1][0] != '-') {
    const std::string command = argv[1];
    if (command != "run" && command != "swarm" && command != "merge" && command != "replay" && command != "shrink" &&
        command != "render" && command != "record" && command != "import") {
      std::cerr << "opsync-sim: unknown command \"" << command << "\" (--help lists them)\n";
      return kExitUsage;
    }
  }
  std::string bug_path, out_path, format = "html", replay_server;
  bool replay_json = false, rewrite = false;
  uint32_t tries = 400;
  CLI::App* replay_cmd = app.add_subcommand("replay", "Replay a bug file from its decision log; say whether it reproduces");
  replay_cmd->add_option("bug", bug_path, "A bug file (format opsync-bug/1)")->required();
  replay_cmd->add_flag("--json", replay_json, "One JSON object: reproduced, the traces, where they part");
  replay_cmd->add_flag("--rewrite", rewrite, "When the verdict holds but the trace changed, record the new trace");
  replay_cmd->add_option("--server", replay_server,
                         "Replay against a live server at this URL instead of the recorded answers; compares verdicts");
  CLI::App* shrink_cmd = app.add_subcommand("shrink", "Shrink a bug file while the same checker fails");
  shrink_cmd->add_option("bug", bug_path, "A bug file")->required();
  shrink_cmd->add_option("-o,--out", out_path, "Where the smaller bug file goes")->required();
  shrink_cmd->add_option("--tries", tries, "Replays to try at most (default 400)")->check(CLI::Range(1, 100000));
  std::string shrink_server;
  shrink_cmd->add_option("--server", shrink_server, "A bug found against a server: shrink against the live server here");
  CLI::App* render_cmd = app.add_subcommand("render", "Draw a bug file's run: a space-time diagram in one HTML page");
  render_cmd->add_option("bug", bug_path, "A bug file")->required();
  render_cmd->add_option("-o,--out", out_path, "The page (or ShiViz log) to write")->required();
  render_cmd->add_option("--format", format, "html (default) or shiviz");
  CLI::App* record_cmd = app.add_subcommand("record", "Run a configuration or scenario and write its bug file");
  record_cmd->add_option("config", bug_path, "A configuration, scenario or bug file")->required();
  record_cmd->add_option("-o,--out", out_path, "The bug file to write")->required();

  std::vector<std::string> import_paths;
  uint64_t import_seed = 1;
  CLI::App* import_cmd =
      app.add_subcommand("import", "Turn traces of opsync-client --trace into a bug file that replays their exchanges");
  import_cmd->add_option("traces", import_paths, "Trace files, one or more devices each")->required();
  import_cmd->add_option("-o,--out", out_path, "The bug file to write")->required();
  import_cmd->add_option("--seed", import_seed, "Seed of the reference core's randomness (default 1)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "opsync-sim: " << e.what() << "\n";
    return kExitUsage;
  }
  try {
    if (run_cmd->parsed()) return run_command(run_flags);
    if (swarm_cmd->parsed()) return swarm_command(swarm_flags);
    if (merge_cmd->parsed()) return merge_command(merge_paths, merge_json);
    if (replay_cmd->parsed()) return replay_command_run(bug_path, replay_json, rewrite, replay_server);
    if (shrink_cmd->parsed()) return shrink_command(bug_path, out_path, tries, shrink_server);
    if (render_cmd->parsed()) return render_command(bug_path, out_path, format);
    if (record_cmd->parsed()) return record_command(bug_path, out_path);
    if (import_cmd->parsed()) return import_command(import_paths, out_path, import_seed);
  } catch (const UsageError& e) {
    std::cerr << "opsync-sim: " << e.message << "\n";
    return kExitUsage;
  } catch (const ExternalServerError& e) {
    std::cerr << "opsync-sim: " << e.message << "\n";
    return kExitUsage;
  }
  return kExitUsage;
}
