// The committed scenarios (simulator/scenarios/): each of section 15's Dataans counterexamples is
// caught by its checker under dataans-0.3 and passes under opsync-v1, and each deliberately broken
// variant of opsync-v1 is caught by its checker while the reference code passes the same
// scenario. Every checker is shown to fail by at least one of them.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "opsync/simulator/run.h"

using namespace opsync::simulator;

namespace {

const std::filesystem::path kScenarios = "simulator/scenarios";

struct Scenario {
  std::string name;
  nlohmann::json json;
  Config config;
};

std::vector<Scenario> load_scenarios(const std::string& prefix) {
  std::vector<Scenario> out;
  std::vector<std::filesystem::path> paths;
  for (const auto& entry : std::filesystem::directory_iterator(kScenarios))
    if (entry.path().filename().string().rfind(prefix, 0) == 0 && entry.path().extension() == ".json")
      paths.push_back(entry.path());
  std::sort(paths.begin(), paths.end());
  for (const auto& path : paths) {
    std::ifstream in(path);
    nlohmann::json json = nlohmann::json::parse(in);
    opsync::Result<Config> config = config_from_json(json.at("config"));
    BOOST_REQUIRE_MESSAGE(config.ok(), path << ": " << (config.ok() ? "" : config.error().to_string()));
    out.push_back(Scenario{path.stem().string(), json, *config});
  }
  return out;
}

std::set<std::string> failed_checkers(const RunResult& result) {
  std::set<std::string> out;
  for (const Violation& v : result.violations) out.insert(v.checker);
  return out;
}

std::string describe(const RunResult& result) {
  std::string out;
  for (const Violation& v : result.violations) out += "\n  " + v.checker + ": " + v.message;
  return out.empty() ? " (no violation)" : out;
}

// The checkers a scenario expects to fail, under the key ("dataans-0.3" or "variant").
std::set<std::string> expected(const Scenario& s, const std::string& key) {
  std::set<std::string> out;
  for (const auto& name : s.json.at("expect").at(key)) out.insert(name.get<std::string>());
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(scenarios)

BOOST_AUTO_TEST_CASE(each_dataans_counterexample_is_caught_under_dataans_and_passes_under_opsync) {
  const std::vector<Scenario> all = load_scenarios("dataans-");
  std::set<int> counterexamples;
  for (const Scenario& s : all) {
    BOOST_TEST_CONTEXT(s.name) {
      counterexamples.insert(s.json.at("counterexample").get<int>());
      Config dataans = s.config;
      dataans.protocol = Protocol::kDataans03;
      const RunResult broken = run(dataans);
      const std::set<std::string> failed = failed_checkers(broken);
      for (const std::string& checker : expected(s, "dataans-0.3"))
        BOOST_TEST(failed.count(checker) == 1u, checker << " does not catch it under dataans-0.3:" << describe(broken));
      Config opsync = s.config;
      opsync.protocol = Protocol::kOpsyncV1;
      const RunResult reference = run(opsync);
      BOOST_TEST(reference.passed(), "opsync-v1 fails the scenario:" << describe(reference));
    }
  }
  BOOST_TEST(counterexamples == (std::set<int>{1, 2, 3, 4, 5, 6, 7, 8}));  // one scenario each, at least
}

BOOST_AUTO_TEST_CASE(each_broken_variant_is_caught_and_the_reference_passes_its_scenario) {
  std::set<std::string> variants;
  for (const Scenario& s : load_scenarios("variant-")) {
    BOOST_TEST_CONTEXT(s.name) {
      const std::optional<Variant> variant = variant_from_name(s.json.at("variant").get<std::string>());
      BOOST_REQUIRE(variant.has_value());
      variants.insert(std::string(variant_name(*variant)));
      Config broken = s.config;
      broken.variant = *variant;
      const RunResult result = run(broken);
      const std::set<std::string> failed = failed_checkers(result);
      for (const std::string& checker : expected(s, "variant"))
        BOOST_TEST(failed.count(checker) == 1u, checker << " does not catch " << variant_name(*variant) << ":"
                                                        << describe(result));
      const RunResult reference = run(s.config);
      BOOST_TEST(reference.passed(), "the reference fails the scenario:" << describe(reference));
    }
  }
  std::set<std::string> all;
  for (Variant v : all_variants())
    if (v != Variant::kNone) all.insert(std::string(variant_name(v)));
  BOOST_TEST(variants == all);  // every variant has its scenario
}

BOOST_AUTO_TEST_CASE(every_checker_is_shown_to_fail_by_a_committed_scenario) {
  // The companion of every checker: some scenario's broken run must report it. A checker no
  // scenario expects could be one that never fails.
  std::set<std::string> shown;
  for (const Scenario& s : load_scenarios("dataans-"))
    for (const std::string& checker : expected(s, "dataans-0.3")) shown.insert(checker);
  for (const Scenario& s : load_scenarios("variant-"))
    for (const std::string& checker : expected(s, "variant")) shown.insert(checker);
  for (const std::string& checker : checker_names()) BOOST_TEST(shown.count(checker) == 1u, checker);
}

BOOST_AUTO_TEST_SUITE_END()
