// The opsync-client binary: a user's walk through every command with its exit codes, and kill -9
// of the client in the middle of a sync and of a 50 MB chunked upload, followed by a sync that
// resumes and moves only what is left.
#include <fcntl.h>
#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include "e2e_support.h"

using namespace opsync;
using namespace opsync::client;
using namespace opsync::client::testing;

namespace {

struct CliResult {
  int exit_code;
  std::string out;
  std::string err;
};

// Runs opsync-client with `args` and the given environment variables; stdout and stderr are
// captured, and stderr is copied to the test log as well.
CliResult run_cli(const std::vector<std::string>& args,
                  const std::vector<std::pair<std::string, std::string>>& env = {},
                  const std::filesystem::path& scratch = std::filesystem::temp_directory_path()) {
  static int counter = 0;
  const std::filesystem::path out_path =
      scratch / ("cli-out-" + std::to_string(getpid()) + "-" + std::to_string(++counter));
  std::vector<std::string> all = {OPSYNC_CLIENT_BINARY};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> environment;
  for (char** e = environ; *e; ++e) {
    const std::string entry = *e;
    if (entry.rfind("OPSYNC_", 0) != 0) environment.push_back(entry);
  }
  for (const auto& [name, value] : env) environment.push_back(name + "=" + value);
  std::vector<char*> envp;
  for (std::string& e : environment) envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  const std::filesystem::path err_path = out_path.string() + ".err";
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  pid_t pid = -1;
  BOOST_REQUIRE(posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data()) == 0);
  posix_spawn_file_actions_destroy(&actions);
  const int code = wait_for(pid);
  std::ifstream in(out_path);
  std::string out((std::istreambuf_iterator<char>(in)), {});
  std::ifstream err_in(err_path);
  std::string err((std::istreambuf_iterator<char>(err_in)), {});
  std::cerr << err;
  std::filesystem::remove(out_path);
  std::filesystem::remove(err_path);
  return {code, out, err};
}

nlohmann::json json_of(const CliResult& r) {
  BOOST_REQUIRE_MESSAGE(!r.out.empty(), "no output (exit " << r.exit_code << ")");
  return nlohmann::json::parse(r.out);
}

const std::vector<std::pair<std::string, std::string>> kSecrets = {{"OPSYNC_PASSWORD", kPassword}};

}  // namespace

BOOST_AUTO_TEST_SUITE(cli)

