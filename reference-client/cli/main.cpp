// opsync-client: the reference client on the command line. Each directory is one device's copy of
// one workspace; two directories on one machine stand for two devices.
//
// Exit codes: 0 ok; 1 not found or conflict (and local failures); 2 usage; 3 network or server;
// 4 authentication (token, scope, password).
#include <termios.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>

#include "opsync/client/device.h"
#include "opsync/client/http_driver.h"
#include "opsync/protocol/random.h"
#include "trace.h"

using namespace opsync;
using namespace opsync::client;

namespace {

enum Exit : int { kOk = 0, kNotFound = 1, kUsage = 2, kNetwork = 3, kAuth = 4 };

int exit_code_for(Code code) {
  switch (code) {
    case Code::kTokenMissing:
    case Code::kTokenInvalid:
    case Code::kTokenExpired:
    case Code::kTokenRevoked:
    case Code::kInsufficientScope:
    case Code::kRegistrationClosed:
    case Code::kWrongPassword:
      return kAuth;
    case Code::kTransport:
    case Code::kUnavailable:
    case Code::kProtocolError:
    case Code::kUnsupportedVersion:
    case Code::kPageGap:
    case Code::kHashMismatch:
    case Code::kClockSkew:
      return kNetwork;
    case Code::kInvalidField:
    case Code::kInvalidQuery:
      return kUsage;
    default:
      return kNotFound;
  }
}

int report_error(const Error& error) {
  std::cerr << "opsync-client: " << error.to_string() << "\n";
  return exit_code_for(error.code);
}

// A secret from the environment, or typed at the terminal without echo.
std::optional<std::string> secret(const char* variable, const std::string& prompt) {
  if (const char* value = std::getenv(variable)) return std::string(value);
  if (!isatty(STDIN_FILENO)) return std::nullopt;
  std::cerr << prompt << ": " << std::flush;
  termios old_mode{};
  tcgetattr(STDIN_FILENO, &old_mode);
  termios quiet = old_mode;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  std::string line;
  std::getline(std::cin, line);
  tcsetattr(STDIN_FILENO, TCSANOW, &old_mode);
  std::cerr << "\n";
  return line;
}

std::string hlc_text(const Hlc& hlc) {
  return std::to_string(hlc.wall_ms) + "." + std::to_string(hlc.counter);
}

// A value shown as text when it is UTF-8, else as base64url.
nlohmann::json value_json(const Bytes& value) {
  const std::string text(value.begin(), value.end());
  if (is_valid_utf8(text)) return {{"value", text}};
  return {{"value_base64url", to_base64url(value)}};
}

nlohmann::json files_json(const std::vector<FileRef>& files) {
  nlohmann::json out = nlohmann::json::array();
  for (const FileRef& f : files)
    out.push_back({{"id", to_base64url(f.id)},
                   {"name", f.name},
                   {"size_bytes", f.size_bytes},
                   {"sha256", to_base64url(f.sha256.view())}});
  return out;
}

nlohmann::json op_json(const ObjectOp& op) {
  nlohmann::json out = {{"op_id", to_base64url(op.id)},
                        {"hlc", hlc_text(op.hlc)},
                        {"type", op.payload.type == OpType::kPut ? "put" : "delete"}};
  if (op.payload.type == OpType::kPut) {
    out.update(value_json(op.payload.value));
    out["files"] = files_json(op.payload.files);
  }
  return out;
}

struct Common {
  std::string dir;
  bool json = false;
};

Result<std::unique_ptr<Device>> open_device(const Common& common) {
  return Device::open(common.dir);
}

Result<std::unique_ptr<HttpTransport>> transport_for(Device& device) {
  return HttpTransport::connect(device.store().binding().server_url);
}

// Every subcommand's options, as the command line sets them.
struct Options {
  Common common;
  std::string trace_path;
  std::string server_url, workspace_text, token;  // init
  bool new_workspace = false;
  uint32_t kdf_iterations = kKdfIterationsForNewRecords;  // init, password
  std::string scope_text = "read_write";                  // invite
  std::optional<uint64_t> expires_in_s;
  std::string key, value, path;  // the object commands
  uint32_t attempts = 4;         // sync
};

// What a subcommand runs with: its options, randomness, the time, and the trace if asked for.
struct Run {
  const Options& options;
  SystemRandom& random;
  uint64_t now_ms = 0;
  TraceWriter* trace = nullptr;
  std::unique_ptr<TracingTransport> tracing;

