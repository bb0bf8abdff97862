// Clauses the other cases reached only through their endpoints: a page exactly full at the end
// of its list, members a status says are absent, methods a literal route lacks, bodies where none
// is taken, unusual whitespace in Authorization, integers at their type's edges, cursors naming
// ids the server does not hold, limits against the member checks ERR-014 puts first, and a
// member repeated inside another. Each was found by a deliberately broken server that passed
// every other case.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <set>
#include <thread>

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
      c.get(endpoint_target(E::kReadOps, {ws.id}, {{"limit", "3"}}), ws.owner_token), 200,
      "LOG-020");
  c.check(full.ops.size() == 3 && !full.next_after_seq, "LOG-022",
          "limit=3 on a log of 3: 3 operations and next_after_seq null",
          std::to_string(full.ops.size()) + " ops, next_after_seq " +
              (full.next_after_seq ? std::to_string(*full.next_after_seq) : "null"));
  const OpsPageResponse tail = c.expect_message<OpsPageResponse>(
      c.get(endpoint_target(E::kReadOps, {ws.id}, {{"after_seq", "1"}, {"limit", "2"}}),
            ws.owner_token),
      200, "LOG-020");
  c.check(tail.ops.size() == 2 && !tail.next_after_seq, "LOG-022",
          "after_seq=1&limit=2 of 3: no cursor");
  const OpsPageResponse first = c.expect_message<OpsPageResponse>(
      c.get(endpoint_target(E::kReadOps, {ws.id}, {{"limit", "2"}}), ws.owner_token), 200,
      "LOG-020");
  c.check(first.next_after_seq == std::optional<uint64_t>(2), "LOG-022",
          "limit=2 of 3: next_after_seq 2");

  // Keys: two records, a page of exactly two.
  for (const char* key : {"1", "2"})
    c.require(c.request("PUT", path(E::kPutKey, {ws.id, key}), ws.owner_token,
                        key_body(c.random(), 0), "application/json")
                      .status == 200,
              "KEY-002", "a key record created");
  const KeyListResponse keys = c.expect_message<KeyListResponse>(
      c.get(endpoint_target(E::kListKeys, {ws.id}, {{"limit", "2"}}), ws.owner_token), 200,
      "KEY-001");
  c.check(keys.keys.size() == 2 && !keys.next_after, "KEY-006",
          "limit=2 of 2 key records: next_after null");
  const KeyListResponse one = c.expect_message<KeyListResponse>(
      c.get(endpoint_target(E::kListKeys, {ws.id}, {{"limit", "1"}}), ws.owner_token), 200,
      "KEY-001");
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
    c.check(rejected ? !results[i].contains("seq")
                     : !results[i].contains("code") && !results[i].contains("message"),
            "LOG-025",
            "results[" + std::to_string(i) + "] (" + status + ") without " +
                (rejected ? "seq" : "code or message"),
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
  c.check(with_authorization("bearer " + ws.owner_token).status == 200, "TRN-030",
          "bearer in lower case: 200");
  c.check(with_authorization("BEARER " + ws.owner_token).status == 200, "TRN-030",
          "BEARER in upper case: 200");
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
      c.get(endpoint_target(E::kListTokens, {ws.id}, {{"limit", "5"}}), ws.owner_token), 200,
      "AUTH-015");
  c.check(exact.tokens.size() == 5 && !exact.next_after, "AUTH-024",
          "limit=5 of 5 tokens: next_after null");
  // A cursor the workspace does not hold: the page starts at the first token id above it.
  for (int attempt = 0; attempt < 3; ++attempt) {
    const TokenId unheld = c.random().id();
    const auto above = std::find_if(all.tokens.begin(), all.tokens.end(), [&](const TokenEntry& e) {
      return unheld.bytes < e.token_id.bytes;
    });
    const TokenListResponse page = c.expect_message<TokenListResponse>(
        c.get(endpoint_target(E::kListTokens, {ws.id}, {{"after", to_base64url(unheld)}}),
              ws.owner_token),
        200, "AUTH-015");
    const size_t expected = static_cast<size_t>(all.tokens.end() - above);
    c.check(page.tokens.size() == expected &&
                (expected == 0 || page.tokens[0].token_id == above->token_id),
            "AUTH-024",
            "after an id the workspace lacks: the " + std::to_string(expected) + " tokens above it",
            std::to_string(page.tokens.size()) + " tokens");
  }
  // The token exactly (TRN-030): the same token in another letter case is another token.
  std::string other_case = ws.owner_token;
  for (char& ch : other_case)
    ch = std::isupper(static_cast<unsigned char>(ch)) ? static_cast<char>(std::tolower(ch))
                                                      : static_cast<char>(std::toupper(ch));
  if (other_case != ws.owner_token)
    c.expect_error(with_authorization("Bearer " + other_case), 401, "token_invalid", "TRN-030");
  c.check(with_authorization("Bearer " + ws.owner_token + "\t").status == 200, "TRN-031",
          "Bearer TOKEN followed by a tab: the token, 200");
  // GET on a token's own path: the route of DELETE alone (TRN-012).
  const HttpResponse get_token =
      c.get(path(E::kRevokeToken, {ws.id, to_base64url(all.tokens[0].token_id)}), ws.owner_token);
  if (c.expect_error(get_token, 405, "method_not_allowed", "TRN-012"))
    c.check(get_token.header("Allow") == std::optional<std::string>("DELETE"), "TRN-012",
            "GET .../tokens/{token_id}: Allow: DELETE",
            get_token.header("Allow").value_or("no Allow"));
  for (const char* method : {"PUT", "POST", "PATCH", "DELETE"}) {
    const HttpResponse r =
        c.request(method, path(E::kTokenSelf, {ws.id}), ws.owner_token, "{}", "application/json");
    if (c.expect_error(r, 405, "method_not_allowed", "TRN-012"))
      c.check(r.header("Allow") == std::optional<std::string>("GET"), "TRN-010",
              std::string(method) + " .../tokens/self: Allow: GET",
              r.header("Allow").value_or("no Allow"));
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
  const HttpResponse revoked =
      c.request("DELETE", path(E::kRevokeToken, {ws.id, to_base64url(entry.token_id)}),
                ws.owner_token, "{not json", "text/plain");
  c.check(revoked.status == 200, "TRN-015", "DELETE with a body it does not take: 200",
          describe(revoked));
  c.check(c.request("GET", path(E::kInfo), "", "[1,2", "application/xml").status == 200, "TRN-015",
          "GET /v1/info with a body: 200");

  // Integers at the edges of their types.
  const std::string max53 = "9007199254740991", over53 = "9007199254740992";
  c.expect_error(
      c.get(endpoint_target(E::kReadOps, {ws.id}, {{"after_seq", max53}}), ws.owner_token), 409,
      "after_seq_beyond_head", "LOG-023");
  expect_error_at(
      c, c.get(endpoint_target(E::kReadOps, {ws.id}, {{"after_seq", over53}}), ws.owner_token), 400,
      "invalid_query", "after_seq", "TRN-013");
  const HttpResponse far =
      c.get(endpoint_target(E::kReadBlocks, {ws.id}, {{"start", max53}}), ws.owner_token);
  c.check(far.status == 200, "LOG-031", "start = 2^53 - 1: 200 with no blocks", describe(far));
  expect_error_at(
      c, c.get(endpoint_target(E::kReadBlocks, {ws.id}, {{"start", over53}}), ws.owner_token), 400,
      "invalid_query", "start", "TRN-013");
  c.check(c.request("PUT", path(E::kPutKey, {ws.id, "4294967295"}), ws.owner_token,
                    key_body(c.random(), 0), "application/json")
                  .status == 200,
          "KEY-004", "key id 2^32 - 1: 200");
  expect_error_at(c,
                  c.request("PUT", path(E::kPutKey, {ws.id, "4294967296"}), ws.owner_token,
                            key_body(c.random(), 0), "application/json"),
                  400, "invalid_id", "key_id", "KEY-004");
  std::string body = key_body(c.random(), 0);
  const std::string version_member = "\"expected_version\":0";
  const size_t at = body.find(version_member);
  c.require(at != std::string::npos, "KEY-002", "a key body with expected_version 0", body);
  std::string at_max = body, over_max = body;
  at_max.replace(at, version_member.size(), "\"expected_version\":" + max53);
  over_max.replace(at, version_member.size(), "\"expected_version\":" + over53);
  c.expect_error(
      c.request("PUT", path(E::kPutKey, {ws.id, "7"}), ws.owner_token, at_max, "application/json"),
      409, "version_conflict", "KEY-006");
  expect_error_at(c,
                  c.request("PUT", path(E::kPutKey, {ws.id, "7"}), ws.owner_token, over_max,
                            "application/json"),
                  400, "invalid_field", "expected_version", "KEY-006");

  // The member checks before the limits (ERR-013 step 8, ERR-014): a batch over batch_ops_max
  // whose last operation lacks its payload is missing_field, not too_many_ops.
  const size_t count = c.limits().batch_ops_max + 1;
  Json batch =
      Json::parse(serialize_message(UploadOpsRequest{c.make_ops(count, kEnvelopeOverheadBytes)}));
  batch["ops"][count - 1].erase("payload");
  expect_error_at(c, c.post_json(path(E::kUploadOps, {ws.id}), ws.owner_token, batch.dump()), 400,
                  "missing_field", "ops[" + std::to_string(count - 1) + "].payload", "ERR-014");
  // A member repeated inside a member that is itself repeated: the first repetition in the text.
  expect_error_at(c,
                  c.post_json(path(E::kUploadOps, {ws.id}), ws.owner_token,
                              R"({"ops":[{"v":1,"v":1}],"ops":[]})"),
                  400, "duplicate_field", "ops[0].v", "TRN-027");
}

