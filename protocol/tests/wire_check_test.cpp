// The wire checker shared by the fuzzer and the conformance suite: a response that keeps the rules
// passes, and each rule broken alone is reported with its requirement.
#include <boost/test/unit_test.hpp>

#include <map>
#include <string>

#include "opsync/protocol/messages.h"
#include "opsync/protocol/wire_check.h"

using namespace opsync;

namespace {

struct Answer {
  std::string method = "GET";
  std::string target = "/v1/info";
  std::optional<std::string> request_id;
  int status = 200;
  std::map<std::string, std::string> headers;
  std::string body;
};

Answer info_answer() {
  InfoResponse info;
  info.versions = {1};
  info.server_time_ms = 1764000000000;
  info.max_clock_skew_ms = 60000;
  info.block_size = 256;
  info.upload_expiry_ms = 3600000;
  info.file_retention_ms = 3600000;
  info.limits = kReferenceLimits;
  Answer a;
  a.body = serialize_message(info);
  a.headers = {{"content-type", "application/json"},
               {"opsync-server-time-ms", "1764000000000"},
               {"opsync-request-id", "abc"}};
  return a;
}

Answer error_answer(int status, Code code) {
  Answer a = info_answer();
  a.status = status;
  a.body = serialize_error(Error(code, "m"));
  return a;
}

// The requirements the checker reports, in order.
std::vector<std::string> violations(const Answer& a) {
  const WireExchange x{a.method,
                       a.target,
                       a.request_id ? std::optional<std::string_view>(*a.request_id) : std::nullopt,
                       a.status,
                       a.body,
                       [&](std::string_view name) -> std::optional<std::string> {
                         std::string key(name);
                         for (char& c : key)
                           c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                         auto it = a.headers.find(key);
                         if (it == a.headers.end()) return std::nullopt;
                         return it->second;
                       }};
  std::vector<std::string> out;
  for (const WireViolation& v : check_wire_response(x)) out.push_back(v.requirement);
  return out;
}

using Ids = std::vector<std::string>;

}  // namespace

BOOST_AUTO_TEST_SUITE(wire_check)

BOOST_AUTO_TEST_CASE(answers_that_keep_the_rules_pass) {
  BOOST_TEST(violations(info_answer()).empty());
  BOOST_TEST(violations(error_answer(404, Code::kNotFound)).empty());
  Answer echoed = info_answer();
  echoed.request_id = "abc";
  BOOST_TEST(violations(echoed).empty());
  Answer chunk = info_answer();
  chunk.target = "/v1/workspaces/AAAAAAAAAAAAAAAAAAAAAA/files/AAAAAAAAAAAAAAAAAAAAAA/chunks/0";
  chunk.headers["content-type"] = "application/octet-stream";
  chunk.body = std::string(40, 'x');
  BOOST_TEST(violations(chunk).empty());
}

BOOST_AUTO_TEST_CASE(each_broken_rule_is_reported_with_its_requirement) {
  Answer a = info_answer();
  a.headers.erase("opsync-server-time-ms");
  BOOST_TEST(violations(a) == (Ids{"TRN-007"}));
  a = info_answer();
  a.headers["opsync-request-id"] = "not valid!";
  BOOST_TEST(violations(a) == (Ids{"TRN-008"}));
  a = info_answer();
  a.request_id = "mine";
  BOOST_TEST(violations(a) == (Ids{"TRN-008"}));
  a = info_answer();
  a.headers["opsync-server-time-ms"] = "1764000000001";
  BOOST_TEST(violations(a) == (Ids{"INF-002"}));
  a = info_answer();
  a.headers["content-type"] = "text/plain";
  BOOST_TEST(violations(a) == (Ids{"TRN-006"}));
  a = info_answer();
  a.body = "{}";
  BOOST_TEST(violations(a) == (Ids{"TRN-029"}));
  a = info_answer();
  a.status = 201;
  BOOST_TEST(violations(a) == (Ids{"INF-001"}));
  a = info_answer();
  a.target = "/v1/nothing";
  BOOST_TEST(violations(a) == (Ids{"TRN-010"}));
  BOOST_TEST(violations(error_answer(400, Code::kNotFound)) == (Ids{"ERR-001"}));
  BOOST_TEST(violations(error_answer(405, Code::kMethodNotAllowed)) == (Ids{"TRN-010"}));
  BOOST_TEST(violations(error_answer(500, Code::kInternalError)) == (Ids{"ERR-004"}));
  a = error_answer(400, Code::kInvalidField);
  a.body = R"({"error":{"code":"no_such_code","message":"m"}})";
  BOOST_TEST(violations(a) == (Ids{"ERR-001"}));
  a.body = "not json";
  BOOST_TEST(violations(a) == (Ids{"ERR-001"}));
}

BOOST_AUTO_TEST_CASE(request_ids_have_the_form_of_trn_008) {
  BOOST_TEST(valid_request_id("a.b_c-D9"));
  BOOST_TEST(valid_request_id(std::string(64, 'x')));
  BOOST_TEST(!valid_request_id(std::string(65, 'x')));
  BOOST_TEST(!valid_request_id(""));
  BOOST_TEST(!valid_request_id("a b"));
  BOOST_TEST(!valid_request_id("a/b"));
}

BOOST_AUTO_TEST_SUITE_END()
