#include "opsync/conformance/report.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "opsync/conformance/embedded.h"

namespace opsync::conformance {
namespace {

using Json = nlohmann::ordered_json;

constexpr std::array kOutcomes = {Outcome::kPass, Outcome::kFail,         Outcome::kWarn,
                                  Outcome::kSkip, Outcome::kKnownFailure, Outcome::kFixed,
                                  Outcome::kError};

std::string xml_escape(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        // XML 1.0 has no place for other control characters; transcripts may hold any byte.
        if (c < 0x20 && c != '\n' && c != '\r' && c != '\t')
          out += "\xEF\xBF\xBD";
        else
          out += static_cast<char>(c);
    }
  }
  return out;
}

// Text that is valid UTF-8, invalid bytes replaced, for JSON and XML.
std::string printable(const std::string& text) {
  return Json::parse(Json(text).dump(-1, ' ', false, Json::error_handler_t::replace))
      .get<std::string>();
}

std::vector<std::string> requirement_ids(std::string_view list) {
  std::vector<std::string> out;
  std::istringstream in{std::string(list)};
  for (std::string id; in >> id;) out.push_back(id);
  return out;
}

std::string failure_text(const CaseResult& r) {
  std::string out;
  for (const Check& f : r.failures) {
    out += "[" + f.requirement + "] expected " + f.expected;
    if (!f.observed.empty()) out += "; observed " + f.observed;
    out += "\n";
    if (f.exchange)
      out += "  request #" + std::to_string(*f.exchange + 1) + ": " + f.request + "\n";
  }
  if (!r.note.empty()) out += r.note + "\n";
  return out;
}

// Seconds with three decimals, as JUnit's xs:decimal wants them (no exponent).
std::string seconds(double ms) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", ms / 1000);
  return text;
}

// The program that made the report, and what it calls its subject.
std::string_view tool_name(const RunReport& report) {
  return report.subject == Subject::kServer ? "opsync-conformance" : "opsync-sim certify-client";
}
// The subject's name and version, as it gave them (a client's adapter may give no version).
std::string subject_name(const RunReport& report) {
  const std::string& version = report.info.server.version;
  return version.empty() ? report.info.server.name : report.info.server.name + " " + version;
}
std::string_view report_title(const RunReport& report) {
  return report.subject == Subject::kServer ? "OpSync conformance" : "OpSync client certification";
}
std::string_view subject_label(const RunReport& report) {
  return report.subject == Subject::kServer ? "Server" : "Client under test";
}

std::string format_ms(double ms) {
  char text[32];
  std::snprintf(text, sizeof text, "%.0f", ms);
  return text;
}

// The text of every tagged statement of the spec, by id: the list item, continuation lines joined.
std::map<std::string, std::string> spec_texts() {
  std::map<std::string, std::string> out;
  std::istringstream lines{std::string(embedded_spec())};
  std::string line, id;
  while (std::getline(lines, line)) {
    const size_t close = line.rfind("- [", 0) == 0 ? line.find(']') : std::string::npos;
    if (close != std::string::npos && close >= 9 && close <= 12 && line.find('-', 3) < close) {
      id = line.substr(3, close - 3);  // LOG-020, AUTH-020
      const size_t colon = line.find(": ");
      out[id] = colon == std::string::npos ? line : line.substr(colon + 2);
    } else if (!id.empty() && line.rfind("  ", 0) == 0) {
      out[id] += " " + line.substr(2);
    } else {
      id.clear();
    }
  }
  return out;
}

}  // namespace

const std::vector<Requirement>& requirement_catalog() {
  static const std::vector<Requirement> catalog = [] {
    const std::map<std::string, std::string> texts = spec_texts();
    std::vector<Requirement> out;
    const Json catalog = Json::parse(embedded_requirements());
    for (const auto& entry : catalog["requirements"]) {
      Requirement r{entry["id"], entry["level"], entry["section"], entry["summary"], ""};
      auto text = texts.find(r.id);
      r.text = text == texts.end() ? r.summary : text->second;
      out.push_back(std::move(r));
    }
    return out;
  }();
  return catalog;
}

