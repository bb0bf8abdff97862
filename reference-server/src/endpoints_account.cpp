// Info, workspaces, tokens and key records (spec 2.6, 4, 5.2).
#include <algorithm>
#include <cctype>

#include "defects.h"
#include "endpoints.h"
#include "rate_limiter.h"

namespace opsync::server::endpoints {
namespace {

constexpr uint64_t kU32Max = 0xFFFFFFFFu;

TokenEntry entry_of(const TokenRecord& record) {
  return TokenEntry{record.id, record.scope, record.created_at_ms, record.expires_at_ms,
                    record.revoked_at_ms};
}

}  // namespace

Response info(const Call& call) {
  const ServerConfig& c = call.config;
  InfoResponse info;
  info.versions = {1};
  info.server = ServerIdentity{c.server_name, c.server_version};
  info.capabilities = {"files", "workspace_delete"};
  info.registration = c.registration;
  info.server_time_ms = call.now_ms;  // equals the header (INF-002)
  info.max_clock_skew_ms = c.max_clock_skew_ms;
  info.block_size = c.block_size;
  info.upload_expiry_ms = c.upload_expiry_ms;
  info.file_retention_ms = c.file_retention_ms;
  info.limits = c.limits;
  info.http_limits = c.http_limits;
  return json_response(200, info);
}

Result<CreateWorkspaceResponse> new_workspace(Storage& storage, const ServerConfig& config,
                                              uint64_t now_ms, const std::function<Id()>& new_id,
                                              const std::function<std::string()>& new_token) {
  CreateWorkspaceResponse created;
  created.workspace_id = new_id();
  created.owner_token = new_token();
  created.owner_token_id = new_id();
  created.block_size = config.block_size;
  created.created_at_ms = now_ms;
  Status status = storage.write([&](Transaction& txn) {
    txn.insert_workspace(WorkspaceRecord{created.workspace_id, created.block_size, now_ms, 0});
    txn.put_token(TokenRecord{created.owner_token_id, created.workspace_id,
                              token_hash(created.owner_token), Scope::kOwner, now_ms, std::nullopt,
                              std::nullopt});
    return true;
  });
  if (!status.ok()) return status.error();
  return created;
}

// Whether the request carries the operator's registration credential (AUTH-006).
bool carries_registration_credential(const Call& call) {
  if (!call.config.registration_credential_sha256) return false;
  const std::optional<std::string> authorization = call.request.header("authorization");
  constexpr std::string_view kBearer = "bearer ";
  if (!authorization || authorization->size() <= kBearer.size()) return false;
  std::string scheme = authorization->substr(0, kBearer.size());
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (scheme != kBearer) return false;
  // Compared as hashes: how long a comparison takes says nothing about the secret's bytes.
  return token_hash(std::string_view(*authorization).substr(kBearer.size())) ==
         *call.config.registration_credential_sha256;
}

Response create_workspace(const Call& call) {
  if (call.config.registration == Registration::kClosed && !carries_registration_credential(call))
    return error_response(make_error(
        Code::kRegistrationClosed, call.request.header("authorization")
                                       ? "this credential does not open registration on this server"
                                       : "this server creates workspaces only by its operator"));
  // The operator's cap, before the body costs anything (LIM-020).
  if (call.creation_limiter) {
    if (std::optional<uint64_t> wait_ms =
            call.creation_limiter->admit(call.request.client_address, call.now_ms)) {
      Response refused = error_response(make_error(
          Code::kRateLimited, "too many workspaces created from this address; try again later"));
      refused.headers.emplace_back("Retry-After",
                                   std::to_string(std::max<uint64_t>(1, (*wait_ms + 999) / 1000)));
      return refused;
    }
  }
  Result<CreateWorkspaceRequest> body = parse_body<CreateWorkspaceRequest>(call);
  if (!body.ok()) return error_response(body.error());
  Result<CreateWorkspaceResponse> created =
      new_workspace(call.storage, call.config, call.now_ms, call.new_id, call.new_token);
  if (!created.ok()) return error_response(created.error());
  return json_response(201, *created);
}

Response delete_workspace(const Call& call) {
  return run_write(call.storage, [&](Transaction& txn, bool& commit) {
    txn.delete_workspace(call.workspace->id);
    commit = true;
    return json_response(200, DeleteWorkspaceResponse{call.workspace->id, call.now_ms});
  });
}

Response create_token(const Call& call) {
  Result<CreateTokenRequest> body = parse_body<CreateTokenRequest>(call);
  if (!body.ok()) return error_response(body.error());
  TokenIssued issued;
  issued.token_id = call.new_id();
  issued.token = call.new_token();
  issued.scope = body->scope;
  issued.created_at_ms = call.now_ms;
  if (body->expires_in_ms) issued.expires_at_ms = call.now_ms + *body->expires_in_ms;
  return run_write(call.storage, [&](Transaction& txn, bool& commit) {
    const uint64_t cap = call.config.tokens_per_workspace_max;
    if (cap > 0 && txn.live_token_count(call.workspace->id, call.now_ms) >= cap) {  // LIM-021
      Error e = make_error(Code::kQuotaExceeded, "this workspace holds " + std::to_string(cap) +
                                                     " tokens; revoke one to issue another");
      e.details.limit = cap;
      return error_response(e);
    }
    txn.put_token(TokenRecord{issued.token_id, call.workspace->id, token_hash(issued.token),
                              issued.scope, issued.created_at_ms, issued.expires_at_ms,
                              std::nullopt});
    commit = true;
    return json_response(201, issued);
  });
}

Response list_tokens(const Call& call) {
  const uint64_t limit = query_decimal(call, "limit");
  const std::optional<TokenId> after = query_id(call, "after");
  return run_read(call.storage, [&](Transaction& txn) {
    // One more than the page holds tells whether another page follows (LIM-004).
    std::optional<TokenId> start = after;
    if (defect(Defect::kUnheldCursorRestarts) && after && !txn.token(call.workspace->id, *after))
      start.reset();
    std::vector<TokenRecord> records = txn.tokens_after(call.workspace->id, start, limit + 1);
    TokenListResponse page;
    if (defect(Defect::kExpiredTokensUnlisted))
      std::erase_if(records, [&](const TokenRecord& r) {
        return r.expires_at_ms && *r.expires_at_ms <= call.now_ms;
      });
    for (size_t i = 0; i < records.size() && i < limit; ++i)
      page.tokens.push_back(entry_of(records[i]));
    if (records.size() > limit) page.next_after = page.tokens.back().token_id;
    if (defect(Defect::kTokenListUnsorted)) std::reverse(page.tokens.begin(), page.tokens.end());
    return json_response(200, page);
  });
}

Response token_self(const Call& call) { return json_response(200, entry_of(*call.token)); }

Response revoke_token(const Call& call) {
  Result<Id> token_id = path_id(call, 0, "token_id");
  if (!token_id.ok()) return error_response(token_id.error());
  return run_write(call.storage, [&](Transaction& txn, bool& commit) {
    std::optional<TokenRecord> record = txn.token(call.workspace->id, *token_id);
    if (!record)
      return error_response(
          make_error(Code::kTokenNotFound, "no such token in this workspace", "token_id"));
    if (record->id == call.token->id)
      return error_response(make_error(Code::kCannotRevokeSelf,
                                       "a token cannot revoke itself; use another owner token"));
    if (!record->revoked_at_ms) {
      // AUTH-030: journaled before it commits, where a restore of the data cannot roll it back.
      if (!defect(Defect::kRevocationsNotJournaled)) {
        const Status journaled =
            call.storage.journal_revocation(Revocation{record->workspace, record->id, call.now_ms});
        if (!journaled.ok())
          return error_response(
              make_error(Code::kUnavailable, "the revocation could not be recorded; try again"));
      }
      record->revoked_at_ms = call.now_ms;
      txn.put_token(*record);
      commit = true;
    }
    return json_response(200, RevokeTokenResponse{record->id, *record->revoked_at_ms});
  });
}

Response list_keys(const Call& call) {
  const uint64_t limit = query_decimal(call, "limit");
  const uint64_t after = query_decimal(call, "after");
  return run_read(call.storage, [&](Transaction& txn) {
    std::vector<KeyRecord> records =
        txn.keys_after(call.workspace->id, static_cast<uint32_t>(after), limit + 1);
    KeyListResponse page;
    for (size_t i = 0; i < records.size() && i < limit; ++i) page.keys.push_back(records[i]);
    if (records.size() > limit) page.next_after = page.keys.back().key_id;
    if (defect(Defect::kCursorOnFullLastPage) && page.keys.size() == limit)
      page.next_after = page.keys.back().key_id;
    return json_response(200, page);
  });
}

Response put_key(const Call& call) {
  Result<PutKeyRequest> body = parse_body<PutKeyRequest>(call);
  if (!body.ok()) return error_response(body.error());
  Result<uint64_t> key_id = path_integer(call, 0, "key_id", 1, kU32Max);
  if (!key_id.ok()) return error_response(key_id.error());
  return run_write(call.storage, [&](Transaction& txn, bool& commit) {
    const WorkspaceId& ws = call.workspace->id;
    std::optional<KeyRecord> existing = txn.key(ws, static_cast<uint32_t>(*key_id));
    const uint64_t current_version = existing ? existing->version : 0;
    if (body->expected_version != current_version &&
        !defect(Defect::kKeyVersionIgnored)) {  // KEY-003
      Error e = make_error(Code::kVersionConflict,
                           "the key record is at version " + std::to_string(current_version),
                           "expected_version");
      e.details.current_version = current_version;
      return error_response(e);
    }
    if (!existing && txn.key_count(ws) >= call.config.limits.key_records_max)
      return error_response(
          make_error(Code::kKeyRecordsFull, "this workspace holds the most key records it may"));
    KeyRecord record;
    record.key_id = static_cast<uint32_t>(*key_id);
    record.version = current_version + 1;
    record.kdf = body->kdf;
    record.wrapped_key = body->wrapped_key;
    record.updated_at_ms = call.now_ms;
    txn.put_key(ws, record);
    commit = true;
    return json_response(200, record);
  });
}

}  // namespace opsync::server::endpoints