// Waits until the server's own clock, read from its answers, has passed `ms` (at most 3 s).
void wait_for_server_time(CaseContext& c, uint64_t ms) {
  for (int i = 0; i < 300 && c.server_time_ms() <= ms; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    (void)c.get(path(E::kInfo));
  }
}

std::set<std::string> details_members(const HttpResponse& response) {
  std::set<std::string> out;
  const Json body = json_of(response);
  if (body.is_object() && body.contains("error") && body["error"].is_object() &&
      body["error"].contains("details") && body["error"]["details"].is_object())
    for (const auto& [name, value] : body["error"]["details"].items()) out.insert(name);
  return out;
}

std::string joined(const std::set<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "none" : out;
}

bool without_field(CaseContext& c, const HttpResponse& response, std::string_view code,
                   std::string_view requirement) {
  const bool holds = code_and_field(response).first == code &&
                     response.body.find("\"field\"") == std::string::npos;
  c.check(holds, requirement, std::string(code) + " without field", response.body.substr(0, 200));
  return holds;
}

// TRN-013, TRN-014, TRN-015, ERR-011, ERR-024, ERR-013: query text forms, media type whitespace,
// a declared body over the limit where none is taken, details and fields code by code, and the
// path parameters from left to right.
void query_forms_details_and_fields(CaseContext& c) {
  const TestWorkspace ws = c.workspace();
  const std::string ops = path(E::kReadOps, {ws.id});
  // '+' stands for itself, never for a space.
  expect_error_at(c, c.get(path(E::kInfo) + "?a+b=1"), 400, "invalid_query", "a+b", "TRN-013");
  c.check(c.get(ops + "?after_seq=0", ws.owner_token).status == 200, "TRN-013", "after_seq=0: 200");
  expect_error_at(c, c.get(ops + "?limit=1&limit=1", ws.owner_token), 400, "invalid_query", "limit",
                  "TRN-011");
  expect_error_at(c, c.get(path(E::kListTokens, {ws.id}) + "?after=AAAA", ws.owner_token), 400,
                  "invalid_query", "after", "TRN-013");
  const HttpResponse tabbed = c.request("POST", path(E::kUploadOps, {ws.id}), ws.owner_token,
                                        serialize_message(UploadOpsRequest{c.make_ops(1)}),
                                        "application/json\t;\tcharset=utf-8");
  c.check(tabbed.status == 200, "TRN-014", "application/json<TAB>;<TAB>charset=utf-8 accepted",
          describe(tabbed));
  // A GET declaring a body over request_body_bytes_max: 413 from the head alone (TRN-015).
  std::string head =
      "GET " + ops + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + ws.owner_token + "\r\n";
  for (const auto& [name, value] : c.case_headers()) head += name + ": " + value + "\r\n";
  head += "Content-Length: " + std::to_string(c.limits().request_body_bytes_max + 1) + "\r\n\r\n";
  Result<HttpResponse> oversize = c.raw(head);
  c.require(oversize.ok(), "TRN-015", "an answer before the body is sent",
            oversize.ok() ? "" : oversize.error().message);
  if (c.expect_error(*oversize, 413, "body_too_large", "TRN-015"))
    without_field(c, *oversize, "body_too_large", "ERR-024");

  // Details hold only the members ERR-010 names (ERR-011); fields go with their codes (ERR-024).
  const HttpResponse beyond = c.get(
      endpoint_target(E::kReadOps, {ws.id}, {{"after_seq", "9007199254740991"}}), ws.owner_token);
  if (c.expect_error(beyond, 409, "after_seq_beyond_head", "ERR-011"))
    c.check(details_members(beyond) == std::set<std::string>{"head_seq"}, "ERR-011",
            "after_seq_beyond_head: details.head_seq alone", joined(details_members(beyond)));
  const std::string key =
      path(E::kPutKey, {ws.id, std::to_string(3000000 + c.random().below(1000000))});
  const HttpResponse conflict =
      c.request("PUT", key, ws.owner_token, key_body(c.random(), 5), "application/json");
  if (c.expect_error(conflict, 409, "version_conflict", "ERR-011"))
    c.check(details_members(conflict) == std::set<std::string>{"current_version"}, "ERR-011",
            "version_conflict: details.current_version alone", joined(details_members(conflict)));
  const HttpResponse batch = c.post_json(
      path(E::kUploadOps, {ws.id}), ws.owner_token,
      serialize_message(
          UploadOpsRequest{c.make_ops(c.limits().batch_ops_max + 1, kEnvelopeOverheadBytes)}));
  if (expect_error_at(c, batch, 413, "too_many_ops", "ops", "ERR-024"))
    c.check(details_members(batch) == std::set<std::string>{"limit"}, "ERR-011",
            "too_many_ops: details.limit alone", joined(details_members(batch)));
  const std::string reader = c.issue_token(ws, Scope::kRead);
  const HttpResponse scope = c.post_json(path(E::kUploadOps, {ws.id}), reader,
                                         serialize_message(UploadOpsRequest{c.make_ops(1)}));
  if (c.expect_error(scope, 403, "insufficient_scope", "ERR-024"))
    without_field(c, scope, "insufficient_scope", "ERR-024");
  if (!c.info().has_capability("files")) return;

  FileStatusRequest many;
  for (uint64_t i = 0; i <= c.limits().file_status_ids_max; ++i)
    many.file_ids.push_back(c.random().id());
  const HttpResponse ids =
      c.post_json(path(E::kFileStatus, {ws.id}), ws.owner_token, serialize_message(many));
  if (expect_error_at(c, ids, 413, "too_many_ids", "file_ids", "ERR-024"))
    c.check(details_members(ids) == std::set<std::string>{"limit"}, "ERR-011",
            "too_many_ids: details.limit alone", joined(details_members(ids)));
  const FileId f = c.random().id();
  const std::string file = file_path(ws, f);
  const std::string commit = path(E::kCommitFile, {ws.id, to_base64url(f)});
  const std::string body = chunk_body(c.random(), 40);
  c.require(c.post_json(file, ws.owner_token, R"({"chunk_count":1})").status == 201, "FILE-002",
            "a file created");
  expect_error_at(c, c.post_json(commit, ws.owner_token, R"({"chunk_count":1})"), 409,
                  "file_incomplete", "file_id", "ERR-024");
  expect_error_at(c, c.get(path(E::kGetChunk, {ws.id, to_base64url(f), "0"}), ws.owner_token), 409,
                  "file_not_committed", "file_id", "ERR-024");
  const HttpResponse range =
      c.request("PUT", chunk_path(ws, f, "5"), ws.owner_token, body, "application/octet-stream");
  if (expect_error_at(c, range, 400, "chunk_index_out_of_range", "index", "ERR-024"))
    c.check(details_members(range) == std::set<std::string>{"chunk_count"}, "ERR-011",
            "chunk_index_out_of_range: details.chunk_count alone", joined(details_members(range)));
  expect_error_at(c, c.post_json(file, ws.owner_token, R"({"chunk_count":2})"), 409,
                  "file_chunk_count_mismatch", "chunk_count", "ERR-024");
  c.require(
      c.request("PUT", chunk_path(ws, f, "0"), ws.owner_token, body, "application/octet-stream")
              .status == 200,
      "FILE-003", "the chunk stored");
  c.require(c.post_json(commit, ws.owner_token, R"({"chunk_count":1})").status == 200, "FILE-008",
            "committed");
  expect_error_at(c,
                  c.request("PUT", chunk_path(ws, f, "0"), ws.owner_token,
                            chunk_body(c.random(), 40), "application/octet-stream"),
                  409, "file_not_uploading", "file_id", "ERR-024");
  c.require(c.request("DELETE", file, ws.owner_token).status == 200, "FILE-010", "deleted");
  expect_error_at(c, c.get(path(E::kGetChunk, {ws.id, to_base64url(f), "0"}), ws.owner_token), 409,
                  "file_deleted", "file_id", "ERR-024");
  // Step 9: the path parameters after the workspace id, left to right: the file id before the
  // index.
  expect_error_at(c,
                  c.request("PUT", path(E::kPutChunk, {ws.id, "not-an-id", "x"}), ws.owner_token,
                            body, "application/octet-stream"),
                  400, "invalid_id", "file_id", "ERR-013");
}

