// The suite's reports: a summary for the terminal, JUnit XML for CI systems, JSON for machines
// (its schema is conformance/schema/report.schema.json), one self-contained HTML page for people,
// and the coverage of the spec's requirements by the cases.
#pragma once

#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "opsync/conformance/runner.h"

namespace opsync::conformance {

inline constexpr std::string_view kReportFormat = "opsync-conformance-report/1";

// A requirement of spec/requirements.json, with its full text from the spec when known.
struct Requirement {
  std::string id;
  std::string level;  // MUST, MUST NOT, SHOULD, SHOULD NOT, MAY
  std::string section;
  std::string summary;
  std::string text;
};

// The requirement catalog built into the program, by id, in catalog order.
const std::vector<Requirement>& requirement_catalog();
const Requirement* find_requirement(std::string_view id);

void write_summary(std::ostream& out, const RunReport& report);
void write_junit(std::ostream& out, const RunReport& report);
void write_json(std::ostream& out, const RunReport& report);
void write_html(std::ostream& out, const RunReport& report);

// ---- coverage

// Why a requirement has no case: it binds clients only, or cannot be observed through the API, or
// needs more time than a run has (tested in-process by the reference server's own suites).
struct ScopeNote {
  std::string kind;  // "client", "untestable", "in-process"
  std::string reason;
};
const std::map<std::string, ScopeNote>& scope_notes();  // conformance/scope.json

// One clause of a requirement's text (conformance/clauses.json): a boundary, an absence, a method,
// an edge, each either checked by the cases named or, when no request can observe it, a reason.
struct Clause {
  std::string id;    // "LOG-020/a"
  std::string text;  // the clause's words
  std::vector<std::string> cases;
  std::string reason;  // set when no case can check it
};
// The clause table by requirement id; every MUST or MUST NOT requirement with cases has an entry.
const std::map<std::string, std::vector<Clause>>& clause_table();
// Replaces the built-in table by another one's text (`coverage --clause-table FILE`, to test a
// table before it is built in); call before any coverage function.
void use_clause_table(std::string_view json_text);

struct CoverageRow {
  const Requirement* requirement;
  std::vector<std::string> cases;                // ids of the cases that cover it
  const ScopeNote* note = nullptr;               // set when no case covers it on purpose
  const std::vector<Clause>* clauses = nullptr;  // its clauses, when the table has them
  size_t clauses_checked() const;                // clauses with cases
};
std::vector<CoverageRow> coverage(const std::vector<const Case*>& cases);
// Problems that make the coverage incomplete: a MUST or MUST NOT requirement without a case and
// without a note, a note on a covered requirement, a case citing an unknown id; a covered MUST or
// MUST NOT requirement missing from the clause table, a clause with neither a case nor a reason
// (or both), a clause naming a case that does not exist or does not cite its requirement.
std::vector<std::string> coverage_problems(const std::vector<const Case*>& cases);
// Checks a run made per requirement, held or not, summed over the cases of a JSON report
// (`checks` of each case); `coverage --report` shows them beside each requirement.
using CheckCounts = std::map<std::string, size_t>;
Result<CheckCounts> read_check_counts(const std::string& report_path);
// With `clauses`, each requirement's clauses are listed under it.
void write_coverage_text(std::ostream& out, const std::vector<const Case*>& cases,
                         const CheckCounts* checks = nullptr, bool clauses = false);
void write_coverage_json(std::ostream& out, const std::vector<const Case*>& cases,
                         const CheckCounts* checks = nullptr);

}  // namespace opsync::conformance
