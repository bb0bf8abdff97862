// The conformance suite's cases and what a case can do.
//
// A case is data: a permanent id (never renumbered or reused), the requirements it covers, its
// level, the capability it needs, a one-line description and a run function. The run function
// talks to the server through a CaseContext, which records every exchange for the report, holds
// every response to the wire rules of protocol/wire_check.h, and offers checks that accept every
// answer the spec permits.
//
// Thread safety: each running case has its own CaseContext; the runner may run cases on several
// threads at once, so cases share nothing but what the context gives them.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "opsync/conformance/http.h"
#include "opsync/protocol/messages.h"
#include "opsync/protocol/random.h"

namespace opsync::conformance {

enum class Level : uint8_t { kMust, kShould };
std::string_view level_name(Level level);

// What a case needs of the server or of the run; a case whose need is not met is skipped with
// the reason.
enum class Capability : uint8_t {
  kNone,
  kFiles,            // the server advertises `files`
  kWorkspaceDelete,  // the server advertises `workspace_delete`
  kNewWorkspaces,    // the suite can create workspaces (open registration or --registration-token)
  kRestart,          // --restart-cmd was given
  kRestore,          // --restore-cmd was given
};
std::string_view capability_name(Capability capability);

enum class Outcome : uint8_t { kPass, kFail, kWarn, kSkip, kKnownFailure, kFixed, kError };
std::string_view outcome_name(Outcome outcome);

class CaseContext;

struct Case {
  std::string_view id;            // "upload-003": permanent
  std::string_view requirements;  // "LOG-004 SYNC-006": the ids it covers, space-separated
  Level level;
  Capability needs;
  std::string_view description;  // one line
  void (*run)(CaseContext&);
};

// Every case of the suite, one span per spec section (cases/*.cpp), in catalog order.
std::vector<const Case*> all_cases();

// The suite's options, from the command line.
struct Options {
  Server server;
  uint64_t seed = 1;
  uint64_t timeout_ms = 10000;  // one request
  size_t jobs = 4;
  std::string registration_token;  // sent as a bearer token when creating workspaces
  std::string workspace;           // with owner_token: an existing workspace to use
  std::string owner_token;
  // Kills and restarts the server; the suite then waits for it to answer again.
  std::string restart_cmd;
  // Run as "CMD save" (take a backup of the server's data) and "CMD restore" (stop the server,
  // bring the backup back, start it again).
  std::string restore_cmd;
};

// One request and its response as they crossed the wire, for the report.
struct Exchange {
  std::string request;   // the bytes sent (bodies cut at kTranscriptBodyBytesMax)
  std::string response;  // status line, headers and body as read (likewise cut), or why none came
  double duration_ms = 0;
};
inline constexpr size_t kTranscriptBodyBytesMax = 4096;

struct Check {
  std::string requirement;  // "LOG-004"
  std::string expected;     // names the fault injected or the input, where the case made one
  std::string observed;
  // The request that broke the rule: its request line ("POST /v1/workspaces/.../ops"), and its
  // index in the case's transcript. The last exchange before the check; empty when none was made.
  std::string request = "";
  std::optional<size_t> exchange = std::nullopt;
};

struct CaseResult {
  const Case* c = nullptr;
  Outcome outcome = Outcome::kPass;
  std::vector<Check> failures;  // each unmet expectation; empty on pass
  std::string note;             // why skipped or errored; the known failure's reason; figures
  std::vector<Exchange> transcript;
  double duration_ms = 0;
  // Every check the case made, held or not, per requirement: how deeply a run tested each one.
  std::map<std::string, size_t> checks;
};

// Facts about the server gathered once per run, shared read-only by every case.
struct RunFacts {
  InfoResponse info;
  bool can_create_workspaces = false;
  std::string create_workspace_problem;  // why not, when not
};

// A workspace the suite uses.
struct TestWorkspace {
  std::string id;  // base64url
  std::string owner_token;
  uint32_t block_size = 0;
};

// Thrown to end a case early; the runner turns it into the outcome.
struct CaseStop {
  Outcome outcome;
  std::string why;
};

class CaseContext {
 public:
  CaseContext(const Options& options, const RunFacts& facts, const Case& c, CaseResult& result);

  const Options& options() const { return options_; }
  const InfoResponse& info() const { return facts_.info; }
  const Limits& limits() const { return facts_.info.limits; }
  const Case& current() const { return case_; }
  // Random values for generated data, from --seed and the case id: a case draws the same values
  // in every run with the same seed, whatever the order and number of other cases.
  RandomSource& random() { return random_; }

