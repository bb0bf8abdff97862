// opsync-conformance: certifies an OpSync server from its URL.
//
//   opsync-conformance --server URL [--level must|should|all] [--filter GLOB]... [--junit FILE] ...
//   opsync-conformance --list
//   opsync-conformance coverage [--json] [--report REPORT.json] [--clauses] [--clause-table FILE]
//
// Exit codes: 0 every MUST case passed (or is a listed known failure); 1 a case failed or could
// not run; 2 a usage error or a server that cannot be reached.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <thread>
#include <variant>

#include "opsync/conformance/report.h"
#include "opsync/conformance/runner.h"

namespace {

using namespace opsync;
using namespace opsync::conformance;

constexpr const char* kVersion = "0.1.0";

// The ids of the cases an earlier JSON report (--json) shows failed or errored, for
// --rerun-failed; a message when the file is no such report.
std::variant<std::vector<std::string>, std::string> failed_case_ids(const std::string& path) {
  std::ifstream in(path);
  if (!in) return "cannot read " + path;
  nlohmann::json report = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!report.is_object() || report.value("format", "") != "opsync-conformance-report/1" ||
      !report.contains("cases") || !report["cases"].is_array())
    return path + " is not a report of --json (format opsync-conformance-report/1)";
  std::vector<std::string> ids;
  for (const nlohmann::json& c : report["cases"]) {
    const std::string outcome = c.value("outcome", "");
    if (outcome == "fail" || outcome == "error") ids.push_back(c.value("id", ""));
  }
  return ids;
}

int usage_error(const std::string& message) {
  std::cerr << "opsync-conformance: " << message << "\n";
  return 2;
}

// Writes a report to FILE; false (after saying so) when it cannot.
template <typename Write>
bool write_file(const std::string& path, Write write) {
  if (path.empty()) return true;
  std::ofstream out(path, std::ios::trunc);
  if (out) write(out);
  if (!out) std::cerr << "opsync-conformance: cannot write " << path << "\n";
  return static_cast<bool>(out);
}

// What a run takes from the command line.
struct RunFlags {
  std::string url;
  std::string level = "should";
  std::string known_failures_file, junit_file, json_file, html_file, rerun_failed_file;
  std::vector<std::string> filters;
  bool list = false;
  bool strict_known_failures = false;
  uint64_t wait_for_server_seconds = 0;
  Options options;
};

// What the coverage command takes.
struct CoverageFlags {
  bool json = false;
  bool clauses = false;
  std::string report;
  std::string clause_table_file;
};

void add_run_options(CLI::App& app, RunFlags& flags) {
  app.add_option("--server", flags.url,
                 "The server's root URL: http://host:port or https://host[:port]");
  app.add_option("--level", flags.level,
                 "must: MUST cases only; should or all: MUST and SHOULD cases")
      ->check(CLI::IsMember({"must", "should", "all"}))
      ->capture_default_str();
  app.add_option("--filter", flags.filters,
                 "Run only cases whose id matches this glob (repeatable), e.g. 'files-*'");
  app.add_option("--rerun-failed", flags.rerun_failed_file,
                 "Run only the cases that failed or errored in this earlier JSON report (--json)");
  app.add_flag("--list", flags.list,
               "List the selected cases with their requirements, and run nothing");
  app.add_option(
      "--known-failures", flags.known_failures_file,
      "A file of case ids expected to fail, one per line with the reason ('#' comments)");
  app.add_option("--junit", flags.junit_file, "Write a JUnit XML report here");
  app.add_option("--json", flags.json_file,
                 "Write the JSON report here (its JSON Schema: "
                 "/usr/share/opsync/schema/conformance/report.schema.json when installed)");
  app.add_option("--html", flags.html_file, "Write a self-contained HTML report here");
  app.add_option("--seed", flags.options.seed, "Seed of the case order and the generated data")
      ->capture_default_str();
  app.add_option("--jobs", flags.options.jobs, "Cases run at once")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--timeout-ms", flags.options.timeout_ms, "How long one request may take")
      ->check(CLI::Range(100, 600000))
      ->capture_default_str();
  app.add_option("--ca-file", flags.options.server.ca_file,
                 "PEM file of the CA that signed the server's certificate");
  app.add_flag("--insecure", flags.options.server.insecure,
               "Accept any certificate (self-signed test servers)");
  app.add_option(
      "--registration-token", flags.options.registration_token,
      "Sent as a bearer token when creating workspaces on a server with closed registration");
  app.add_option("--workspace", flags.options.workspace,
                 "Use this existing workspace (with --owner-token)");
  app.add_option("--owner-token", flags.options.owner_token, "An owner token of --workspace");
  app.add_option("--restart-cmd", flags.options.restart_cmd,
                 "A shell command that kills and restarts the server: runs the durability cases");
  app.add_option(
      "--restore-cmd", flags.options.restore_cmd,
      "A shell command run as 'CMD save' and 'CMD restore' (backup and restore the server's data): "
      "runs the restore cases");
  app.add_option("--wait-for-server", flags.wait_for_server_seconds,
                 "Wait up to this many seconds for the server to answer /v1/info before giving up "
                 "(CI recipes that start it in the background)")
      ->check(CLI::Range(0, 3600));
  app.add_flag(
      "--strict-known-failures", flags.strict_known_failures,
      "A listed known failure that passes (outcome fixed) fails the run: the list must be exact");
}