BOOST_AUTO_TEST_CASE(two_directories_share_an_edit_a_file_and_a_conflict) {
  ScratchDir scratch;
  ServerProcess server(scratch.path() / "server");
  const std::string a = (scratch.path() / "a").string(), b = (scratch.path() / "b").string();
  const CliResult init = run_cli({"init", "--dir", a, "--server", server.url(), "--new-workspace",
                                  "--json", "--kdf-iterations", "1000"},
                                 kSecrets);
  BOOST_REQUIRE_EQUAL(init.exit_code, 0);
  const std::string passphrase = json_of(init)["passphrase"];
  const CliResult invite = run_cli({"invite", "--dir", a, "--json"});
  BOOST_REQUIRE_EQUAL(invite.exit_code, 0);
  const nlohmann::json issued = json_of(invite);
  auto join_env = kSecrets;
  join_env.emplace_back("OPSYNC_PASSPHRASE", passphrase);
  BOOST_REQUIRE_EQUAL(run_cli({"init", "--dir", b, "--server", server.url(), "--workspace",
                               issued["workspace_id"], "--token", issued["token"]},
                              join_env)
                          .exit_code,
                      0);

  std::ofstream(scratch.path() / "notes.txt") << "hello from a file\n";
  BOOST_REQUIRE_EQUAL(run_cli({"put", "--dir", a, "greeting", "hello"}).exit_code, 0);
  BOOST_REQUIRE_EQUAL(
      run_cli({"attach", "--dir", a, "greeting", (scratch.path() / "notes.txt").string()})
          .exit_code,
      0);
  const nlohmann::json up = json_of(run_cli({"sync", "--dir", a, "--json"}));
  BOOST_TEST(up["ops_up"] == 2);
  BOOST_TEST(up["files_up"] == 1);
  const nlohmann::json down = json_of(run_cli({"sync", "--dir", b, "--json"}));
  BOOST_TEST(down["ops_down"] == 2);
  BOOST_TEST(down["files_down"] == 1);
  const CliResult got = run_cli({"get", "--dir", b, "greeting"});
  BOOST_TEST(got.exit_code == 0);
  BOOST_TEST(got.out == "hello\n");
  BOOST_REQUIRE_EQUAL(
      run_cli({"export", "--dir", b, "greeting", (scratch.path() / "out").string()}).exit_code, 0);
  std::ifstream exported(scratch.path() / "out" / "notes.txt");
  BOOST_TEST(std::string((std::istreambuf_iterator<char>(exported)), {}) == "hello from a file\n");

  // Concurrent edits: a conflict on both sides, listed by `conflicts`.
  BOOST_REQUIRE_EQUAL(run_cli({"put", "--dir", a, "greeting", "from a"}).exit_code, 0);
  BOOST_REQUIRE_EQUAL(run_cli({"put", "--dir", b, "greeting", "from b"}).exit_code, 0);
  const nlohmann::json status = json_of(run_cli({"status", "--dir", b, "--json"}));
  BOOST_TEST(status["unsynced_ops"] == 1);
  BOOST_REQUIRE_EQUAL(run_cli({"sync", "--dir", a}).exit_code, 0);
  BOOST_REQUIRE_EQUAL(run_cli({"sync", "--dir", b}).exit_code, 0);
  BOOST_REQUIRE_EQUAL(run_cli({"sync", "--dir", a}).exit_code, 0);
  for (const std::string& dir : {a, b}) {
    const nlohmann::json conflicts = json_of(run_cli({"conflicts", "--dir", dir, "--json"}));
    BOOST_REQUIRE_EQUAL(conflicts.size(), 1u);
    BOOST_TEST(conflicts[0]["key"] == "greeting");
    BOOST_TEST(conflicts[0]["conflicts"].size() == 1u);
  }
  BOOST_TEST(run_cli({"get", "--dir", a, "greeting"}).out ==
             run_cli({"get", "--dir", b, "greeting"}).out);
  BOOST_TEST(json_of(run_cli({"list", "--dir", a, "--json"})) ==
             nlohmann::json::array({"greeting"}));
  BOOST_REQUIRE_EQUAL(run_cli({"delete", "--dir", a, "greeting"}).exit_code, 0);
  BOOST_TEST(run_cli({"get", "--dir", a, "greeting"}).exit_code == 1);
}