const Requirement* find_requirement(std::string_view id) {
  for (const Requirement& r : requirement_catalog())
    if (r.id == id) return &r;
  return nullptr;
}

const std::map<std::string, ScopeNote>& scope_notes() {
  static const std::map<std::string, ScopeNote> notes = [] {
    std::map<std::string, ScopeNote> out;
    const Json scope = Json::parse(embedded_scope());
    for (const auto& [kind, entries] : scope["notes"].items())
      for (const auto& [id, reason] : entries.items())
        out[id] = ScopeNote{kind, reason.get<std::string>()};
    return out;
  }();
  return notes;
}

void write_summary(std::ostream& out, const RunReport& report) {
  out << tool_name(report) << ": " << report.subject_address << " (" << subject_name(report)
      << "), seed " << report.seed << ", " << report.results.size() << " cases in "
      << format_ms(report.duration_ms) << " ms\n";
  for (const CaseResult& r : report.results) {
    if (r.outcome == Outcome::kPass || r.outcome == Outcome::kSkip) continue;
    out << "  " << outcome_name(r.outcome) << "  " << r.c->id << "  " << r.c->description << "\n";
    std::istringstream failures(printable(failure_text(r)));
    for (std::string line; std::getline(failures, line);) out << "        " << line << "\n";
  }
  out << "\n  level   ";
  for (Outcome o : kOutcomes) {
    char column[16];
    std::snprintf(column, sizeof column, "%14s", std::string(outcome_name(o)).c_str());
    out << column;
  }
  out << "\n";
  for (const auto& [name, level] : {std::pair{"MUST  ", std::optional<Level>(Level::kMust)},
                                    std::pair{"SHOULD", std::optional<Level>(Level::kShould)},
                                    std::pair{"all   ", std::optional<Level>()}}) {
    const auto counts = report.counts(level);
    out << "  " << name << "  ";
    for (Outcome o : kOutcomes) {
      auto it = counts.find(o);
      char column[16];
      std::snprintf(column, sizeof column, "%14zu", it == counts.end() ? size_t{0} : it->second);
      out << column;
    }
    out << "\n";
  }
  out << (report.exit_code() == 0 ? "PASSED" : "FAILED") << ": every MUST case "
      << (report.exit_code() == 0 ? "passed or is a listed known failure"
                                  : "must pass; see the failures above")
      << "\n";
}

