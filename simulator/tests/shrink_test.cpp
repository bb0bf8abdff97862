// Shrinking: every committed dataans-0.3 scenario shrinks to a schedule at least ten times
// smaller that still fails the checker the scenario is about, and the smaller bug file replays.
#include <boost/test/unit_test.hpp>

#include <filesystem>

#include "opsync/simulator/bugfile.h"
#include "opsync/simulator/shrink.h"

using namespace opsync::simulator;

BOOST_AUTO_TEST_SUITE(shrink_suite)

BOOST_AUTO_TEST_CASE(each_dataans_scenario_shrinks_tenfold_and_still_fails_its_checker) {
  std::vector<std::filesystem::path> paths;
  for (const auto& entry : std::filesystem::directory_iterator("simulator/scenarios"))
    if (entry.path().filename().string().rfind("dataans-", 0) == 0) paths.push_back(entry.path());
  std::sort(paths.begin(), paths.end());
  BOOST_TEST(paths.size() >= 8u);
  for (const auto& path : paths) {
    BOOST_TEST_CONTEXT(path.filename().string()) {
      opsync::Result<BugFile> bug = load_bug_file(path.string());
      BOOST_REQUIRE(bug.ok());
      std::vector<std::string> progress;
      const ShrinkResult r =
          shrink(*bug, 400, [&](const std::string& line) { progress.push_back(line); });
      BOOST_TEST(!progress.empty());
      BOOST_TEST(r.after.schedule() * 10 <= r.before.schedule(),
                 "from " << r.before.schedule() << " to " << r.after.schedule());
      BOOST_TEST(r.smaller.checker() == bug->checker());
      // The smaller file is a bug file like any other: it replays to its own trace and verdict.
      const Replay again = replay(r.smaller);
      BOOST_TEST(again.same_trace);
      BOOST_TEST(again.same_verdict);
      BOOST_TEST(r.smaller.description == bug->description);
    }
  }
}

BOOST_AUTO_TEST_CASE(the_tries_are_bounded) {
  opsync::Result<BugFile> bug = load_bug_file("simulator/scenarios/dataans-6-flapping-blocks.json");
  BOOST_REQUIRE(bug.ok());
  const ShrinkResult r = shrink(*bug, 5, [](const std::string&) {});
  BOOST_TEST(r.tries <= 5u);
  BOOST_TEST(r.after.schedule() <= r.before.schedule());
  BOOST_TEST(replay(r.smaller).same_trace);
}

BOOST_AUTO_TEST_SUITE_END()
