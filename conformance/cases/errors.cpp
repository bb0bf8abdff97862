// Spec 2.1, 2.3 and 2.7: error bodies, details and fields, the order of checks, content types,
// query text forms, and bodies sent where none is taken.
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
  c.expect_error(c.request("PATCH", "/v2/workspaces/" + ws.id + "/ops?bogus=1", "", body, "text/plain"), 404,
                 "unsupported_version", "ERR-013");
  c.expect_error(c.request("PATCH", ops + "x?bogus=1", "", body, "text/plain"), 404, "not_found", "ERR-013");
  c.expect_error(c.request("PATCH", ops + "?bogus=1", "", body, "text/plain"), 405, "method_not_allowed", "ERR-013");
  expect_error_at(c, c.request("POST", ops + "?bogus=1", "", body, "text/plain"), 400, "invalid_query", "bogus",
                  "ERR-013");
  c.expect_error(c.request("POST", ops, "", body, "text/plain"), 415, "unsupported_media_type", "ERR-013");
  c.expect_error(c.request("POST", ops, "", "{", "application/json"), 401, "token_missing", "ERR-013");
  expect_error_at(c, c.request("POST", "/v1/workspaces/not-an-id/ops", ws.owner_token, "{", "application/json"), 400,
                  "invalid_id", "workspace_id", "AUTH-025");
  c.expect_error(c.request("POST", ops, reader, "{", "application/json"), 403, "insufficient_scope", "ERR-013");
  c.expect_error(c.request("POST", ops, ws.owner_token, "{", "application/json"), 400, "malformed_json", "ERR-013");
  // The body before the path parameters after the workspace (steps 8 and 9).
  if (c.info().has_capability("files")) {
    const std::string bad_file = path(E::kCreateFile, {ws.id, "not-an-id"});
    c.expect_error(c.request("POST", bad_file, ws.owner_token, "{", "application/json"), 400, "malformed_json",
                   "ERR-013");
    expect_error_at(c, c.request("POST", bad_file, ws.owner_token, R"({"chunk_count":1})", "application/json"), 400,
                    "invalid_id", "file_id", "ERR-013");
  }
  c.check(c.fingerprint(ws) == before, "ERR-003", "nothing changed", "the workspace changed");
}

void an_oversize_body_without_a_token_is_413(CaseContext& c) {
  const TestWorkspace ws = c.workspace();
  // Declared too large and never sent: the answer needs only the head (ERR-013 step 6 before 7).
  const std::string head = "POST " + path(E::kUploadOps, {ws.id}) +
                           " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nOpSync-Test-Case: " +
                           std::string(c.current().id) + "\r\nContent-Length: " +
                           std::to_string(c.limits().request_body_bytes_max + 1) + "\r\n\r\n";
  Result<HttpResponse> r = c.raw(head);
  c.require(r.ok(), "LIM-002", "an answer before the body is sent", r.ok() ? "" : r.error().message);
  c.expect_error(*r, 413, "body_too_large", "ERR-013");
}

void details_go_with_their_codes(CaseContext& c) {
  const TestWorkspace ws = c.new_workspace();
  c.upload(ws, ws.owner_token, c.make_ops(2));
  const HttpResponse beyond = c.get(endpoint_target(E::kReadOps, {ws.id}, {{"after_seq", "5"}}), ws.owner_token);
  if (c.expect_error(beyond, 409, "after_seq_beyond_head", "LOG-023"))
    c.check(error_of(beyond).details.head_seq == 2u, "ERR-010", "details.head_seq 2");
  c.require(c.request("PUT", path(E::kPutKey, {ws.id, "1"}), ws.owner_token, key_body(c.random(), 0),
                      "application/json").status == 200,
            "KEY-002", "a key record created");
  const HttpResponse conflict =
      c.request("PUT", path(E::kPutKey, {ws.id, "1"}), ws.owner_token, key_body(c.random(), 0), "application/json");
  if (c.expect_error(conflict, 409, "version_conflict", "KEY-003"))
    c.check(error_of(conflict).details.current_version == 1u, "ERR-010", "details.current_version 1");
  std::vector<WireOp> too_many = c.make_ops(c.limits().batch_ops_max + 1, kEnvelopeOverheadBytes);
  const HttpResponse batch = c.post_json(path(E::kUploadOps, {ws.id}), ws.owner_token,
                                         serialize_message(UploadOpsRequest{too_many}));
  if (c.expect_error(batch, 413, "too_many_ops", "LOG-001"))
    c.check(error_of(batch).details.limit == c.limits().batch_ops_max, "ERR-010", "details.limit = batch_ops_max");
  // A code the table gives no details carries none (ERR-011).
  const HttpResponse missing = c.get(path(E::kInfo) + "?x=1");
  c.check(missing.body.find("\"details\"") == std::string::npos, "ERR-011", "no details with invalid_query",
          missing.body.substr(0, 200));
}

void content_types_follow_trn_004_and_trn_014(CaseContext& c) {
  const TestWorkspace ws = c.workspace();
  const std::string ops = path(E::kUploadOps, {ws.id});
  for (const char* type : {"application/json;charset=UTF-8", "Application/JSON", "application/json ; charset=\"utf-8\"",
                           "application/json;"}) {
    const HttpResponse r = c.request("POST", ops, ws.owner_token, serialize_message(UploadOpsRequest{c.make_ops(1)}), type);
    c.check(r.status == 200, "TRN-014", std::string(type) + " accepted", describe(r));
  }
  const std::string before = c.fingerprint(ws);
  const std::string body = serialize_message(UploadOpsRequest{c.make_ops(1)});
  for (const char* type : {"", "text/plain", "application/octet-stream", "application/json; charset=latin1",
                           "application/json; boundary=x", "application/jsonx"}) {
    const HttpResponse r = c.request("POST", ops, ws.owner_token, body, type);
    c.expect_error(r, 415, "unsupported_media_type", *type ? "TRN-014" : "TRN-004");
  }
  c.check(c.fingerprint(ws) == before, "ERR-003", "nothing changed", "the workspace changed");
}

