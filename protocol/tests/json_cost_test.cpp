// Parsing a request costs time linear in its size, for every shape of JSON (TRN-050).
//
// The check compares two sizes of one shape in one run, so it does not depend on the machine's
// speed: a body 8 times larger may cost at most kCostRatioMax times as much CPU time. A linear
// parser lands near 8 (n log n for the duplicate check in large objects: about 9); a quadratic
// one near 64. Each time is the least of a few runs, on this thread's CPU clock, so another
// process on the machine does not count. The companion cases run the same check on the two
// quadratic parsers this library once used (nlohmann's callback parser, nlohmann's DOM over an
// insertion-ordered object) and require it to catch them.
#include <boost/test/unit_test.hpp>

#include <time.h>

#include <algorithm>
#include <functional>
#include <string>

#include "json_reader.h"
#include "opsync/protocol/messages.h"

using namespace opsync;
using json_detail::Json;

namespace {

constexpr size_t kGrowth = 8;           // the larger body has 8 times the elements of the smaller
constexpr double kCostRatioMax = 20.0;  // linear is about 8, quadratic about 64
constexpr int kRuns = 3;                // the least of these counts, for the smaller body
// Elements of the smaller body: enough for a few milliseconds of parsing, so that the clock's
// resolution and a cache miss do not matter. The sanitizers slow both sizes alike, so they run
// smaller bodies.
#if OPSYNC_SANITIZED  // the code under test is (cmake/OpsyncBuild.cmake)
constexpr size_t kElements = 1000;
#else
constexpr size_t kElements = 4000;
#endif

using Parse = std::function<bool(const std::string&)>;

double thread_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

double least_cost_seconds(const Parse& parse, const std::string& text, int runs) {
  double least = 1e9;
  for (int run = 0; run < runs; ++run) {
    const double started = thread_cpu_seconds();
    const bool parsed = parse(text);
    least = std::min(least, thread_cpu_seconds() - started);
    BOOST_REQUIRE(parsed);  // every shape here is well-formed JSON
  }
  return least;
}

// `count` items joined by commas inside `open` ... `close`.
std::string repeated(size_t count, const std::function<std::string(size_t)>& item,
                     const std::string& open, const std::string& close) {
  std::string text = open;
  for (size_t i = 0; i < count; ++i) {
    if (i > 0) text += ',';
    text += item(i);
  }
  return text + close;
}

struct Shape {
  const char* name;
  std::function<std::string(size_t)> text;  // a body of n elements
};

// The shapes that cost most per byte, and those nlohmann's builders were quadratic in.
const Shape kArrayOfObjects{"array of empty objects", [](size_t n) {
                              return repeated(
                                  n, [](size_t) { return "{}"; }, R"({"ops":[)", "]}");
                            }};
const Shape kObjectOfMembers{"object of many members", [](size_t n) {
                               return repeated(
                                   n, [](size_t i) { return "\"m" + std::to_string(i) + "\":0"; },
                                   "{", "}");
                             }};
const Shape kShapes[] = {
    kArrayOfObjects,
    kObjectOfMembers,
    {"array of empty arrays",
     [](size_t n) {
       return repeated(
           n, [](size_t) { return "[]"; }, R"({"x":[)", "]}");
     }},
    {"array of zeros",
     [](size_t n) {
       return repeated(
           n, [](size_t) { return "0"; }, R"({"x":[)", "]}");
     }},
    {"array of empty strings",
     [](size_t n) {
       return repeated(
           n, [](size_t) { return "\"\""; }, R"({"x":[)", "]}");
     }},
    {"array of nested objects",
     [](size_t n) {
       return repeated(
           n, [](size_t) { return R"({"a":{"b":[{}]}})"; }, R"({"x":[)", "]}");
     }},
    {"object of arrays of objects",
     [](size_t n) {
       return repeated(
           n, [](size_t i) { return "\"m" + std::to_string(i) + "\":[{},{}]"; }, "{", "}");
     }},
};

// `large_runs`: the quadratic variants run their larger body once; it costs them seconds, and
// noise can only make a large cost larger.
double cost_ratio(const Parse& parse, const Shape& shape, size_t n, int large_runs = kRuns) {
  const double small = least_cost_seconds(parse, shape.text(n), kRuns);
  const double large = least_cost_seconds(parse, shape.text(n * kGrowth), large_runs);
  const double ratio = large / std::max(small, 1e-6);
  BOOST_TEST_MESSAGE(shape.name << ": " << n << " elements " << small * 1e3 << " ms, "
                                << n * kGrowth << " elements " << large * 1e3 << " ms, ratio "
                                << ratio);
  return ratio;
}

bool parses_strictly(const std::string& text) { return json_detail::parse_strict(text).ok(); }

// The broken variants: what parse_strict used to hand its text to.
bool nlohmann_callback_parse(const std::string& text) {
  const Json parsed =
      Json::parse(text, [](int, nlohmann::json::parse_event_t, Json&) { return true; });
  return !parsed.is_discarded();
}
bool nlohmann_ordered_dom_parse(const std::string& text) {
  return !Json::parse(text).is_discarded();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(json_cost)

BOOST_AUTO_TEST_CASE(parse_time_is_linear_in_the_body_for_every_shape) {
  for (const Shape& shape : kShapes)
    BOOST_TEST(cost_ratio(parses_strictly, shape, kElements) < kCostRatioMax, shape.name);
}

BOOST_AUTO_TEST_CASE(a_whole_request_of_the_worst_shape_is_linear_too) {
  // Through the message codec, as the server parses an upload: the DOM, then the members.
  const Parse parse_upload = [](const std::string& text) {
    Result<UploadOpsRequest> parsed = parse_message<UploadOpsRequest>(text);
    return !parsed.ok() && parsed.error().code == Code::kMissingField;  // the first op is empty
  };
  BOOST_TEST(cost_ratio(parse_upload, kArrayOfObjects, kElements) < kCostRatioMax);
}

BOOST_AUTO_TEST_CASE(the_check_catches_the_quadratic_parsers) {
  // Smaller sizes than above: these variants are compiled into this test program, without
  // optimization, and their larger body would cost seconds.
  // nlohmann's callback parser rescans an array each time an object in it closes.
  BOOST_TEST(cost_ratio(nlohmann_callback_parse, kArrayOfObjects, kElements / 8, 1) >
             kCostRatioMax);
  // nlohmann's DOM searches an ordered_json object's members one by one on every insertion.
  BOOST_TEST(cost_ratio(nlohmann_ordered_dom_parse, kObjectOfMembers, kElements / 8, 1) >
             kCostRatioMax);
}

BOOST_AUTO_TEST_CASE(the_linear_builder_still_rejects_what_the_spec_rejects) {
  // The same answers as before the builder changed: duplicates with their path, depth, syntax.
  Result<Json> duplicate = json_detail::parse_strict(R"({"ops":[{"a":1},{"b":{"c":1,"c":2}}]})");
  BOOST_REQUIRE(!duplicate.ok());
  BOOST_TEST(code_name(duplicate.error().code) == "duplicate_field");
  BOOST_TEST(duplicate.error().field == "ops[1].b.c");
  Result<Json> top_duplicate = json_detail::parse_strict(R"({"a":1,"a":1})");
  BOOST_REQUIRE(!top_duplicate.ok());
  BOOST_TEST(top_duplicate.error().field == "a");
  // A duplicate among many members, where the set of names is large.
  std::string many = repeated(
      5000, [](size_t i) { return "\"m" + std::to_string(i) + "\":0"; }, "{", ",\"m4321\":1}");
  Result<Json> late_duplicate = json_detail::parse_strict(many);
  BOOST_REQUIRE(!late_duplicate.ok());
  BOOST_TEST(late_duplicate.error().field == "m4321");

  const std::string depth_16 = std::string(15, '[') + "{}" + std::string(15, ']');
  BOOST_TEST(json_detail::parse_strict(depth_16).ok());
  Result<Json> depth_17 = json_detail::parse_strict("[" + depth_16 + "]");
  BOOST_REQUIRE(!depth_17.ok());
  BOOST_TEST(code_name(depth_17.error().code) == "malformed_json");
  for (const char* bad :
       {"", "{", "{\"a\":}", "{} {}", "[1,]", "{\"a\":1,}", "\xff", "{\"a\":\"\xc3\"}", "nul"}) {
    Result<Json> parsed = json_detail::parse_strict(bad);
    BOOST_TEST((!parsed.ok() && parsed.error().code == Code::kMalformedJson), bad);
  }

  // Members keep their order and values.
  Result<Json> parsed =
      json_detail::parse_strict(R"({"z":[1,-2,3.5,"s",null,true,{"y":[]}],"a":{}})");
  BOOST_REQUIRE(parsed.ok());
  BOOST_TEST(parsed->dump() == R"({"z":[1,-2,3.5,"s",null,true,{"y":[]}],"a":{}})");
}

BOOST_AUTO_TEST_SUITE_END()
