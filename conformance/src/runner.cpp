#include "opsync/conformance/runner.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "opsync/protocol/endpoints.h"

namespace opsync::conformance {
std::string utc_now_iso8601() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

namespace {

using Clock = std::chrono::steady_clock;

// A line of a text file without its blanks at either end, and the CR of a CRLF file.
std::string_view trim_line(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r'))
    text.remove_suffix(1);
  return text;
}

// Whether the run can satisfy a case's need, and why not when it cannot.
std::optional<std::string> unmet_need(const Case& c, const Options& options,
                                      const RunFacts& facts) {
  switch (c.needs) {
    case Capability::kNone:
      return std::nullopt;
    case Capability::kFiles:
      if (facts.info.has_capability("files")) return std::nullopt;
      return "the server does not advertise the capability files";
    case Capability::kWorkspaceDelete:
      if (facts.info.has_capability("workspace_delete")) return std::nullopt;
      return "the server does not advertise the capability workspace_delete";
    case Capability::kNewWorkspaces:
      if (facts.can_create_workspaces) return std::nullopt;
      return facts.create_workspace_problem;
    case Capability::kRestart:
      if (!options.restart_cmd.empty()) return std::nullopt;
      return "give --restart-cmd to run the durability cases";
    case Capability::kRestore:
      if (!options.restore_cmd.empty()) return std::nullopt;
      return "give --restore-cmd to run the restore cases";
  }
  return std::nullopt;
}

CaseResult run_one(const Case& c, const Options& options, const RunFacts& facts) {
  CaseResult result;
  result.c = &c;
  const Clock::time_point started = Clock::now();
  if (std::optional<std::string> unmet = unmet_need(c, options, facts)) {
    result.outcome = Outcome::kSkip;
    result.note = *unmet;
    return result;
  }
  try {
    CaseContext context(options, facts, c, result);
    c.run(context);
    result.outcome = result.failures.empty() ? Outcome::kPass : Outcome::kFail;
  } catch (const CaseStop& stop) {
    result.outcome = stop.outcome;
    result.note = stop.why;
    // A stop for a failure names it, when no check did (a server that stopped answering).
    if (stop.outcome == Outcome::kFail && result.failures.empty())
      result.failures.push_back(Check{stop.why.substr(0, 7), stop.why, ""});
  } catch (const std::exception& e) {
    result.outcome = Outcome::kError;
    result.note = std::string("the suite failed: ") + e.what();
  }
  // A SHOULD not met is a warning, not a failure.
  if (result.outcome == Outcome::kFail && c.level == Level::kShould)
    result.outcome = Outcome::kWarn;
  result.duration_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  return result;
}

}  // namespace

std::string_view level_name(Level level) { return level == Level::kMust ? "MUST" : "SHOULD"; }

std::string_view capability_name(Capability capability) {
  switch (capability) {
    case Capability::kNone:
      return "";
    case Capability::kFiles:
      return "files";
    case Capability::kWorkspaceDelete:
      return "workspace_delete";
    case Capability::kNewWorkspaces:
      return "new_workspaces";
    case Capability::kRestart:
      return "restart";
    case Capability::kRestore:
      return "restore";
  }
  return "";
}

std::string_view outcome_name(Outcome outcome) {
  switch (outcome) {
    case Outcome::kPass:
      return "pass";
    case Outcome::kFail:
      return "fail";
    case Outcome::kWarn:
      return "warn";
    case Outcome::kSkip:
      return "skip";
    case Outcome::kKnownFailure:
      return "known-failure";
    case Outcome::kFixed:
      return "fixed";
    case Outcome::kError:
      return "error";
  }
  return "error";
}

Result<KnownFailures> KnownFailures::read(const std::string& path,
                                          const std::vector<const Case*>& cases) {
  std::ifstream in(path);
  if (!in) return Error(Code::kInvalidField, "known-failures", "cannot read " + path);
  KnownFailures known;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    // Editors on some systems start a file with a byte order mark; it is no part of the first id.
    if (number == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
    const std::string_view text = trim_line(line);
    if (text.empty() || text[0] == '#') continue;
    const size_t space = text.find_first_of(" \t");
    const std::string id(text.substr(0, space));
    const std::string reason(space == std::string_view::npos ? "" : trim_line(text.substr(space)));
    const bool exists =
        std::any_of(cases.begin(), cases.end(), [&](const Case* c) { return c->id == id; });
    if (!exists)
      return Error(Code::kInvalidField, "known-failures",
                   path + ":" + std::to_string(number) + ": no case has the id " + id);
    if (reason.empty())
      return Error(
          Code::kInvalidField, "known-failures",
          path + ":" + std::to_string(number) + ": say why " + id + " is expected to fail");
    // A second line for one id would silently replace the first reason: say so instead.
    if (known.reasons.count(id))
      return Error(Code::kInvalidField, "known-failures",
                   path + ":" + std::to_string(number) + ": " + id + " is listed twice");
    known.reasons[id] = reason;
  }
  return known;
}

bool glob_matches(std::string_view pattern, std::string_view id) {
  // Iterative matching with one backtrack point per '*': linear in practice, never recursive.
  size_t p = 0, i = 0, star = std::string_view::npos, resume = 0;
  while (i < id.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == id[i])) {
      ++p;
      ++i;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = i;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      i = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::vector<const Case*> select_cases(const std::vector<const Case*>& cases,
                                      const Selection& selection) {
  std::vector<const Case*> out;
  for (const Case* c : cases) {
    if (selection.level == Level::kMust && c->level != Level::kMust) continue;
    if (!selection.filters.empty() &&
        std::none_of(selection.filters.begin(), selection.filters.end(),
                     [&](const std::string& f) { return glob_matches(f, c->id); }))
      continue;
    out.push_back(c);
  }
  return out;
}

std::map<Outcome, size_t> RunReport::counts(std::optional<Level> level) const {
  std::map<Outcome, size_t> out;
  for (const CaseResult& r : results)
    if (!level || r.c->level == *level) ++out[r.outcome];
  return out;
}

int RunReport::exit_code() const {
  for (const CaseResult& r : results)
    if (r.outcome == Outcome::kFail || r.outcome == Outcome::kError) return 1;
  return 0;
}

Result<RunFacts> gather_facts(const Options& options) {
  RunFacts facts;
  HttpRequest info{
      "GET", endpoint_path(EndpointId::kInfo, {}), {{"OpSync-Test-Case", "setup"}}, "", true};
  Result<HttpResponse> answer = exchange_once(options.server, info, options.timeout_ms);
  if (!answer.ok() && !options.server.tls) {
    // A TLS server may close on plain HTTP without a word: a handshake that succeeds says why.
    Server as_tls = options.server;
    as_tls.tls = true;
    as_tls.insecure = true;
    if (exchange_once(as_tls, info, options.timeout_ms).ok())
      return Error(Code::kTransport,
                   "cannot reach " + options.server.url +
                       ": the server answers TLS, not plain HTTP: use https:// in --server");
  }
  if (!answer.ok())
    return Error(Code::kTransport,
                 "cannot reach " + options.server.url + ": " + answer.error().message);
  if (answer->status != 200)
    return Error(Code::kProtocolError, options.server.url + "/v1/info answered " +
                                           std::to_string(answer->status) +
                                           "; is this an OpSync server?");
  Result<InfoResponse> parsed = parse_message<InfoResponse>(answer->body);
  if (!parsed.ok())
    return Error(Code::kProtocolError,
                 options.server.url + "/v1/info does not parse: " + parsed.error().to_string());
  facts.info = *parsed;
  if (!options.workspace.empty()) {
    facts.create_workspace_problem =
        "--workspace given: the suite uses that workspace and creates none";
  } else if (facts.info.registration == Registration::kOpen ||
             !options.registration_token.empty()) {
    facts.can_create_workspaces = true;
  } else {
    facts.create_workspace_problem =
        "registration is closed: give --registration-token, or --workspace and --owner-token";
  }
  return facts;
}

RunReport run_cases(const Options& options, const RunFacts& facts,
                    const std::vector<const Case*>& cases, const KnownFailures& known) {
  RunReport report;
  report.subject_address = options.server.url;
  report.seed = options.seed;
  report.started_at = utc_now_iso8601();
  report.info = facts.info;
  const Clock::time_point started = Clock::now();

  // The order cases start in is drawn from the seed, so that a run can be repeated exactly and
  // different seeds shake out dependencies between cases.
  std::vector<size_t> order(cases.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  SeededRandom shuffle(options.seed);
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[shuffle.below(i)]);

  // Cases that restart or restore the server run last and alone: the others would see it gone.
  const auto exclusive = [&](size_t i) {
    return cases[i]->needs == Capability::kRestart || cases[i]->needs == Capability::kRestore;
  };
  std::stable_partition(order.begin(), order.end(), [&](size_t i) { return !exclusive(i); });
  const size_t shared_count = static_cast<size_t>(
      std::count_if(order.begin(), order.end(), [&](size_t i) { return !exclusive(i); }));

  std::vector<CaseResult> results(cases.size());
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t k = next++; k < shared_count; k = next++)
      results[order[k]] = run_one(*cases[order[k]], options, facts);
  };
  // Cases that share a workspace given with --workspace would see each other's writes.
  const size_t jobs = options.workspace.empty() ? std::clamp<size_t>(options.jobs, 1, 64) : 1;
  std::vector<std::thread> threads;
  for (size_t j = 1; j < jobs; ++j) threads.emplace_back(worker);
  worker();
  for (std::thread& t : threads) t.join();
  for (size_t k = shared_count; k < order.size(); ++k)
    results[order[k]] = run_one(*cases[order[k]], options, facts);

  for (CaseResult& r : results) {
    auto listed = known.reasons.find(std::string(r.c->id));
    if (listed == known.reasons.end()) continue;
    if (r.outcome == Outcome::kFail || r.outcome == Outcome::kWarn ||
        r.outcome == Outcome::kError) {
      r.outcome = Outcome::kKnownFailure;
      r.note = listed->second;
    } else if (r.outcome == Outcome::kPass) {
      r.outcome = Outcome::kFixed;
      r.note =
          "listed as a known failure (" + listed->second + "), but passes: remove it from the list";
    }
  }
  report.results = std::move(results);
  report.duration_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  return report;
}

}  // namespace opsync::conformance
