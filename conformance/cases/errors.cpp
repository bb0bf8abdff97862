// Spec 2.1, 2.3 and 2.7: error bodies, details and fields, the order of checks, content types,
// query text forms, and bodies sent where none is taken.
#include <algorithm>

#include "common.h"

namespace opsync::conformance::cases {
namespace {

void the_first_fault_in_the_order_of_checks_is_answered(CaseContext& c) {
  const TestWorkspace ws = c.workspace();
  const std::string reader = c.issue_token(ws, Scope::kRead);
  const std::string body = serialize_message(UploadOpsRequest{c.make_ops(1)});
  const std::string ops = path(E::kUploadOps, {ws.id});
  const std::string before = c.fingerprint(ws);
  // Each line removes the first fault of the one before it (ERR-013).
  c.expect_error(
      c.request("PATCH", "/v2/workspaces/" + ws.id + "/ops?bogus=1", "", body, "text/plain"), 404,
      "unsupported_version", "ERR-013");
  c.expect_error(c.request("PATCH", ops + "x?bogus=1", "", body, "text/plain"), 404, "not_found",
                 "ERR-013");
  c.expect_error(c.request("PATCH", ops + "?bogus=1", "", body, "text/plain"), 405,
                 "method_not_allowed", "ERR-013");
  expect_error_at(c, c.request("POST", ops + "?bogus=1", "", body, "text/plain"), 400,
                  "invalid_query", "bogus", "ERR-013");
  c.expect_error(c.request("POST", ops, "", body, "text/plain"), 415, "unsupported_media_type",
                 "ERR-013");
  c.expect_error(c.request("POST", ops, "", "{", "application/json"), 401, "token_missing",
                 "ERR-013");
  expect_error_at(
      c, c.request("POST", "/v1/workspaces/not-an-id/ops", ws.owner_token, "{", "application/json"),
      400, "invalid_id", "workspace_id", "AUTH-025");
  c.expect_error(c.request("POST", ops, reader, "{", "application/json"), 403, "insufficient_scope",
                 "ERR-013");
  c.expect_error(c.request("POST", ops, ws.owner_token, "{", "application/json"), 400,
                 "malformed_json", "ERR-013");
  // The body before the path parameters after the workspace (steps 8 and 9).
  if (c.info().has_capability("files")) {
    const std::string bad_file = path(E::kCreateFile, {ws.id, "not-an-id"});
    c.expect_error(c.request("POST", bad_file, ws.owner_token, "{", "application/json"), 400,
                   "malformed_json", "ERR-013");
    expect_error_at(
        c, c.request("POST", bad_file, ws.owner_token, R"({"chunk_count":1})", "application/json"),
        400, "invalid_id", "file_id", "ERR-013");
  }
  c.check(c.fingerprint(ws) == before, "ERR-003", "nothing changed", "the workspace changed");
}

void an_oversize_body_without_a_token_is_413(CaseContext& c) {
  const TestWorkspace ws = c.workspace();
  // Declared too large and never sent: the answer needs only the head (ERR-013 step 6 before 7).
  const std::string head =
      "POST " + path(E::kUploadOps, {ws.id}) +
      " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nOpSync-Test-Case: " +
      std::string(c.current().id) +
      "\r\nContent-Length: " + std::to_string(c.limits().request_body_bytes_max + 1) + "\r\n\r\n";
  Result<HttpResponse> r = c.raw(head);
  c.require(r.ok(), "LIM-002", "an answer before the body is sent",
            r.ok() ? "" : r.error().message);
  c.expect_error(*r, 413, "body_too_large", "ERR-013");
}

void details_go_with_their_codes(CaseContext& c) {
  const TestWorkspace ws = c.new_workspace();
  c.upload(ws, ws.owner_token, c.make_ops(2));
  const HttpResponse beyond =
      c.get(endpoint_target(E::kReadOps, {ws.id}, {{"after_seq", "5"}}), ws.owner_token);
  if (c.expect_error(beyond, 409, "after_seq_beyond_head", "LOG-023"))
    c.check(error_of(beyond).details.head_seq == 2u, "ERR-010", "details.head_seq 2");
  c.require(c.request("PUT", path(E::kPutKey, {ws.id, "1"}), ws.owner_token,
                      key_body(c.random(), 0), "application/json")
                    .status == 200,
            "KEY-002", "a key record created");
  const HttpResponse conflict = c.request("PUT", path(E::kPutKey, {ws.id, "1"}), ws.owner_token,
                                          key_body(c.random(), 0), "application/json");
  if (c.expect_error(conflict, 409, "version_conflict", "KEY-003"))
    c.check(error_of(conflict).details.current_version == 1u, "ERR-010",
            "details.current_version 1");
  std::vector<WireOp> too_many = c.make_ops(c.limits().batch_ops_max + 1, kEnvelopeOverheadBytes);
  const HttpResponse batch = c.post_json(path(E::kUploadOps, {ws.id}), ws.owner_token,
                                         serialize_message(UploadOpsRequest{too_many}));
  if (c.expect_error(batch, 413, "too_many_ops", "LOG-001"))
    c.check(error_of(batch).details.limit == c.limits().batch_ops_max, "ERR-010",
            "details.limit = batch_ops_max");
  // A code the table gives no details carries none (ERR-011).
  const HttpResponse missing = c.get(path(E::kInfo) + "?x=1");
  c.check(missing.body.find("\"details\"") == std::string::npos, "ERR-011",
          "no details with invalid_query", missing.body.substr(0, 200));
}

void content_types_follow_trn_004_and_trn_014(CaseContext& c) {
  const TestWorkspace ws = c.workspace();
  const std::string ops = path(E::kUploadOps, {ws.id});
  for (const char* type : {"application/json;charset=UTF-8", "Application/JSON",
                           "application/json ; charset=\"utf-8\"", "application/json;"}) {
    const HttpResponse r = c.request("POST", ops, ws.owner_token,
                                     serialize_message(UploadOpsRequest{c.make_ops(1)}), type);
    c.check(r.status == 200, "TRN-014", std::string(type) + " accepted", describe(r));
  }
  const std::string before = c.fingerprint(ws);
  const std::string body = serialize_message(UploadOpsRequest{c.make_ops(1)});
  for (const char* type :
       {"", "text/plain", "application/octet-stream", "application/json; charset=latin1",
        "application/json; boundary=x", "application/jsonx"}) {
    const HttpResponse r = c.request("POST", ops, ws.owner_token, body, type);
    c.expect_error(r, 415, "unsupported_media_type", *type ? "TRN-014" : "TRN-004");
  }
  c.check(c.fingerprint(ws) == before, "ERR-003", "nothing changed", "the workspace changed");
}

void chunks_need_octet_stream(CaseContext& c) {
  const TestWorkspace ws = c.workspace();
  const FileId file = c.random().id();
  c.require(c.post_json(path(E::kCreateFile, {ws.id, to_base64url(file)}), ws.owner_token,
                        R"({"chunk_count":1})")
                    .status == 201,
            "FILE-002", "a file created");
  for (const char* type : {"application/json", "", "application/octet-stream; x=1"})
    c.expect_error(c.request("PUT", chunk_path(ws, file, "0"), ws.owner_token,
                             chunk_body(c.random(), 40), type),
                   415, "unsupported_media_type", "TRN-005");
}

void query_values_have_one_text_form(CaseContext& c) {
  const TestWorkspace ws = c.workspace();
  const std::string ops = path(E::kReadOps, {ws.id});
  for (const char* query :
       {"?limit=0", "?limit=01", "?limit=", "?limit", "?limit=%2B1", "?limit=1e3",
        "?limit=99999999999999999999999", "?after_seq=-1", "?after_seq=1&after_seq=1"}) {
    const HttpResponse r = c.get(ops + query, ws.owner_token);
    c.expect_error(r, 400, "invalid_query", "TRN-013");
  }
  c.check(c.get(ops + "?limit=%31", ws.owner_token).status == 200, "TRN-013",
          "limit=%31 is limit=1");
  c.check(c.get(ops + "?", ws.owner_token).status == 200, "TRN-013",
          "an empty query string is none");
  const std::string too_many = "?limit=" + std::to_string(c.limits().page_ops_max + 1);
  c.expect_error(c.get(ops + too_many, ws.owner_token), 400, "invalid_query", "LIM-005");
  c.check(c.get(ops + "?limit=" + std::to_string(c.limits().page_ops_max), ws.owner_token).status ==
              200,
          "LIM-005", "limit = page_ops_max accepted");
}

void bodies_sent_where_none_is_taken_are_ignored(CaseContext& c) {
  const TestWorkspace ws = c.workspace();
  const HttpResponse r =
      c.request("GET", path(E::kReadOps, {ws.id}), ws.owner_token, "{not json", "text/plain");
  c.check(r.status == 200, "TRN-015", "200: the body of a GET is ignored", describe(r));
}

void path_parameters_are_named_in_field(CaseContext& c) {
  const TestWorkspace ws = c.workspace();
  expect_error_at(c, c.request("DELETE", path(E::kRevokeToken, {ws.id, "nope"}), ws.owner_token),
                  400, "invalid_id", "token_id", "ERR-012");
  expect_error_at(c,
                  c.request("PUT", path(E::kPutKey, {ws.id, "0"}), ws.owner_token,
                            key_body(c.random(), 0), "application/json"),
                  400, "invalid_id", "key_id", "KEY-004");
  if (!c.info().has_capability("files")) return;
  expect_error_at(c, c.get(path(E::kGetFile, {ws.id, "..%2F..%2Fetc"}), ws.owner_token), 400,
                  "invalid_id", "file_id", "SEC-004");
}

// TRN-060 and TRN-061: literal segments belong to their templates; query text beyond TRN-013.
void literals_and_query_text(CaseContext& c) {
  const TestWorkspace ws = c.workspace();
  expect_error_at(c,
                  c.request("PUT", path(E::kPutKey, {ws.id, "self"}), ws.owner_token,
                            key_body(c.random(), 0), "application/json"),
                  400, "invalid_id", "key_id", "TRN-060");
  const HttpResponse get_key = c.get(path(E::kPutKey, {ws.id, "self"}), ws.owner_token);
  if (c.expect_error(get_key, 405, "method_not_allowed", "TRN-060"))
    c.check(get_key.header("Allow") == std::optional<std::string>("PUT"), "TRN-060", "Allow: PUT",
            get_key.header("Allow").value_or("no Allow"));
  if (c.info().has_capability("files")) {
    expect_error_at(c, c.get(path(E::kGetFile, {ws.id, "self"}), ws.owner_token), 400, "invalid_id",
                    "file_id", "TRN-060");
    expect_error_at(c, c.request("DELETE", path(E::kGetFile, {ws.id, "self"}), ws.owner_token), 400,
                    "invalid_id", "file_id", "TRN-060");
  }
  const std::string ops = path(E::kReadOps, {ws.id});
  expect_error_at(c, c.get(ops + "?limit=%zz", ws.owner_token), 400, "invalid_query", "limit",
                  "TRN-061");
  expect_error_at(c, c.get(ops + "?limit=%4", ws.owner_token), 400, "invalid_query", "limit",
                  "TRN-061");
  expect_error_at(c, c.get(ops + "?%zz=1", ws.owner_token), 400, "invalid_query", "%zz", "TRN-061");
  expect_error_at(c, c.get(ops + "?%FF=1", ws.owner_token), 400, "invalid_query", "\xEF\xBF\xBD",
                  "TRN-061");
  expect_error_at(c, c.get(ops + "?%6Cimit=0", ws.owner_token), 400, "invalid_query", "limit",
                  "TRN-061");
  for (const char* skipped : {"?&", "?&&", "?&limit=1", "?limit=1&", "?after_seq=0&&limit=1"}) {
    const HttpResponse r = c.get(ops + skipped, ws.owner_token);
    c.check(r.status == 200, "TRN-061", std::string(skipped) + ": empty pairs skipped, 200",
            describe(r));
  }
  const HttpResponse empty_name = c.get(ops + "?=1", ws.owner_token);
  if (c.expect_error(empty_name, 400, "invalid_query", "TRN-061"))
    c.check(code_and_field(empty_name).second.empty() &&
                empty_name.body.find("\"field\"") == std::string::npos,
            "TRN-061", "?=1: no field", empty_name.body.substr(0, 200));
}

// TRN-068 and TRN-069: repeated singleton fields are malformed; empty media type parameters are
// no parameters.
void repeated_fields_and_empty_parameters(CaseContext& c) {
  const TestWorkspace ws = c.workspace();
  const std::string ops = path(E::kUploadOps, {ws.id});
  const std::string before = c.fingerprint(ws);
  const std::string body = serialize_message(UploadOpsRequest{c.make_ops(1)});
  c.expect_error(c.request("POST", ops, ws.owner_token, body, "application/json",
                           {{"Content-Type", "application/json"}}),
                 400, "malformed_request", "TRN-068");
  c.expect_error(c.request("POST", ops, ws.owner_token, body, "application/json",
                           {{"Authorization", "Bearer " + ws.owner_token}}),
                 400, "malformed_request", "TRN-068");
  c.expect_error(
      c.request("POST", ops, "", body, "application/json",
                {{"Authorization", "Basic eDp5"}, {"Authorization", "Bearer " + ws.owner_token}}),
      400, "malformed_request", "TRN-068");
  // On every endpoint, one without a body included.
  c.expect_error(c.request("GET", path(E::kReadOps, {ws.id}), ws.owner_token, "", "text/plain",
                           {{"Content-Type", "text/html"}}),
                 400, "malformed_request", "TRN-068");
  c.check(c.fingerprint(ws) == before, "ERR-003", "nothing changed", "the workspace changed");
  for (const char* type :
       {"application/json; ; charset=utf-8", "application/json;;", "application/json ;"}) {
    const HttpResponse r = c.request("POST", ops, ws.owner_token,
                                     serialize_message(UploadOpsRequest{c.make_ops(1)}), type);
    c.check(r.status == 200, "TRN-069", std::string(type) + ": empty parameters ignored, 200",
            describe(r));
  }
  if (!c.info().has_capability("files")) return;
  const FileId file = c.random().id();
  c.require(c.post_json(path(E::kCreateFile, {ws.id, to_base64url(file)}), ws.owner_token,
                        R"({"chunk_count":1})")
                    .status == 201,
            "FILE-002", "a file created");
  const HttpResponse chunk = c.request("PUT", chunk_path(ws, file, "0"), ws.owner_token,
                                       chunk_body(c.random(), 40), "application/octet-stream;");
  c.check(chunk.status == 200, "TRN-069", "application/octet-stream; accepted", describe(chunk));
}

// ERR-022, ERR-023 and ERR-024: details only where the table puts them, field within its bound,
// field exactly with the codes that name one.
void fields_and_details_where_the_table_says(CaseContext& c) {
  const TestWorkspace ws = c.workspace();
  const std::string create = path(E::kCreateWorkspace);
  // With closed registration, creations carry the operator's registration token (AUTH-006).
  const std::string& registration = c.options().registration_token;
  const HttpResponse invalid = c.post_json(create, registration, R"({"bogus":1})");
  c.expect_error(invalid, 400, "unknown_field", "ERR-022");
  const HttpResponse wrong =
      c.post_json(path(E::kCreateToken, {ws.id}), ws.owner_token, R"({"scope":7})");
  if (expect_error_at(c, wrong, 400, "invalid_field", "scope", "ERR-022"))
    c.check(wrong.body.find("\"details\"") == std::string::npos, "ERR-022",
            "no details with invalid_field", wrong.body.substr(0, 200));
  // A member name of 5,000 ASCII bytes, and one of 1 + 2 x 3,000 bytes whose cut must not split a
  // character.
  const std::string ascii(5000, 'a');
  expect_error_at(c, c.post_json(create, registration, "{\"" + ascii + "\":1}"), 400,
                  "unknown_field", ascii.substr(0, 4096), "ERR-023");
  std::string accented = "a";
  for (int i = 0; i < 3000; ++i) accented += "\xC3\xA9";
  expect_error_at(c, c.post_json(create, registration, "{\"" + accented + "\":1}"), 400,
                  "unknown_field", accented.substr(0, 4095), "ERR-023");
  // Codes with a field, and codes without one (ERR-024).
  expect_error_at(c,
                  c.request("DELETE", path(E::kRevokeToken, {ws.id, to_base64url(c.random().id())}),
                            ws.owner_token),
                  404, "token_not_found", "token_id", "ERR-024");
  expect_error_at(
      c, c.get(endpoint_target(E::kReadOps, {ws.id}, {{"after_seq", "999999"}}), ws.owner_token),
      409, "after_seq_beyond_head", "after_seq", "ERR-024");
  const std::string key =
      path(E::kPutKey, {ws.id, std::to_string(2000000 + c.random().below(1000000))});
  expect_error_at(
      c, c.request("PUT", key, ws.owner_token, key_body(c.random(), 3), "application/json"), 409,
      "version_conflict", "expected_version", "ERR-024");
  if (c.info().has_capability("files"))
    expect_error_at(c, c.get(file_path(ws, c.random().id()), ws.owner_token), 404, "file_not_found",
                    "file_id", "ERR-024");
  const std::string other = to_base64url(c.random().id());
  const TokenEntry self = c.expect_message<TokenEntry>(
      c.get(path(E::kTokenSelf, {ws.id}), ws.owner_token), 200, "AUTH-018");
  const std::string self_id = to_base64url(self.token_id);
  const std::vector<std::pair<std::string, HttpResponse>> without = {
      {"workspace_not_found", c.get(path(E::kReadOps, {other}), ws.owner_token)},
      {"token_missing", c.get(path(E::kReadOps, {ws.id}))},
      {"token_invalid", c.get(path(E::kReadOps, {ws.id}), "no-such-token")},
      {"cannot_revoke_self",
       c.request("DELETE", path(E::kRevokeToken, {ws.id, self_id}), ws.owner_token)},
      {"unsupported_media_type",
       c.request("POST", path(E::kUploadOps, {ws.id}), ws.owner_token, "{}", "text/plain")},
      {"not_found", c.get("/v1/nowhere")},
      {"method_not_allowed", c.request("DELETE", path(E::kInfo))},
      {"unsupported_version", c.get("/v2/info")},
  };
  for (const auto& [code, response] : without) {
    c.check(code_and_field(response).first == code &&
                response.body.find("\"field\"") == std::string::npos,
            "ERR-024", code + " without field", response.body.substr(0, 200));
  }
}

// ERR-025: a repeated id is reported at the first element that repeats, after the members' own
// checks.
void repeated_ids_are_named_where_they_repeat(CaseContext& c) {
  const TestWorkspace ws = c.workspace();
  const std::string a = to_base64url(c.random().id());
  const std::string b = to_base64url(c.random().id());
  const std::string status = path(E::kFileStatus, {ws.id});
  expect_error_at(
      c,
      c.post_json(status, ws.owner_token,
                  "{\"file_ids\":[\"" + a + "\",\"" + b + "\",\"" + b + "\",\"" + a + "\"]}"),
      400, "invalid_field", "file_ids[2]", "ERR-025");
  // A malformed element after the repetition is reported first: member checks come before the rule.
  expect_error_at(
      c,
      c.post_json(status, ws.owner_token, "{\"file_ids\":[\"" + a + "\",\"" + a + "\",\"short\"]}"),
      400, "invalid_field", "file_ids[2]", "ERR-025");
}

// ERR-026: when the server limits workspace creation per address, the limit sits at step 7.
void the_rate_limit_sits_at_step_7(CaseContext& c) {
  const std::string create = path(E::kCreateWorkspace);
  constexpr int kAttemptsMax = 64;
  // Bodies that create nothing: a server without a limit answers each 400; one with a limit
  // answers 429 once it is passed, whatever the body (the body comes at step 8).
  for (int i = 0; i < kAttemptsMax; ++i) {
    const HttpResponse r =
        c.post_json(create, c.options().registration_token, R"({"not_a_member":1})");
    if (r.status == 400) continue;
    c.expect_error(r, 429, "rate_limited", "ERR-026");
    const std::string retry = r.header("Retry-After").value_or("");
    c.check(!retry.empty() && std::all_of(retry.begin(), retry.end(),
                                          [](char ch) { return ch >= '0' && ch <= '9'; }),
            "LIM-020", "Retry-After in whole seconds", retry.empty() ? "none" : retry);
    // Steps 5 and 6 come before the limit.
    c.expect_error(c.request("POST", create, c.options().registration_token, "{}", "text/plain"),
                   415, "unsupported_media_type", "ERR-026");
    // Closed registration is 403 whatever the rate: the registration check comes first.
    if (c.info().registration == Registration::kClosed)
      c.expect_error(c.post_json(create, "", "{}"), 403, "registration_closed", "ERR-026");
    return;
  }
  c.skip("no per-address limit met in " + std::to_string(kAttemptsMax) +
         " creations (LIM-020 is a MAY)");
}

constexpr std::array kCases = {
    Case{"errors-001",
         "ERR-013 ERR-001 ERR-003 ERR-004 AUTH-020 AUTH-025 TRN-010 TRN-011 VER-001 TRN-029",
         Level::kMust, Capability::kNone,
         "a request with many faults gets the first in the order of ERR-013",
         &the_first_fault_in_the_order_of_checks_is_answered},
    Case{"errors-002", "ERR-013 LIM-002", Level::kMust, Capability::kNone,
         "an oversize body without a token: 413 before the token is looked at",
         &an_oversize_body_without_a_token_is_413},
    Case{"errors-003", "ERR-010 ERR-011 LOG-023 KEY-003 LOG-001 ERR-002", Level::kMust,
         Capability::kNewWorkspaces, "details carry what the table says, with the codes it says",
         &details_go_with_their_codes},
    Case{"errors-004", "TRN-004 TRN-014 ERR-003", Level::kMust, Capability::kNone,
         "JSON bodies: application/json with charset=utf-8 at most, in any case; anything else 415",
         &content_types_follow_trn_004_and_trn_014},
    Case{"errors-005", "TRN-005 TRN-014", Level::kMust, Capability::kFiles,
         "chunk bodies: application/octet-stream without parameters; anything else 415",
         &chunks_need_octet_stream},
    Case{"errors-006", "TRN-013 TRN-011 LIM-005", Level::kMust, Capability::kNone,
         "query values: plain decimals in range, percent-decoded; anything else 400 invalid_query",
         &query_values_have_one_text_form},
    Case{"errors-007", "TRN-015", Level::kMust, Capability::kNone,
         "a body sent to an endpoint without one is ignored",
         &bodies_sent_where_none_is_taken_are_ignored},
    Case{"errors-008", "ERR-012 SEC-004 KEY-004 ERR-024", Level::kMust, Capability::kNone,
         "malformed path parameters: 400 invalid_id naming the parameter",
         &path_parameters_are_named_in_field},
    Case{"errors-009", "TRN-060 TRN-061 TRN-011", Level::kMust, Capability::kNone,
         "literal segments belong to their templates; %zz, %FF, empty pairs and empty names in a "
         "query",
         &literals_and_query_text},
    Case{"errors-010", "TRN-068 TRN-069 ERR-003", Level::kMust, Capability::kNone,
         "Content-Type or Authorization repeated is 400 malformed_request; empty media type "
         "parameters are ignored",
         &repeated_fields_and_empty_parameters},
    Case{"errors-011", "ERR-022 ERR-023 ERR-024 ERR-012 ERR-002 TRN-029", Level::kMust,
         Capability::kNewWorkspaces,
         "details only with their codes; field cut at 4096 bytes on a character; field exactly "
         "where ERR-024 says",
         &fields_and_details_where_the_table_says},
    Case{"errors-012", "ERR-025 FILE-007", Level::kMust, Capability::kFiles,
         "a repeated id is invalid_field at the first element that repeats, after the members' own "
         "checks",
         &repeated_ids_are_named_where_they_repeat},
    Case{"errors-013", "ERR-026 LIM-020", Level::kMust, Capability::kNewWorkspaces,
         "a workspace creation rate limit, when the server has one, is answered at step 7, before "
         "the body",
         &the_rate_limit_sits_at_step_7},
};

}  // namespace

std::span<const Case> errors_cases() { return kCases; }

}  // namespace opsync::conformance::cases