  // --trace: every exchange through the tracing transport.
  Transport& traced(Transport& inner) {
    if (!trace) return inner;
    tracing = std::make_unique<TracingTransport>(inner, *trace);
    return *tracing;
  }
};

// The operations a local command committed, for the trace: the outbox's new entries.
class CommitTracer {
 public:
  CommitTracer(Device& device, const Run& run) : device_(device), run_(run) {
    if (run_.trace) outbox_before_ = outbox();
  }

  void committed(const std::string& command) {
    if (!run_.trace) return;
    std::vector<WireOp> committed;
    if (Result<std::vector<PendingOp>> pending = device_.store().ops_to_upload(SIZE_MAX);
        pending.ok())
      for (const PendingOp& p : *pending)
        if (!outbox_before_.count(p.op.id)) committed.push_back(p.op);
    run_.trace->committed(command, committed, run_.now_ms);
  }

 private:
  std::set<OpId> outbox() {
    std::set<OpId> ids;
    if (Result<std::vector<PendingOp>> pending = device_.store().ops_to_upload(SIZE_MAX);
        pending.ok())
      for (const PendingOp& p : *pending) ids.insert(p.op.id);
    return ids;
  }

  Device& device_;
  const Run& run_;
  std::set<OpId> outbox_before_;
};

// The subcommands, as CLI11 parsed them.
struct Subcommands {
  CLI::App* init = nullptr;
  CLI::App* invite = nullptr;
  CLI::App* put = nullptr;
  CLI::App* get = nullptr;
  CLI::App* remove = nullptr;
  CLI::App* list = nullptr;
  CLI::App* attach = nullptr;
  CLI::App* export_files = nullptr;
  CLI::App* sync = nullptr;
  CLI::App* status = nullptr;
  CLI::App* conflicts = nullptr;
  CLI::App* password = nullptr;
};

void add_common(CLI::App* command, Options& o, bool json) {
  command->add_option("--dir", o.common.dir, "The device directory")->required();
  command->add_option("--trace", o.trace_path,
                      "Append every request and answer, and the operations committed, to this "
                      "file (no secrets; opsync-sim import replays it)");
  if (json) command->add_flag("--json", o.common.json, "Machine-readable output");
}

CLI::App* add_init(CLI::App& app, Options& o) {
  CLI::App* init = app.add_subcommand(
      "init", "Create a workspace (--new-workspace) or join one (--workspace, --token)");
  add_common(init, o, true);
  init->add_option("--server", o.server_url, "Server URL, e.g. http://127.0.0.1:8420")->required();
  auto* new_flag =
      init->add_flag("--new-workspace", o.new_workspace, "Create a new workspace on the server");
  auto* ws_option =
      init->add_option("--workspace", o.workspace_text, "The id of the workspace to join");
  auto* token_option = init->add_option("--token", o.token, "A token from `opsync-client invite`");
  ws_option->excludes(new_flag);
  token_option->needs(ws_option);
  ws_option->needs(token_option);
  init->add_option("--kdf-iterations", o.kdf_iterations, "PBKDF2 iterations for a new key record")
      ->check(CLI::Range(kKdfIterationsMin, kKdfIterationsMax))
      ->capture_default_str()
      ->group("");  // for tests; the default is what a real workspace should use
  return init;
}

CLI::App* add_invite(CLI::App& app, Options& o) {
  CLI::App* invite = app.add_subcommand(
      "invite", "Issue a token for another device; prints the workspace id and token");
  add_common(invite, o, true);
  invite->add_option("--scope", o.scope_text, "read or read_write")
      ->check(CLI::IsMember({"read", "read_write"}))
      ->capture_default_str();
  invite->add_option("--expires-in", o.expires_in_s,
                     "Seconds until the token expires (default: never)");
  return invite;
}

void add_object_commands(CLI::App& app, Options& o, Subcommands& s) {
  s.put = app.add_subcommand("put", "Set KEY to VALUE (works offline)");
  add_common(s.put, o, false);
  s.put->add_option("KEY", o.key)->required();
  s.put->add_option("VALUE", o.value)->required();
  s.get = app.add_subcommand("get", "Print KEY's value (exit 1 if absent)");
  add_common(s.get, o, true);
  s.get->add_option("KEY", o.key)->required();
  s.remove = app.add_subcommand("delete", "Delete KEY (works offline)");
  add_common(s.remove, o, false);
  s.remove->add_option("KEY", o.key)->required();
  s.list = app.add_subcommand("list", "List the keys");
  add_common(s.list, o, true);
  s.attach = app.add_subcommand("attach", "Attach the file at PATH to KEY (works offline)");
  add_common(s.attach, o, true);
  s.attach->add_option("KEY", o.key)->required();
  s.attach->add_option("PATH", o.path)->required()->check(CLI::ExistingFile);
  s.export_files = app.add_subcommand("export", "Write KEY's attached files into OUTPUT_DIR");
  add_common(s.export_files, o, true);
  s.export_files->add_option("KEY", o.key)->required();
  s.export_files->add_option("OUTPUT_DIR", o.path)->required();
}

void add_sync_and_state_commands(CLI::App& app, Options& o, Subcommands& s) {
  s.sync = app.add_subcommand("sync", "Sync with the server: operations both ways, then files");
  add_common(s.sync, o, true);
  s.sync
      ->add_option("--attempts", o.attempts,
                   "Tries per request when the server cannot be reached, waiting 1, 2, 4 ... 64 s "
                   "between them")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  s.status =
      app.add_subcommand("status", "Unsynced operations, pending files, clock offset, last sync");
  add_common(s.status, o, true);
  s.conflicts = app.add_subcommand(
      "conflicts",
      "Keys with concurrent writes and every side of each (exit 1 when there are any)");
  add_common(s.conflicts, o, true);
  s.password = app.add_subcommand("password",
                                  "Change the password: re-wraps the data key (OPSYNC_PASSWORD, "
                                  "OPSYNC_NEW_PASSWORD, OPSYNC_PASSPHRASE)");
  add_common(s.password, o, false);
  s.password->add_option("--kdf-iterations", o.kdf_iterations)->group("");
}

// The passphrase of a workspace this device made, which no one else can show again.
void print_new_passphrase(const std::string& passphrase) {
  std::cout << "Passphrase (shown once; other devices need it and the password to join):\n\n    "
            << passphrase << "\n\n"
            << "Write it down now. Without it the data cannot be decrypted on a new device.\n";
}

int run_create(Run& run, HttpTransport& transport, const std::string& password) {
  const Options& o = run.options;
  Result<NewWorkspace> created = Device::create_workspace(
      o.common.dir, o.server_url, password, run.traced(transport), run.random, o.kdf_iterations);
  if (!created.ok()) return report_error(created.error());
  if (o.common.json) {
    std::cout << nlohmann::json{{"workspace_id", to_base64url(created->workspace_id)},
                                {"passphrase", created->passphrase}}
                     .dump()
              << "\n";
  } else {
    std::cout << "Created workspace " << to_base64url(created->workspace_id) << " in "
              << o.common.dir << "\n\n";
    print_new_passphrase(created->passphrase);
  }
  return kOk;
}

int run_join(Run& run, HttpTransport& transport, const std::string& password) {
  const Options& o = run.options;
  std::optional<WorkspaceId> workspace = fixed_from_base64url<16>(o.workspace_text);
  if (!workspace) {
    std::cerr << "opsync-client: --workspace is not a workspace id\n";
    return kUsage;
  }
  // Empty when the user has none: the workspace's first device (one its server's operator
  // created) makes the passphrase; any other device is then told it needs one.
  std::optional<std::string> phrase = secret(
      "OPSYNC_PASSPHRASE", "Passphrase (press Enter if this is the workspace's first device)");
  const JoinRequest request{.server_url = o.server_url,
                            .workspace_id = *workspace,
                            .token = o.token,
                            .password = password,
                            .passphrase = phrase.value_or(""),
                            .kdf_iterations = o.kdf_iterations};
  Result<Joined> joined =
      Device::join_workspace(o.common.dir, request, run.traced(transport), run.random);
  if (!joined.ok()) return report_error(joined.error());
  if (o.common.json) {
    nlohmann::json out = {{"workspace_id", o.workspace_text}};
    if (joined->new_passphrase) out["passphrase"] = *joined->new_passphrase;
    std::cout << out.dump() << "\n";
  } else if (joined->new_passphrase) {
    std::cout << "Joined workspace " << o.workspace_text << " in " << o.common.dir
              << " as its first device: it had no key yet, so this device made one.\n\n";
    print_new_passphrase(*joined->new_passphrase);
  } else {
    std::cout << "Joined workspace " << o.workspace_text << " in " << o.common.dir
              << "; run `opsync-client sync --dir " << o.common.dir << "`\n";
  }
  return kOk;
}

int run_init(Run& run) {
  const Options& o = run.options;
  if (!o.new_workspace && o.workspace_text.empty()) {
    std::cerr << "opsync-client init: give --new-workspace, or --workspace and --token\n";
    return kUsage;
  }
  Result<std::unique_ptr<HttpTransport>> transport = HttpTransport::connect(o.server_url);
  if (!transport.ok()) return report_error(transport.error());
  std::optional<std::string> pw = secret("OPSYNC_PASSWORD", "Password");
  if (!pw || pw->empty()) {
    std::cerr << "opsync-client: a password is needed (OPSYNC_PASSWORD or a terminal)\n";
    return kUsage;
  }
  if (o.new_workspace) return run_create(run, **transport, *pw);
  return run_join(run, **transport, *pw);
}

int run_invite(Run& run, Device& device) {
  const Options& o = run.options;
  Result<std::unique_ptr<HttpTransport>> transport = transport_for(device);
  if (!transport.ok()) return report_error(transport.error());
  const Scope scope = *scope_from_name(o.scope_text);
  std::optional<uint64_t> expires_in_ms;
  if (o.expires_in_s) expires_in_ms = *o.expires_in_s * 1000;
  Result<TokenIssued> issued = device.invite(scope, expires_in_ms, run.traced(**transport));
  if (!issued.ok()) return report_error(issued.error());
  const std::string ws = to_base64url(device.store().binding().workspace_id);
  if (o.common.json) {
    std::cout << nlohmann::json{{"workspace_id", ws},
                                {"token", issued->token},
                                {"scope", o.scope_text}}
                     .dump()
              << "\n";
  } else {
    std::cout << "workspace: " << ws << "\ntoken: " << issued->token << "\n\nOn the other device:\n"
              << "  opsync-client init --dir DIR --server " << device.store().binding().server_url
              << " --workspace " << ws << " --token " << issued->token << "\n";
  }
  return kOk;
}

int run_put(Run& run, Device& device, CommitTracer& tracer) {
  const Bytes bytes(run.options.value.begin(), run.options.value.end());
  Status done = device.put(run.options.key, bytes, run.now_ms, run.random);
  if (done.ok()) tracer.committed("put");
  return done.ok() ? kOk : report_error(done.error());
}

int run_delete(Run& run, Device& device, CommitTracer& tracer) {
  Status done = device.remove(run.options.key, run.now_ms, run.random);
  if (done.ok()) tracer.committed("delete");
  return done.ok() ? kOk : report_error(done.error());
}

int run_get(const Options& o, Device& device) {
  Result<ObjectView> view = device.get(o.key);
  if (!view.ok()) return report_error(view.error());
  if (!view->present()) {
    if (o.common.json)
      std::cout << nlohmann::json{{"key", o.key}, {"present", false}}.dump() << "\n";
    else
      std::cerr << "opsync-client: no object has the key \"" << o.key << "\"\n";
    return kNotFound;
  }
  const ObjectOp& winner = *view->winner();
  if (o.common.json) {
    nlohmann::json out = {{"key", o.key}, {"present", true}};
    out.update(value_json(winner.payload.value));
    out["files"] = files_json(winner.payload.files);
    out["conflicts"] = nlohmann::json::array();
    for (const ObjectOp& c : view->conflicts()) out["conflicts"].push_back(op_json(c));
    std::cout << out.dump() << "\n";
  } else {
    std::cout.write(reinterpret_cast<const char*>(winner.payload.value.data()),
                    static_cast<std::streamsize>(winner.payload.value.size()));
    std::cout << "\n";
    if (!view->conflicts().empty())
      std::cerr << "(" << view->conflicts().size()
                << " concurrent version(s): see `opsync-client conflicts`)\n";
  }
  return kOk;
}

int run_list(const Options& o, Device& device) {
  Result<std::vector<std::string>> keys = device.list();
  if (!keys.ok()) return report_error(keys.error());
  if (o.common.json) {
    std::cout << nlohmann::json(*keys).dump() << "\n";
  } else {
    for (const std::string& k : *keys) std::cout << k << "\n";
  }
  return kOk;
}

int run_attach(Run& run, Device& device, CommitTracer& tracer) {
  const Options& o = run.options;
  Result<FileRef> ref = device.attach(o.key, o.path, run.now_ms, run.random);
  if (!ref.ok()) return report_error(ref.error());
  tracer.committed("attach");
  if (o.common.json)
    std::cout << files_json({*ref})[0].dump() << "\n";
  else
    std::cout << "attached " << ref->name << " (" << ref->size_bytes << " bytes) to " << o.key
              << "\n";
  return kOk;
}

int run_export(const Options& o, Device& device) {
  Result<std::vector<FileRef>> missing = device.export_files(o.key, o.path);
  if (!missing.ok()) return report_error(missing.error());
  if (o.common.json) {
    std::cout << nlohmann::json{{"missing", files_json(*missing)}}.dump() << "\n";
  } else {
    for (const FileRef& f : *missing)
      std::cerr << "not on this device yet (sync first): " << f.name << "\n";
  }
  return missing->empty() ? kOk : kNotFound;
}

int run_conflicts(const Options& o, Device& device) {
  Result<std::vector<std::string>> keys = device.conflicted_keys();
  if (!keys.ok()) return report_error(keys.error());
  nlohmann::json out = nlohmann::json::array();
  for (const std::string& k : *keys) {
    Result<ObjectView> view = device.get(k);
    if (!view.ok()) return report_error(view.error());
    nlohmann::json entry = {
        {"key", k}, {"winner", op_json(*view->winner())}, {"conflicts", nlohmann::json::array()}};
    for (const ObjectOp& c : view->conflicts()) entry["conflicts"].push_back(op_json(c));
    out.push_back(entry);
  }
  if (o.common.json) {
    std::cout << out.dump() << "\n";
  } else {
    for (const auto& entry : out) {
      std::cout << entry["key"].get<std::string>() << "\n  winner   " << entry["winner"].dump()
                << "\n";
      for (const auto& c : entry["conflicts"]) std::cout << "  conflict " << c.dump() << "\n";
    }
    if (out.empty()) std::cout << "no conflicts\n";
  }
  // Like `get` of an absent key: a script can branch on the answer without parsing it.
  return out.empty() ? kOk : kNotFound;
}

int run_status(const Run& run, Device& device) {
  Result<SyncMeta> meta = device.store().meta();
  Result<uint64_t> pending = device.store().pending_count();
  Result<std::vector<FileId>> files = device.store().referenced_files();
  Result<std::vector<RejectedOp>> rejected = device.store().rejected_ops();
  if (!meta.ok()) return report_error(meta.error());
  if (!pending.ok()) return report_error(pending.error());
  if (!files.ok()) return report_error(files.error());
  if (!rejected.ok()) return report_error(rejected.error());
  uint64_t files_pending = 0;
  for (const FileId& id : *files) {
    Result<std::optional<LocalFile>> f = device.store().file(id);
    if (f.ok() && *f && (!(*f)->local_copy || !(*f)->upload_flag)) ++files_pending;
  }
  nlohmann::json out = {{"workspace_id", to_base64url(device.store().binding().workspace_id)},
                        {"server", device.store().binding().server_url},
                        {"unsynced_ops", *pending},
                        {"rejected_ops", rejected->size()},
                        {"pending_files", files_pending},
                        {"clock_offset_ms", meta->clock_offset_ms},
                        {"last_sync_ms", meta->last_sync_ms ? nlohmann::json(*meta->last_sync_ms)
                                                            : nlohmann::json()}};
  if (run.options.common.json) {
    std::cout << out.dump() << "\n";
  } else {
    std::cout << "workspace      " << out["workspace_id"].get<std::string>() << " on "
              << out["server"].get<std::string>() << "\nunsynced ops   " << *pending
              << (rejected->empty()
                      ? ""
                      : " (" + std::to_string(rejected->size()) + " rejected by the server)")
              << "\npending files  " << files_pending << "\nclock offset   "
              << meta->clock_offset_ms << " ms"
              << "\nlast sync      "
              << (meta->last_sync_ms
                      ? std::to_string((run.now_ms - *meta->last_sync_ms) / 1000) + " s ago"
                      : "never")
              << "\n";
  }
  return kOk;
}

int run_password(Run& run, Device& device) {
  std::optional<std::string> old_pw = secret("OPSYNC_PASSWORD", "Current password");
  std::optional<std::string> new_pw = secret("OPSYNC_NEW_PASSWORD", "New password");
  std::optional<std::string> phrase = secret("OPSYNC_PASSPHRASE", "Passphrase");
  if (!old_pw || !new_pw || !phrase || new_pw->empty()) {
    std::cerr << "opsync-client: the current and new passwords and the passphrase are needed\n";
    return kUsage;
  }
  Result<std::unique_ptr<HttpTransport>> transport = transport_for(device);
  if (!transport.ok()) return report_error(transport.error());
  Status changed = device.change_password(*old_pw, *new_pw, *phrase, run.traced(**transport),
                                          run.random, run.options.kdf_iterations);
  if (!changed.ok()) return report_error(changed.error());
  std::cout
      << "password changed; other devices keep working, new devices join with the new password\n";
  return kOk;
}

// The one-line summary of a sync, or its report as JSON.
void print_sync_report(const Options& o, const SyncFinished& finished, const SyncReport& r,
                       size_t conflict_count, const WireBytes& bytes) {
  if (o.common.json) {
    std::cout << nlohmann::json{{"ok", !finished.error.has_value()},
                                {"error", finished.error ? finished.error->to_string() : ""},
                                {"ops_up", r.ops_uploaded},
                                {"ops_down", r.ops_applied},
                                {"files_up", r.files_uploaded},
                                {"files_down", r.files_downloaded},
                                {"files_pending", r.files_pending},
                                {"files_deleted", r.files_deleted},
                                {"files_expired", r.files_expired},
                                {"chunks_up", r.chunks_uploaded},
                                {"chunks_down", r.chunks_downloaded},
                                {"conflicts", conflict_count},
                                {"diverged", r.diverged},
                                {"bytes_sent", bytes.sent},
                                {"bytes_received", bytes.received},
                                {"clock_offset_ms", r.clock_offset_ms}}
                     .dump()
              << "\n";
    return;
  }
  std::cout << "sync " << (finished.error ? "stopped" : "done") << ": " << r.ops_uploaded
            << " ops up, " << r.ops_applied << " down, " << r.files_uploaded << " files up, "
            << r.files_downloaded << " down"
            << (r.files_pending ? ", " + std::to_string(r.files_pending) + " pending" : "") << ", "
            << conflict_count << " conflicted keys\n";
  const uint64_t abs_offset =
      static_cast<uint64_t>(r.clock_offset_ms < 0 ? -r.clock_offset_ms : r.clock_offset_ms);
  if (r.max_clock_skew_ms && abs_offset > r.max_clock_skew_ms / 2)  // HLC-011
    std::cerr << "warning: this device's clock is " << r.clock_offset_ms / 1000
              << " s off the server's; stamps use the server's time\n";
}

int run_sync_command(Run& run, Device& device) {
  const Options& o = run.options;
  Result<std::unique_ptr<HttpTransport>> transport = transport_for(device);
  if (!transport.ok()) return report_error(transport.error());
  SyncOptions sync_options;
  sync_options.transport_attempts_max = o.attempts;
  SyncEngine engine(device.store(), device.keys(), run.random, sync_options);
  const bool terminal = isatty(STDERR_FILENO) && !o.common.json;
  constexpr uint64_t kProgressBytesMin = 4
                                         << 20;  // show progress only for transfers worth watching
  bool progress_shown = false;
  const SyncFinished finished =
      run_sync(engine, run.traced(**transport), device.token(), [&](const SyncReport& r) {
        if (!terminal || r.file_bytes_planned < kProgressBytesMin) return;
        progress_shown = true;
        std::fprintf(stderr, "\rfiles: %.1f / %.1f MB",
                     static_cast<double>(r.file_bytes_moved) / 1e6,
                     static_cast<double>(r.file_bytes_planned) / 1e6);
      });
  if (progress_shown) std::fprintf(stderr, "\n");
  Result<std::vector<std::string>> conflicted = device.conflicted_keys();
  const size_t conflict_count = conflicted.ok() ? conflicted->size() : 0;
  print_sync_report(o, finished, engine.report(), conflict_count, (*transport)->bytes());
  if (finished.error) return report_error(*finished.error);
  return kOk;
}

// The subcommands that work on an existing device.
int run_on_device(Run& run, const Subcommands& s) {
  Result<std::unique_ptr<Device>> opened = open_device(run.options.common);
  if (!opened.ok()) return report_error(opened.error());
  Device& device = **opened;
  if (s.invite->parsed()) return run_invite(run, device);
  CommitTracer tracer(device, run);
  if (s.put->parsed()) return run_put(run, device, tracer);
  if (s.remove->parsed()) return run_delete(run, device, tracer);
  if (s.get->parsed()) return run_get(run.options, device);
  if (s.list->parsed()) return run_list(run.options, device);
  if (s.attach->parsed()) return run_attach(run, device, tracer);
  if (s.export_files->parsed()) return run_export(run.options, device);
  if (s.conflicts->parsed()) return run_conflicts(run.options, device);
  if (s.status->parsed()) return run_status(run, device);
  if (s.password->parsed()) return run_password(run, device);
  if (s.sync->parsed()) return run_sync_command(run, device);
  return kUsage;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "opsync-client: an offline-first OpSync client. Each --dir is one device's copy of one "
      "workspace."};
  app.set_version_flag("--version", "opsync-client 0.1.0 (protocol version 1)");
  app.require_subcommand(1);
  app.footer(
      "Exit codes: 0 ok, 1 not found or conflict, 2 usage, 3 network or server, 4 authentication.\n"
      "Secrets come from OPSYNC_PASSWORD and OPSYNC_PASSPHRASE, or are asked for without echo.");
  Options options;
  Subcommands subcommands;
  subcommands.init = add_init(app, options);
  subcommands.invite = add_invite(app, options);
  add_object_commands(app, options, subcommands);
  add_sync_and_state_commands(app, options, subcommands);
  SystemRandom random;

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kOk : kUsage;
  }

  const uint64_t now_ms = system_now_ms();
  // --trace: every exchange through the tracing transport, and the local commits.
  std::unique_ptr<TraceWriter> trace;
  if (!options.trace_path.empty()) {
    Result<std::unique_ptr<TraceWriter>> opened = TraceWriter::open(
        options.trace_path,
        std::filesystem::path(options.common.dir).lexically_normal().filename().string());
    if (!opened.ok()) return report_error(opened.error());
    trace = std::move(*opened);
  }
  Run run{options, random, now_ms, trace.get(), /*tracing=*/nullptr};
  if (subcommands.init->parsed()) return run_init(run);
  return run_on_device(run, subcommands);
}
