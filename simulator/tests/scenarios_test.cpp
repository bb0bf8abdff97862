// The committed scenarios (simulator/scenarios/) are bug files. Each replays from its decision log
// (or its imported traces) to the trace hash and the verdict it recorded; each of section 15's
// Dataans counterexamples is caught by its checker under dataans-0.3 and passes under opsync-v1;
// each deliberately broken variant of opsync-v1 is caught by its checker while the reference code
// passes the same configuration. Every checker is shown to fail by at least one of them.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <set>

#include "opsync/simulator/bugfile.h"
#include "opsync/simulator/run.h"

using namespace opsync::simulator;

namespace {

const std::filesystem::path kScenarios = "simulator/scenarios";

struct Scenario {
  std::string name;
  BugFile bug;
};

std::vector<Scenario> load_scenarios(const std::string& prefix = "") {
  std::vector<std::filesystem::path> paths;
  for (const auto& entry : std::filesystem::directory_iterator(kScenarios))
    if (entry.path().filename().string().rfind(prefix, 0) == 0 &&
        entry.path().extension() == ".json")
      paths.push_back(entry.path());
  std::sort(paths.begin(), paths.end());
  std::vector<Scenario> out;
  for (const auto& path : paths) {
    opsync::Result<BugFile> bug = load_bug_file(path.string());
    BOOST_REQUIRE_MESSAGE(bug.ok(), path << ": " << (bug.ok() ? "" : bug.error().to_string()));
    BOOST_REQUIRE_MESSAGE(bug->expect.has_value(), path << " has no \"expect\"");
    BOOST_REQUIRE_MESSAGE(!bug->description.empty(), path << " has no description");
    out.push_back(Scenario{path.stem().string(), std::move(*bug)});
  }
  return out;
}

std::set<std::string> failed_checkers(const std::vector<Violation>& violations) {
  std::set<std::string> out;
  for (const Violation& v : violations) out.insert(v.checker);
  return out;
}

std::string describe(const RunResult& result) {
  std::string out;
  for (const Violation& v : result.violations) out += "\n  " + v.checker + ": " + v.message;
  return out.empty() ? " (no violation)" : out;
}

// The checkers a scenario expects to fail: "recorded" for its own protocol or variant,
// "opsync-v1" for the reference code on the same configuration.
std::set<std::string> expected(const Scenario& s, const std::string& key) {
  std::set<std::string> out;
  for (const auto& name : s.bug.expect->at(key)) out.insert(name.get<std::string>());
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(scenarios)

BOOST_AUTO_TEST_CASE(every_committed_bug_file_replays_to_its_verdict_and_trace_hash) {
  const std::vector<Scenario> all = load_scenarios();
  BOOST_TEST(all.size() >= 18u);
  for (const Scenario& s : all) {
    BOOST_TEST_CONTEXT(s.name) {
      const Replay r = replay(s.bug);
      BOOST_TEST(r.same_trace, "trace " << hash_hex(r.result.trace_hash) << ", recorded "
                                        << hash_hex(s.bug.trace_hash)
                                        << "; the traces part at event " << r.parted_at.value_or(0)
                                        << " (opsync-sim replay --rewrite records a new trace)");
      BOOST_TEST(r.same_verdict, "replayed:" << describe(r.result));
      // What the scenario is there to show is part of what it recorded.
      const std::set<std::string> failed = failed_checkers(s.bug.violations);
      for (const std::string& checker : expected(s, "recorded"))
        BOOST_TEST(failed.count(checker) == 1u, checker << " is not among the recorded violations");
      if (expected(s, "recorded").empty())
        BOOST_TEST(s.bug.violations.empty(), "a scenario expected to pass records violations");
      else
        BOOST_TEST(expected(s, "recorded").count(s.bug.checker()) == 1u,
                   "the bug file names " << s.bug.checker());
    }
  }
}

BOOST_AUTO_TEST_CASE(each_dataans_counterexample_is_caught_under_dataans_and_passes_under_opsync) {
  std::set<int> counterexamples;
  for (const Scenario& s : load_scenarios("dataans-")) {
    BOOST_TEST_CONTEXT(s.name) {
      BOOST_TEST((s.bug.config.protocol == Protocol::kDataans03));
      counterexamples.insert(s.bug.expect->at("counterexample").get<int>());
      // The same configuration under the reference code: fresh draws, no decision log.
      Config opsync = s.bug.config;
      opsync.protocol = Protocol::kOpsyncV1;
      const RunResult reference = run(opsync);
      BOOST_TEST(failed_checkers(reference.violations) == expected(s, "opsync-v1"),
                 "opsync-v1 on the scenario:" << describe(reference));
    }
  }
  BOOST_TEST(counterexamples ==
             (std::set<int>{1, 2, 3, 4, 5, 6, 7, 8}));  // one scenario each, at least
}

BOOST_AUTO_TEST_CASE(each_broken_variant_is_caught_and_the_reference_passes_its_scenario) {
  std::set<std::string> variants;
  for (const Scenario& s : load_scenarios("variant-")) {
    BOOST_TEST_CONTEXT(s.name) {
      BOOST_TEST((s.bug.config.protocol == Protocol::kOpsyncV1));
      BOOST_TEST((s.bug.config.variant != Variant::kNone));
      variants.insert(std::string(variant_name(s.bug.config.variant)));
      Config reference_config = s.bug.config;
      reference_config.variant = Variant::kNone;
      const RunResult reference = run(reference_config);
      BOOST_TEST(failed_checkers(reference.violations) == expected(s, "opsync-v1"),
                 "the reference on the scenario:" << describe(reference));
    }
  }
  std::set<std::string> all;
  for (Variant v : all_variants())
    if (v != Variant::kNone) all.insert(std::string(variant_name(v)));
  BOOST_TEST(variants == all);  // every variant has its scenario
}

BOOST_AUTO_TEST_CASE(imported_traces_replay_against_the_reference_core) {
  // The README's walk recorded against opsync-server is answered alike; the same walk against a
  // server whose writes fail now and then is not, and field_answers names a request.
  int imported = 0;
  for (const Scenario& s : load_scenarios("imported-")) {
    BOOST_TEST_CONTEXT(s.name) {
      ++imported;
      BOOST_REQUIRE(s.bug.imported.has_value());
      BOOST_TEST(s.bug.imported->devices.size() == 2u);
      BOOST_TEST(s.bug.imported->exchanges.size() > 20u);
      BOOST_TEST(s.bug.decisions.empty());
    }
  }
  BOOST_TEST(imported >= 2);
}

BOOST_AUTO_TEST_CASE(every_checker_is_shown_to_fail_by_a_committed_scenario) {
  // The companion of every checker: some scenario's recorded run must report it. A checker no
  // scenario expects could be one that never fails.
  std::set<std::string> shown;
  for (const Scenario& s : load_scenarios())
    for (const std::string& checker : expected(s, "recorded")) shown.insert(checker);
  for (const std::string& checker : checker_names())
    BOOST_TEST(shown.count(checker) == 1u, checker);
}

BOOST_AUTO_TEST_SUITE_END()
