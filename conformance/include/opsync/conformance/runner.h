// Running the suite: selecting cases, gathering what every case needs to know about the server,
// running the cases (in parallel when asked), and the run's results for the reports.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "opsync/conformance/suite.h"

namespace opsync::conformance {

// The implementer's list of cases expected to fail, with why: one case id per line, then the
// reason; blank lines and lines starting with '#' are ignored.
//
//   # our server does not cap header sections yet
//   transport-012  headers are not limited
struct KnownFailures {
  std::map<std::string, std::string> reasons;  // case id -> reason

  // Reads a file; an unknown case id or a malformed line is a usage error naming the line.
  static Result<KnownFailures> read(const std::string& path, const std::vector<const Case*>& cases);
};

struct Selection {
  Level level = Level::kShould;  // must: MUST cases only; should: MUST and SHOULD (all levels now)
  std::vector<std::string> filters;  // glob patterns over case ids; empty selects every case
};

// True when `id` matches the glob (`*` any run of characters, `?` one).
bool glob_matches(std::string_view pattern, std::string_view id);
std::vector<const Case*> select_cases(const std::vector<const Case*>& cases,
                                      const Selection& selection);

// What a run certified. One report format serves both: a server, named by its URL
// (opsync-conformance), and a client, named by the command that runs its adapter
// (opsync-sim certify-client); `info.server` holds the name and version the subject gave.
enum class Subject { kServer, kClient };

// The wall clock now, as RunReport::started_at holds it: ISO 8601, UTC, whole seconds.
std::string utc_now_iso8601();

struct RunReport {
  std::string suite_version;
  Subject subject = Subject::kServer;
  std::string subject_address;  // the server's URL, or the client's adapter command
  uint64_t seed = 0;
  std::string level;
  std::vector<std::string> filters;
  std::string started_at;  // ISO 8601, UTC
  double duration_ms = 0;
  InfoResponse info;
  std::vector<CaseResult> results;  // in catalog order, whatever order they ran in

  // Counts by outcome, for all cases and by level.
  std::map<Outcome, size_t> counts(std::optional<Level> level = std::nullopt) const;
  // The process's exit code: 0 when every MUST case passed (or is a known failure, or fixed), and
  // no case errored; 1 otherwise.
  int exit_code() const;
};

// Reads /v1/info and finds out whether workspaces can be created. Fails (for exit code 2) when
// the server cannot be reached or its info does not parse, in one line.
Result<RunFacts> gather_facts(const Options& options);

// Runs the cases, in an order drawn from the seed, `options.jobs` at a time.
RunReport run_cases(const Options& options, const RunFacts& facts,
                    const std::vector<const Case*>& cases, const KnownFailures& known);

}  // namespace opsync::conformance