void chunks_need_octet_stream(CaseContext& c) {
  const TestWorkspace ws = c.workspace();
  const FileId file = c.random().id();
  c.require(c.post_json(path(E::kCreateFile, {ws.id, to_base64url(file)}), ws.owner_token, R"({"chunk_count":1})")
                    .status == 201,
            "FILE-002", "a file created");
  for (const char* type : {"application/json", "", "application/octet-stream; x=1"})
    c.expect_error(c.request("PUT", chunk_path(ws, file, "0"), ws.owner_token, chunk_body(c.random(), 40), type), 415,
                   "unsupported_media_type", "TRN-005");
}

void query_values_have_one_text_form(CaseContext& c) {
  const TestWorkspace ws = c.workspace();
  const std::string ops = path(E::kReadOps, {ws.id});
  for (const char* query : {"?limit=0", "?limit=01", "?limit=", "?limit", "?limit=%2B1", "?limit=1e3",
                            "?limit=99999999999999999999999", "?after_seq=-1", "?after_seq=1&after_seq=1"}) {
    const HttpResponse r = c.get(ops + query, ws.owner_token);
    c.expect_error(r, 400, "invalid_query", "TRN-013");
  }
  c.check(c.get(ops + "?limit=%31", ws.owner_token).status == 200, "TRN-013", "limit=%31 is limit=1");
  c.check(c.get(ops + "?", ws.owner_token).status == 200, "TRN-013", "an empty query string is none");
  const std::string too_many = "?limit=" + std::to_string(c.limits().page_ops_max + 1);
  c.expect_error(c.get(ops + too_many, ws.owner_token), 400, "invalid_query", "LIM-005");
  c.check(c.get(ops + "?limit=" + std::to_string(c.limits().page_ops_max), ws.owner_token).status == 200, "LIM-005",
          "limit = page_ops_max accepted");
}

void bodies_sent_where_none_is_taken_are_ignored(CaseContext& c) {
  const TestWorkspace ws = c.workspace();
  const HttpResponse r = c.request("GET", path(E::kReadOps, {ws.id}), ws.owner_token, "{not json", "text/plain");
  c.check(r.status == 200, "TRN-015", "200: the body of a GET is ignored", describe(r));
}

void path_parameters_are_named_in_field(CaseContext& c) {
  const TestWorkspace ws = c.workspace();
  expect_error_at(c, c.request("DELETE", path(E::kRevokeToken, {ws.id, "nope"}), ws.owner_token), 400, "invalid_id",
                  "token_id", "ERR-012");
  expect_error_at(c, c.request("PUT", path(E::kPutKey, {ws.id, "0"}), ws.owner_token, key_body(c.random(), 0),
                               "application/json"),
                  400, "invalid_id", "key_id", "KEY-004");
  if (!c.info().has_capability("files")) return;
  expect_error_at(c, c.get(path(E::kGetFile, {ws.id, "..%2F..%2Fetc"}), ws.owner_token), 400, "invalid_id", "file_id",
                  "SEC-004");
}

constexpr std::array kCases = {
    Case{"errors-001", "ERR-013 ERR-001 ERR-003 ERR-004 AUTH-020 AUTH-025 TRN-010 TRN-011 VER-001", Level::kMust,
         Capability::kNone, "a request with many faults gets the first in the order of ERR-013",
         &the_first_fault_in_the_order_of_checks_is_answered},
    Case{"errors-002", "ERR-013 LIM-002", Level::kMust, Capability::kNone,
         "an oversize body without a token: 413 before the token is looked at", &an_oversize_body_without_a_token_is_413},
    Case{"errors-003", "ERR-010 ERR-011 LOG-023 KEY-003 LOG-001 ERR-002", Level::kMust, Capability::kNewWorkspaces,
         "details carry what the table says, with the codes it says", &details_go_with_their_codes},
    Case{"errors-004", "TRN-004 TRN-014 ERR-003", Level::kMust, Capability::kNone,
         "JSON bodies: application/json with charset=utf-8 at most, in any case; anything else 415",
         &content_types_follow_trn_004_and_trn_014},
    Case{"errors-005", "TRN-005", Level::kMust, Capability::kFiles,
         "chunk bodies: application/octet-stream without parameters; anything else 415", &chunks_need_octet_stream},
    Case{"errors-006", "TRN-013 TRN-011 LIM-005", Level::kMust, Capability::kNone,
         "query values: plain decimals in range, percent-decoded; anything else 400 invalid_query",
         &query_values_have_one_text_form},
    Case{"errors-007", "TRN-015", Level::kMust, Capability::kNone,
         "a body sent to an endpoint without one is ignored", &bodies_sent_where_none_is_taken_are_ignored},
    Case{"errors-008", "ERR-012 SEC-004 KEY-004", Level::kMust, Capability::kNone,
         "malformed path parameters: 400 invalid_id naming the parameter", &path_parameters_are_named_in_field},
};

}  // namespace

std::span<const Case> errors_cases() { return kCases; }

}  // namespace opsync::conformance::cases
