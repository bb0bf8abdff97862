// Spec 2.2 and 2.7: every invalid request of the published test vectors (vectors/
// wire_messages.json), sent to the endpoint that reads it, must get 400 with the vector's code and
// field, in the order ERR-014 fixes, and change nothing.
#include <nlohmann/json.hpp>

#include "common.h"
#include "opsync/conformance/embedded.h"

namespace opsync::conformance::cases {
namespace {

struct Target {
  std::string method;
  std::string path;
  std::string token;
};

// Sends every invalid vector of one request message to `target` (built for a fresh workspace).
void send_invalid_vectors(CaseContext& c, std::string_view message,
                          Target (*target_for)(CaseContext&, const TestWorkspace&)) {
  const nlohmann::json vectors = nlohmann::json::parse(embedded_wire_messages());
  const TestWorkspace ws = c.workspace();
  const Target target = target_for(c, ws);
  const std::string before = c.fingerprint(ws);
  size_t sent = 0;
  for (const auto& group : vectors["testGroups"]) {
    if (group["messageType"] != message) continue;
    for (const auto& test : group["tests"]) {
      if (test["result"] != "invalid") continue;
      std::string text;
      if (test.contains("jsonHex")) {
        const std::optional<Bytes> bytes = from_hex(test["jsonHex"].get<std::string>());
        text.assign(bytes->begin(), bytes->end());
      } else {
        text = test["json"].get<std::string>();
      }
      const HttpResponse r =
          c.request(target.method, target.path, target.token, text, "application/json");
      const std::string code = test["errorCode"];
      const std::string field = test["errorField"];
      const auto [got_code, got_field] = code_and_field(r);
      c.check(r.status == 400 && got_code == code && got_field == field, "ERR-014",
              test["id"].get<std::string>() + ": status 400 " + code + " at \"" + field + "\"",
              describe(r));
      ++sent;
    }
  }
  c.require(sent > 0, "TRN-022", "the vectors hold invalid " + std::string(message) + " cases");
  c.check(c.fingerprint(ws) == before, "ERR-003",
          "nothing changed after " + std::to_string(sent) + " bad requests",
          "the workspace changed");
}

Target workspaces(CaseContext& c, const TestWorkspace&) {
  if (c.info().registration == Registration::kClosed && c.options().registration_token.empty())
    c.skip("registration is closed: every POST /v1/workspaces is refused before its body is read");
  return {"POST", path(E::kCreateWorkspace), c.options().registration_token};
}
Target tokens(CaseContext&, const TestWorkspace& ws) {
  return {"POST", path(E::kCreateToken, {ws.id}), ws.owner_token};
}
Target keys(CaseContext&, const TestWorkspace& ws) {
  return {"PUT", path(E::kPutKey, {ws.id, "1"}), ws.owner_token};
}
Target ops(CaseContext&, const TestWorkspace& ws) {
  return {"POST", path(E::kUploadOps, {ws.id}), ws.owner_token};
}
Target create_file(CaseContext& c, const TestWorkspace& ws) {
  return {"POST", path(E::kCreateFile, {ws.id, to_base64url(c.random().id())}), ws.owner_token};
}
Target commit_file(CaseContext& c, const TestWorkspace& ws) {
  return {"POST", path(E::kCommitFile, {ws.id, to_base64url(c.random().id())}), ws.owner_token};
}
Target file_status(CaseContext&, const TestWorkspace& ws) {
  return {"POST", path(E::kFileStatus, {ws.id}), ws.owner_token};
}

constexpr std::string_view kJsonRules =
    "TRN-020 TRN-021 TRN-022 TRN-024 TRN-025 TRN-026 TRN-027 TRN-028 ERR-014 ERR-003 TRN-029 "
    "ERR-024";

constexpr std::array kCases = {
    Case{"json-001", kJsonRules, Level::kMust, Capability::kNewWorkspaces,
         "every invalid CreateWorkspaceRequest vector: 400 with its code and field",
         [](CaseContext& c) { send_invalid_vectors(c, "CreateWorkspaceRequest", &workspaces); }},
    Case{"json-002",
         "TRN-020 TRN-021 TRN-022 TRN-024 TRN-026 TRN-027 TRN-028 ERR-014 ERR-003 AUTH-014 "
         "AUTH-013 TRN-029 ERR-024",
         Level::kMust, Capability::kNone,
         "every invalid CreateTokenRequest vector: 400 with its code and field",
         [](CaseContext& c) { send_invalid_vectors(c, "CreateTokenRequest", &tokens); }},
    Case{"json-003",
         "TRN-020 TRN-021 TRN-022 TRN-024 TRN-025 TRN-026 TRN-027 TRN-028 ERR-014 ERR-003 KEY-004 "
         "TRN-029 ERR-024",
         Level::kMust, Capability::kNone,
         "every invalid PutKeyRequest vector: 400 with its code and field",
         [](CaseContext& c) { send_invalid_vectors(c, "PutKeyRequest", &keys); }},
    Case{"json-004",
         "TRN-020 TRN-021 TRN-022 TRN-024 TRN-025 TRN-026 TRN-027 TRN-028 ERR-013 ERR-014 ERR-003 "
         "OP-001 VER-005 "
         "LOG-001 TRN-029 ERR-024",
         Level::kMust, Capability::kNone,
         "every invalid UploadOpsRequest vector, several faults included: 400 with its code and "
         "field",
         [](CaseContext& c) { send_invalid_vectors(c, "UploadOpsRequest", &ops); }},
    Case{"json-005",
         "TRN-020 TRN-021 TRN-022 TRN-024 TRN-026 TRN-027 TRN-028 ERR-014 ERR-003 FILE-002 "
         "FILE-012 TRN-029 ERR-024",
         Level::kMust, Capability::kFiles,
         "every invalid CreateFileRequest vector: 400 with its code and field",
         [](CaseContext& c) { send_invalid_vectors(c, "CreateFileRequest", &create_file); }},
    Case{"json-006",
         "TRN-020 TRN-021 TRN-022 TRN-024 TRN-026 TRN-027 TRN-028 ERR-014 ERR-003 FILE-008 TRN-029 "
         "ERR-024",
         Level::kMust, Capability::kFiles,
         "every invalid CommitFileRequest vector: 400 with its code and field",
         [](CaseContext& c) { send_invalid_vectors(c, "CommitFileRequest", &commit_file); }},
    Case{"json-007",
         "TRN-020 TRN-021 TRN-022 TRN-024 TRN-025 TRN-026 TRN-027 TRN-028 ERR-014 ERR-003 FILE-007 "
         "TRN-029 ERR-024",
         Level::kMust, Capability::kFiles,
         "every invalid FileStatusRequest vector: 400 with its code and field",
         [](CaseContext& c) { send_invalid_vectors(c, "FileStatusRequest", &file_status); }},
};

}  // namespace

std::span<const Case> json_cases() { return kCases; }

}  // namespace opsync::conformance::cases
