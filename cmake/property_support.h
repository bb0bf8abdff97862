// Running a property against a deliberately broken implementation.
//
// Every property in the suite has a companion test that runs it against a broken variant (no
// tie-break, no dedupe, Dataans' rules, ...) and requires RapidCheck to find a counterexample: a
// property that cannot fail proves nothing. rc::check would report that expected failure through
// RapidCheck's global listener, which ends the run with a "properties had failures" banner;
// finds_counterexample keeps the failure local and logs the counterexample instead.
#pragma once

#include <rapidcheck.h>
#include <boost/test/unit_test.hpp>

#include <sstream>
#include <string>

namespace opsync::testing {

class SilentListener final : public rc::detail::TestListener {
 public:
  void onTestCaseFinished(const rc::detail::CaseDescription&) override {}
  void onShrinkTried(const rc::detail::CaseDescription&, bool) override {}
  void onTestFinished(const rc::detail::TestMetadata&, const rc::detail::TestResult&) override {}
};

// True when RapidCheck falsifies `testable` (the broken variant is caught).
template <typename Testable>
bool finds_counterexample(const std::string& description, Testable&& testable) {
  rc::detail::TestMetadata metadata;
  metadata.id = description;
  metadata.description = description;
  SilentListener listener;
  const rc::detail::TestResult result = rc::detail::checkTestable(
      std::forward<Testable>(testable), metadata, rc::detail::configuration().testParams, listener);
  if (!result.template is<rc::detail::FailureResult>()) return false;
  std::ostringstream message;
  rc::detail::printResultMessage(result, message);
  BOOST_TEST_MESSAGE("broken variant caught (" << description << "):\n" << message.str());
  return true;
}

}  // namespace opsync::testing
