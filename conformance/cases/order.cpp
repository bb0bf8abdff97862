// Spec 2.7 and 4.3, pairwise: for every two adjacent checks of ERR-013 (with the steps of
// section 4.3 inside step 7), a request carrying exactly those two faults gets the earlier one's
// answer, on every endpoint both apply to and with every kind of token fault.
//
// The requests are generated from one table, kFaults: each row is one fault, its place in the
// order, the endpoints it applies to, how it edits a request and what it must be answered. A
// server that runs two adjacent checks the wrong way round for one endpoint, or for one kind of
// token, answers one of these requests with the later fault's code.
#include <chrono>
#include <thread>

#include "common.h"

namespace opsync::conformance::cases {
namespace {

// What the rows edit: a request that would succeed until a fault is put in.
struct Probe {
  std::string method;
  std::string version = "v1";
  std::string workspace;
  std::vector<std::string> parameters;  // after the workspace, in template order
  // Appended to the path: two segments, since one more segment after a literal can be a
  // template's parameter (`/v1/workspaces` + `/x` is `DELETE /v1/workspaces/{workspace_id}`).
  std::string extra_segment;
  std::string query;  // without '?'
  std::string content_type;
  std::string body;
  std::optional<uint64_t> declared_bytes;  // a Content-Length sent without its body
  std::string token;                       // empty: no Authorization
};

// The tokens and resources a probe can use, made once per run of the case.
struct Fixture {
  TestWorkspace ws, other;
  std::string read, read_write, revoked, expired, other_read;
  std::string file_id;  // a committed file of one chunk in ws, when the server has files
  std::string chunk;    // its chunk's body
  std::string revocable_token_id;
  Limits limits;
};

struct Expect {
  int status;
  std::string_view code;
  std::string field;
};

enum Slot : unsigned {
  kPathVersion = 1,
  kPathEnd = 2,
  kMethod = 4,
  kQuery = 8,
  kType = 16,
  kSize = 32,
  kToken = 64,
  kWorkspace = 128,
  kBody = 256,
  kParameter = 512,
  kState = 1024,
};

struct Fault {
  int rank;  // the place in the order: ERR-013 step x 10, and section 4.3's steps inside step 7
  std::string_view name;
  unsigned slots;  // two faults that edit one slot cannot be combined, except as `composes` says
  bool (*applies)(const Endpoint&);
  void (*apply)(Probe&, const Fixture&, const Endpoint&);
  Expect (*expect)(const Endpoint&);
};

bool any(const Endpoint&) { return true; }
bool authorized(const Endpoint& e) { return e.scope.has_value(); }
bool with_body(const Endpoint& e) { return e.request_body != BodyKind::kNone; }
bool authorized_with_body(const Endpoint& e) { return authorized(e) && with_body(e); }
bool above_read(const Endpoint& e) { return e.scope && *e.scope != Scope::kRead; }
bool with_parameter(const Endpoint& e) { return authorized(e) && e.path_parameters().size() > 1; }
// A fault of the state that does not depend on the path parameter the pair breaks.
bool with_independent_state(const Endpoint& e) {
  switch (e.id) {
    case E::kPutKey:
    case E::kCreateFile:
    case E::kCommitFile:
    case E::kPutChunk:
    case E::kGetChunk:
      return true;
    default:
      return false;
  }
}

std::string body_limit_text(const Endpoint& e, const Limits& limits) {
  return std::to_string(e.request_body == BodyKind::kChunk
                            ? limits.chunk_bytes + kEnvelopeOverheadBytes
                            : limits.request_body_bytes_max);
}

// The table. Ranks: 10 version, 20 route, 30 method, 40 query, 50 content type, 60 size, 71-74
// the steps of section 4.3 (71: the token, whose kinds exclude each other; 72: the workspace id;
// 73: the token's workspace; 74: the scope), 80 body, 90 path parameters, 100 state.
const std::vector<Fault>& faults() {
  static const std::vector<Fault> table = {
      {10, "version", kPathVersion, any,
       [](Probe& p, const Fixture&, const Endpoint&) { p.version = "v2"; },
       [](const Endpoint&) {
         return Expect{404, "unsupported_version", ""};
       }},
      {20, "route", kPathEnd, any,
       [](Probe& p, const Fixture&, const Endpoint&) { p.extra_segment = "x-nowhere/x-nowhere"; },
       [](const Endpoint&) {
         return Expect{404, "not_found", ""};
       }},
      {30, "method", kMethod, any,
       [](Probe& p, const Fixture&, const Endpoint&) { p.method = "PATCH"; },
       [](const Endpoint&) {
         return Expect{405, "method_not_allowed", ""};
       }},
      {40, "query", kQuery, any,
       [](Probe& p, const Fixture&, const Endpoint&) { p.query = "bogus=1"; },
       [](const Endpoint&) {
         return Expect{400, "invalid_query", "bogus"};
       }},
      {50, "content-type", kType, with_body,
       [](Probe& p, const Fixture&, const Endpoint&) { p.content_type = "text/plain"; },
       [](const Endpoint&) {
         return Expect{415, "unsupported_media_type", ""};
       }},
      {60, "size", kSize, any,
       [](Probe& p, const Fixture& f, const Endpoint& e) {
         p.declared_bytes = std::stoull(body_limit_text(e, f.limits)) + 1;
       },
       [](const Endpoint&) {
         return Expect{413, "body_too_large", ""};
       }},
      {71, "token-missing", kToken, authorized,
       [](Probe& p, const Fixture&, const Endpoint&) { p.token.clear(); },
       [](const Endpoint&) {
         return Expect{401, "token_missing", ""};
       }},
      {71, "token-invalid", kToken, authorized,
       [](Probe& p, const Fixture&, const Endpoint&) {
         p.token = "opsync_not-a-token-of-this-server";
       },
       [](const Endpoint&) {
         return Expect{401, "token_invalid", ""};
       }},
      {71, "token-revoked", kToken, authorized,
       [](Probe& p, const Fixture& f, const Endpoint&) { p.token = f.revoked; },
       [](const Endpoint&) {
         return Expect{401, "token_revoked", ""};
       }},
      {71, "token-expired", kToken, authorized,
       [](Probe& p, const Fixture& f, const Endpoint&) { p.token = f.expired; },
       [](const Endpoint&) {
         return Expect{401, "token_expired", ""};
       }},
      {72, "workspace-id", kWorkspace, authorized,
       [](Probe& p, const Fixture&, const Endpoint&) { p.workspace = "not-an-id"; },
       [](const Endpoint&) {
         return Expect{400, "invalid_id", "workspace_id"};
       }},
      {73, "other-workspace", kToken, authorized,
       [](Probe& p, const Fixture& f, const Endpoint&) { p.token = f.other.owner_token; },
       [](const Endpoint&) {
         return Expect{404, "workspace_not_found", ""};
       }},
      // With another workspace's token this becomes that workspace's read token: both faults.
      {74, "scope", kToken, above_read,
       [](Probe& p, const Fixture& f, const Endpoint&) {
         p.token = p.token == f.other.owner_token ? f.other_read : f.read;
       },
       [](const Endpoint&) {
         return Expect{403, "insufficient_scope", ""};
       }},
      {80, "body", kBody, authorized_with_body,
       [](Probe& p, const Fixture&, const Endpoint& e) {
         p.body = e.request_body == BodyKind::kChunk ? std::string(kEnvelopeOverheadBytes - 1, 'x')
                                                     : "{";
       },
       [](const Endpoint& e) {
         return e.request_body == BodyKind::kChunk ? Expect{400, "invalid_field", "body"}
                                                   : Expect{400, "malformed_json", ""};
       }},
      {90, "path-parameter", kParameter, with_parameter,
       [](Probe& p, const Fixture&, const Endpoint& e) {
         p.parameters[0] = e.path_parameters()[1].kind == ValueKind::kId ? "not-an-id" : "0";
       },
       [](const Endpoint& e) {
         return Expect{400, "invalid_id", std::string(e.path_parameters()[1].name)};
       }},
      {100, "state", kState, with_independent_state,
       [](Probe& p, const Fixture& f, const Endpoint& e) {
         switch (e.id) {
           case E::kPutKey: {
             PutKeyRequest request;
             request.expected_version = 9;  // the record does not exist: version_conflict
             request.kdf.iterations = 1000;
             request.wrapped_key = Bytes(kWrappedKeyBytes, 7);
             p.body = serialize_message(request);
             break;
           }
           case E::kCreateFile:
           case E::kCommitFile:
             p.body = R"({"chunk_count":2})";
             break;
           default:
             p.parameters[1] = "5";
             break;  // beyond the file's one chunk
         }
         (void)f;
       },
       [](const Endpoint&) {
         return Expect{409, "", ""};
       }},
  };
  return table;
}

// The faults each pair combines: every two faults whose ranks are adjacent in the table's order,
// and every fault of section 4.3 with the steps on either side of step 7.
std::vector<std::pair<const Fault*, const Fault*>> adjacent_pairs() {
  const std::vector<Fault>& table = faults();
  std::vector<int> ranks;
  for (const Fault& f : table)
    if (ranks.empty() || ranks.back() != f.rank) ranks.push_back(f.rank);
  auto next_rank = [&](int rank) {
    for (size_t i = 0; i + 1 < ranks.size(); ++i)
      if (ranks[i] == rank) return ranks[i + 1];
    return -1;
  };
  auto step_of = [](int rank) { return rank >= 71 && rank <= 74 ? 70 : rank; };
  std::vector<std::pair<const Fault*, const Fault*>> pairs;
  for (const Fault& first : table)
    for (const Fault& second : table) {
      const bool adjacent = second.rank == next_rank(first.rank);
      const bool around_step_7 = (first.rank == 60 && step_of(second.rank) == 70) ||
                                 (step_of(first.rank) == 70 && second.rank == 80);
      if (!adjacent && !around_step_7) continue;
      if (&first == &second) continue;
      const bool composes = second.name == "scope" && first.name == "other-workspace";
      if ((first.slots & second.slots) != 0 && !composes) continue;
      pairs.emplace_back(&first, &second);
    }
  return pairs;
}

Probe base_probe(const Endpoint& e, const Fixture& f, RandomSource& random) {
  Probe p;
  p.method = std::string(e.method);
  p.workspace = f.ws.id;
  p.token = e.scope ? f.ws.owner_token : "";
  for (const ParameterSpec& parameter : e.path_parameters()) {
    if (parameter.name == "workspace_id") continue;
    if (parameter.name == "token_id")
      p.parameters.push_back(f.revocable_token_id);
    else if (parameter.name == "key_id")
      p.parameters.push_back(std::to_string(1 + random.below(1000000)));
    else if (parameter.name == "file_id")
      p.parameters.push_back(f.file_id);
    else
      p.parameters.push_back("0");  // index
  }
  if (e.request_body == BodyKind::kChunk) {
    p.content_type = "application/octet-stream";
    p.body = f.chunk;  // equal to the stored chunk: a committed file takes it (FILE-004)
  } else if (e.request_body == BodyKind::kJson) {
    p.content_type = "application/json";
    switch (e.id) {
      case E::kCreateToken:
        p.body = R"({"scope":"read"})";
        break;
      case E::kPutKey:
        p.body = key_body(random, 0);
        break;
      case E::kFileStatus:
        p.body = "{\"file_ids\":[\"" + f.file_id + "\"]}";
        break;
      case E::kCreateFile:
      case E::kCommitFile:
        p.body = R"({"chunk_count":1})";
        break;
      default:
        p.body = "{}";
        break;  // create workspace; upload gets its ops below
    }
  }
  return p;
}

std::string target_of(const Probe& p, const Endpoint& e) {
  std::string path;
  size_t next = 0;
  std::string_view rest = e.path.substr(3);  // after "/v1"
  path = "/" + p.version;
  while (!rest.empty()) {
    const size_t open = rest.find('{');
    if (open == std::string_view::npos) {
      path += rest;
      break;
    }
    path += rest.substr(0, open);
    const size_t close = rest.find('}', open);
    const std::string_view name = rest.substr(open + 1, close - open - 1);
    path += name == "workspace_id" ? p.workspace : p.parameters.at(next++);
    rest.remove_prefix(close + 1);
  }
  if (!p.extra_segment.empty()) path += "/" + p.extra_segment;
  return p.query.empty() ? path : path + "?" + p.query;
}

std::string bytes_of(CaseContext& c, const Probe& p, const Endpoint& e) {
  std::string out =
      p.method + " " + target_of(p, e) + " HTTP/1.1\r\nHost: " + c.options().server.host + "\r\n";
  for (const auto& [name, value] : c.case_headers()) out += name + ": " + value + "\r\n";
  if (!p.token.empty()) out += "Authorization: Bearer " + p.token + "\r\n";
  if (!p.content_type.empty()) out += "Content-Type: " + p.content_type + "\r\n";
  out += "Content-Length: " + std::to_string(p.declared_bytes.value_or(p.body.size())) + "\r\n\r\n";
  if (!p.declared_bytes) out += p.body;
  return out;
}

Fixture make_fixture(CaseContext& c) {
  Fixture f;
  f.limits = c.limits();
  f.ws = c.new_workspace();
  f.other = c.new_workspace();
  f.read = c.issue_token(f.ws, Scope::kRead);
  f.read_write = c.issue_token(f.ws, Scope::kReadWrite);
  f.other_read = c.issue_token(f.other, Scope::kRead);
  f.revoked = c.issue_token(f.ws, Scope::kReadWrite);
  const TokenEntry revoked = c.expect_message<TokenEntry>(
      c.get(path(E::kTokenSelf, {f.ws.id}), f.revoked), 200, "AUTH-018");
  f.revocable_token_id = to_base64url(revoked.token_id);
  c.require(
      c.request("DELETE", path(E::kRevokeToken, {f.ws.id, f.revocable_token_id}), f.ws.owner_token)
              .status == 200,
      "AUTH-016", "a token revoked");
  constexpr uint64_t kLifetimeMs = 1000;
  f.expired = c.issue_token(f.ws, Scope::kReadWrite, kLifetimeMs);
  const uint64_t expires_ms = c.server_time_ms() + kLifetimeMs;
  f.file_id = to_base64url(c.random().id());
  if (c.info().has_capability("files")) {
    f.chunk = chunk_body(c.random(), 40);
    c.require(c.post_json(path(E::kCreateFile, {f.ws.id, f.file_id}), f.ws.owner_token,
                          R"({"chunk_count":1})")
                      .status == 201,
              "FILE-002", "a file created");
    c.require(c.request("PUT", path(E::kPutChunk, {f.ws.id, f.file_id, "0"}), f.ws.owner_token,
                        f.chunk, "application/octet-stream")
                      .status == 200,
              "FILE-003", "its chunk stored");
    c.require(c.post_json(path(E::kCommitFile, {f.ws.id, f.file_id}), f.ws.owner_token,
                          R"({"chunk_count":1})")
                      .status == 200,
              "FILE-008", "the file committed");
  }
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(kLifetimeMs * 3);
  while (c.server_time_ms() <= expires_ms + 20 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    (void)c.get(path(E::kInfo));
  }
  return f;
}

void adjacent_checks_pairwise(CaseContext& c) {
  const Fixture f = make_fixture(c);
  const std::string before = c.fingerprint(f.ws);
  size_t sent = 0;
  for (const Endpoint& e : endpoint_catalog()) {
    if (!e.capability.empty() && !c.info().has_capability(e.capability)) continue;
    for (const auto& [first, second] : adjacent_pairs()) {
      if (!first->applies(e) || !second->applies(e)) continue;
      Probe p = base_probe(e, f, c.random());
      if (e.id == E::kUploadOps) p.body = serialize_message(UploadOpsRequest{c.make_ops(1)});
      second->apply(p, f, e);
      first->apply(p, f, e);
      const Expect expected = first->expect(e);
      Result<HttpResponse> response = c.raw(bytes_of(c, p, e), c.options().timeout_ms);
      ++sent;
      const std::string what =
          e.name() + " with " + std::string(first->name) + " and " + std::string(second->name);
      if (!response.ok()) {
        c.check(false, "ERR-013", what + ": an answer", response.error().message);
        continue;
      }
      const auto [code, field] = code_and_field(*response);
      c.check(
          response->status == expected.status && code == expected.code && field == expected.field,
          first->rank >= 71 && second->rank <= 74 ? "AUTH-020" : "ERR-013",
          what + ": status " + std::to_string(expected.status) + " " + std::string(expected.code) +
              (expected.field.empty() ? "" : " at " + expected.field) + " (" +
              std::string(first->name) + " comes first)",
          describe(*response));
    }
  }
  c.check(c.fingerprint(f.ws) == before, "ERR-003", "nothing changed by any faulty request",
          "the workspace changed");
  c.note(std::to_string(sent) + " requests: " + std::to_string(adjacent_pairs().size()) +
         " pairs of adjacent checks from " + std::to_string(faults().size()) +
         " faults, on every endpoint each applies to");
}

constexpr std::array kCases = {
    Case{"order-001", "ERR-013 AUTH-020 AUTH-025 ERR-003 LIM-002 TRN-010 TRN-011 VER-001 FILE-014",
         Level::kMust, Capability::kNewWorkspaces,
         "every two adjacent checks of ERR-013 and section 4.3, on every endpoint and token kind: "
         "the earlier answers",
         &adjacent_checks_pairwise},
};

}  // namespace

std::span<const Case> order_cases() { return kCases; }

}  // namespace opsync::conformance::cases