CLI::App* add_coverage_command(CLI::App& app, CoverageFlags& coverage) {
  CLI::App* command = app.add_subcommand(
      "coverage", "Print every requirement of the spec with the cases that cover it");
  command->add_flag("--json", coverage.json, "As JSON");
  command->add_option(
      "--report", coverage.report,
      "A JSON report (--json) of a run: show how many checks it made per requirement");
  command->add_option("--clause-table", coverage.clause_table_file,
                      "Judge this clause table in place of the built-in conformance/clauses.json");
  command->add_flag(
      "--clauses", coverage.clauses,
      "List each covered requirement's clauses with the cases that check them (clauses.json)");
  return command;
}

// Prints every requirement with the cases that cover it; exits 1 when the coverage has problems.
int print_coverage(const CoverageFlags& coverage, const std::vector<const Case*>& cases) {
  if (!coverage.clause_table_file.empty()) {
    std::ifstream in(coverage.clause_table_file);
    if (!in) return usage_error("cannot read " + coverage.clause_table_file);
    std::ostringstream text;
    text << in.rdbuf();
    use_clause_table(text.str());
  }
  std::optional<CheckCounts> checks;
  if (!coverage.report.empty()) {
    Result<CheckCounts> read = read_check_counts(coverage.report);
    if (!read.ok()) return usage_error(read.error().message);
    checks = *read;
  }
  const CheckCounts* counts = checks ? &*checks : nullptr;
  if (coverage.json)
    write_coverage_json(std::cout, cases, counts);
  else
    write_coverage_text(std::cout, cases, counts, coverage.clauses);
  return coverage_problems(cases).empty() ? 0 : 1;
}

// Runs the selected cases against the server and writes the reports.
int run(RunFlags& flags, const std::vector<const Case*>& cases) {
  if (!flags.rerun_failed_file.empty()) {
    auto ids = failed_case_ids(flags.rerun_failed_file);
    if (auto* problem = std::get_if<std::string>(&ids)) return usage_error(*problem);
    if (std::get<std::vector<std::string>>(ids).empty())
      return usage_error(flags.rerun_failed_file + " has no failed case to run again");
    for (const std::string& id : std::get<std::vector<std::string>>(ids))
      flags.filters.push_back(id);
  }
  Selection selection;
  selection.level = flags.level == "must" ? Level::kMust : Level::kShould;
  selection.filters = flags.filters;
  const std::vector<const Case*> selected = select_cases(cases, selection);
  if (flags.list) {
    for (const Case* c : selected)
      std::cout << c->id << "  " << level_name(c->level) << "  [" << c->requirements << "]  "
                << c->description
                << (c->needs == Capability::kNone
                        ? ""
                        : "  (needs " + std::string(capability_name(c->needs)) + ")")
                << "\n";
    return 0;
  }
  if (flags.url.empty())
    return usage_error("give --server URL (or --list, or the coverage command); --help tells more");
  if (selected.empty()) return usage_error("no case matches the filters");
  if (flags.options.workspace.empty() != flags.options.owner_token.empty())
    return usage_error("give --workspace and --owner-token together");
  Result<Server> server = Server::parse(flags.url);
  if (!server.ok()) return usage_error(server.error().message);
  const Server given = flags.options.server;
  flags.options.server = *server;
  flags.options.server.ca_file = given.ca_file;
  flags.options.server.insecure = given.insecure;
  KnownFailures known;
  if (!flags.known_failures_file.empty()) {
    Result<KnownFailures> read = KnownFailures::read(flags.known_failures_file, cases);
    if (!read.ok()) return usage_error(read.error().message);
    known = *read;
  }
  Result<RunFacts> facts = gather_facts(flags.options);
  // A server started in the background may not listen yet: poll until it answers or the wait ends.
  const auto wait_until =
      std::chrono::steady_clock::now() + std::chrono::seconds(flags.wait_for_server_seconds);
  while (!facts.ok() && std::chrono::steady_clock::now() < wait_until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    facts = gather_facts(flags.options);
  }
  if (!facts.ok()) return usage_error(facts.error().message);

  RunReport report = run_cases(flags.options, *facts, selected, known);
  report.suite_version = kVersion;
  report.level = flags.level;
  report.filters = flags.filters;
  write_summary(std::cout, report);
  for (const CaseResult& result : report.results)
    if (result.outcome == Outcome::kSkip)
      std::cout << "skipped " << result.c->id << ": " << result.note << "\n";
  bool written = write_file(flags.junit_file, [&](std::ostream& out) { write_junit(out, report); });
  written =
      write_file(flags.json_file, [&](std::ostream& out) { write_json(out, report); }) && written;
  written =
      write_file(flags.html_file, [&](std::ostream& out) { write_html(out, report); }) && written;
  if (!written) return 2;
  if (flags.strict_known_failures) {
    for (const CaseResult& result : report.results)
      if (result.outcome == Outcome::kFixed) {
        std::cout << "--strict-known-failures: " << result.c->id
                  << " passed; take it off the known failures\n";
        return 1;
      }
  }
  return report.exit_code();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Certifies an OpSync server: runs the conformance suite of spec v1 against its URL.\n"
      "Every case covers requirements of spec/opsync-v1.md by their ids; see `coverage`."};
  app.set_version_flag("--version",
                       std::string("opsync-conformance ") + kVersion + " (protocol version 1)");
  RunFlags flags;
  add_run_options(app, flags);
  CoverageFlags coverage;
  CLI::App* coverage_command = add_coverage_command(app, coverage);
  app.require_subcommand(0, 1);
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }
  const std::vector<const Case*> cases = all_cases();
  return coverage_command->parsed() ? print_coverage(coverage, cases) : run(flags, cases);
}