  // ---- requests: every one is recorded and held to the wire rules (TRN-007, TRN-008, ERR-001...)

  // Sends a request on a fresh connection; a transport failure ends the case as a failure of
  // ERR-004 ("stop answering"). Adds OpSync-Test-Case and Content-Length.
  HttpResponse request(const std::string& method, const std::string& target,
                       const std::string& token = "", const std::string& body = "",
                       const std::string& content_type = "", Headers extra = {});
  HttpResponse get(const std::string& target, const std::string& token = "") {
    return request("GET", target, token);
  }
  HttpResponse post_json(const std::string& target, const std::string& token,
                         const std::string& body) {
    return request("POST", target, token, body, "application/json");
  }
  // Like request(), but a transport failure is returned, not a failure of the case.
  Result<HttpResponse> try_request(const HttpRequest& request);
  // Sends raw bytes on a fresh connection and reads one response (framing cases).
  Result<HttpResponse> raw(const std::string& bytes, uint64_t timeout_ms = 0);
  // A connection of the case's own, and a way to record what crossed it.
  std::unique_ptr<Connection> connect();
  void record(const std::string& request_bytes, const Result<HttpResponse>& response,
              double duration_ms);
  // The headers every request of this case carries.
  Headers case_headers() const;

  // ---- checks: a failed check is recorded and the case goes on; require() ends it

  void check(bool holds, std::string_view requirement, std::string expected,
             std::string observed = "");
  void require(bool holds, std::string_view requirement, std::string expected,
               std::string observed = "");
  [[noreturn]] void skip(std::string reason);
  // Figures the case measured (latencies under load...), shown in the reports whatever the outcome.
  void note(std::string figures) { result_.note = std::move(figures); }
  // The response is an error of this status and code (ERR-001).
  bool expect_error(const HttpResponse& response, int status, std::string_view code,
                    std::string_view requirement);
  // The response is a success of this status whose body parses as M; ends the case otherwise.
  template <typename M>
  M expect_message(const HttpResponse& response, int status, std::string_view requirement);

  // ---- workspaces and data

  // A fresh workspace, or skips when the suite cannot create one (closed registration without
  // --registration-token, or --workspace given).
  TestWorkspace new_workspace();
  // The workspace given with --workspace when there is one, else a fresh one: for cases whose
  // checks hold whatever the workspace already holds. Runs with --workspace are sequential.
  TestWorkspace workspace();
  std::string issue_token(const TestWorkspace& ws, Scope scope,
                          std::optional<uint64_t> expires_in_ms = std::nullopt);
  // Valid operations with fresh random ids, stamped at the server's time (within max skew).
  std::vector<WireOp> make_ops(size_t count, size_t payload_bytes = 64);
  UploadOpsResponse upload(const TestWorkspace& ws, const std::string& token,
                           const std::vector<WireOp>& ops);
  // The whole log, read page by page, checked to be consecutive from seq 1.
  std::vector<SequencedOp> read_log(const TestWorkspace& ws, const std::string& token);
  // A digest of everything the API shows of a workspace (log, blocks, keys, token list, and the
  // files named): equal before and after a request that must change nothing (ERR-003).
  std::string fingerprint(const TestWorkspace& ws, const std::vector<FileId>& files = {});
  // The server's clock, from the last response seen (or /v1/info).
  uint64_t server_time_ms();

  // Runs a shell command of the operator's (--restart-cmd, --restore-cmd); ends the case with
  // outcome error when it fails. Then waits for the server to answer /v1/info again. With
  // `restarts`, the command must restart the server: a connection kept open across it must be
  // closed, or the case fails (a command such as `true` would make durability cases vacuous).
  void run_command(const std::string& command, std::string_view what, bool restarts = false);

 private:
  HttpResponse finish(const HttpRequest& request, Result<HttpResponse> response,
                      double duration_ms);

  const Options& options_;
  const RunFacts& facts_;
  const Case& case_;
  CaseResult& result_;
  SeededRandom random_;
  uint64_t last_server_time_ms_ = 0;
  uint64_t requests_ = 0;
};

template <typename M>
M CaseContext::expect_message(const HttpResponse& response, int status,
                              std::string_view requirement) {
  require(response.status == status, requirement, "status " + std::to_string(status),
          "status " + std::to_string(response.status) + " " + response.body.substr(0, 300));
  Result<M> parsed = parse_message<M>(response.body);
  require(parsed.ok(), "TRN-029", "a body that parses as the endpoint's message",
          parsed.ok() ? "" : parsed.error().to_string());
  return std::move(parsed).value();
}

}  // namespace opsync::conformance