BOOST_AUTO_TEST_CASE(exit_codes_say_what_went_wrong) {
  ScratchDir scratch;
  ServerProcess server(scratch.path() / "server");
  const std::string a = (scratch.path() / "a").string();
  BOOST_TEST(run_cli({}).exit_code == 2);
  BOOST_TEST(run_cli({"frobnicate"}).exit_code == 2);
  BOOST_TEST(run_cli({"put", "--dir", a}).exit_code == 2);  // missing KEY VALUE
  BOOST_TEST(run_cli({"get", "--help"}).exit_code == 0);
  BOOST_TEST(run_cli({"get", "--dir", a, "k"}).exit_code == 1);  // no device there
  const CliResult init = run_cli({"init", "--dir", a, "--server", server.url(), "--new-workspace",
                                  "--json", "--kdf-iterations", "1000"},
                                 kSecrets);
  BOOST_REQUIRE_EQUAL(init.exit_code, 0);
  BOOST_TEST(run_cli({"get", "--dir", a, "absent"}).exit_code == 1);
  BOOST_TEST(run_cli({"put", "--dir", a, "", "v"}).exit_code == 2);  // an empty key breaks LWW-001
  // A wrong password: 4.
  const nlohmann::json issued = json_of(run_cli({"invite", "--dir", a, "--json"}));
  const std::string passphrase = json_of(init)["passphrase"];
  const CliResult wrong =
      run_cli({"init", "--dir", (scratch.path() / "b").string(), "--server", server.url(),
               "--workspace", issued["workspace_id"], "--token", issued["token"]},
              {{"OPSYNC_PASSWORD", "wrong"}, {"OPSYNC_PASSPHRASE", passphrase}});
  BOOST_TEST(wrong.exit_code == 4);
  // A read-only device that wrote: 4 on sync.
  const nlohmann::json reader =
      json_of(run_cli({"invite", "--dir", a, "--scope", "read", "--json"}));
  const std::string r = (scratch.path() / "r").string();
  BOOST_REQUIRE_EQUAL(run_cli({"init", "--dir", r, "--server", server.url(), "--workspace",
                               reader["workspace_id"], "--token", reader["token"]},
                              {{"OPSYNC_PASSWORD", kPassword}, {"OPSYNC_PASSPHRASE", passphrase}})
                          .exit_code,
                      0);
  BOOST_REQUIRE_EQUAL(run_cli({"put", "--dir", r, "k", "v"}).exit_code, 0);
  BOOST_TEST(run_cli({"sync", "--dir", r}).exit_code == 4);
  // The server down: 3, and the edit waits for the next sync.
  server.stop();
  BOOST_REQUIRE_EQUAL(run_cli({"put", "--dir", a, "offline", "edit"}).exit_code, 0);
  BOOST_TEST(run_cli({"sync", "--dir", a, "--attempts", "1"}).exit_code == 3);
  // Nothing listening: said in the user's words, naming the server, not in the HTTP library's
  // ("Connection").
  const std::string nowhere = "http://127.0.0.1:9";  // the discard port: nothing listens there
  const CliResult down = run_cli(
      {"init", "--dir", (scratch.path() / "n").string(), "--server", nowhere, "--new-workspace"},
      kSecrets);
  BOOST_TEST(down.exit_code == 3);
  BOOST_TEST(down.err.find("cannot connect to " + nowhere + ", is the server running?") !=
                 std::string::npos,
             down.err);
  BOOST_TEST(down.err.find("Connection") == std::string::npos, down.err);
  server.start();
  BOOST_TEST(run_cli({"sync", "--dir", a}).exit_code == 0);
}

// Closed registration end to end (spec AUTH-006): the operator creates a workspace through the
// running server with its registration credential, hands the owner token to a user, and
// `opsync-client init --workspace --token` makes that user's first device, which then invites a
// second one as usual.
BOOST_AUTO_TEST_CASE(closed_registration_first_device_through_init) {
  ScratchDir scratch;
  const std::string credential = "operator-secret-0123456789abcdefghij";
  std::ofstream(scratch.path() / "registration") << credential << "\n";
  ServerProcess server(scratch.path() / "server",
                       {"--registration", "closed", "--registration-credential-file",
                        (scratch.path() / "registration").string()});
  Result<std::unique_ptr<HttpTransport>> http =
      HttpTransport::connect("http://127.0.0.1:" + std::to_string(server.port()));
  BOOST_REQUIRE(http.ok());
  const HttpRequest create{"POST", "/v1/workspaces", "application/json", "{}"};
  // Without the credential, or with another secret: closed.
  for (const std::string& wrong :
       {std::string(), std::string("opsync_not-the-operators-credential")}) {
    HttpRequest request = create;
    request.authorized = !wrong.empty();
    Result<HttpResponse> refused = (*http)->exchange(request, wrong);
    BOOST_REQUIRE(refused.ok());
    BOOST_TEST(refused->status == 403);
    BOOST_TEST(error_from_response(*refused).code == Code::kRegistrationClosed);
  }
  Result<HttpResponse> created = (*http)->exchange(create, credential);
  BOOST_REQUIRE(created.ok());
  BOOST_REQUIRE_EQUAL(created->status, 201);
  const nlohmann::json workspace = nlohmann::json::parse(created->body);

  // The user's first device: no passphrase yet, so the device makes one and shows it.
  const std::string a = (scratch.path() / "a").string(), b = (scratch.path() / "b").string();
  const CliResult first = run_cli(
      {"init", "--dir", a, "--server", server.url(), "--workspace", workspace["workspace_id"],
       "--token", workspace["owner_token"], "--json", "--kdf-iterations", "1000"},
      kSecrets);
  BOOST_REQUIRE_EQUAL(first.exit_code, 0);
  const std::string passphrase = json_of(first)["passphrase"];
  BOOST_TEST(passphrase.size() > 20u);

  // Another device without the passphrase is told it needs one (2), and no directory is made.
  const nlohmann::json issued = json_of(run_cli({"invite", "--dir", a, "--json"}));
  const CliResult no_phrase = run_cli({"init", "--dir", b, "--server", server.url(), "--workspace",
                                       issued["workspace_id"], "--token", issued["token"]},
                                      kSecrets);
  BOOST_TEST(no_phrase.exit_code == 2);
  BOOST_TEST(!std::filesystem::exists(b));
  auto join_env = kSecrets;
  join_env.emplace_back("OPSYNC_PASSPHRASE", passphrase);
  const CliResult second = run_cli({"init", "--dir", b, "--server", server.url(), "--workspace",
                                    issued["workspace_id"], "--token", issued["token"], "--json"},
                                   join_env);
  BOOST_REQUIRE_EQUAL(second.exit_code, 0);
  BOOST_TEST(!json_of(second).contains("passphrase"));  // it joined the first device's key

  BOOST_REQUIRE_EQUAL(run_cli({"put", "--dir", a, "greeting", "closed but working"}).exit_code, 0);
  BOOST_REQUIRE_EQUAL(run_cli({"sync", "--dir", a}).exit_code, 0);
  BOOST_REQUIRE_EQUAL(run_cli({"sync", "--dir", b}).exit_code, 0);
  BOOST_TEST(run_cli({"get", "--dir", b, "greeting"}).out == "closed but working\n");
}

