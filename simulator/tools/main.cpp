// opsync-sim: run the deterministic simulator, one seed or a swarm of them.
//
//   opsync-sim run --seed 7                        one run of the default scenario
//   opsync-sim run --config failure.json           the run a failing swarm seed wrote
//   opsync-sim swarm --seeds 10000 --jobs 2        every seed twice, determinism checked
//   opsync-sim merge shard-*.json                  the summaries of a sharded swarm, merged
//
// Exit codes: 0 every checker held, 1 a checker failed (or a determinism check), 2 bad usage.
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "opsync/simulator/run.h"

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

// The command that replays a configuration: flags when they say it all, else the saved file.
std::string replay_command(const Config& config, const std::string& saved) {
  if (!saved.empty()) return "opsync-sim run --config " + saved;
  std::ostringstream out;
  out << "opsync-sim run --seed " << config.seed << " --devices " << config.devices << " --ops " << config.ops
      << " --faults " << config.faults.name << " --protocol " << protocol_name(config.protocol);
  if (config.variant != Variant::kNone) out << " --variant " << variant_name(config.variant);
  return out.str();
}

// Whether `run` flags reproduce the configuration (a named profile, the default workload).
bool flags_reproduce(const Config& config) {
  Config rebuilt = default_config(config.seed);
  std::optional<FaultProfile> profile = named_profile(config.faults.name);
  if (!profile) return false;
  rebuilt.faults = *profile;
  rebuilt.devices = config.devices;
  rebuilt.ops = config.ops;
  rebuilt.chaos_ms = config.chaos_ms;
  rebuilt.protocol = config.protocol;
  rebuilt.variant = config.variant;
  return rebuilt == config;
}

std::string save_failure(const Config& config, const RunResult& result, const std::string& dir) {
  const std::string path = (dir.empty() ? std::string(".") : dir) + "/failing-seed-" + std::to_string(config.seed) + ".json";
  nlohmann::json out = {{"config", to_json(config)}, {"trace_hash", hash_hex(result.trace_hash)}};
  for (const Violation& v : result.violations) out["violations"].push_back(violation_json(v));
  std::ofstream file(path);
  file << out.dump(2) << "\n";
  if (!file) throw UsageError{"cannot write " + path};
  return path;
}

// A configuration file: a saved failure ({"config": ...}) or a bare configuration.
Config config_from_file(const std::string& path) {
  nlohmann::json json = read_json_file(path);
  const nlohmann::json& body = json.is_object() && json.contains("config") ? json["config"] : json;
  Result<Config> config = config_from_json(body);
  if (!config.ok()) throw UsageError{path + ": " + config.error().message};
  return *config;
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
  if (Status valid = validate(config); !valid.ok()) throw UsageError{valid.error().message};

  const auto start = std::chrono::steady_clock::now();
  const RunResult result = run(config);
  const uint64_t wall_ms = wall_ms_since(start);
  std::string saved;
  if (!result.passed() && !flags_reproduce(config)) saved = save_failure(config, result, flags.out_dir);
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
                          {"figures", figures_json(f)},
                          {"violations", nlohmann::json::array()},
                          {"replay", replay}};
    for (const Violation& v : result.violations) out["violations"].push_back(violation_json(v));
    std::cout << out.dump() << "\n";
  } else {
    std::cout << (result.passed() ? "PASS" : "FAIL") << "  seed " << config.seed << ", "
              << protocol_name(config.protocol)
              << (config.variant != Variant::kNone ? " (" + std::string(variant_name(config.variant)) + ")" : "")
              << ", faults " << config.faults.name << "\n";
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
  if (!outcome.passed) outcome.file = save_failure(config, first, out_dir);
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
                    << "\n  replay: opsync-sim run --config " << outcome.file << "\n";
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
                      "plaintext, no-file-delete");
  run_cmd->add_option("--config", run_flags.config_path, "Run a saved configuration (a failing seed's file)");
  run_cmd->add_option("--out", run_flags.out_dir, "Where a failure's configuration is written (default .)");
  run_cmd->add_flag("--json", run_flags.json, "One JSON object: verdict, trace_hash, figures, violations");

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
  swarm_cmd->add_option("--out", swarm_flags.out_dir, "Where failing seeds' files go (default .)");

  std::vector<std::string> merge_paths;
  std::string merge_json;
  CLI::App* merge_cmd = app.add_subcommand("merge", "Merge the JSON summaries of swarm shards");
  merge_cmd->add_option("summaries", merge_paths, "Swarm summaries (swarm --json FILE)")->required();
  merge_cmd->add_option("--json", merge_json, "Write the merged summary to this file");

  if (argc > 1 && argv[1][0] != '-') {
    const std::string command = argv[1];
    if (command != "run" && command != "swarm" && command != "merge") {
      std::cerr << "opsync-sim: unknown command \"" << command << "\" (run, swarm or merge; --help lists them)\n";
      return kExitUsage;
    }
  }
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
  } catch (const UsageError& e) {
    std::cerr << "opsync-sim: " << e.message << "\n";
    return kExitUsage;
  }
  return kExitUsage;
}
