#include "swarm.h"

#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>

#include "common.h"
#include "opsync/simulator/bugfile.h"
#include "opsync/simulator/render.h"
#include "opsync/simulator/run.h"

namespace opsync::simulator::tool {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kStderrKeptBytes = 8192;  // of a child's standard error, for an error's report
constexpr size_t kStderrLinesShown = 12;
constexpr int kPollTickMs = 1000;  // progress and deadlines are looked at this often
constexpr uint64_t kPlainProgressEveryMs = 60'000;

std::string encode(const SeedOutcome& o) {
  nlohmann::json j = {
      {"seed", o.seed},      {"passed", o.passed},     {"deterministic", o.deterministic},
      {"hash", o.hash},      {"checkers", o.checkers}, {"message", o.first_message},
      {"file", o.file},      {"page", o.page},         {"events", o.events},
      {"error", o.error},    {"name", o.name},         {"violations", o.violations},
      {"wall_ms", o.wall_ms}};
  return j.dump();
}

std::optional<SeedOutcome> decode(const std::string& line) {
  const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  try {
    SeedOutcome o;
    o.seed = j.at("seed");
    o.passed = j.at("passed");
    o.deterministic = j.at("deterministic");
    o.hash = j.at("hash");
    o.checkers = j.at("checkers").get<std::vector<std::string>>();
    o.first_message = j.at("message");
    o.file = j.at("file");
    o.page = j.at("page");
    o.events = j.at("events");
    o.error = j.at("error");
    o.name = j.at("name");
    o.violations = j.at("violations").get<std::vector<std::pair<std::string, std::string>>>();
    o.wall_ms = j.at("wall_ms");
    return o;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

// Test hooks, the tool's own deliberate defects: the seeds listed in OPSYNC_SIM_TEST_ABORT_SEEDS
// abort their process, those in OPSYNC_SIM_TEST_HANG_SEEDS hang it (comma-separated). They prove
// that a crashing or hanging seed ends as an error of its own and stops nothing else
// (simulator_tests cli). Nothing else reads them.
bool listed_in(const char* variable, uint64_t seed) {
  const char* value = std::getenv(variable);
  if (!value) return false;
  const std::string list = std::string(",") + value + ",";
  return list.find("," + std::to_string(seed) + ",") != std::string::npos;
}

void apply_test_hooks(uint64_t seed) {
  if (listed_in("OPSYNC_SIM_TEST_ABORT_SEEDS", seed)) {
    std::cerr << "opsync-sim: seed " << seed << " aborts here, as OPSYNC_SIM_TEST_ABORT_SEEDS asks"
              << std::endl;
    std::abort();
  }
  if (listed_in("OPSYNC_SIM_TEST_HANG_SEEDS", seed))
    for (;;) pause();  // until the parent kills it at the seed's deadline
}

std::set<std::string> checkers_of(const RunResult& result) {
  std::set<std::string> out;
  for (const Violation& v : result.violations) out.insert(v.checker);
  return out;
}

// The bug file of a run that ended in error, with the client under test it ran.
BugFile error_bug(const SeedJob& job, const SeedRunFlags& flags, std::string error) {
  BugFile bug = error_bug_file(job.config, std::move(error));
  if (!flags.adapter.empty())
    bug.client = BugFile::ClientUnderTest{flags.adapter, job.reference_devices, true};
  return bug;
}

// In the child: the job (twice when asked), and on failure its bug file and its page.
SeedOutcome run_job(const SeedJob& job, const SeedRunFlags& flags) {
  const Config& config = job.config;
  apply_test_hooks(config.seed);
  const RunOptions channels =
      client_channels(flags.adapter, flags.turn_timeout_ms, job.reference_devices);
  SeedOutcome outcome;
  outcome.seed = config.seed;
  outcome.name = job.name;
  std::optional<RunResult> first, second;
  const auto started = Clock::now();
  try {
    first = run(config, channels);
    outcome.wall_ms = wall_ms_since(started);
    if (flags.twice) second = run(config, channels);
  } catch (const ChannelBroken& broken) {
    // ADP-080: an adapter that breaks the protocol ends the run in error, never in a verdict.
    outcome.passed = false;
    outcome.error = true;
    outcome.checkers = {"error"};
    outcome.first_message = "the client's adapter broke opsync-client-adapter/1: " + broken.message;
    outcome.file = save_bug(error_bug(job, flags, outcome.first_message), flags.out_dir, job.name);
    return outcome;
  }
  outcome.hash = hash_hex(first->trace_hash);
  outcome.events = first->figures.events;
  // A client that draws randomness of its own gives another trace every run; the verdict must
  // still be the same (ADP-081).
  outcome.deterministic =
      !second || (first->trace_replayable ? first->trace_hash == second->trace_hash
                                          : checkers_of(*first) == checkers_of(*second));
  outcome.passed = first->passed() && outcome.deterministic;
  for (const Violation& v : first->violations) {
    outcome.checkers.push_back(v.checker);
    outcome.violations.emplace_back(v.checker, v.message);
  }
  if (!outcome.deterministic) {
    outcome.checkers.push_back("determinism");
    outcome.first_message = "two runs of the seed gave trace hashes " +
                            hash_hex(first->trace_hash) + " and " + hash_hex(second->trace_hash);
  } else if (!first->violations.empty()) {
    outcome.first_message =
        first->violations.front().checker + ": " + first->violations.front().message;
  }
  if (outcome.passed) return outcome;
  try {
    outcome.file = save_failure(config, flags.out_dir, &channels, job.name);
  } catch (const ChannelBroken& broken) {
    outcome.file =
        save_bug(error_bug(job, flags,
                           "the run failed (" + outcome.first_message +
                               "), and again it broke opsync-client-adapter/1: " + broken.message),
                 flags.out_dir, job.name);
    return outcome;
  }
  // The page of the failure, drawn from its bug file as `opsync-sim render` would.
  const BugFile bug = bug_from_file(outcome.file);
  Replay replayed;
  try {
    replayed = replay(bug, /*keep_bodies=*/true, "", &channels);
  } catch (const ChannelBroken&) {
    return outcome;  // the bug file stands; its page is drawn by `opsync-sim render` later
  }
  outcome.page = outcome.file.substr(0, outcome.file.size() - 5) + ".html";
  std::ofstream(outcome.page) << render_html(
      replayed.result, "opsync-sim: " + std::filesystem::path(outcome.file).filename().string());
  return outcome;
}

bool write_all(int fd, const std::string& text) {
  size_t written = 0;
  while (written < text.size()) {  // bounded by the text's length
    const ssize_t n = write(fd, text.data() + written, text.size() - written);
    if (n <= 0) return false;
    written += static_cast<size_t>(n);
  }
  return true;
}

std::string describe_end(int status) {
  if (WIFEXITED(status))
    return "the process exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* name = sigabbrev_np(sig);
    return "the process was killed by signal " + std::to_string(sig) +
           (name ? std::string(" (SIG") + name + ")" : "");
  }
  return "the process ended with status " + std::to_string(status);
}

std::string last_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {  // bounded by the text's length
    const size_t end = text.find('\n', start);
    lines.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  std::string out;
  for (size_t i = lines.size() > kStderrLinesShown ? lines.size() - kStderrLinesShown : 0;
       i < lines.size(); ++i)
    if (!lines[i].empty()) out += "\n  " + lines[i];
  return out;
}

// A child process running one seed, and what it has written so far.
struct Child {
  pid_t pid = -1;
  SeedJob job;
  int out_fd = -1;
  int err_fd = -1;
  std::string out;
  std::string err;
  Clock::time_point deadline;
  bool timed_out = false;
};

// Forks a child that runs `body` with its standard error going to the parent, and writes
// `body`'s line on its standard output.
template <typename Body>
Child spawn(const SeedJob& job, uint32_t timeout_s, Body&& body) {
  int out[2], err[2];
  if (pipe(out) != 0 || pipe(err) != 0) throw UsageError{"cannot create a pipe"};
  std::cout.flush();
  std::cerr.flush();
  const pid_t pid = fork();
  if (pid < 0) throw UsageError{"cannot start a worker process"};
  if (pid == 0) {
    close(out[0]);
    close(err[0]);
    dup2(err[1], STDERR_FILENO);
    const std::string line = body() + "\n";
    _exit(write_all(out[1], line) ? 0 : 3);
  }
  close(out[1]);
  close(err[1]);
  Child child;
  child.pid = pid;
  child.job = job;
  child.out_fd = out[0];
  child.err_fd = err[0];
  child.deadline = Clock::now() + std::chrono::seconds(timeout_s);
  return child;
}

// Reads what is there; returns false once both pipes are closed.
bool drain(Child& child, const std::vector<pollfd>& ready) {
  for (const pollfd& p : ready) {
    if (!(p.revents & (POLLIN | POLLHUP | POLLERR))) continue;
    int* fd = p.fd == child.out_fd ? &child.out_fd : p.fd == child.err_fd ? &child.err_fd : nullptr;
    if (!fd) continue;
    char chunk[4096];
    const ssize_t n = read(*fd, chunk, sizeof chunk);
    if (n > 0) {
      std::string& into = fd == &child.out_fd ? child.out : child.err;
      into.append(chunk, static_cast<size_t>(n));
      if (fd == &child.err_fd && into.size() > kStderrKeptBytes)
        into.erase(0, into.size() - kStderrKeptBytes);
    } else if (n == 0 || errno != EINTR) {
      close(*fd);
      *fd = -1;
    }
  }
  return child.out_fd >= 0 || child.err_fd >= 0;
}

// How a child that said no verdict ended.
std::string error_of(const Child& child, int status, uint32_t timeout_s) {
  std::string what = child.timed_out ? "no verdict after " + std::to_string(timeout_s) +
                                           " s: the run hung and was killed"
                                     : describe_end(status) + " before the run had a verdict";
  const std::string lines = last_lines(child.err);
  return what + (lines.empty() ? "" : "; its last lines:" + lines);
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

std::string html_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// OUT/index.html: one line per failing seed, with its checker, first violation, page and file.
std::string write_index(const std::string& out_dir, const std::vector<SeedOutcome>& failures,
                        uint64_t seeds_run, const std::string& faults, Variant variant) {
  const std::filesystem::path dir(out_dir);
  std::string rows;
  for (const SeedOutcome& f : failures) {
    auto link = [&](const std::string& path, const std::string& label) {
      if (path.empty()) return std::string("");
      return "<a href=\"" + html_escape(std::filesystem::path(path).filename().string()) + "\">" +
             label + "</a>";
    };
    const std::string checker = f.error ? "error" : f.checkers.empty() ? "?" : f.checkers.front();
    rows += "<tr class=\"" + std::string(f.error ? "error" : "failure") + "\"><td>" +
            std::to_string(f.seed) + "</td><td class=\"checker\">" + html_escape(checker) +
            "</td><td>" + html_escape(f.first_message) + "</td><td>" + link(f.page, "page") +
            "</td><td>" + link(f.file, "bug file") + "</td></tr>\n";
  }
  const std::string page =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>opsync-sim swarm: " +
      std::to_string(failures.size()) +
      " failures</title>\n<style>body{font:14px system-ui,sans-serif;margin:2em}"
      "table{border-collapse:collapse}td,th{border-bottom:1px solid #ddd;padding:4px "
      "8px;text-align:left;"
      "vertical-align:top}td.checker{font-family:monospace;color:#a00}tr.error "
      "td.checker{color:#a50}</style>"
      "</head>\n<body><h1>opsync-sim swarm</h1>\n<p id=\"summary\">" +
      std::to_string(failures.size()) + " of " + std::to_string(seeds_run) +
      " seeds failed (faults " + html_escape(faults) +
      (variant != Variant::kNone
           ? ", the deliberately broken variant " + std::string(variant_name(variant))
           : "") +
      "). Each bug file replays with <code>opsync-sim replay FILE</code>.</p>\n"
      "<table id=\"failures\"><tr><th>seed</th><th>checker</th><th>first "
      "violation</th><th></th><th></th></tr>\n" +
      rows + "</table></body></html>\n";
  const std::string path = (dir / "index.html").string();
  std::ofstream(path) << page;
  return path;
}

// The progress line: on a terminal, rewritten in place; otherwise a plain line now and then.
class Progress {
 public:
  Progress(uint64_t total, std::string label, std::string unit)
      : total_(total),
        label_(std::move(label)),
        unit_(std::move(unit)),
        terminal_(isatty(STDERR_FILENO) != 0),
        start_(Clock::now()) {}

  void update(uint64_t done, uint64_t failed, bool force = false) {
    const uint64_t elapsed_ms = wall_ms_since(start_);
    if (!terminal_ && !force && elapsed_ms < last_plain_ms_ + kPlainProgressEveryMs) return;
    last_plain_ms_ = elapsed_ms;
    const double per_second =
        elapsed_ms ? static_cast<double>(done) * 1000.0 / static_cast<double>(elapsed_ms) : 0;
    const uint64_t left_s =
        per_second > 0 ? static_cast<uint64_t>(static_cast<double>(total_ - done) / per_second) : 0;
    char rate[32];
    std::snprintf(rate, sizeof rate, "%.1f", per_second);
    const std::string line =
        std::to_string(done) + "/" + std::to_string(total_) + " " + unit_ + ", " +
        std::to_string(failed) + " failed, " + rate + " " + unit_ + "/s" +
        (done < total_ && done > 0 ? ", about " + std::to_string(left_s) + " s left" : "");
    if (terminal_)
      std::cerr << "\r\033[K" << line << std::flush;
    else
      std::cerr << label_ << ": " << line << "\n" << std::flush;
  }
  // A message on a line of its own, the progress line after it.
  void say(const std::string& text) { std::cerr << (terminal_ ? "\r\033[K" : "") << text << "\n"; }
  void finish() {
    if (terminal_) std::cerr << "\r\033[K" << std::flush;
  }

 private:
  uint64_t total_;
  std::string label_;
  std::string unit_;
  bool terminal_;
  Clock::time_point start_;
  uint64_t last_plain_ms_ = 0;
};

}  // namespace

IsolatedRun run_isolated(const Config& config, uint32_t timeout_s, const RunOptions* channels) {
  Child child = spawn(SeedJob{config, {}, ""}, timeout_s, [&] {
    apply_test_hooks(config.seed);
    try {
      return std::string(run(config, channels ? *channels : RunOptions{}).passed() ? "pass"
                                                                                   : "fail");
    } catch (const ChannelBroken& broken) {
      std::cerr << "the client's adapter broke opsync-client-adapter/1: " << broken.message
                << std::endl;
      _exit(3);
    }
  });
  while (true) {  // bounded by the deadline: the child is killed then
    pollfd fds[2] = {{child.out_fd, POLLIN, 0}, {child.err_fd, POLLIN, 0}};
    std::vector<pollfd> ready;
    const int n = poll(fds, 2, kPollTickMs);
    if (n > 0) ready.assign(std::begin(fds), std::end(fds));
    if (!drain(child, ready)) break;
    if (Clock::now() > child.deadline && !child.timed_out) {
      child.timed_out = true;
      kill(child.pid, SIGKILL);
    }
  }
  int status = 0;
  waitpid(child.pid, &status, 0);
  IsolatedRun out;
  if (!child.timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
      (child.out == "pass\n" || child.out == "fail\n")) {
    out.completed = true;
    out.passed = child.out == "pass\n";
    return out;
  }
  out.error = error_of(child, status, timeout_s);
  return out;
}

std::vector<SeedOutcome> run_jobs(const std::vector<SeedJob>& jobs, const SeedRunFlags& flags) {
  if (flags.jobs < 1 || flags.jobs > kJobsMax) throw UsageError{"--jobs must be from 1 to 64"};
  std::error_code ec;
  std::filesystem::create_directories(flags.out_dir, ec);
  // Each job runs in a child process of its own, `jobs` at a time: a run that crashes, aborts
  // or hangs ends its child, is reported with a bug file of its own (outcome error), and every
  // other run still goes.
  Progress progress(jobs.size(), flags.label, flags.unit);
  std::vector<SeedOutcome> outcomes;
  std::vector<Child> running;
  uint64_t failed = 0;
  size_t next = 0;
  const std::string replay_program = flags.program.empty() ? "opsync-sim" : flags.program;
  while (next < jobs.size() || !running.empty()) {  // bounded: every child ends by its deadline
    while (running.size() < flags.jobs && next < jobs.size()) {
      const SeedJob& job = jobs[next++];
      running.push_back(
          spawn(job, flags.seed_timeout_s, [&] { return encode(run_job(job, flags)); }));
    }
    std::vector<pollfd> fds;
    for (const Child& c : running) {
      if (c.out_fd >= 0) fds.push_back({c.out_fd, POLLIN, 0});
      if (c.err_fd >= 0) fds.push_back({c.err_fd, POLLIN, 0});
    }
    if (poll(fds.data(), fds.size(), kPollTickMs) < 0 && errno != EINTR)
      throw UsageError{"poll failed"};
    for (auto it = running.begin(); it != running.end();) {
      Child& child = *it;
      if (Clock::now() > child.deadline && !child.timed_out) {
        child.timed_out = true;
        kill(child.pid, SIGKILL);
      }
      if (drain(child, fds)) {
        ++it;
        continue;
      }
      int status = 0;
      waitpid(child.pid, &status, 0);
      std::optional<SeedOutcome> outcome;
      if (!child.timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0)
        outcome = decode(child.out);
      if (!outcome) {
        outcome = SeedOutcome{};
        outcome->seed = child.job.config.seed;
        outcome->name = child.job.name;
        outcome->passed = false;
        outcome->error = true;
        outcome->checkers = {"error"};
        outcome->first_message = error_of(child, status, flags.seed_timeout_s);
        outcome->file = save_bug(error_bug(child.job, flags, outcome->first_message), flags.out_dir,
                                 child.job.name);
      }
      if (!outcome->passed && !flags.quiet)
        progress.say(
            (outcome->name.empty() ? "seed " + std::to_string(outcome->seed) : outcome->name) +
            " FAILED: " + outcome->first_message + "\n  replay: " + replay_program + " replay " +
            outcome->file);
      if (!outcome->passed) ++failed;
      outcomes.push_back(std::move(*outcome));
      progress.update(outcomes.size(), failed, outcomes.size() == jobs.size());
      it = running.erase(it);
    }
    progress.update(outcomes.size(), failed);
  }
  progress.finish();
  // In the jobs' order, whatever order they ended in.
  std::map<std::pair<std::string, uint64_t>, size_t> order;
  for (size_t i = 0; i < jobs.size(); ++i)
    order.emplace(std::make_pair(jobs[i].name, jobs[i].config.seed), i);
  std::sort(outcomes.begin(), outcomes.end(), [&](const SeedOutcome& a, const SeedOutcome& b) {
    return order[{a.name, a.seed}] < order[{b.name, b.seed}];
  });
  return outcomes;
}

int swarm_command(const SwarmFlags& flags) {
  Result<FaultProfile> base = load_fault_profile(flags.faults);
  if (!base.ok()) throw UsageError{base.error().message};
  std::optional<Protocol> protocol = protocol_from_name(flags.protocol);
  if (!protocol)
    throw UsageError{"--protocol must be opsync-v1 or dataans-0.3, not \"" + flags.protocol + "\""};
  const std::optional<Variant> variant = variant_or_usage_error(flags.variant);
  if (*protocol == Protocol::kDataans03 && *variant != Variant::kNone)
    throw UsageError{"--variant changes opsync-v1; dataans-0.3 has none"};
  if (!flags.adapter.empty() && (*protocol != Protocol::kOpsyncV1 || *variant != Variant::kNone))
    throw UsageError{
        "--adapter runs a client under test against the reference server: no --protocol or "
        "--variant "
        "(a broken client is the adapter's own, e.g. opsync-client-adapter --variant NAME)"};
  auto config_of = [&](uint64_t seed) {
    Config config = swarm_config(seed, *base, *protocol);
    config.variant = *variant;
    return config;
  };
  if (flags.show) {
    // The seed's draw, as `run --config FILE` takes it.
    std::cout << to_json(config_of(*flags.show)).dump(2) << "\n";
    return kExitPass;
  }
  const auto [shard_index, shard_count] = parse_shard(flags.shard);
  if (flags.first_seed > UINT64_MAX - flags.seeds)
    throw UsageError{"--first-seed plus --seeds passes 2^64"};
  std::error_code ec;
  std::filesystem::create_directories(flags.out_dir, ec);

  // This shard's seeds: every seed whose position in the range falls to it.
  std::vector<uint64_t> seeds;
  for (uint64_t i = 0; i < flags.seeds; ++i)
    if (i % shard_count == shard_index - 1) seeds.push_back(flags.first_seed + i);

  std::vector<SeedJob> jobs;
  for (uint64_t seed : seeds) jobs.push_back(SeedJob{config_of(seed), {}, ""});
  SeedRunFlags run_flags;
  run_flags.jobs = flags.jobs;
  run_flags.seed_timeout_s = flags.seed_timeout_s;
  run_flags.out_dir = flags.out_dir;
  run_flags.adapter = flags.adapter;
  run_flags.turn_timeout_ms = flags.turn_timeout_ms;
  run_flags.program = flags.program;
  const auto start = Clock::now();
  std::vector<SeedOutcome> outcomes = run_jobs(jobs, run_flags);
  const uint64_t wall_ms = wall_ms_since(start);
  std::map<std::string, uint64_t> by_checker;
  uint64_t failed = 0;
  for (const SeedOutcome& o : outcomes) {
    if (o.passed) continue;
    ++failed;
    for (const std::string& c : o.checkers) ++by_checker[c];
  }
  const bool complete = outcomes.size() == seeds.size();

  std::vector<SeedOutcome> failures;
  for (const SeedOutcome& o : outcomes)
    if (!o.passed) failures.push_back(o);
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
                            {"jobs", flags.jobs},
                            {"by_checker", by_checker},
                            {"failures", nlohmann::json::array()}};
  for (const SeedOutcome& o : failures)
    summary["failures"].push_back({{"seed", o.seed},
                                   {"checkers", o.checkers},
                                   {"message", o.first_message},
                                   {"file", o.file},
                                   {"outcome", o.error ? "error" : "fail"}});
  if (!flags.verdicts_path.empty()) {
    // Seed for seed, to compare two builds or two clients over the same seeds: the verdict and the
    // trace hash of the first run of each seed.
    std::ofstream out(flags.verdicts_path);
    for (const SeedOutcome& o : outcomes) {
      const char* verdict = o.passed ? "pass" : o.error ? "error" : "fail";
      out << nlohmann::json{{"seed", o.seed},
                            {"verdict", verdict},
                            {"hash", o.hash},
                            {"events", o.events}}
                 .dump()
          << "\n";
    }
    if (!out) throw UsageError{"cannot write " + flags.verdicts_path};
  }
  if (!flags.json_path.empty()) {
    std::ofstream out(flags.json_path);
    out << summary.dump(2) << "\n";
    if (!out) throw UsageError{"cannot write " + flags.json_path};
  }
  std::cout << outcomes.size() << " seeds (" << outcomes.size() * 2
            << " runs, every one compared with its twin), " << failed << " failed, in "
            << wall_ms / 1000.0 << " s with " << flags.jobs << " jobs\n";
  for (const auto& [checker, count] : by_checker)
    std::cout << "  " << checker << ": " << count << "\n";
  if (!failures.empty())
    std::cout << "  every failure, with its page and bug file: "
              << write_index(flags.out_dir, failures, outcomes.size(), base->name, *variant)
              << "\n";
  if (!complete) std::cout << "  " << seeds.size() - outcomes.size() << " seeds did not run\n";
  return failed == 0 && complete ? kExitPass : kExitFail;
}

int merge_command(const std::vector<std::string>& paths, const std::string& json_path) {
  if (paths.empty()) throw UsageError{"merge needs at least one swarm summary"};
  nlohmann::json merged = {{"format", "opsync-sim-swarm/1"},
                           {"shards", nlohmann::json::array()},
                           {"seeds_run", 0},
                           {"runs", 0},
                           {"failed", 0},
                           {"complete", true},
                           {"wall_ms", 0},
                           {"by_checker", nlohmann::json::object()},
                           {"failures", nlohmann::json::array()}};
  // The shards must be slices of one swarm: the same seeds, faults, protocol and variant, and
  // shard counts that agree; each slice once, and every slice there.
  const char* kSameInEvery[] = {"first_seed", "seeds", "faults", "protocol", "variant"};
  std::set<uint64_t> indexes;
  uint64_t count = 0;
  for (const std::string& path : paths) {
    const nlohmann::json s = read_json_file(path);
    if (!s.is_object() || s.value("format", "") != "opsync-sim-swarm/1")
      throw UsageError{path + " is not a swarm summary (format opsync-sim-swarm/1)"};
    try {
      const std::string shard = s.at("shard");
      const auto [index, of] = parse_shard(shard);
      for (const char* member : kSameInEvery) {
        if (!merged.contains(member))
          merged[member] = s.at(member);
        else if (merged[member] != s.at(member))
          throw UsageError{path + " is a shard of another swarm: its " + member + " is " +
                           s.at(member).dump() + ", not " + merged[member].dump()};
      }
      if (count == 0) count = of;
      if (of != count)
        throw UsageError{path + " is shard " + shard + ", of " + std::to_string(of) +
                         " shards; the others are of " + std::to_string(count)};
      if (!indexes.insert(index).second)
        throw UsageError{path + ": shard " + shard + " appears twice"};
      merged["shards"].push_back(shard);
      merged["seeds_run"] = merged["seeds_run"].get<uint64_t>() + s.at("seeds_run").get<uint64_t>();
      merged["runs"] = merged["runs"].get<uint64_t>() + s.at("runs").get<uint64_t>();
      merged["failed"] = merged["failed"].get<uint64_t>() + s.at("failed").get<uint64_t>();
      merged["complete"] = merged["complete"].get<bool>() && s.at("complete").get<bool>();
      merged["wall_ms"] =
          std::max(merged["wall_ms"].get<uint64_t>(), s.at("wall_ms").get<uint64_t>());
      for (const auto& [checker, n] : s.at("by_checker").items())
        merged["by_checker"][checker] =
            merged["by_checker"].value(checker, uint64_t{0}) + n.get<uint64_t>();
      for (const nlohmann::json& f : s.at("failures")) merged["failures"].push_back(f);
    } catch (const nlohmann::json::exception& e) {
      throw UsageError{path + " is damaged: " + e.what()};
    }
  }
  std::vector<std::string> missing;
  for (uint64_t index = 1; index <= count; ++index)
    if (!indexes.count(index))
      missing.push_back(std::to_string(index) + "/" + std::to_string(count));
  merged["missing_shards"] = missing;
  if (!missing.empty()) merged["complete"] = false;
  std::sort(
      merged["failures"].begin(), merged["failures"].end(),
      [](const nlohmann::json& a, const nlohmann::json& b) { return a.at("seed") < b.at("seed"); });
  if (!json_path.empty()) {
    std::ofstream out(json_path);
    out << merged.dump(2) << "\n";
    if (!out) throw UsageError{"cannot write " + json_path};
  }
  std::cout << merged["seeds_run"].get<uint64_t>() << " seeds from " << paths.size() << " of "
            << count << " shards, " << merged["failed"].get<uint64_t>() << " failed\n";
  for (const auto& [checker, n] : merged["by_checker"].items())
    std::cout << "  " << checker << ": " << n.get<uint64_t>() << "\n";
  for (const std::string& shard : missing)
    std::cout << "  shard " << shard << " is missing: its seeds did not run\n";
  if (!merged["complete"].get<bool>() && missing.empty())
    std::cout << "  some shard did not run all its seeds\n";
  return merged["failed"].get<uint64_t>() == 0 && merged["complete"].get<bool>() ? kExitPass
                                                                                 : kExitFail;
}

}  // namespace opsync::simulator::tool