void write_junit(std::ostream& out, const RunReport& report) {
  const auto counts = report.counts();
  auto count = [&](Outcome o) { return counts.count(o) ? counts.at(o) : size_t{0}; };
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out << "<testsuites name=\"" << tool_name(report) << "\" tests=\"" << report.results.size()
      << "\" failures=\"" << count(Outcome::kFail) << "\" errors=\"" << count(Outcome::kError)
      << "\" time=\"" << seconds(report.duration_ms) << "\">\n";
  out << "  <testsuite name=\"" << xml_escape(report.subject_address) << "\" tests=\""
      << report.results.size() << "\" failures=\"" << count(Outcome::kFail) << "\" errors=\""
      << count(Outcome::kError) << "\" skipped=\""
      << count(Outcome::kSkip) + count(Outcome::kKnownFailure) << "\" time=\""
      << seconds(report.duration_ms) << "\" timestamp=\"" << report.started_at << "\">\n";
  out << "    <properties>\n      <property name=\"seed\" value=\"" << report.seed << "\"/>\n"
      << "      <property name=\"" << (report.subject == Subject::kServer ? "server" : "client")
      << "\" value=\"" << xml_escape(subject_name(report)) << "\"/>\n    </properties>\n";
  for (const CaseResult& r : report.results) {
    out << "    <testcase classname=\"" << level_name(r.c->level) << "\" name=\""
        << xml_escape(r.c->id) << ": " << xml_escape(r.c->description) << "\" time=\""
        << seconds(r.duration_ms) << "\">\n";
    const std::string details = xml_escape(printable(failure_text(r)));
    switch (r.outcome) {
      case Outcome::kFail:
        out << "      <failure message=\""
            << xml_escape(r.failures.empty() ? r.note : r.failures[0].expected) << "\" type=\""
            << xml_escape(r.failures.empty() ? "" : r.failures[0].requirement) << "\">" << details
            << "</failure>\n";
        break;
      case Outcome::kError:
        out << "      <error message=\"" << xml_escape(r.note) << "\">" << details << "</error>\n";
        break;
      case Outcome::kSkip:
      case Outcome::kKnownFailure:
        out << "      <skipped message=\"" << outcome_name(r.outcome) << ": " << xml_escape(r.note)
            << "\"/>\n";
        break;
      case Outcome::kWarn:
      case Outcome::kFixed:
      case Outcome::kPass:
        break;
    }
    if (r.outcome == Outcome::kWarn || r.outcome == Outcome::kFixed)
      out << "      <system-out>" << outcome_name(r.outcome) << ": " << details
          << "</system-out>\n";
    out << "    </testcase>\n";
  }
  out << "  </testsuite>\n</testsuites>\n";
}

void write_json(std::ostream& out, const RunReport& report) {
  Json doc;
  doc["format"] = kReportFormat;
  doc["suite_version"] = report.suite_version;
  if (report.subject == Subject::kServer)
    doc["server"] = {{"url", report.subject_address},
                     {"name", report.info.server.name},
                     {"version", report.info.server.version},
                     {"capabilities", report.info.capabilities}};
  else
    doc["client"] = {{"adapter", report.subject_address}, {"name", report.info.server.name}};
  doc["seed"] = report.seed;
  doc["started_at"] = report.started_at;
  doc["duration_ms"] = report.duration_ms;
  doc["exit_code"] = report.exit_code();
  Json counts = Json::object();
  for (Outcome o : kOutcomes) {
    const auto all = report.counts();
    counts[std::string(outcome_name(o))] = all.count(o) ? all.at(o) : 0;
  }
  doc["counts"] = counts;
  Json cases = Json::array();
  for (const CaseResult& r : report.results) {
    Json failures = Json::array();
    for (const Check& f : r.failures)
      failures.push_back({{"requirement", f.requirement},
                          {"expected", printable(f.expected)},
                          {"observed", printable(f.observed)},
                          {"request", printable(f.request)},
                          {"exchange", f.exchange ? Json(*f.exchange) : Json(nullptr)}});
    Json transcript = Json::array();
    for (const Exchange& e : r.transcript)
      transcript.push_back({{"request", printable(e.request)},
                            {"response", printable(e.response)},
                            {"duration_ms", e.duration_ms}});
    cases.push_back({{"id", r.c->id},
                     {"level", level_name(r.c->level)},
                     {"requirements", requirement_ids(r.c->requirements)},
                     {"description", r.c->description},
                     {"outcome", outcome_name(r.outcome)},
                     {"note", printable(r.note)},
                     {"duration_ms", r.duration_ms},
                     {"failures", failures},
                     {"checks", r.checks},
                     {"transcript", transcript}});
  }
  doc["cases"] = cases;
  out << doc.dump(2) << "\n";
}