// `conflicts` exits 1 when there are conflicts, as its help and the exit-code table say, and 0
// when there are none.
BOOST_AUTO_TEST_CASE(conflicts_exit_code_says_whether_there_are_any) {
  ScratchDir scratch;
  ServerProcess server(scratch.path() / "server");
  const std::string a = (scratch.path() / "a").string(), b = (scratch.path() / "b").string();
  const CliResult init = run_cli({"init", "--dir", a, "--server", server.url(), "--new-workspace",
                                  "--json", "--kdf-iterations", "1000"},
                                 kSecrets);
  BOOST_REQUIRE_EQUAL(init.exit_code, 0);
  const nlohmann::json issued = json_of(run_cli({"invite", "--dir", a, "--json"}));
  auto join_env = kSecrets;
  join_env.emplace_back("OPSYNC_PASSPHRASE", json_of(init)["passphrase"].get<std::string>());
  BOOST_REQUIRE_EQUAL(run_cli({"init", "--dir", b, "--server", server.url(), "--workspace",
                               issued["workspace_id"], "--token", issued["token"]},
                              join_env)
                          .exit_code,
                      0);
  BOOST_TEST(run_cli({"conflicts", "--dir", a}).exit_code == 0);
  BOOST_TEST(run_cli({"conflicts", "--dir", a, "--json"}).exit_code == 0);
  BOOST_REQUIRE_EQUAL(run_cli({"put", "--dir", a, "k", "from a"}).exit_code, 0);
  BOOST_REQUIRE_EQUAL(run_cli({"put", "--dir", b, "k", "from b"}).exit_code, 0);
  for (const std::string& dir : {a, b, a})
    BOOST_REQUIRE_EQUAL(run_cli({"sync", "--dir", dir}).exit_code, 0);
  const CliResult listed = run_cli({"conflicts", "--dir", a, "--json"});
  BOOST_TEST(listed.exit_code == 1);
  BOOST_TEST(json_of(listed).size() == 1u);
  BOOST_TEST(run_cli({"conflicts", "--dir", b}).exit_code == 1);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(crash)

BOOST_AUTO_TEST_CASE(kill_9_during_sync_loses_no_edit_and_the_next_sync_resumes) {
  ScratchDir scratch;
  ServerProcess server(scratch.path() / "server");
  TestDevice owner(scratch.path() / "owner");
  const std::string passphrase = owner.create(server.url());
  constexpr int kServerOps = 8000, kLocalOps = 300;
  for (int i = 0; i < kServerOps; ++i)
    owner.put("o/" + std::to_string(i), "value " + std::to_string(i));
  owner.sync_ok();
  Result<TokenIssued> token = owner.invite();
  BOOST_REQUIRE(token.ok());
  TestDevice joiner(scratch.path() / "joiner");
  BOOST_REQUIRE(joiner
                    .join(server.url(), owner.device().store().binding().workspace_id, token->token,
                          passphrase)
                    .ok());
  for (int i = 0; i < kLocalOps; ++i) joiner.put("j/" + std::to_string(i), "mine");
  joiner.close();

  // Kill the syncing client at growing delays: at least three kills, and the last one in the
  // middle of the log, so that the sync after it has something left to resume.
  constexpr uint64_t kTotal = kServerOps + kLocalOps;
  uint64_t previous_mirror = 0;
  int kills = 0;
  int exit_code = -1;
  auto stopped_midway = [&] {
    return kills >= 3 && previous_mirror > 0 && previous_mirror < kTotal / 2;
  };
  for (int delay_ms = 30; delay_ms < 5000 && exit_code != 0 && !stopped_midway();
       delay_ms = delay_ms * 5 / 4) {
    const pid_t pid = spawn({OPSYNC_CLIENT_BINARY, "sync", "--dir", joiner.dir().string()});
    // The delay is the test's input, not a wait for anything: where in the sync the kill lands.
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    kill(pid, SIGKILL);
    exit_code = wait_for(pid);
    if (exit_code == -SIGKILL) ++kills;
    // Every state the kill left behind opens, keeps every local edit, and never goes backwards.
    joiner.reopen();
    const uint64_t mirror = *joiner.device().store().mirror_size();
    BOOST_TEST(mirror >= previous_mirror);
    previous_mirror = mirror;
    Result<std::vector<std::string>> keys = joiner.device().list();
    BOOST_REQUIRE(keys.ok());
    size_t own = 0;
    for (const std::string& k : *keys) own += k.rfind("j/", 0) == 0;
    BOOST_TEST(own == static_cast<size_t>(kLocalOps));
    joiner.close();
  }
  BOOST_TEST(kills >= 3);  // the test interrupted real syncs
  BOOST_TEST_MESSAGE("killed " << kills << " syncs; mirror reached " << previous_mirror << " of "
                               << kTotal);
  // One more sync completes everything, moving what was left and not the rest again: the
  // operations it receives are those beyond the mirror (the device's own were acknowledged).
  const CliResult resumed = run_cli({"sync", "--dir", joiner.dir().string(), "--json"});
  BOOST_REQUIRE_EQUAL(resumed.exit_code, 0);
  const nlohmann::json summary = json_of(resumed);
  BOOST_TEST(summary["ops_down"].get<uint64_t>() <= kTotal - previous_mirror);
  // About 300 bytes per operation on the wire; re-reading the whole log would be 2.5 MB.
  BOOST_TEST(summary["bytes_received"].get<uint64_t>() <
             (kTotal - previous_mirror) * 600 + 64 * 1024);
  joiner.reopen();
  BOOST_TEST(*joiner.device().store().pending_count() == 0u);
  BOOST_TEST(joiner.keys().size() == static_cast<size_t>(kTotal));

  // Again with edits on both sides, killing at every stage up to a sync that completes: pages,
  // uploads of the device's own operations, the final steps.
  for (int i = 0; i < 2000; ++i) owner.put("o2/" + std::to_string(i), "more");
  owner.sync_ok();
  for (int i = 0; i < kLocalOps; ++i) joiner.put("j2/" + std::to_string(i), "mine");
  joiner.close();
  exit_code = -1;
  int late_kills = 0;
  // Small steps: each sync after a kill has less left to do, and a loaded machine (CI runs suites
  // in parallel) can finish the rest within one large step, leaving too few kills.
  for (int delay_ms = 10; delay_ms < 10000 && exit_code != 0; delay_ms = delay_ms * 9 / 8 + 1) {
    const pid_t pid = spawn({OPSYNC_CLIENT_BINARY, "sync", "--dir", joiner.dir().string()});
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));  // the test's input, as above
    kill(pid, SIGKILL);
    exit_code = wait_for(pid);
    late_kills += exit_code == -SIGKILL;
  }
  BOOST_TEST(late_kills >= 3);
  BOOST_REQUIRE_EQUAL(run_cli({"sync", "--dir", joiner.dir().string()}).exit_code, 0);
  owner.sync_ok();
  constexpr size_t kFinal = kTotal + 2000 + kLocalOps;
  BOOST_TEST(owner.keys().size() == kFinal);
  BOOST_TEST(*owner.device().store().mirror_size() ==
             kFinal);  // every operation once: no duplicates
  joiner.reopen();
  BOOST_TEST(joiner.keys().size() == kFinal);
  BOOST_TEST(*joiner.device().store().pending_count() == 0u);
}

