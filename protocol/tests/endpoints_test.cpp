// The endpoint catalog: every template matches its own paths and nothing else, literals win over
// parameters, and parameters have one text form (spec TRN-012, TRN-013, section 14).
#include <boost/test/unit_test.hpp>

#include <set>
#include <string>

#include "opsync/protocol/endpoints.h"

using namespace opsync;

namespace {

// A valid value for each path parameter.
std::string sample_value(const ParameterSpec& spec) {
  if (spec.kind == ValueKind::kId) return "AAAAAAAAAAAAAAAAAAAAAA";
  return std::to_string(spec.min == 0 ? 7 : spec.min);
}

std::string sample_path(const Endpoint& e) {
  const std::vector<ParameterSpec> parameters = e.path_parameters();
  std::vector<std::string> values;
  for (const ParameterSpec& p : parameters) values.push_back(sample_value(p));
  switch (values.size()) {
    case 0:
      return endpoint_path(e.id, {});
    case 1:
      return endpoint_path(e.id, {values[0]});
    case 2:
      return endpoint_path(e.id, {values[0], values[1]});
    default:
      return endpoint_path(e.id, {values[0], values[1], values[2]});
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(endpoints)

BOOST_AUTO_TEST_CASE(the_catalog_is_in_id_order_and_every_endpoint_matches_its_own_paths) {
  std::set<std::string> names;
  size_t index = 0;
  for (const Endpoint& e : endpoint_catalog()) {
    BOOST_TEST(static_cast<size_t>(e.id) == index++);
    BOOST_TEST(names.insert(e.name()).second, e.name() << " is listed twice");
    const std::string path = sample_path(e);
    const RouteMatch match = match_route(e.method, path);
    BOOST_TEST_CONTEXT(e.name() << " as " << path) {
      BOOST_REQUIRE(match.kind == RouteMatch::Kind::kMatched);
      BOOST_TEST(match.endpoint == &e);
      BOOST_TEST(match.parameters.size() == e.path_parameters().size());
      BOOST_TEST(e.success[0].status >= 200);
      BOOST_TEST((e.request_body == BodyKind::kJson) == !e.request_message.empty());
      BOOST_TEST(!e.requirements.empty());
    }
  }
  BOOST_TEST(endpoint_catalog().size() == 19u);
}

BOOST_AUTO_TEST_CASE(paths_are_matched_as_sent) {
  using K = RouteMatch::Kind;
  BOOST_TEST((match_route("GET", "/v1/info").kind == K::kMatched));
  for (const char* path : {"/v1/info/", "/V1/info", "/v1x/info", "/v1/%69nfo", "/v1//info", "/v1",
                           "/", "", "v1/info", "/v1/workspaces/", "/v1/workspaces//ops"})
    BOOST_TEST((match_route("GET", path).kind == K::kNotFound), path);
  for (const char* path : {"/v2/info", "/v01/info", "/v0/info", "/v10"})
    BOOST_TEST((match_route("GET", path).kind == K::kUnsupportedVersion), path);
  const RouteMatch patch = match_route("PATCH", "/v1/info");
  BOOST_TEST((patch.kind == K::kMethodNotAllowed));
  BOOST_TEST(patch.allowed == "GET");
  BOOST_TEST(
      (match_route("get", "/v1/info").kind == K::kMethodNotAllowed));  // methods are case-sensitive
}

BOOST_AUTO_TEST_CASE(a_literal_segment_is_never_a_parameter) {
  using K = RouteMatch::Kind;
  const std::string tokens = "/v1/workspaces/AAAAAAAAAAAAAAAAAAAAAA/tokens/";
  const RouteMatch self = match_route("GET", tokens + "self");
  BOOST_REQUIRE((self.kind == K::kMatched));
  BOOST_TEST((self.endpoint->id == EndpointId::kTokenSelf));
  const RouteMatch revoke_self = match_route("DELETE", tokens + "self");
  BOOST_TEST((revoke_self.kind == K::kMethodNotAllowed));
  BOOST_TEST(revoke_self.allowed == "GET");
  const std::string revoke_path =
      tokens + "BBBBBBBBBBBBBBBBBBBBBB";  // the match holds views into it
  const RouteMatch revoke = match_route("DELETE", revoke_path);
  BOOST_REQUIRE((revoke.kind == K::kMatched));
  BOOST_TEST((revoke.endpoint->id == EndpointId::kRevokeToken));
  BOOST_TEST(revoke.parameters.size() == 2u);
  BOOST_TEST(revoke.parameters[1] == "BBBBBBBBBBBBBBBBBBBBBB");
  BOOST_TEST(match_route("GET", revoke_path).allowed == "DELETE");
}

BOOST_AUTO_TEST_CASE(targets_are_built_from_the_templates) {
  BOOST_TEST(endpoint_path(EndpointId::kInfo, {}) == "/v1/info");
  BOOST_TEST(endpoint_path(EndpointId::kPutChunk, {"W", "F", "3"}) ==
             "/v1/workspaces/W/files/F/chunks/3");
  BOOST_TEST(endpoint_target(EndpointId::kReadOps, {"W"}, {{"after_seq", "5"}, {"limit", "10"}}) ==
             "/v1/workspaces/W/ops?after_seq=5&limit=10");
  BOOST_TEST(endpoint_target(EndpointId::kReadBlocks, {"W"}, {}) == "/v1/workspaces/W/blocks");
}

BOOST_AUTO_TEST_CASE(decimal_parameters_have_one_text_form) {
  BOOST_TEST((parse_decimal_parameter("0", 0, 10) == 0u));
  BOOST_TEST((parse_decimal_parameter("10", 0, 10) == 10u));
  BOOST_TEST((parse_decimal_parameter("4294967295", 0, 4294967295u) == 4294967295u));
  for (const char* text : {"", "007", "00", "+1", "-1", " 1", "1 ", "1e3", "1.0", "0x1", "11",
                           "4294967296", "99999999999999999999999"})
    BOOST_TEST(!parse_decimal_parameter(text, 0, 10).has_value(), "\"" << text << "\"");
  BOOST_TEST(!parse_decimal_parameter("0", 1, 10).has_value());
  const ParameterSpec& limit = endpoint(EndpointId::kReadOps).query[1];
  BOOST_TEST(limit.name == "limit");
  BOOST_TEST(valid_parameter(limit, "1000", kReferenceLimits));
  BOOST_TEST(!valid_parameter(limit, "1001", kReferenceLimits));
  BOOST_TEST(!valid_parameter(limit, "101", kLimitFloors));
  const ParameterSpec& after = endpoint(EndpointId::kListTokens).query[0];
  BOOST_TEST(valid_parameter(after, "AAAAAAAAAAAAAAAAAAAAAA", kReferenceLimits));
  BOOST_TEST(
      !valid_parameter(after, "AAAAAAAAAAAAAAAAAAAAAB", kReferenceLimits));  // unused bits set
}

BOOST_AUTO_TEST_CASE(query_strings_are_split_and_decoded_as_sent) {
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  BOOST_TEST((parse_query_string("a=1&b=2") == Pairs{{"a", "1"}, {"b", "2"}}));
  BOOST_TEST(
      (parse_query_string("a=1&a=1") == Pairs{{"a", "1"}, {"a", "1"}}));  // repeats kept (TRN-011)
  BOOST_TEST((parse_query_string("limit") == Pairs{{"limit", ""}}));
  BOOST_TEST((parse_query_string("limit=") == Pairs{{"limit", ""}}));
  BOOST_TEST((parse_query_string("&&a=%31%30&") == Pairs{{"a", "10"}}));
  BOOST_TEST((parse_query_string("a=+1") == Pairs{{"a", "+1"}}));  // a plus stays a plus
  BOOST_TEST((parse_query_string("a=%2B1") == Pairs{{"a", "+1"}}));
  BOOST_TEST((parse_query_string("a=%zz&b=%4") == Pairs{{"a", "%zz"}, {"b", "%4"}}));
  BOOST_TEST((parse_query_string("a=b=c") == Pairs{{"a", "b=c"}}));
  BOOST_TEST(parse_query_string("").empty());
}

BOOST_AUTO_TEST_CASE(observers_sort_requests_by_endpoint) {
  const std::string ws = "AAAAAAAAAAAAAAAAAAAAAA";
  BOOST_TEST((endpoint_of_target("GET", "/v1/workspaces/" + ws + "/ops?after_seq=3") ==
              EndpointId::kReadOps));
  BOOST_TEST(
      (endpoint_of_target("POST", "/v1/workspaces/" + ws + "/ops") == EndpointId::kUploadOps));
  BOOST_TEST((endpoint_of_target("GET", "/v1/info") == EndpointId::kInfo));
  BOOST_TEST(!endpoint_of_target("PUT", "/v1/info").has_value());  // a method no route takes
  BOOST_TEST(
      !endpoint_of_target("GET", "/v1/workspaces/x/opsy").has_value());  // no suffix matching
  BOOST_TEST(!endpoint_of_target("GET", "/v2/info").has_value());
  BOOST_TEST((query_parameter("/v1/x?limit=5&after_seq=%31%32&after_seq=9", "after_seq") == "12"));
  BOOST_TEST(!query_parameter("/v1/x?limit=5", "after_seq").has_value());
  BOOST_TEST(!query_parameter("/v1/x", "limit").has_value());
}

BOOST_AUTO_TEST_SUITE_END()