void write_html(std::ostream& out, const RunReport& report) {
  const auto counts = report.counts();
  auto count = [&](Outcome o) { return counts.count(o) ? counts.at(o) : size_t{0}; };
  out << R"(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>)"
      << report_title(report) << ": " << xml_escape(report.subject_address) << R"(</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:1em 2em;color:#1d2330}
h1{font-size:1.4em;margin:.2em 0} .meta{color:#555}
table.summary{border-collapse:collapse;margin:1em 0} .summary td,.summary th{border:1px solid #ccd;padding:.3em .8em;text-align:right}
.filters button{margin-right:.4em;border:1px solid #99a;background:#f4f5f8;border-radius:4px;padding:.2em .6em;cursor:pointer}
.filters button.on{background:#1d2330;color:#fff}
details.case{border:1px solid #dde;border-radius:6px;margin:.35em 0;padding:.2em .8em}
details.case summary{cursor:pointer;font-family:ui-monospace,monospace}
.outcome{display:inline-block;min-width:7.5em;font-weight:600}
.pass .outcome{color:#1a7f37}.fail .outcome,.error .outcome{color:#c62828}.warn .outcome{color:#b26a00}
.skip .outcome,.known-failure .outcome{color:#666}.fixed .outcome{color:#6b2fb3}
.req{margin:.3em 0;padding:.3em .6em;background:#f6f7fb;border-left:3px solid #99a}
.failure{color:#c62828;margin:.2em 0} details.exchange{margin:.2em 0 .2em 1em} details.exchange.failing>summary{color:#c62828;font-weight:bold} pre{background:#0f1420;color:#d8dee9;padding:.7em;overflow:auto;max-height:30em;font-size:12px}
#verdict.passed{color:#1a7f37} #verdict.failed{color:#c62828}
</style></head><body>
<h1>)" << report_title(report)
      << R"( report</h1>
<p class="meta">)"
      << subject_label(report) << " <b>" << xml_escape(report.subject_address) << "</b> ("
      << xml_escape(subject_name(report)) << ") &middot; seed " << report.seed << " &middot; "
      << xml_escape(report.started_at) << " &middot; " << report.results.size() << " cases in "
      << format_ms(report.duration_ms) << " ms</p>\n";
  out << "<h2 id=\"verdict\" class=\""
      << (report.exit_code() == 0 ? "passed\">PASSED" : "failed\">FAILED")
      << "</h2>\n<table class=\"summary\" id=\"summary\"><tr><th>level</th>";
  for (Outcome o : kOutcomes) out << "<th>" << outcome_name(o) << "</th>";
  out << "</tr>\n";
  for (const auto& [name, level] : {std::pair{"MUST", std::optional<Level>(Level::kMust)},
                                    std::pair{"SHOULD", std::optional<Level>(Level::kShould)},
                                    std::pair{"all", std::optional<Level>()}}) {
    const auto by_level = report.counts(level);
    out << "<tr><th>" << name << "</th>";
    for (Outcome o : kOutcomes)
      out << "<td>" << (by_level.count(o) ? by_level.at(o) : 0) << "</td>";
    out << "</tr>\n";
  }
  out << "</table>\n<p class=\"filters\">Show: <button class=\"on\" data-show=\"all\">all</button>";
  for (Outcome o : kOutcomes)
    if (count(o))
      out << "<button data-show=\"" << outcome_name(o) << "\">" << outcome_name(o) << "</button>";
  out << "</p>\n<div id=\"cases\">\n";
  // Failures first (failed and errored cases, then warnings), then the rest in catalog order.
  auto rank = [](Outcome o) {
    return o == Outcome::kFail || o == Outcome::kError ? 0 : o == Outcome::kWarn ? 1 : 2;
  };
  std::vector<const CaseResult*> ordered;
  for (const CaseResult& r : report.results) ordered.push_back(&r);
  std::stable_sort(ordered.begin(), ordered.end(), [&](const CaseResult* a, const CaseResult* b) {
    return rank(a->outcome) < rank(b->outcome);
  });
  for (const CaseResult* result : ordered) {
    const CaseResult& r = *result;
    const std::string outcome(outcome_name(r.outcome));
    out << "<details class=\"case " << outcome << "\" data-outcome=\"" << outcome << "\" id=\"case-"
        << xml_escape(r.c->id) << "\""
        << (r.outcome == Outcome::kFail || r.outcome == Outcome::kError ? " open" : "")
        << "><summary><span class=\"outcome\">" << outcome << "</span> <b>" << xml_escape(r.c->id)
        << "</b> " << level_name(r.c->level) << " &middot; " << xml_escape(r.c->description)
        << "</summary>\n";
    for (const std::string& id : requirement_ids(r.c->requirements)) {
      const Requirement* req = find_requirement(id);
      out << "<div class=\"req\"><b>[" << xml_escape(id) << "] "
          << (req ? xml_escape(req->level) : "") << "</b> "
          << (req ? xml_escape(req->text) : "(not in the catalog)") << "</div>\n";
    }
    std::set<size_t> failing;
    const std::string anchor = "case-" + std::string(r.c->id) + "-exchange-";
    for (const Check& f : r.failures) {
      out << "<div class=\"failure\"><b>[" << xml_escape(f.requirement) << "]</b> expected "
          << xml_escape(printable(f.expected)) << (f.observed.empty() ? "" : "; observed ")
          << xml_escape(printable(f.observed));
      if (f.exchange) {
        failing.insert(*f.exchange);
        out << "<br>at <a href=\"#" << xml_escape(anchor + std::to_string(*f.exchange + 1))
            << "\">request #" << (*f.exchange + 1) << "</a>: <code>"
            << xml_escape(printable(f.request)) << "</code>";
      }
      out << "</div>\n";
    }
    if (!r.note.empty()) out << "<p>" << xml_escape(printable(r.note)) << "</p>\n";
    if (!r.transcript.empty())
      out << "<p>" << r.transcript.size() << " exchanges, " << format_ms(r.duration_ms)
          << " ms</p>\n";
    // One fold per exchange: those a failure points at are marked and open.
    for (size_t i = 0; i < r.transcript.size(); ++i) {
      const Exchange& e = r.transcript[i];
      const bool marked = failing.count(i) > 0;
      const std::string line = e.request.substr(0, std::min<size_t>(e.request.find('\r'), 120));
      char timing[48];
      std::snprintf(timing, sizeof timing, "%.1f ms", e.duration_ms);
      out << "<details class=\"exchange" << (marked ? " failing" : "") << "\" id=\""
          << xml_escape(anchor + std::to_string(i + 1)) << "\"" << (marked ? " open" : "")
          << "><summary>#" << (i + 1) << (marked ? " &#9888; " : " ") << xml_escape(printable(line))
          << " (" << timing << ")</summary><pre>"
          << xml_escape(printable(">>>\n" + e.request + "\n<<<\n" + e.response))
          << "</pre></details>\n";
    }
    out << "</details>\n";
  }
  out << R"(</div>
<script>
for (const button of document.querySelectorAll('.filters button')) {
  button.addEventListener('click', () => {
    for (const b of document.querySelectorAll('.filters button')) b.classList.toggle('on', b === button);
    const show = button.dataset.show;
    for (const c of document.querySelectorAll('details.case'))
      c.style.display = show === 'all' || c.dataset.outcome === show ? '' : 'none';
  });
}
</script>
</body></html>
)";
}

namespace {

struct ClauseFile {
  std::map<std::string, std::vector<Clause>> table;
  std::vector<std::string> problems;  // of the file's form
};

ClauseFile parse_clause_file(std::string_view text) {
  {
    ClauseFile out;
    const Json doc = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!doc.is_object() || doc.value("format", "") != "opsync-conformance-clauses/1" ||
        !doc.contains("requirements") || !doc["requirements"].is_object()) {
      out.problems.push_back("clauses.json is not an opsync-conformance-clauses/1 document");
      return out;
    }
    for (const auto& [id, entries] : doc["requirements"].items()) {
      std::vector<Clause>& clauses = out.table[id];
      if (!entries.is_array()) {
        out.problems.push_back("clauses.json: " + id + " is not a list of clauses");
        continue;
      }
      for (const Json& entry : entries) {
        if (!entry.is_object()) {
          out.problems.push_back("clauses.json: a clause of " + id + " is not an object");
          continue;
        }
        Clause clause{
            entry.value("id", ""), entry.value("clause", ""), {}, entry.value("reason", "")};
        if (entry.contains("cases") && entry["cases"].is_array())
          for (const Json& c : entry["cases"])
            if (c.is_string()) clause.cases.push_back(c.get<std::string>());
        clauses.push_back(std::move(clause));
      }
    }
    return out;
  }
}

ClauseFile& clause_file_storage() {
  static ClauseFile file = parse_clause_file(embedded_clauses());
  return file;
}
const ClauseFile& clause_file() { return clause_file_storage(); }

}  // namespace

const std::map<std::string, std::vector<Clause>>& clause_table() { return clause_file().table; }

void use_clause_table(std::string_view json_text) {
  clause_file_storage() = parse_clause_file(json_text);
}

size_t CoverageRow::clauses_checked() const {
  if (!clauses) return 0;
  return static_cast<size_t>(std::count_if(clauses->begin(), clauses->end(),
                                           [](const Clause& c) { return !c.cases.empty(); }));
}

std::vector<CoverageRow> coverage(const std::vector<const Case*>& cases) {
  std::vector<CoverageRow> rows;
  for (const Requirement& r : requirement_catalog()) {
    CoverageRow row{&r, {}, nullptr};
    for (const Case* c : cases)
      for (const std::string& id : requirement_ids(c->requirements))
        if (id == r.id) row.cases.emplace_back(c->id);
    auto note = scope_notes().find(r.id);
    if (note != scope_notes().end()) row.note = &note->second;
    auto clauses = clause_table().find(r.id);
    if (clauses != clause_table().end()) row.clauses = &clauses->second;
    rows.push_back(std::move(row));
  }
  return rows;
}

namespace {

bool is_must(const Requirement& r) { return r.level.rfind("MUST", 0) == 0; }

// The clause table against the cases: every covered MUST requirement split, every clause checked
// by cases that exist and cite it, or given a reason.
void clause_problems(const std::vector<const Case*>& cases, const std::vector<CoverageRow>& rows,
                     std::vector<std::string>& problems) {
  problems.insert(problems.end(), clause_file().problems.begin(), clause_file().problems.end());
  std::map<std::string, std::vector<std::string>> cited;  // case id -> requirement ids
  for (const Case* c : cases) cited[std::string(c->id)] = requirement_ids(c->requirements);
  for (const CoverageRow& row : rows)
    if (is_must(*row.requirement) && !row.cases.empty() && !row.clauses)
      problems.push_back(row.requirement->id + " has cases but no clauses in clauses.json");
  std::set<std::string> clause_ids;
  for (const auto& [id, clauses] : clause_table()) {
    const Requirement* r = find_requirement(id);
    if (!r) {
      problems.push_back("clauses.json splits " + id + ", which the spec lacks");
      continue;
    }
    const bool covered = std::any_of(cases.begin(), cases.end(), [&](const Case* c) {
      const std::vector<std::string> ids = requirement_ids(c->requirements);
      return std::find(ids.begin(), ids.end(), id) != ids.end();
    });
    if (!covered) problems.push_back("clauses.json splits " + id + ", which no case covers");
    if (clauses.empty()) problems.push_back("clauses.json gives " + id + " no clause");
    for (const Clause& clause : clauses) {
      const std::string name = clause.id.empty() ? "a clause of " + id : clause.id;
      if (clause.id.rfind(id + "/", 0) != 0 || clause.id.size() == id.size() + 1)
        problems.push_back(name + ": a clause id of " + id + " is " + id + "/ and a letter");
      if (!clause_ids.insert(clause.id).second) problems.push_back(name + " is listed twice");
      if (clause.text.empty()) problems.push_back(name + " has no words");
      if (clause.cases.empty() && clause.reason.empty())
        problems.push_back(name + " has neither a case nor a reason");
      if (!clause.cases.empty() && !clause.reason.empty())
        problems.push_back(name + " has cases and a reason: one or the other");
      for (const std::string& c : clause.cases) {
        auto found = cited.find(c);
        if (found == cited.end())
          problems.push_back(name + " names " + c + ", which is no case");
        else if (std::find(found->second.begin(), found->second.end(), id) == found->second.end())
          problems.push_back(name + " names " + c + ", which does not cite " + id);
      }
    }
  }
}

struct ClauseFigures {
  size_t requirements = 0, total = 0, checked = 0, reasoned = 0;
};

ClauseFigures clause_figures(const std::vector<CoverageRow>& rows) {
  ClauseFigures f;
  for (const CoverageRow& row : rows) {
    if (!row.clauses || row.cases.empty() || !is_must(*row.requirement)) continue;
    ++f.requirements;
    f.total += row.clauses->size();
    f.checked += row.clauses_checked();
    for (const Clause& c : *row.clauses) f.reasoned += c.cases.empty() && !c.reason.empty();
  }
  return f;
}

}  // namespace

std::vector<std::string> coverage_problems(const std::vector<const Case*>& cases) {
  std::vector<std::string> problems;
  for (const CoverageRow& row : coverage(cases)) {
    const bool must = row.requirement->level.rfind("MUST", 0) == 0;
    if (must && row.cases.empty() && !row.note)
      problems.push_back(row.requirement->id + " (" + row.requirement->level +
                         ") has no case and no note saying why");
    if (!row.cases.empty() && row.note && row.note->kind != "in-process")
      problems.push_back(row.requirement->id + " has cases but is noted as " + row.note->kind);
  }
  for (const Case* c : cases)
    for (const std::string& id : requirement_ids(c->requirements))
      if (!find_requirement(id))
        problems.push_back(std::string(c->id) + " cites " + id + ", which the spec lacks");
  for (const auto& [id, note] : scope_notes())
    if (!find_requirement(id))
      problems.push_back("scope.json notes " + id + ", which the spec lacks");
  clause_problems(cases, coverage(cases), problems);
  return problems;
}

Result<CheckCounts> read_check_counts(const std::string& report_path) {
  std::ifstream in(report_path);
  if (!in) return Error(Code::kInvalidField, "report", "cannot read " + report_path);
  const Json report = Json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!report.is_object() || report.value("format", "") != kReportFormat ||
      !report.contains("cases"))
    return Error(Code::kInvalidField, "report", report_path + " is not a report of --json");
  CheckCounts counts;
  for (const Json& c : report["cases"])
    if (c.contains("checks") && c["checks"].is_object())
      for (const auto& [requirement, n] : c["checks"].items())
        if (n.is_number_unsigned()) counts[requirement] += n.get<size_t>();
  return counts;
}

void write_coverage_text(std::ostream& out, const std::vector<const Case*>& cases,
                         const CheckCounts* checks, bool list_clauses) {
  std::map<std::string, std::pair<size_t, size_t>> by_level;  // level -> covered, total
  const std::vector<CoverageRow> rows = coverage(cases);
  for (const CoverageRow& row : rows) {
    const Requirement& r = *row.requirement;
    auto& [covered, total] = by_level[r.level];
    ++total;
    std::string what;
    if (!row.cases.empty()) {
      ++covered;
      for (const std::string& c : row.cases) what += (what.empty() ? "" : " ") + c;
      if (row.note) what += "  (also " + row.note->kind + ": " + row.note->reason + ")";
    } else if (row.note) {
      what = row.note->kind + ": " + row.note->reason;
    } else {
      what = "NOT COVERED";
    }
    char head[48];
    std::snprintf(head, sizeof head, "%-9s %-10s %-5s ", r.id.c_str(), r.level.c_str(),
                  r.section.c_str());
    out << head;
    if (checks) {
      const auto found = checks->find(r.id);
      char count[24];
      std::snprintf(count, sizeof count, "%5zu checks  ",
                    found == checks->end() ? size_t{0} : found->second);
      out << count;
    }
    std::string clauses;
    if (row.clauses && !row.cases.empty() && is_must(r)) {
      char count[64];
      std::snprintf(count, sizeof count, "%2zu/%-2zu clauses", row.clauses_checked(),
                    row.clauses->size());
      clauses = count;
    }
    clauses.resize(std::max<size_t>(clauses.size(), 13), ' ');
    out << clauses << "  " << what << "\n";
    if (list_clauses && row.clauses && !row.cases.empty())
      for (const Clause& clause : *row.clauses) {
        std::string by;
        for (const std::string& c : clause.cases) by += (by.empty() ? "" : " ") + c;
        out << "    " << clause.id << "  " << clause.text << "\n      "
            << (clause.cases.empty() ? "not checked: " + clause.reason : "checked by " + by)
            << "\n";
      }
  }
  out << "\n";
  for (const auto& [level, numbers] : by_level)
    out << level << ": " << numbers.first << " of " << numbers.second << " covered by cases\n";
  const ClauseFigures figures = clause_figures(rows);
  out << "clauses: " << figures.checked << " of " << figures.total << " checked by cases, in the "
      << figures.requirements << " MUST and MUST NOT requirements with cases; " << figures.reasoned
      << " with the reason no case checks them\n";
  const std::vector<std::string> problems = coverage_problems(cases);
  for (const std::string& p : problems) out << "problem: " << p << "\n";
  out << (problems.empty() ? "every testable MUST and MUST NOT requirement has a case\n" : "");
}

void write_coverage_json(std::ostream& out, const std::vector<const Case*>& cases,
                         const CheckCounts* checks) {
  Json doc;
  doc["format"] = "opsync-conformance-coverage/1";
  Json rows = Json::array();
  std::map<std::string, std::pair<size_t, size_t>> by_level;
  for (const CoverageRow& row : coverage(cases)) {
    auto& [covered, total] = by_level[row.requirement->level];
    ++total;
    covered += !row.cases.empty();
    Json entry = {{"id", row.requirement->id},
                  {"level", row.requirement->level},
                  {"section", row.requirement->section},
                  {"cases", row.cases}};
    if (row.note) entry["note"] = {{"kind", row.note->kind}, {"reason", row.note->reason}};
    if (row.clauses && !row.cases.empty()) {
      Json clauses = Json::array();
      for (const Clause& clause : *row.clauses) {
        Json c = {{"id", clause.id}, {"clause", clause.text}};
        if (clause.cases.empty())
          c["reason"] = clause.reason;
        else
          c["cases"] = clause.cases;
        clauses.push_back(std::move(c));
      }
      entry["clauses"] = std::move(clauses);
    }
    if (checks)
      entry["checks"] = checks->count(row.requirement->id) ? checks->at(row.requirement->id) : 0;
    rows.push_back(entry);
  }
  doc["requirements"] = rows;
  Json levels = Json::object();
  for (const auto& [level, numbers] : by_level)
    levels[level] = {{"covered", numbers.first}, {"total", numbers.second}};
  doc["levels"] = levels;
  const ClauseFigures figures = clause_figures(coverage(cases));
  doc["clauses"] = {{"requirements", figures.requirements},
                    {"total", figures.total},
                    {"checked", figures.checked},
                    {"with_reason", figures.reasoned}};
  doc["problems"] = coverage_problems(cases);
  out << doc.dump(2) << "\n";
}

}  // namespace opsync::conformance
