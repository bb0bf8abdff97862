// Spec 4: workspaces, tokens, scopes, expiry, revocation and isolation.
#include <chrono>
#include <thread>

#include "common.h"

namespace opsync::conformance::cases {
namespace {

// One request of every endpoint for a workspace, with a valid body, for the isolation cases.
struct Probe {
  std::string method;
  std::string target;
  std::string body;
  std::string content_type;
  bool writes;  // needs read_write or owner
  bool owner;   // needs owner
  bool files;   // needs the files capability
};

std::vector<Probe> probes(CaseContext& c, const std::string& ws) {
  const std::string file = to_base64url(c.random().id());
  const std::string token = to_base64url(c.random().id());
  const std::string json = "application/json";
  return {
      {"DELETE", path(E::kDeleteWorkspace, {ws}), "", "", true, true, false},
      {"POST", path(E::kCreateToken, {ws}), R"({"scope":"read"})", json, true, true, false},
      {"GET", path(E::kListTokens, {ws}), "", "", false, true, false},
      {"GET", path(E::kTokenSelf, {ws}), "", "", false, false, false},
      {"DELETE", path(E::kRevokeToken, {ws, token}), "", "", true, true, false},
      {"GET", path(E::kListKeys, {ws}), "", "", false, false, false},
      {"PUT", path(E::kPutKey, {ws, "7"}), key_body(c.random(), 0), json, true, false, false},
      {"POST", path(E::kUploadOps, {ws}), serialize_message(UploadOpsRequest{c.make_ops(1)}), json,
       true, false, false},
      {"GET", path(E::kReadOps, {ws}), "", "", false, false, false},
      {"GET", path(E::kReadBlocks, {ws}), "", "", false, false, false},
      {"POST", path(E::kFileStatus, {ws}), R"({"file_ids":[")" + file + R"("]})", json, false,
       false, true},
      {"POST", path(E::kCreateFile, {ws, file}), R"({"chunk_count":1})", json, true, false, true},
      {"GET", path(E::kGetFile, {ws, file}), "", "", false, false, true},
      {"DELETE", path(E::kDeleteFile, {ws, file}), "", "", true, false, true},
      {"POST", path(E::kCommitFile, {ws, file}), R"({"chunk_count":1})", json, true, false, true},
      {"PUT", path(E::kPutChunk, {ws, file, "0"}), std::string(40, 'x'), "application/octet-stream",
       true, false, true},
      {"GET", path(E::kGetChunk, {ws, file, "0"}), "", "", false, false, true},
  };
}

bool served(CaseContext& c, const Probe& p) {
  if (p.files && !c.info().has_capability("files")) return false;
  if (p.method == "DELETE" && p.target.find("/tokens/") == std::string::npos &&
      p.target.find("/files/") == std::string::npos && !c.info().has_capability("workspace_delete"))
    return false;
  return true;
}

void creating_a_workspace_answers_201(CaseContext& c) {
  const HttpResponse r = c.request("POST", path(E::kCreateWorkspace),
                                   c.options().registration_token, "{}", "application/json");
  const auto created = c.expect_message<CreateWorkspaceResponse>(r, 201, "AUTH-001");
  c.check(created.block_size == c.info().block_size, "INF-001", "the block size /v1/info announces",
          std::to_string(created.block_size));
  const TestWorkspace other = c.new_workspace();
  c.check(to_base64url(created.workspace_id) != other.id, "AUTH-003", "fresh random workspace ids");
  // The owner token works, and the block size stays (AUTH-004).
  const HttpResponse blocks =
      c.get(path(E::kReadBlocks, {to_base64url(created.workspace_id)}), created.owner_token);
  const auto list = c.expect_message<BlocksResponse>(blocks, 200, "AUTH-001");
  c.check(list.block_size == created.block_size, "AUTH-004", "the workspace keeps its block size");
}

void closed_registration_is_403(CaseContext& c) {
  if (c.info().registration == Registration::kOpen) c.skip("registration is open");
  c.expect_error(c.request("POST", path(E::kCreateWorkspace), "", "{}", "application/json"), 403,
                 "registration_closed", "AUTH-002");
  // The registration check is step 7 of ERR-013: after the content type, before the body.
  c.expect_error(c.request("POST", path(E::kCreateWorkspace), "", "{", "application/json"), 403,
                 "registration_closed", "ERR-013");
  c.expect_error(c.request("POST", path(E::kCreateWorkspace), "", "{}", "text/plain"), 415,
                 "unsupported_media_type", "ERR-013");
}

void deleting_a_workspace_invalidates_its_tokens(CaseContext& c) {
  const TestWorkspace ws = c.new_workspace();
  const std::string reader = c.issue_token(ws, Scope::kRead);
  c.upload(ws, ws.owner_token, c.make_ops(2));
  const HttpResponse r = c.request("DELETE", path(E::kDeleteWorkspace, {ws.id}), ws.owner_token);
  const auto deleted = c.expect_message<DeleteWorkspaceResponse>(r, 200, "AUTH-005");
  c.check(to_base64url(deleted.workspace_id) == ws.id, "AUTH-005", "the deleted workspace's id");
  c.expect_error(c.get(path(E::kReadOps, {ws.id}), ws.owner_token), 401, "token_invalid",
                 "AUTH-005");
  c.expect_error(c.get(path(E::kReadOps, {ws.id}), reader), 401, "token_invalid", "AUTH-005");
}

void tokens_are_issued_with_their_scope_and_expiry(CaseContext& c) {
  const TestWorkspace ws = c.workspace();
  for (Scope scope : {Scope::kRead, Scope::kReadWrite, Scope::kOwner}) {
    const std::optional<uint64_t> expiry =
        scope == Scope::kOwner ? std::nullopt : std::optional<uint64_t>(86400000);
    const HttpResponse r = c.post_json(path(E::kCreateToken, {ws.id}), ws.owner_token,
                                       serialize_message(CreateTokenRequest{scope, expiry}));
    const auto issued = c.expect_message<TokenIssued>(r, 201, "AUTH-013");
    c.check(issued.scope == scope, "AUTH-013", "the scope asked for");
    c.check(issued.expires_at_ms ==
                (expiry ? std::optional<uint64_t>(issued.created_at_ms + *expiry) : std::nullopt),
            "AUTH-013", "expires_at_ms = created_at_ms + expires_in_ms, null without");
    c.check(issued.token.size() >= 22, "AUTH-010", "at least 128 bits: 22 characters or more",
            std::to_string(issued.token.size()));
    const HttpResponse self = c.get(path(E::kTokenSelf, {ws.id}), issued.token);
    const auto entry = c.expect_message<TokenEntry>(self, 200, "AUTH-018");
    c.check(entry.token_id == issued.token_id && entry.scope == scope, "AUTH-018", "its own entry");
    c.check(self.body.find(issued.token) == std::string::npos, "AUTH-011",
            "the secret appears only when issued");
  }
  expect_error_at(c,
                  c.post_json(path(E::kCreateToken, {ws.id}), ws.owner_token,
                              R"({"scope":"owner","expires_in_ms":86400000})"),
                  400, "invalid_field", "expires_in_ms", "AUTH-014");
}

void the_token_list_is_ordered_complete_and_secret_free(CaseContext& c) {
  const TestWorkspace ws = c.new_workspace();
  std::vector<std::string> secrets = {ws.owner_token};
  for (int i = 0; i < 5; ++i)
    secrets.push_back(c.issue_token(ws, i % 2 ? Scope::kRead : Scope::kReadWrite, 3600000));
  // One revoked: it stays listed (AUTH-024).
  const auto revoked = c.expect_message<TokenEntry>(c.get(path(E::kTokenSelf, {ws.id}), secrets[1]),
                                                    200, "AUTH-018");
  c.require(c.request("DELETE", path(E::kRevokeToken, {ws.id, to_base64url(revoked.token_id)}),
                      ws.owner_token)
                    .status == 200,
            "AUTH-016", "the token revoked");
  std::vector<TokenEntry> listed;
  std::string after;
  for (int page = 0; page < 20; ++page) {
    std::string target = endpoint_target(E::kListTokens, {ws.id}, {{"limit", "2"}});
    if (!after.empty()) target += "&after=" + after;
    const HttpResponse r = c.get(target, ws.owner_token);
    const auto list = c.expect_message<TokenListResponse>(r, 200, "AUTH-015");
    c.check(list.tokens.size() <= 2, "LIM-005", "at most `limit` entries");
    for (const std::string& secret : secrets)
      c.check(r.body.find(secret) == std::string::npos, "AUTH-011", "no secret in the token list");
    listed.insert(listed.end(), list.tokens.begin(), list.tokens.end());
    if (!list.next_after) break;
    after = to_base64url(*list.next_after);
  }
  c.check(listed.size() == secrets.size(), "AUTH-024",
          "every token listed once, the revoked one included",
          std::to_string(listed.size()) + " of " + std::to_string(secrets.size()));
  for (size_t i = 1; i < listed.size(); ++i)
    c.check(listed[i - 1].token_id < listed[i].token_id, "AUTH-024",
            "ascending byte order of token_id across pages");
  const bool revoked_listed = std::any_of(listed.begin(), listed.end(), [&](const TokenEntry& e) {
    return e.token_id == revoked.token_id && e.revoked_at_ms.has_value();
  });
  c.check(revoked_listed, "AUTH-024", "the revoked token listed with revoked_at_ms");
  // Any id is a cursor.
  const HttpResponse any =
      c.get(endpoint_target(E::kListTokens, {ws.id}, {{"after", to_base64url(c.random().id())}}),
            ws.owner_token);
  c.check(any.status == 200, "AUTH-024", "an id the workspace does not hold is a cursor too",
          describe(any));
}

void revocation_is_idempotent_and_final(CaseContext& c) {
  const TestWorkspace ws = c.workspace();
  const std::string writer = c.issue_token(ws, Scope::kReadWrite);
  const auto entry =
      c.expect_message<TokenEntry>(c.get(path(E::kTokenSelf, {ws.id}), writer), 200, "AUTH-018");
  const std::string revoke = path(E::kRevokeToken, {ws.id, to_base64url(entry.token_id)});
  const auto first = c.expect_message<RevokeTokenResponse>(
      c.request("DELETE", revoke, ws.owner_token), 200, "AUTH-016");
  const auto again = c.expect_message<RevokeTokenResponse>(
      c.request("DELETE", revoke, ws.owner_token), 200, "AUTH-016");
  c.check(again.revoked_at_ms == first.revoked_at_ms, "AUTH-016",
          "the first revocation's time again");
  c.expect_error(c.get(path(E::kReadOps, {ws.id}), writer), 401, "token_revoked", "AUTH-016");
  const auto owner = c.expect_message<TokenEntry>(
      c.get(path(E::kTokenSelf, {ws.id}), ws.owner_token), 200, "AUTH-018");
  c.expect_error(c.request("DELETE", path(E::kRevokeToken, {ws.id, to_base64url(owner.token_id)}),
                           ws.owner_token),
                 409, "cannot_revoke_self", "AUTH-017");
  c.expect_error(c.request("DELETE", path(E::kRevokeToken, {ws.id, to_base64url(c.random().id())}),
                           ws.owner_token),
                 404, "token_not_found", "AUTH-016");
}

void expired_tokens_are_refused(CaseContext& c) {
  const TestWorkspace ws = c.workspace();
  const std::string brief = c.issue_token(ws, Scope::kRead, 1000);
  // Judged by the server's clock (AUTH-019): wait until a response says a second has passed.
  const uint64_t issued_ms = c.server_time_ms();
  for (int i = 0; i < 40 && c.server_time_ms() < issued_ms + 1100; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    (void)c.get(path(E::kInfo));
  }
  c.expect_error(c.get(path(E::kReadOps, {ws.id}), brief), 401, "token_expired", "AUTH-019");
}

void authorization_is_checked_in_order(CaseContext& c) {
  const TestWorkspace ws = c.new_workspace();
  const TestWorkspace other = c.new_workspace();
  const std::string reader = c.issue_token(ws, Scope::kRead);
  const std::string ops = path(E::kReadOps, {ws.id});
  c.expect_error(c.get(ops), 401, "token_missing", "AUTH-020");
  c.expect_error(c.request("GET", ops, "", "", "", {{"Authorization", "Basic dXNlcjpwYXNz"}}), 401,
                 "token_missing", "TRN-031");
  c.expect_error(c.request("GET", ops, "", "", "", {{"Authorization", "Bearer"}}), 401,
                 "token_missing", "TRN-031");
  c.expect_error(c.request("GET", ops, "", "", "", {{"Authorization", "Bearer "}}), 401,
                 "token_missing", "TRN-031");
  c.expect_error(c.get(ops, "opsync_" + to_base64url(c.random().fixed<32>())), 401, "token_invalid",
                 "AUTH-020");
  c.expect_error(c.get(ops, std::string(600, 'x')), 401, "token_invalid", "TRN-031");
  c.expect_error(c.get(ops, other.owner_token), 404, "workspace_not_found", "AUTH-021");
  c.expect_error(c.get(path(E::kReadOps, {to_base64url(c.random().id())}), ws.owner_token), 404,
                 "workspace_not_found", "AUTH-021");
  c.expect_error(c.post_json(path(E::kUploadOps, {ws.id}), reader,
                             serialize_message(UploadOpsRequest{c.make_ops(1)})),
                 403, "insufficient_scope", "AUTH-020");
  for (const char* scheme : {"bearer ", "BEARER ", "BeArEr "})
    c.check(c.request("GET", ops, "", "", "", {{"Authorization", std::string(scheme) + reader}})
                    .status == 200,
            "TRN-030", std::string("the scheme matched case-insensitively: ") + scheme);
}

void another_workspaces_token_opens_nothing(CaseContext& c) {
  const TestWorkspace ws = c.new_workspace();
  const TestWorkspace other = c.new_workspace();
  c.upload(ws, ws.owner_token, c.make_ops(3));
  const std::string before = c.fingerprint(ws);
  for (const Probe& p : probes(c, ws.id)) {
    if (!served(c, p)) continue;
    const HttpResponse r = c.request(p.method, p.target, other.owner_token, p.body, p.content_type);
    c.expect_error(r, 404, "workspace_not_found", "AUTH-021");
  }
  c.check(c.fingerprint(ws) == before, "AUTH-022", "nothing of the workspace changed",
          "it changed");
}

void revoked_expired_and_read_only_tokens_are_refused_everywhere(CaseContext& c) {
  const TestWorkspace ws = c.workspace();
  const std::string reader = c.issue_token(ws, Scope::kRead);
  const std::string writer = c.issue_token(ws, Scope::kReadWrite);
  const std::string revoked = c.issue_token(ws, Scope::kOwner);
  const auto entry =
      c.expect_message<TokenEntry>(c.get(path(E::kTokenSelf, {ws.id}), revoked), 200, "AUTH-018");
  c.require(c.request("DELETE", path(E::kRevokeToken, {ws.id, to_base64url(entry.token_id)}),
                      ws.owner_token)
                    .status == 200,
            "AUTH-016", "revoked");
  const std::string before = c.fingerprint(ws);
  for (const Probe& p : probes(c, ws.id)) {
    if (!served(c, p)) continue;
    c.expect_error(c.request(p.method, p.target, revoked, p.body, p.content_type), 401,
                   "token_revoked", "AUTH-020");
    if (p.writes || p.owner)
      c.expect_error(c.request(p.method, p.target, reader, p.body, p.content_type), 403,
                     "insufficient_scope", "AUTH-020");
    if (p.owner)
      c.expect_error(c.request(p.method, p.target, writer, p.body, p.content_type), 403,
                     "insufficient_scope", "AUTH-020");
  }
  c.check(c.fingerprint(ws) == before, "ERR-003", "nothing changed", "the workspace changed");
}

void malformed_ids_in_paths_are_invalid_id(CaseContext& c) {
  const TestWorkspace ws = c.workspace();
  for (const char* bad :
       {"not-an-id", "AAAAAAAAAAAAAAAAAAAAAB", "AAAAAAAAAAAAAAAAAAAAAAA", "..", "%2e%2e"}) {
    expect_error_at(c, c.get(path(E::kReadOps, {bad}), ws.owner_token), 400, "invalid_id",
                    "workspace_id", "AUTH-025");
    expect_error_at(c, c.request("DELETE", path(E::kRevokeToken, {ws.id, bad}), ws.owner_token),
                    400, "invalid_id", "token_id", "SEC-004");
  }
  c.expect_error(c.get(path(E::kReadOps, {"not-an-id"})), 401, "token_missing", "AUTH-025");
}

// AUTH-031: expiry is judged when the head is admitted. The head goes first, the body after the
// token has expired: the request is served; the next one is 401 token_expired.
void expiry_is_judged_before_the_body(CaseContext& c) {
  const TestWorkspace ws = c.workspace();
  constexpr uint64_t kLifetimeMs = 1000;  // the shortest AUTH-013 allows
  const std::string writer = c.issue_token(ws, Scope::kReadWrite, kLifetimeMs);
  const uint64_t issued_ms = c.server_time_ms();
  const std::string body = key_body(c.random(), 0);
  const std::string key_path =
      path(E::kPutKey, {ws.id, std::to_string(1000 + c.random().below(1000000))});
  std::string head = "PUT " + key_path + " HTTP/1.1\r\nHost: " + c.options().server.host + "\r\n";
  for (const auto& [name, value] : c.case_headers()) head += name + ": " + value + "\r\n";
  head += "Authorization: Bearer " + writer +
          "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
          "\r\n\r\n";
  std::unique_ptr<Connection> connection = c.connect();
  c.require(connection->send(head).ok(), "AUTH-031", "the head sent");
  // Wait until the server's clock is past the expiry, measured on its own answers.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(kLifetimeMs * 3);
  while (c.server_time_ms() <= issued_ms + kLifetimeMs + 50 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    (void)c.get(path(E::kInfo));
  }
  (void)connection->send(body);
  Result<HttpResponse> response = connection->read_response(c.options().timeout_ms);
  c.record(head + body, response, 0);
  c.require(response.ok(), "AUTH-031", "an answer", response.ok() ? "" : response.error().message);
  c.check(response->status == 200, "AUTH-031",
          "200: the token was valid when the head was admitted", describe(*response));
  c.expect_error(c.request("PUT", key_path, writer, key_body(c.random(), 0), "application/json"),
                 401, "token_expired", "AUTH-031");
}

constexpr std::array kCases = {
    Case{
        "auth-001", "AUTH-001 AUTH-003 AUTH-004 INF-001 AUTH-002", Level::kMust,
        Capability::kNewWorkspaces,
        "POST /v1/workspaces creates a workspace with a working owner token and a fixed block size",
        &creating_a_workspace_answers_201},
    Case{"auth-002", "AUTH-002 ERR-013", Level::kMust, Capability::kNone,
         "with closed registration, POST /v1/workspaces is 403 registration_closed",
         &closed_registration_is_403},
    Case{"auth-003", "AUTH-005 VER-003", Level::kMust, Capability::kWorkspaceDelete,
         "deleting a workspace answers its id and invalidates every token of it",
         &deleting_a_workspace_invalidates_its_tokens},
    Case{"auth-004", "AUTH-010 AUTH-011 AUTH-013 AUTH-014 AUTH-018", Level::kMust,
         Capability::kNone,
         "tokens of every scope, with and without expiry; owner tokens never expire",
         &tokens_are_issued_with_their_scope_and_expiry},
    Case{"auth-005", "AUTH-015 AUTH-024 AUTH-011 LIM-004 LIM-005", Level::kMust,
         Capability::kNewWorkspaces,
         "the token list: every token once, revoked ones too, in byte order, paged, no secrets",
         &the_token_list_is_ordered_complete_and_secret_free},
    Case{"auth-006", "AUTH-016 AUTH-017", Level::kMust, Capability::kNone,
         "revoking twice answers the first time; a revoked token is refused; no token revokes "
         "itself",
         &revocation_is_idempotent_and_final},
    Case{"auth-007", "AUTH-019", Level::kMust, Capability::kNone,
         "a token past its expiry (by the server's clock) is 401 token_expired",
         &expired_tokens_are_refused},
    Case{"auth-008", "AUTH-020 AUTH-021 TRN-030 TRN-031", Level::kMust, Capability::kNewWorkspaces,
         "missing, malformed, unknown, foreign and under-scoped tokens, in the order of spec 4.3",
         &authorization_is_checked_in_order},
    Case{"auth-009", "AUTH-021 AUTH-022", Level::kMust, Capability::kNewWorkspaces,
         "every endpoint with another workspace's owner token: 404 workspace_not_found, nothing "
         "changed",
         &another_workspaces_token_opens_nothing},
    Case{"auth-010", "AUTH-016 AUTH-020 ERR-003 AUTH-005 AUTH-013 AUTH-015 FILE-002 KEY-002",
         Level::kMust, Capability::kNone,
         "every endpoint refuses a revoked token, and read or read_write tokens where their scope "
         "ends",
         &revoked_expired_and_read_only_tokens_are_refused_everywhere},
    Case{"auth-011", "AUTH-025 SEC-004", Level::kMust, Capability::kNone,
         "malformed ids in paths: 400 invalid_id after the token is found valid",
         &malformed_ids_in_paths_are_invalid_id},
    Case{"auth-012", "AUTH-031 AUTH-019", Level::kMust, Capability::kNone,
         "expiry is judged when the head is admitted: a body sent after the expiry is still served",
         &expiry_is_judged_before_the_body},
};

}  // namespace

std::span<const Case> auth_cases() { return kCases; }

}  // namespace opsync::conformance::cases