BOOST_AUTO_TEST_CASE(kill_9_during_a_50_mb_upload_then_only_the_missing_chunks_move) {
  ScratchDir scratch;
  ServerProcess server(scratch.path() / "server");
  TestDevice owner(scratch.path() / "owner");
  const std::string passphrase = owner.create(server.url());
  const std::filesystem::path big = scratch.path() / "big.bin";
  {
    SeededRandom random(9);
    std::ofstream out(big, std::ios::binary);
    for (int mib = 0; mib < 50; ++mib) {
      const Bytes block = random.bytes(1 << 20);
      out.write(reinterpret_cast<const char*>(block.data()),
                static_cast<std::streamsize>(block.size()));
    }
  }
  Result<FileRef> ref = owner.device().attach("video", big, owner.now_ms(), owner.random());
  BOOST_REQUIRE(ref.ok());
  BOOST_REQUIRE_EQUAL(ref->chunk_count, 50u);
  const std::string token = owner.device().token();
  const std::string status_path = "/v1/workspaces/" +
                                  to_base64url(owner.device().store().binding().workspace_id) +
                                  "/files/" + to_base64url(ref->id);
  owner.close();

  // Start the sync and kill it once the server holds some chunks, not all.
  httplib::Client client("127.0.0.1", server.port());
  auto stored_chunks = [&]() -> int64_t {
    auto answer = client.Get(status_path, {{"Authorization", "Bearer " + token}});
    if (!answer || answer->status != 200) return -1;
    const FileStatus status = *parse_message<FileStatus>(answer->body);
    if (status.state == FileState::kCommitted) return 50;
    int64_t missing = 0;
    for (const auto& [start, end] : status.chunks_missing) missing += end - start;
    return 50 - missing;
  };
  const pid_t pid = spawn({OPSYNC_CLIENT_BINARY, "sync", "--dir", owner.dir().string()});
  const bool some_stored =
      poll_until([&] { return stored_chunks() >= 5; }, opsync::testing::kConditionDeadline,
                 std::chrono::milliseconds(1));
  kill(pid, SIGKILL);
  BOOST_REQUIRE_EQUAL(wait_for(pid), -SIGKILL);
  BOOST_REQUIRE_MESSAGE(some_stored, "the server never held 5 chunks of the upload");
  // A chunk whose request reached the server whole may still be stored after the client is gone:
  // count once the server has finished every request it had. SIGTERM lets it finish them and
  // exit; restarted on the same data, it can store nothing more of the killed client's.
  server.stop(SIGTERM);
  server.start();
  const int64_t stored = stored_chunks();
  BOOST_TEST_MESSAGE("killed with " << stored << " of 50 chunks on the server");
  BOOST_REQUIRE(stored >= 5);
  BOOST_REQUIRE(stored < 50);

  const nlohmann::json resumed =
      json_of(run_cli({"sync", "--dir", owner.dir().string(), "--json"}));
  BOOST_TEST(resumed["ok"] == true);
  BOOST_TEST(resumed["chunks_up"] == 50 - stored);  // FILE-031: what was left, nothing more
  BOOST_TEST(resumed["files_up"] == 1);
  BOOST_TEST(stored_chunks() == 50);

  // Another device gets exactly the file.
  owner.reopen();
  Result<TokenIssued> invite = owner.invite();
  TestDevice other(scratch.path() / "other");
  BOOST_REQUIRE(other
                    .join(server.url(), owner.device().store().binding().workspace_id,
                          invite->token, passphrase)
                    .ok());
  BOOST_TEST(other.sync_ok().files_downloaded == 1u);
  BOOST_REQUIRE(other.device().export_files("video", scratch.path() / "out")->empty());
  std::ifstream original(big, std::ios::binary),
      copy(scratch.path() / "out" / "big.bin", std::ios::binary);
  BOOST_TEST((std::string((std::istreambuf_iterator<char>(original)), {}) ==
              std::string((std::istreambuf_iterator<char>(copy)), {})));
}

BOOST_AUTO_TEST_SUITE_END()
