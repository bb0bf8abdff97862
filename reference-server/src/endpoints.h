// The endpoints of spec v1, one function each, called by ServerCore after admission (routing,
// authorization, query names, content type and declared size are already checked). Private to
// the server core.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "opsync/protocol/endpoints.h"
#include "opsync/server/core.h"

namespace opsync::server::endpoints {

// One admitted request and what the endpoint may use.
struct Call {
  const ServerConfig& config;
  Storage& storage;
  const Request& request;
  uint64_t now_ms;
  const TokenRecord* token;          // nullptr on routes without authorization
  const WorkspaceRecord* workspace;  // likewise
  const Endpoint& endpoint;
  std::vector<std::string_view> params;      // path parameters after the workspace id
  std::map<std::string, std::string> query;  // checked against the catalog: known, once, valid
  std::function<Id()> new_id;                // fresh random ids
  std::function<std::string()> new_token;    // fresh token secrets
  RateLimiter* creation_limiter = nullptr;   // workspace creations per client address (LIM-020)
};

Response error_response(const Error& error);
Error make_error(Code code, std::string message, std::string field = "");

template <typename M>
Response json_response(int status, const M& message) {
  Response response;
  response.status = status;
  response.body = serialize_message(message);
  return response;
}

// Writes in one transaction; maps a backend failure to its error response.
Response run_write(Storage& storage,
                   const std::function<Response(Transaction&, bool& commit)>& body);
Response run_read(Storage& storage, const std::function<Response(Transaction&)>& body);

// Parses a JSON body, or returns the spec's 400 error.
template <typename M>
Result<M> parse_body(const Call& call) {
  return parse_message<M>(call.request.body);
}

// Query values, which admission has checked against the catalog (TRN-011, TRN-013). A decimal
// parameter that is absent takes its fallback, or for `limit` the server's maximum (LIM-005).
uint64_t query_decimal(const Call& call, std::string_view name);
std::optional<Id> query_id(const Call& call, std::string_view name);
// Path id parameters (SEC-004).
Result<Id> path_id(const Call& call, size_t index, std::string_view field);
Result<uint64_t> path_integer(const Call& call, size_t index, std::string_view field, uint64_t min,
                              uint64_t max);

// account.cpp: workspaces, tokens, key records (spec 4, 5.2)
Response info(const Call& call);
Response create_workspace(const Call& call);
Response delete_workspace(const Call& call);
Response create_token(const Call& call);
Response list_tokens(const Call& call);
Response token_self(const Call& call);
Response revoke_token(const Call& call);
Response list_keys(const Call& call);
Response put_key(const Call& call);

// log.cpp: operations and blocks (spec 7)
Response upload_ops(const Call& call);
Response read_ops(const Call& call);
Response read_blocks(const Call& call);

// files.cpp: files (spec 11)
Response file_status(const Call& call);
Response create_file(const Call& call);
Response get_file(const Call& call);
Response delete_file(const Call& call);
Response commit_file(const Call& call);
Response put_chunk(const Call& call);
Response get_chunk(const Call& call);

// Removes files due for collection (FILE-011).
uint64_t collect_garbage(Storage& storage, const ServerConfig& config, uint64_t now_ms,
                         size_t files_max);

// Creates a workspace with its owner token (POST /v1/workspaces and the operator command).
Result<CreateWorkspaceResponse> new_workspace(Storage& storage, const ServerConfig& config,
                                              uint64_t now_ms, const std::function<Id()>& new_id,
                                              const std::function<std::string()>& new_token);

Hash token_hash(std::string_view token);

}  // namespace opsync::server::endpoints
