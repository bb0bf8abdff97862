// Clauses the other cases reached only through their endpoints: a page exactly full at the end
// of its list, members a status says are absent, methods a literal route lacks, bodies where none
// is taken, unusual whitespace in Authorization, integers at their type's edges, cursors naming
// ids the server does not hold, limits against the member checks ERR-014 puts first, and a
// member repeated inside another. Each was found by a deliberately broken server that passed
// every other case.
#include <nlohmann/json.hpp>

#include <algorithm>

#include "common.h"

namespace opsync::conformance::cases {
namespace {

using Json = nlohmann::json;

Json json_of(const HttpResponse& response) { return Json::parse(response.body, nullptr, false); }

// LOG-022, LOG-025, KEY-006: cursors on pages exactly full at the end, and result members.
void full_last_pages_and_absent_members(CaseContext& c) {
  const TestWorkspace ws = c.new_workspace();
  c.upload(ws, ws.owner_token, c.make_ops(3));
  const std::string ops = path(E::kReadOps, {ws.id});
  const OpsPageResponse full = c.expect_message<OpsPageResponse>(
      c.get(endpoint_target(E::kReadOps, {ws.id}, {{"limit", "3"}}), ws.owner_token), 200, "LOG-020");
  c.check(full.ops.size() == 3 && !full.next_after_seq, "LOG-022",
          "limit=3 on a log of 3: 3 operations and next_after_seq null",
          std::to_string(full.ops.size()) + " ops, next_after_seq " +
              (full.next_after_seq ? std::to_string(*full.next_after_seq) : "null"));
  const OpsPageResponse tail = c.expect_message<OpsPageResponse>(
      c.get(endpoint_target(E::kReadOps, {ws.id}, {{"after_seq", "1"}, {"limit", "2"}}), ws.owner_token), 200,
      "LOG-020");
  c.check(tail.ops.size() == 2 && !tail.next_after_seq, "LOG-022", "after_seq=1&limit=2 of 3: no cursor");
  const OpsPageResponse first = c.expect_message<OpsPageResponse>(
      c.get(endpoint_target(E::kReadOps, {ws.id}, {{"limit", "2"}}), ws.owner_token), 200, "LOG-020");
  c.check(first.next_after_seq == std::optional<uint64_t>(2), "LOG-022", "limit=2 of 3: next_after_seq 2");

  // Keys: two records, a page of exactly two.
  for (const char* key : {"1", "2"})
    c.require(c.request("PUT", path(E::kPutKey, {ws.id, key}), ws.owner_token, key_body(c.random(), 0),
                        "application/json")
                      .status == 200,
              "KEY-002", "a key record created");
  const KeyListResponse keys = c.expect_message<KeyListResponse>(
      c.get(endpoint_target(E::kListKeys, {ws.id}, {{"limit", "2"}}), ws.owner_token), 200, "KEY-001");
  c.check(keys.keys.size() == 2 && !keys.next_after, "KEY-006", "limit=2 of 2 key records: next_after null");
  const KeyListResponse one = c.expect_message<KeyListResponse>(
      c.get(endpoint_target(E::kListKeys, {ws.id}, {{"limit", "1"}}), ws.owner_token), 200, "KEY-001");
  c.check(one.next_after == std::optional<uint32_t>(1), "KEY-006", "limit=1 of 2: next_after 1");

  // LOG-025: accepted and duplicate results have no code or message; rejected ones no seq.
  std::vector<WireOp> batch = c.make_ops(2);
  batch[1].hlc.wall_ms = c.server_time_ms() + c.info().max_clock_skew_ms + 3600000;  // clock_skew
  std::vector<WireOp> with_duplicate = {batch[0], batch[0], batch[1]};
  const HttpResponse answer = c.post_json(path(E::kUploadOps, {ws.id}), ws.owner_token,
                                          serialize_message(UploadOpsRequest{with_duplicate}));
  const Json results = json_of(answer).value("results", Json::array());
  c.require(results.size() == 3, "LOG-025", "three results", answer.body.substr(0, 300));
  for (size_t i = 0; i < results.size(); ++i) {
    const std::string status = results[i].value("status", "");
    const bool rejected = status == "rejected";
    c.check(rejected ? !results[i].contains("seq") : !results[i].contains("code") && !results[i].contains("message"),
            "LOG-025",
            "results[" + std::to_string(i) + "] (" + status + ") without " + (rejected ? "seq" : "code or message"),
            results[i].dump());
  }
}

// TRN-031, AUTH-024, TRN-010: whitespace around tokens, token pages, and the self route's methods.
void tokens_whitespace_cursors_and_methods(CaseContext& c) {
  const TestWorkspace ws = c.new_workspace();
  const std::string ops = path(E::kReadOps, {ws.id});
  auto with_authorization = [&](const std::string& value) {
    return c.request("GET", ops, "", "", "", {{"Authorization", value}});
  };
  c.check(with_authorization("bearer " + ws.owner_token).status == 200, "TRN-030", "bearer in lower case: 200");
  c.check(with_authorization("BEARER " + ws.owner_token).status == 200, "TRN-030", "BEARER in upper case: 200");
  c.expect_error(with_authorization("Bearer  " + ws.owner_token), 401, "token_invalid", "TRN-031");
  // Spaces after the value are not part of it (RFC 9110 5.5); spaces inside it are.
  c.check(with_authorization("Bearer " + ws.owner_token + "  ").status == 200, "TRN-031",
          "Bearer TOKEN followed by spaces: the token, 200");
  c.expect_error(with_authorization("Bearer\t" + ws.owner_token), 401, "token_missing", "TRN-031");
  c.expect_error(with_authorization("Bearer"), 401, "token_missing", "TRN-031");

  for (int i = 0; i < 4; ++i) (void)c.issue_token(ws, Scope::kRead, 3600000);
  const TokenListResponse all = c.expect_message<TokenListResponse>(
      c.get(path(E::kListTokens, {ws.id}), ws.owner_token), 200, "AUTH-015");
  c.require(all.tokens.size() == 5 && !all.next_after, "AUTH-024", "five tokens on one page");
  const TokenListResponse exact = c.expect_message<TokenListResponse>(
      c.get(endpoint_target(E::kListTokens, {ws.id}, {{"limit", "5"}}), ws.owner_token), 200, "AUTH-015");
  c.check(exact.tokens.size() == 5 && !exact.next_after, "AUTH-024", "limit=5 of 5 tokens: next_after null");
  // A cursor the workspace does not hold: the page starts at the first token id above it.
  for (int attempt = 0; attempt < 3; ++attempt) {
    const TokenId unheld = c.random().id();
    const auto above = std::find_if(all.tokens.begin(), all.tokens.end(),
                                    [&](const TokenEntry& e) { return unheld.bytes < e.token_id.bytes; });
    const TokenListResponse page = c.expect_message<TokenListResponse>(
        c.get(endpoint_target(E::kListTokens, {ws.id}, {{"after", to_base64url(unheld)}}), ws.owner_token), 200,
        "AUTH-015");
    const size_t expected = static_cast<size_t>(all.tokens.end() - above);
    c.check(page.tokens.size() == expected && (expected == 0 || page.tokens[0].token_id == above->token_id),
            "AUTH-024", "after an id the workspace lacks: the " + std::to_string(expected) + " tokens above it",
            std::to_string(page.tokens.size()) + " tokens");
  }
  for (const char* method : {"PUT", "POST", "PATCH", "DELETE"}) {
    const HttpResponse r = c.request(method, path(E::kTokenSelf, {ws.id}), ws.owner_token, "{}", "application/json");
    if (c.expect_error(r, 405, "method_not_allowed", "TRN-012"))
      c.check(r.header("Allow") == std::optional<std::string>("GET"), "TRN-010",
              std::string(method) + " .../tokens/self: Allow: GET", r.header("Allow").value_or("no Allow"));
  }
}

// TRN-015, TRN-013, KEY-004, KEY-006, ERR-014, TRN-027: bodies on body-less endpoints, integers
// at their type's edges, limits after the member checks, and a member repeated inside another.
void edges_bodies_and_nested_repeats(CaseContext& c) {
  const TestWorkspace ws = c.new_workspace();
  // A body where none is taken is ignored, whatever its type: on DELETE too.
  const std::string victim = c.issue_token(ws, Scope::kRead);
  const TokenEntry entry =
      c.expect_message<TokenEntry>(c.get(path(E::kTokenSelf, {ws.id}), victim), 200, "AUTH-018");
  const HttpResponse revoked = c.request("DELETE", path(E::kRevokeToken, {ws.id, to_base64url(entry.token_id)}),
                                         ws.owner_token, "{not json", "text/plain");
  c.check(revoked.status == 200, "TRN-015", "DELETE with a body it does not take: 200", describe(revoked));
  c.check(c.request("GET", path(E::kInfo), "", "[1,2", "application/xml").status == 200, "TRN-015",
          "GET /v1/info with a body: 200");

  // Integers at the edges of their types.
  const std::string max53 = "9007199254740991", over53 = "9007199254740992";
  c.expect_error(c.get(endpoint_target(E::kReadOps, {ws.id}, {{"after_seq", max53}}), ws.owner_token), 409,
                 "after_seq_beyond_head", "LOG-023");
  expect_error_at(c, c.get(endpoint_target(E::kReadOps, {ws.id}, {{"after_seq", over53}}), ws.owner_token), 400,
                  "invalid_query", "after_seq", "TRN-013");
  const HttpResponse far = c.get(endpoint_target(E::kReadBlocks, {ws.id}, {{"start", max53}}), ws.owner_token);
  c.check(far.status == 200, "LOG-031", "start = 2^53 - 1: 200 with no blocks", describe(far));
  expect_error_at(c, c.get(endpoint_target(E::kReadBlocks, {ws.id}, {{"start", over53}}), ws.owner_token), 400,
                  "invalid_query", "start", "TRN-013");
  c.check(c.request("PUT", path(E::kPutKey, {ws.id, "4294967295"}), ws.owner_token, key_body(c.random(), 0),
                    "application/json")
                  .status == 200,
          "KEY-004", "key id 2^32 - 1: 200");
  expect_error_at(c, c.request("PUT", path(E::kPutKey, {ws.id, "4294967296"}), ws.owner_token, key_body(c.random(), 0),
                               "application/json"),
                  400, "invalid_id", "key_id", "KEY-004");
  std::string body = key_body(c.random(), 0);
  const std::string version_member = "\"expected_version\":0";
  const size_t at = body.find(version_member);
  c.require(at != std::string::npos, "KEY-002", "a key body with expected_version 0", body);
  std::string at_max = body, over_max = body;
  at_max.replace(at, version_member.size(), "\"expected_version\":" + max53);
  over_max.replace(at, version_member.size(), "\"expected_version\":" + over53);
  c.expect_error(c.request("PUT", path(E::kPutKey, {ws.id, "7"}), ws.owner_token, at_max, "application/json"), 409,
                 "version_conflict", "KEY-006");
  expect_error_at(c, c.request("PUT", path(E::kPutKey, {ws.id, "7"}), ws.owner_token, over_max, "application/json"),
                  400, "invalid_field", "expected_version", "KEY-006");

  // The member checks before the limits (ERR-013 step 8, ERR-014): a batch over batch_ops_max
  // whose last operation lacks its payload is missing_field, not too_many_ops.
  const size_t count = c.limits().batch_ops_max + 1;
  Json batch = Json::parse(serialize_message(UploadOpsRequest{c.make_ops(count, kEnvelopeOverheadBytes)}));
  batch["ops"][count - 1].erase("payload");
  expect_error_at(c, c.post_json(path(E::kUploadOps, {ws.id}), ws.owner_token, batch.dump()), 400, "missing_field",
                  "ops[" + std::to_string(count - 1) + "].payload", "ERR-014");
  // A member repeated inside a member that is itself repeated: the first repetition in the text.
  expect_error_at(c, c.post_json(path(E::kUploadOps, {ws.id}), ws.owner_token, R"({"ops":[{"v":1,"v":1}],"ops":[]})"),
                  400, "duplicate_field", "ops[0].v", "TRN-027");
}

constexpr std::array kCases = {
    Case{"log-005", "LOG-022 LOG-025 KEY-006 LIM-004", Level::kMust, Capability::kNewWorkspaces,
         "pages exactly full at the end of their list have no cursor; results carry only their status's members",
         &full_last_pages_and_absent_members},
    Case{"auth-013", "TRN-030 TRN-031 AUTH-024 TRN-010 TRN-012", Level::kMust, Capability::kNewWorkspaces,
         "whitespace around tokens, a token cursor the workspace lacks, exactly full token pages, tokens/self's methods",
         &tokens_whitespace_cursors_and_methods},
    Case{"errors-014", "TRN-015 TRN-013 KEY-004 KEY-006 LOG-023 LOG-031 ERR-014 TRN-027", Level::kMust,
         Capability::kNewWorkspaces,
         "bodies on DELETE and GET, integers at 2^32 and 2^53, member checks before limits, a repeat inside a repeat",
         &edges_bodies_and_nested_repeats},
};

}  // namespace

std::span<const Case> depth_cases() { return kCases; }

}  // namespace opsync::conformance::cases