// TRN-053, TRN-062, TRN-063, TRN-064, TRN-066: a head over its limit that never ends, request
// lines over the section's limit, bytes of RFC 3986's excluded set at a parameter's place,
// HTTP/1.0 with Content-Length, HEAD on no route.
void heads_that_never_end_and_other_edges(CaseContext& c) {
  constexpr uint64_t kAnswerMs = 3000;
  const TestWorkspace ws = c.workspace();
  const std::optional<HttpLimits> advertised = c.info().http_limits;
  c.require(advertised.has_value(), "INF-010", "http_limits in /v1/info", "none");
  const uint64_t section_max = advertised->header_section_bytes_max;
  std::string start = "GET " + path(E::kInfo) + " HTTP/1.1\r\nHost: x\r\n";
  for (const auto& [name, value] : c.case_headers()) start += name + ": " + value + "\r\n";
  // A head that passes header_section_bytes_max and never ends: 431 at once, nothing more read.
  // Its one field line is longer than a front's line buffer too (deploy/nginx holds 64 KiB), so
  // that a front, which reads a head whole within its own limits, answers at once as well.
  const uint64_t line_bytes = 4 * section_max;
  {
    const std::string bytes = start + "X-Pad: " + std::string(line_bytes, 'p');
    std::unique_ptr<Connection> connection = c.connect();
    (void)connection->send(bytes);
    Result<HttpResponse> r = connection->read_response(kAnswerMs);
    c.record(bytes, r, 0);
    c.check(r.ok() && r->status == 431 && code_and_field(*r).first == "headers_too_large",
            "TRN-053",
            "a head past header_section_bytes_max without its end: 431 headers_too_large at once",
            r.ok() ? describe(*r) : "no answer within " + std::to_string(kAnswerMs) + " ms");
  }
  // A request line longer than the header section (several times, past any buffer's slack): 414
  // after a method and a space, else 400.
  Result<HttpResponse> long_target =
      c.raw("GET /" + std::string(line_bytes, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n", kAnswerMs);
  c.check(long_target.ok() && long_target->status == 414, "TRN-063",
          "a request line longer than header_section_bytes_max after GET and a space: 414",
          long_target.ok() ? describe(*long_target) : long_target.error().message);
  Result<HttpResponse> long_method =
      c.raw("/" + std::string(line_bytes, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n", kAnswerMs);
  c.check(long_method.ok() && long_method->status == 400 &&
              code_and_field(*long_method).first == "malformed_request",
          "TRN-063",
          "a request line longer than header_section_bytes_max that starts with no method: 400",
          long_method.ok() ? describe(*long_method) : long_method.error().message);
  // A quote inside a workspace id is data: 400 invalid_id at the parameter's place (TRN-062).
  expect_error_at(c, c.get("/v1/workspaces/AAAAAAAAAA\"AAAAAAAAAAA/ops", ws.owner_token), 400,
                  "invalid_id", "workspace_id", "TRN-062");
  // HTTP/1.0 with Content-Length is served (TRN-064).
  const std::string body = key_body(c.random(), 0);
  std::string put =
      "PUT " + path(E::kPutKey, {ws.id, std::to_string(4000000 + c.random().below(1000000))}) +
      " HTTP/1.0\r\nAuthorization: Bearer " + ws.owner_token +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n";
  for (const auto& [name, value] : c.case_headers()) put += name + ": " + value + "\r\n";
  Result<HttpResponse> served = c.raw(put + "\r\n" + body, kAnswerMs);
  c.check(served.ok() && served->status == 200, "TRN-064",
          "an HTTP/1.0 PUT with Content-Length: 200",
          served.ok() ? describe(*served) : served.error().message);
  // HEAD where no route is: 404, its head alone (TRN-066).
  {
    std::string bytes = "HEAD /v1/nowhere HTTP/1.1\r\nHost: x\r\n";
    for (const auto& [name, value] : c.case_headers()) bytes += name + ": " + value + "\r\n";
    bytes += "\r\n";
    std::unique_ptr<Connection> connection = c.connect();
    (void)connection->send(bytes);
    Result<HttpResponse> r = connection->read_response(kAnswerMs, /*head_only=*/true);
    c.record(bytes, r, 0);
    c.check(r.ok() && r->status == 404, "TRN-066", "HEAD /v1/nowhere: 404",
            r.ok() ? describe(*r) : r.error().message);
  }
}

// AUTH-013, AUTH-024, AUTH-022, KEY-001, LOG-031, FILE-006, FILE-007, FILE-009: expiry at both
// ends of its range, expired tokens listed, one workspace's ids in another's paths, and what a
// read token may read.
void expiry_ends_foreign_ids_and_read_scope(CaseContext& c) {
  const TestWorkspace ws = c.new_workspace();
  const TestWorkspace other = c.new_workspace();
  const HttpResponse brief = c.post_json(path(E::kCreateToken, {ws.id}), ws.owner_token,
                                         serialize_message(CreateTokenRequest{Scope::kRead, 1000}));
  const TokenIssued shortest = c.expect_message<TokenIssued>(brief, 201, "AUTH-013");
  const HttpResponse decade =
      c.post_json(path(E::kCreateToken, {ws.id}), ws.owner_token,
                  serialize_message(CreateTokenRequest{Scope::kRead, 315360000000ull}));
  const TokenIssued longest = c.expect_message<TokenIssued>(decade, 201, "AUTH-013");
  c.check(longest.expires_at_ms == std::optional<uint64_t>(longest.created_at_ms + 315360000000ull),
          "AUTH-013", "expires_in_ms 315,360,000,000: expires_at_ms = created_at_ms + it");

  // One workspace's ids in the other's paths: the other's not-found answers.
  const TokenEntry theirs = c.expect_message<TokenEntry>(
      c.get(path(E::kTokenSelf, {ws.id}), longest.token), 200, "AUTH-018");
  expect_error_at(
      c,
      c.request("DELETE", path(E::kRevokeToken, {other.id, to_base64url(theirs.token_id)}),
                other.owner_token),
      404, "token_not_found", "token_id", "AUTH-022");
  c.check(c.get(path(E::kTokenSelf, {ws.id}), longest.token).status == 200, "AUTH-022",
          "the token stays valid in its own workspace");

  // A read token reads everything read scope opens.
  const std::string reader = longest.token;
  c.check(c.get(path(E::kListKeys, {ws.id}), reader).status == 200, "KEY-001",
          "a read token lists the keys");
  c.check(c.get(path(E::kReadBlocks, {ws.id}), reader).status == 200, "LOG-031",
          "a read token lists the blocks");
  if (c.info().has_capability("files")) {
    const FileId f = c.random().id();
    const std::string chunk = chunk_body(c.random(), 40);
    c.require(c.post_json(file_path(ws, f), ws.owner_token, R"({"chunk_count":1})").status == 201,
              "FILE-002", "created");
    c.require(
        c.request("PUT", chunk_path(ws, f, "0"), ws.owner_token, chunk, "application/octet-stream")
                .status == 200,
        "FILE-003", "stored");
    c.require(c.post_json(path(E::kCommitFile, {ws.id, to_base64url(f)}), ws.owner_token,
                          R"({"chunk_count":1})")
                      .status == 200,
              "FILE-008", "committed");
    c.check(c.get(file_path(ws, f), reader).status == 200, "FILE-006",
            "a read token reads the file's status");
    c.check(c.post_json(path(E::kFileStatus, {ws.id}), reader,
                        "{\"file_ids\":[\"" + to_base64url(f) + "\"]}")
                    .status == 200,
            "FILE-007", "a read token asks POST /file-status");
    const HttpResponse download = c.get(path(E::kGetChunk, {ws.id, to_base64url(f), "0"}), reader);
    c.check(download.status == 200 && download.body == chunk, "FILE-009",
            "a read token downloads the chunk", describe(download));
    expect_error_at(c, c.get(file_path(other, f), other.owner_token), 404, "file_not_found",
                    "file_id", "AUTH-022");
  }

  // An expired token stays listed, with its expires_at_ms.
  wait_for_server_time(c, *shortest.expires_at_ms + 20);
  std::vector<TokenEntry> listed;
  std::string after;
  for (int page = 0; page < 20; ++page) {
    std::string target = path(E::kListTokens, {ws.id});
    if (!after.empty()) target += "?after=" + after;
    const auto list =
        c.expect_message<TokenListResponse>(c.get(target, ws.owner_token), 200, "AUTH-015");
    listed.insert(listed.end(), list.tokens.begin(), list.tokens.end());
    if (!list.next_after) break;
    after = to_base64url(*list.next_after);
  }
  const bool expired_listed = std::any_of(listed.begin(), listed.end(), [&](const TokenEntry& e) {
    return e.token_id == shortest.token_id && e.expires_at_ms == shortest.expires_at_ms;
  });
  c.check(expired_listed, "AUTH-024", "the expired token listed with its expires_at_ms",
          std::to_string(listed.size()) + " tokens listed");
}

// OP-001, LOG-001: every member at the edge of its range, and a batch of exactly batch_ops_max.
void members_at_their_edges(CaseContext& c) {
  const TestWorkspace ws = c.workspace();
  const std::string target = path(E::kUploadOps, {ws.id});
  const std::vector<WireOp> full = c.make_ops(c.limits().batch_ops_max, kEnvelopeOverheadBytes);
  const HttpResponse r =
      c.post_json(target, ws.owner_token, serialize_message(UploadOpsRequest{full}));
  const auto answer = c.expect_message<UploadOpsResponse>(r, 200, "LOG-001");
  const bool all = answer.results.size() == full.size() &&
                   std::all_of(answer.results.begin(), answer.results.end(),
                               [](const OpResult& o) { return o.status == OpStatus::kAccepted; });
  c.check(all, "LOG-001",
          "a batch of exactly batch_ops_max operations of 28-byte payloads: all accepted",
          std::to_string(answer.results.size()) + " results");
  c.check(all, "OP-001", "payloads of 28 bytes accepted");
  // The largest counter and key id.
  Json edge = Json::parse(serialize_message(UploadOpsRequest{c.make_ops(1)}));
  edge["ops"][0]["hlc"]["counter"] = 4294967295ull;
  edge["ops"][0]["key_id"] = 4294967295ull;
  const auto largest = c.expect_message<UploadOpsResponse>(
      c.post_json(target, ws.owner_token, edge.dump()), 200, "OP-001");
  c.check(largest.results.size() == 1 && largest.results[0].status == OpStatus::kAccepted, "OP-001",
          "hlc.counter and key_id of 2^32 - 1 accepted");
  Json over = Json::parse(serialize_message(UploadOpsRequest{c.make_ops(1)}));
  over["ops"][0]["hlc"]["counter"] = 4294967296ull;
  expect_error_at(c, c.post_json(target, ws.owner_token, over.dump()), 400, "invalid_field",
                  "ops[0].hlc.counter", "OP-001");
  // wall_ms 2^48 - 1 is a valid member (beyond the clock's skew: rejected, not refused).
  Json latest = Json::parse(serialize_message(UploadOpsRequest{c.make_ops(1)}));
  latest["ops"][0]["hlc"]["wall_ms"] = 281474976710655ull;
  const HttpResponse far = c.post_json(target, ws.owner_token, latest.dump());
  c.check(far.status == 200, "OP-001", "hlc.wall_ms 2^48 - 1: a valid member, 200", describe(far));
  const Json far_results = json_of(far).value("results", Json::array());
  c.check(far_results.size() == 1 && far_results[0].value("code", "") == "clock_skew", "OP-001",
          "and rejected for clock_skew", far.body.substr(0, 200));
}

// FILE-002, FILE-003, FILE-004, FILE-007, FILE-015, FILE-016, FILE-043: chunk counts and bodies at
// their limits, what moves updated_at_ms and what does not, a deleted file's chunks and state.
void file_edges_and_activity(CaseContext& c) {
  const TestWorkspace ws = c.workspace();
  const std::string most = R"({"chunk_count":)" + std::to_string(c.limits().file_chunks_max) + "}";
  c.check(c.post_json(file_path(ws, c.random().id()), ws.owner_token, most).status == 201,
          "FILE-002", "chunk_count = file_chunks_max: 201");
  const FileId f = c.random().id();
  const std::string id = to_base64url(f);
  auto status = [&] {
    return c.expect_message<FileStatus>(c.get(file_path(ws, f), ws.owner_token), 200, "FILE-006");
  };
  auto put = [&](std::string_view index, const std::string& body) {
    return c.request("PUT", chunk_path(ws, f, index), ws.owner_token, body,
                     "application/octet-stream");
  };
  c.require(c.post_json(file_path(ws, f), ws.owner_token, R"({"chunk_count":2})").status == 201,
            "FILE-002", "created");
  const std::string smallest = chunk_body(c.random(), kEnvelopeOverheadBytes);
  c.check(put("0", smallest).status == 200, "FILE-003", "a chunk body of 28 bytes: 200");
  const FileStatus stored = status();
  wait_for_server_time(c, stored.updated_at_ms + 5);
  // A status read and refused requests are no activity (FILE-043).
  (void)status();
  c.expect_error(put("2", smallest), 400, "chunk_index_out_of_range", "FILE-043");
  c.expect_error(put("1", std::string(27, 'x')), 400, "invalid_field", "FILE-043");
  c.check(status().updated_at_ms == stored.updated_at_ms, "FILE-043",
          "a status read and refused chunks leave updated_at_ms");
  const std::string largest =
      chunk_body(c.random(), c.limits().chunk_bytes + kEnvelopeOverheadBytes);
  c.check(put("1", largest).status == 200, "FILE-003",
          "a chunk body of chunk_bytes + 28 bytes: 200");
  const FileStatus uploaded = status();
  wait_for_server_time(c, uploaded.updated_at_ms + 5);
  const FileStatus committed = c.expect_message<FileStatus>(
      c.post_json(path(E::kCommitFile, {ws.id, id}), ws.owner_token, R"({"chunk_count":2})"), 200,
      "FILE-008");
  c.check(committed.updated_at_ms > uploaded.updated_at_ms, "FILE-016",
          "the commit moves updated_at_ms");
  wait_for_server_time(c, committed.updated_at_ms + 5);
  const FileStatus deleted = c.expect_message<FileStatus>(
      c.request("DELETE", file_path(ws, f), ws.owner_token), 200, "FILE-010");
  c.check(
      deleted.updated_at_ms > committed.updated_at_ms, "FILE-016", "the delete moves updated_at_ms",
      std::to_string(deleted.updated_at_ms) + " after " + std::to_string(committed.updated_at_ms));
  const auto states = c.expect_message<FileStatusResponse>(
      c.post_json(path(E::kFileStatus, {ws.id}), ws.owner_token, "{\"file_ids\":[\"" + id + "\"]}"),
      200, "FILE-007");
  c.check(states.files.size() == 1 && states.files[0].state == FileState::kDeleted, "FILE-007",
          "POST /file-status: deleted");
  // A deleted file: an equal chunk 200, indexes past the count chunk_index_out_of_range.
  c.check(put("0", smallest).status == 200, "FILE-004",
          "the equal chunk sent to a deleted file: 200");
  c.expect_error(put("2", smallest), 400, "chunk_index_out_of_range", "FILE-015");
  c.expect_error(c.get(path(E::kGetChunk, {ws.id, id, "2"}), ws.owner_token), 400,
                 "chunk_index_out_of_range", "FILE-015");
}

constexpr std::array kCases = {
    Case{"log-005", "LOG-022 LOG-025 KEY-006 LIM-004", Level::kMust, Capability::kNewWorkspaces,
         "pages exactly full at the end of their list have no cursor; results carry only their "
         "status's members",
         &full_last_pages_and_absent_members},
    Case{"auth-013", "TRN-030 TRN-031 AUTH-024 TRN-010 TRN-012", Level::kMust,
         Capability::kNewWorkspaces,
         "whitespace around tokens, a token cursor the workspace lacks, exactly full token pages, "
         "tokens/self's methods",
         &tokens_whitespace_cursors_and_methods},
    Case{"errors-014", "TRN-015 TRN-013 KEY-004 KEY-006 LOG-023 LOG-031 ERR-014 TRN-027 ERR-013",
         Level::kMust, Capability::kNewWorkspaces,
         "bodies on DELETE and GET, integers at 2^32 and 2^53, member checks before limits, a "
         "repeat inside a repeat",
         &edges_bodies_and_nested_repeats},
    Case{"errors-015", "TRN-013 TRN-011 TRN-014 TRN-015 ERR-011 ERR-024 ERR-013", Level::kMust,
         Capability::kNone,
         "+ in query names, ids and 0 in queries, tabs in media types, a GET declaring a body over "
         "the limit, "
         "details and fields code by code, path parameters left to right",
         &query_forms_details_and_fields},
    Case{"transport-012", "TRN-053 TRN-062 TRN-063 TRN-064 TRN-066", Level::kMust,
         Capability::kNone,
         "a head past its limit that never ends, request lines past the head's limit, a quote in "
         "an id, HTTP/1.0 with "
         "Content-Length, HEAD on no route",
         &heads_that_never_end_and_other_edges},
    Case{"auth-014",
         "AUTH-013 AUTH-024 AUTH-022 AUTH-015 KEY-001 LOG-031 FILE-006 FILE-007 FILE-009",
         Level::kMust, Capability::kNewWorkspaces,
         "expiry at both ends of its range, expired tokens listed, one workspace's ids in "
         "another's paths, read scope",
         &expiry_ends_foreign_ids_and_read_scope},
    Case{"upload-007", "OP-001 LOG-001", Level::kMust, Capability::kNone,
         "a batch of exactly batch_ops_max, counters and key ids at 2^32 - 1, wall_ms at 2^48 - 1, "
         "28-byte payloads",
         &members_at_their_edges},
    Case{
        "files-009",
        "FILE-002 FILE-003 FILE-004 FILE-006 FILE-007 FILE-008 FILE-010 FILE-015 FILE-016 FILE-043",
        Level::kMust, Capability::kFiles,
        "chunk counts and bodies at their limits, what moves updated_at_ms and what does not, a "
        "deleted file's chunks",
        &file_edges_and_activity},
};

}  // namespace

std::span<const Case> depth_cases() { return kCases; }

}  // namespace opsync::conformance::cases
