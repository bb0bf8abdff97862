#include "certify.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "common.h"
#include "opsync/conformance/report.h"
#include "opsync/conformance/runner.h"
#include "opsync/simulator/config.h"
#include "process_channel.h"
#include "swarm.h"

namespace opsync::simulator::tool {

// simulator/certification/cases.json and scope.json, built into the program.
std::string_view embedded_client_cases();
std::string_view embedded_client_scope();

namespace {

namespace conf = opsync::conformance;
using Clock = std::chrono::steady_clock;

constexpr const char* kCasesFormat = "opsync-client-cases/1";
constexpr const char* kScopeFormat = "opsync-client-scope/1";
constexpr const char* kSwarmCaseId = "swarm-001";
// What the swarm's checkers judge on every seed: the requirements that a drawn run under every
// fault can show broken.
constexpr const char* kSwarmRequirements =
    "LWW-010 LWW-011 LWW-012 LWW-013 HLC-001 HLC-002 HLC-004 HLC-020 SYNC-001 SYNC-003 SYNC-004 "
    "SYNC-005 SYNC-008 "
    "SYNC-011 SYNC-012 SYNC-020 SEC-001 CRY-004 FILE-023 FILE-030 FILE-031 FILE-040 LIM-003 OP-002";

// ---- the catalog -------------------------------------------------------------------------------

struct ClientCase {
  std::string id;
  std::string level;
  std::string requirements;  // space-separated, as conformance cases hold them
  std::string description;
  std::set<uint32_t> reference_devices;
  nlohmann::json config_patch;
  conf::Case entry;
};

struct Catalog {
  nlohmann::json base;
  std::vector<std::unique_ptr<ClientCase>> cases;  // scripted, then the swarm
  std::vector<const conf::Case*> entries;
  std::map<std::string, std::string> scope;  // requirement id -> why no case checks it
};

[[noreturn]] void broken_catalog(const std::string& what) {
  // The files are built into the program and checked by its tests; this is a build's defect.
  OPSYNC_CHECK_MSG(false, ("simulator/certification: " + what).c_str());
  std::abort();
}

const Catalog& catalog() {
  static const Catalog built = [] {
    Catalog out;
    const nlohmann::json doc = nlohmann::json::parse(embedded_client_cases(), nullptr, false);
    if (!doc.is_object() || doc.value("format", "") != kCasesFormat)
      broken_catalog("cases.json is not " + std::string(kCasesFormat));
    out.base = doc.at("base");
    std::set<std::string> ids;
    for (const nlohmann::json& c : doc.at("cases")) {
      auto entry = std::make_unique<ClientCase>();
      entry->id = c.at("id").get<std::string>();
      entry->level = c.at("level").get<std::string>();
      entry->description = c.at("description").get<std::string>();
      for (const nlohmann::json& r : c.at("requirements"))
        entry->requirements += (entry->requirements.empty() ? "" : " ") + r.get<std::string>();
      if (c.contains("reference_devices"))
        for (const nlohmann::json& d : c.at("reference_devices"))
          entry->reference_devices.insert(d.get<uint32_t>());
      entry->config_patch = c.at("config");
      if (!ids.insert(entry->id).second) broken_catalog("case " + entry->id + " twice");
      if (entry->level != "MUST" && entry->level != "SHOULD")
        broken_catalog(entry->id + " has level " + entry->level);
      out.cases.push_back(std::move(entry));
    }
    auto swarm = std::make_unique<ClientCase>();
    swarm->id = kSwarmCaseId;
    swarm->level = "MUST";
    swarm->requirements = kSwarmRequirements;
    swarm->description =
        "Seeds of drawn workloads under every fault the simulator has (lost, late and duplicated "
        "messages, "
        "partitions, skewed, stepped and stopped clocks, kills at durable steps, server crashes, "
        "backups and "
        "restores, joins and revocations), each judged by every checker";
    out.cases.push_back(std::move(swarm));
    for (auto& c : out.cases) {
      c->entry = conf::Case{c->id,
                            c->requirements,
                            c->level == "MUST" ? conf::Level::kMust : conf::Level::kShould,
                            conf::Capability::kNone,
                            c->description,
                            nullptr};
      out.entries.push_back(&c->entry);
    }
    const nlohmann::json scope = nlohmann::json::parse(embedded_client_scope(), nullptr, false);
    if (!scope.is_object() || scope.value("format", "") != kScopeFormat)
      broken_catalog("scope.json is not " + std::string(kScopeFormat));
    for (const auto& [id, reason] : scope.at("notes").items())
      out.scope[id] = reason.get<std::string>();
    return out;
  }();
  return built;
}

const ClientCase& client_case(std::string_view id) {
  for (const auto& c : catalog().cases)
    if (c->id == id) return *c;
  broken_catalog("no case " + std::string(id));
}

// A case's run: the base configuration, the case's members over it, the seed.
Config case_config(const ClientCase& c, uint64_t seed) {
  const nlohmann::json& base = catalog().base;
  Config config = default_config(seed);
  std::optional<FaultProfile> faults = named_profile(base.at("faults").get<std::string>());
  if (!faults) broken_catalog("the base names an unknown fault profile");
  config.faults = *faults;
  nlohmann::json json = to_json(config);
  for (const auto& [member, value] : base.items())
    if (member != "faults") json[member] = value;
  for (const auto& [member, value] : c.config_patch.items()) {
    if (member == "faults")
      json["faults"].merge_patch(value);
    else
      json[member] = value;
  }
  json["seed"] = seed;
  Result<Config> parsed = config_from_json(json);
  if (!parsed.ok()) broken_catalog(c.id + " has a bad configuration: " + parsed.error().message);
  if (Status valid = validate(*parsed); !valid.ok())
    broken_catalog(c.id + ": " + valid.error().message);
  for (uint32_t d : c.reference_devices)
    if (d >= parsed->devices + parsed->faults.joins)
      broken_catalog(c.id + " names reference device " + std::to_string(d));
  return *parsed;
}

// ---- coverage: the client-side requirements ----------------------------------------------------

// The requirements that bind clients: those the server suite's scope notes as the client's.
std::vector<const conf::Requirement*> client_requirements() {
  std::vector<const conf::Requirement*> out;
  for (const conf::Requirement& r : conf::requirement_catalog()) {
    auto note = conf::scope_notes().find(r.id);
    if (note != conf::scope_notes().end() && note->second.kind == "client") out.push_back(&r);
  }
  return out;
}

std::vector<std::string> split_ids(std::string_view list) {
  std::vector<std::string> out;
  std::istringstream in{std::string(list)};
  for (std::string id; in >> id;) out.push_back(id);
  return out;
}

struct ClientCoverageRow {
  const conf::Requirement* requirement;
  std::vector<std::string> cases;
  const std::string* reason = nullptr;  // why no case checks it
};

std::vector<ClientCoverageRow> client_coverage() {
  std::vector<ClientCoverageRow> rows;
  for (const conf::Requirement* r : client_requirements()) {
    ClientCoverageRow row{r, {}, nullptr};
    for (const auto& c : catalog().cases)
      for (const std::string& id : split_ids(c->requirements))
        if (id == r->id) row.cases.push_back(c->id);
    auto note = catalog().scope.find(r->id);
    if (note != catalog().scope.end()) row.reason = &note->second;
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<std::string> client_coverage_problems() {
  std::vector<std::string> problems;
  std::set<std::string> client_ids;
  for (const ClientCoverageRow& row : client_coverage()) {
    client_ids.insert(row.requirement->id);
    const bool must = row.requirement->level.rfind("MUST", 0) == 0;
    if (must && row.cases.empty() && !row.reason)
      problems.push_back(row.requirement->id + " (" + row.requirement->level +
                         ") has no case and no note saying why");
    if (!row.cases.empty() && row.reason)
      problems.push_back(row.requirement->id + " has cases and a note saying none checks it");
  }
  for (const auto& c : catalog().cases)
    for (const std::string& id : split_ids(c->requirements))
      if (!client_ids.count(id))
        problems.push_back(c->id + " cites " + id +
                           ", which is not a client-side requirement of the spec");
  for (const auto& [id, reason] : catalog().scope)
    if (!client_ids.count(id))
      problems.push_back("scope.json notes " + id + ", which is not a client-side requirement");
  return problems;
}

int coverage_command(const CertifyFlags& flags) {
  const std::vector<ClientCoverageRow> rows = client_coverage();
  const std::vector<std::string> problems = client_coverage_problems();
  if (!flags.coverage_json.empty()) {
    nlohmann::ordered_json doc;
    doc["format"] = "opsync-client-coverage/1";
    doc["requirements"] = nlohmann::ordered_json::array();
    for (const ClientCoverageRow& row : rows) {
      nlohmann::ordered_json r = {{"id", row.requirement->id},
                                  {"level", row.requirement->level},
                                  {"summary", row.requirement->summary},
                                  {"cases", row.cases}};
      if (row.reason) r["unchecked"] = *row.reason;
      doc["requirements"].push_back(std::move(r));
    }
    doc["problems"] = problems;
    std::ofstream out(flags.coverage_json);
    out << doc.dump(2) << "\n";
    if (!out) throw UsageError{"cannot write " + flags.coverage_json};
  }
  std::map<std::string, std::pair<size_t, size_t>> by_level;  // level -> covered, total
  for (const ClientCoverageRow& row : rows) {
    auto& [covered, total] = by_level[row.requirement->level];
    ++total;
    std::string what;
    if (!row.cases.empty()) {
      ++covered;
      for (const std::string& c : row.cases) what += (what.empty() ? "" : " ") + c;
    } else {
      what = row.reason ? "unchecked: " + *row.reason : "NOT COVERED";
    }
    char head[48];
    std::snprintf(head, sizeof head, "%-9s %-10s ", row.requirement->id.c_str(),
                  row.requirement->level.c_str());
    std::cout << head << what << "\n";
  }
  std::cout << "\n";
  for (const auto& [level, numbers] : by_level)
    std::cout << level << ": " << numbers.first << " of " << numbers.second
              << " client-side requirements checked by cases\n";
  for (const std::string& p : problems) std::cout << "problem: " << p << "\n";
  if (problems.empty())
    std::cout
        << "every client-side MUST and MUST NOT requirement has a case or a note saying why not\n";
  return problems.empty() ? kExitPass : kExitFail;
}

// ---- the run -----------------------------------------------------------------------------------

// A TurnHost for the preflight: randomness of zeros, every durable step goes on.
class PreflightHost final : public adapter::TurnHost {
 public:
  void random(std::span<uint8_t> out) override { std::fill(out.begin(), out.end(), uint8_t{0}); }
  void durable(std::string_view) override {}
  void committed(const adapter::CommitNote&) override {}
};

// Starts the adapter once, on an empty directory, and reads its ready: a command that does not
// run, or does not speak the protocol, is said once and at once, before any case.
adapter::Ready preflight(const CertifyFlags& flags) {
  std::string dir =
      (std::filesystem::temp_directory_path() / "opsync-certify-preflight-XXXXXX").string();
  if (!mkdtemp(dir.data())) throw UsageError{"cannot make a temporary directory"};
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } cleanup{dir};
  ChannelFactory factory = process_channels(flags.adapter, flags.turn_timeout_ms);
  PreflightHost host;
  try {
    std::unique_ptr<AdapterChannel> channel =
        factory(ChannelRequest{0, "device-0", dir + "/device-0"});
    adapter::Start start{"device-0", dir + "/device-0", false, {}, flags.turn_timeout_ms};
    const adapter::Yield yield =
        channel->turn(start, client::DeviceTime{1'764'000'000'000, 0}, host);
    const auto* ready = std::get_if<adapter::Ready>(&yield);
    if (!ready)
      throw UsageError{"the adapter \"" + flags.adapter +
                       "\" answered start with something other than ready (ADP-020)" +
                       channel->diagnostics()};
    return *ready;
  } catch (const ChannelBroken& broken) {
    throw UsageError{"the adapter \"" + flags.adapter +
                     "\" does not start as opsync-client-adapter/1 says: " + broken.message};
  }
}

// The requirement a violation's message names, else the case's first.
std::string requirement_of(const std::string& message, const ClientCase& c) {
  static const std::regex id_pattern("\\b([A-Z]{2,5}-[0-9]{3})\\b");
  std::smatch m;
  if (std::regex_search(message, m, id_pattern)) return m[1];
  const std::vector<std::string> ids = split_ids(c.requirements);
  return ids.empty() ? "" : ids.front();
}

std::string replay_hint(const CertifyFlags& flags, const std::string& file) {
  return (flags.program.empty() ? std::string("opsync-sim") : flags.program) + " replay " + file;
}

conf::CaseResult scripted_result(const ClientCase& c, const SeedOutcome& o,
                                 const CertifyFlags& flags) {
  conf::CaseResult r;
  r.c = &c.entry;
  r.duration_ms = static_cast<double>(o.wall_ms);
  if (o.passed) {
    r.outcome = conf::Outcome::kPass;
    r.note = std::to_string(o.events) + " events, trace " + o.hash.substr(0, 16);
    return r;
  }
  if (o.error) {
    r.outcome = conf::Outcome::kError;
    r.note = o.first_message + "\nbug file: " + o.file + "\nreplay: " + replay_hint(flags, o.file);
    return r;
  }
  r.outcome = conf::Outcome::kFail;
  for (const auto& [checker, message] : o.violations)
    r.failures.push_back(
        conf::Check{requirement_of(message, c), "the " + checker + " checker holds", message});
  if (r.failures.empty())
    r.failures.push_back(
        conf::Check{requirement_of(o.first_message, c), "every checker holds", o.first_message});
  r.note = "bug file: " + o.file + (o.page.empty() ? "" : "\npage: " + o.page) +
           "\nreplay: " + replay_hint(flags, o.file);
  return r;
}

conf::CaseResult swarm_result(const ClientCase& c, const std::vector<const SeedOutcome*>& seeds,
                              const CertifyFlags& flags) {
  conf::CaseResult r;
  r.c = &c.entry;
  uint64_t events = 0, failed = 0, errors = 0;
  for (const SeedOutcome* o : seeds) {
    r.duration_ms += static_cast<double>(o->wall_ms);
    events += o->events;
    if (o->passed) continue;
    if (o->error)
      ++errors;
    else
      ++failed;
    r.failures.push_back(conf::Check{
        requirement_of(o->first_message, c),
        "every checker holds on seed " + std::to_string(o->seed),
        o->first_message + " (bug file " + o->file + "; " + replay_hint(flags, o->file) + ")"});
  }
  r.outcome = failed ? conf::Outcome::kFail : errors ? conf::Outcome::kError : conf::Outcome::kPass;
  r.note = std::to_string(seeds.size()) + " seeds from " + std::to_string(flags.seed) + ", " +
           std::to_string(events) + " events; " + std::to_string(failed) + " failed, " +
           std::to_string(errors) + " ended in error";
  return r;
}

}  // namespace

int certify_client_command(const CertifyFlags& flags) {
  const Catalog& cat = catalog();
  if (flags.coverage || !flags.coverage_json.empty()) return coverage_command(flags);
  if (flags.level != "must" && flags.level != "should")
    throw UsageError{"--level must be must or should, not \"" + flags.level + "\""};
  conf::Selection selection;
  selection.level = flags.level == "must" ? conf::Level::kMust : conf::Level::kShould;
  selection.filters = flags.filters;
  const std::vector<const conf::Case*> selected = conf::select_cases(cat.entries, selection);
  if (flags.list) {
    for (const conf::Case* c : selected)
      std::cout << c->id << "  " << conf::level_name(c->level) << "  " << c->requirements
                << "\n    " << c->description << "\n";
    return kExitPass;
  }
  if (flags.adapter.empty())
    throw UsageError{
        "certify-client needs --adapter CMD: the command that runs your client's adapter"};
  if (selected.empty())
    throw UsageError{"no case matches the --filter and --level given (--list shows them)"};
  if (flags.swarm_seeds > 100000) throw UsageError{"--swarm-seeds: at most 100000"};
  if (flags.seed > UINT64_MAX - flags.swarm_seeds)
    throw UsageError{"--seed plus --swarm-seeds passes 2^64"};
  conf::KnownFailures known;
  if (!flags.known_failures.empty()) {
    Result<conf::KnownFailures> read = conf::KnownFailures::read(flags.known_failures, cat.entries);
    if (!read.ok()) throw UsageError{read.error().message};
    known = *read;
  }
  const adapter::Ready ready = preflight(flags);

  const auto start = Clock::now();
  const std::string started_at = conf::utc_now_iso8601();
  std::vector<SeedJob> jobs;
  for (const conf::Case* c : selected) {
    const ClientCase& cc = client_case(c->id);
    if (cc.id == kSwarmCaseId) {
      const FaultProfile everything = *named_profile("everything");
      for (uint64_t i = 0; i < flags.swarm_seeds; ++i) {
        const uint64_t seed = flags.seed + i;
        jobs.push_back(SeedJob{swarm_config(seed, everything, Protocol::kOpsyncV1),
                               {},
                               cc.id + "-seed-" + std::to_string(seed)});
      }
    } else {
      jobs.push_back(SeedJob{case_config(cc, flags.seed), cc.reference_devices, cc.id});
    }
  }
  SeedRunFlags run_flags;
  run_flags.jobs = flags.jobs;
  run_flags.seed_timeout_s = flags.run_timeout_s;
  run_flags.out_dir = flags.out_dir;
  run_flags.adapter = flags.adapter;
  run_flags.turn_timeout_ms = flags.turn_timeout_ms;
  run_flags.twice = false;
  run_flags.quiet = true;
  run_flags.program = flags.program;
  run_flags.label = "certify-client";
  run_flags.unit = "runs";
  const std::vector<SeedOutcome> outcomes = run_jobs(jobs, run_flags);

  conf::RunReport report;
  report.suite_version = OPSYNC_VERSION;
  report.subject = conf::Subject::kClient;
  report.subject_address = flags.adapter;
  report.info.server.name = ready.client;
  report.seed = flags.seed;
  report.level = flags.level;
  report.filters = flags.filters;
  report.started_at = started_at;
  std::vector<const SeedOutcome*> swarm;
  for (const conf::Case* c : selected) {
    const ClientCase& cc = client_case(c->id);
    if (cc.id == kSwarmCaseId) {
      for (const SeedOutcome& o : outcomes)
        if (o.name.rfind(cc.id + "-seed-", 0) == 0) swarm.push_back(&o);
      report.results.push_back(swarm_result(cc, swarm, flags));
      continue;
    }
    auto it = std::find_if(outcomes.begin(), outcomes.end(),
                           [&](const SeedOutcome& o) { return o.name == cc.id; });
    OPSYNC_CHECK_MSG(it != outcomes.end(), "every selected case ran");
    report.results.push_back(scripted_result(cc, *it, flags));
  }
  for (conf::CaseResult& r : report.results) {
    if (r.outcome == conf::Outcome::kFail && r.c->level == conf::Level::kShould)
      r.outcome = conf::Outcome::kWarn;
    auto reason = known.reasons.find(std::string(r.c->id));
    if (reason == known.reasons.end()) continue;
    if (r.outcome == conf::Outcome::kFail || r.outcome == conf::Outcome::kWarn ||
        r.outcome == conf::Outcome::kError) {
      r.outcome = conf::Outcome::kKnownFailure;
      r.note = "known failure: " + reason->second + (r.note.empty() ? "" : "\n" + r.note);
    } else if (r.outcome == conf::Outcome::kPass) {
      r.outcome = conf::Outcome::kFixed;
      r.note =
          "listed as a known failure (" + reason->second + "), and it passes: take it off the list";
    }
  }
  report.duration_ms = static_cast<double>(wall_ms_since(start));

  conf::write_summary(std::cout, report);
  auto write = [&](const std::string& path, void (*writer)(std::ostream&, const conf::RunReport&)) {
    if (path.empty()) return;
    std::ofstream out(path);
    writer(out, report);
    if (!out) throw UsageError{"cannot write " + path};
  };
  write(flags.junit_path, conf::write_junit);
  write(flags.json_path, conf::write_json);
  write(flags.html_path, conf::write_html);
  bool any_failed = false;
  for (const SeedOutcome& o : outcomes) any_failed = any_failed || !o.passed;
  if (any_failed) std::cout << "bug files and pages of the failures: " << flags.out_dir << "/\n";
  return report.exit_code();
}

}  // namespace opsync::simulator::tool
