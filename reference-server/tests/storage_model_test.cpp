// The in-memory backend behaves exactly like SQLite: RapidCheck state-machine tests (rc::state)
// run random command sequences through two server cores, one on each backend, with the same
// seeded randomness and the same clock, and require byte-identical responses to every request.
// A companion shows the comparison catches a backend that differs in one small way.
#include <rapidcheck/boost_test.h>
#include <rapidcheck/state.h>
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <fstream>

#include "opsync/server/forwarding_storage.h"
#include "opsync/server/memory_storage.h"
#include "opsync/server/sqlite_storage.h"
#include "property_support.h"
#include "server_fixture.h"

using namespace opsync;
using namespace opsync::server;
using namespace opsync::server::testing;

namespace {

constexpr uint64_t kStartMs = 1'764'000'000'000;

// What the generators need to know to name existing things: counts only. Identifiers live in the
// system under test, filled from responses.
struct Model {
  size_t workspaces = 0;
  uint64_t now_ms = kStartMs;
};

// A storage that forwards to another but mishandles one case, for the companion test: a page of
// operations holds one more than the limit asked for.
class OneTooMany final : public Storage {
 public:
  explicit OneTooMany(Storage& inner) : inner_(inner) {}
  Status read(const std::function<void(Transaction&)>& body) override {
    return inner_.read([&](Transaction& txn) {
      Wrapped wrapped(txn);
      body(wrapped);
    });
  }
  Status write(const std::function<bool(Transaction&)>& body) override {
    return inner_.write([&](Transaction& txn) {
      Wrapped wrapped(txn);
      return body(wrapped);
    });
  }
  Status journal_revocation(const Revocation& revocation) override {
    return inner_.journal_revocation(revocation);
  }
  Result<std::vector<Revocation>> journaled_revocations() override {
    return inner_.journaled_revocations();
  }

 private:
  // Forwards every primitive; ops_after returns one operation too many.
  class Wrapped final : public ForwardingTransaction {
   public:
    using ForwardingTransaction::ForwardingTransaction;
    std::vector<StoredOp> ops_after(const WorkspaceId& w, uint64_t a, size_t l,
                                    uint64_t b) override {
      return inner().ops_after(w, a, l + 1, b);
    }
  };
  Storage& inner_;
};

// Small limits so that short command sequences reach page ends, byte limits and full blocks.
ServerConfig small_config() {
  ServerConfig config;
  config.block_size = 3;
  config.limits = kLimitFloors;
  // Caps small enough for short sequences to reach, so both backends count alike (LIM-021,
  // LIM-022).
  config.tokens_per_workspace_max = 4;
  config.uploading_bytes_per_workspace_max = 300;
  return config;
}

// Two cores, one per backend, fed the same requests.
struct Sut {
  TempDir dir;
  std::unique_ptr<SqliteStorage> sqlite;
  MemoryStorage memory;
  std::unique_ptr<Storage>
      reference_wrapper;  // the backend compared with SQLite (memory, or a broken one)
  SeededRandom memory_random{42};
  SeededRandom sqlite_random{42};
  std::unique_ptr<ServerCore> memory_core;
  std::unique_ptr<ServerCore> sqlite_core;
  struct Known {
    std::string id;
    std::vector<std::string> tokens;  // [0] is the owner's
    std::vector<std::string> files;
    std::vector<WireOp> ops;  // uploaded, for duplicates and conflicts
  };
  std::vector<Known> workspaces;

  explicit Sut(bool broken = false) {
    Result<std::unique_ptr<SqliteStorage>> opened =
        SqliteStorage::open(dir.path(), Durability::kProcess);
    RC_ASSERT(opened.ok());
    sqlite = std::move(*opened);
    Storage* compared = &memory;
    if (broken) {
      reference_wrapper = std::make_unique<OneTooMany>(memory);
      compared = reference_wrapper.get();
    }
    memory_core = std::make_unique<ServerCore>(small_config(), *compared, memory_random);
    sqlite_core = std::make_unique<ServerCore>(small_config(), *sqlite, sqlite_random);
  }

  // Sends one request to both cores and requires identical answers; returns the answer.
  Response both(const std::string& method, const std::string& path, const std::string& token,
                std::string body, uint64_t now_ms,
                const std::string& content_type = "application/json",
                std::vector<std::pair<std::string, std::string>> query = {}) {
    Request request;
    request.method = method;
    request.path = path;
    request.query = std::move(query);
    if (!token.empty()) request.headers["authorization"] = "Bearer " + token;
    if (!body.empty() || method == "POST" || method == "PUT")
      request.headers["content-type"] = content_type;
    request.body = std::move(body);
    Response from_memory = memory_core->handle(request, now_ms);
    Response from_sqlite = sqlite_core->handle(request, now_ms);
    RC_ASSERT(from_memory.status == from_sqlite.status);
    RC_ASSERT(from_memory.body == from_sqlite.body);
    RC_ASSERT(from_memory.content_type == from_sqlite.content_type);
    RC_ASSERT(from_memory.headers == from_sqlite.headers);
    return from_memory;
  }
};

using Command = rc::state::Command<Model, Sut>;

struct CreateWorkspace : Command {
  void apply(Model& m) const override { ++m.workspaces; }
  void run(const Model& m, Sut& sut) const override {
    Response r = sut.both("POST", "/v1/workspaces", "", "{}", m.now_ms);
    RC_ASSERT(r.status == 201);
    CreateWorkspaceResponse created = *parse_message<CreateWorkspaceResponse>(r.body);
    sut.workspaces.push_back({to_base64url(created.workspace_id), {created.owner_token}, {}, {}});
  }
  void show(std::ostream& os) const override { os << "CreateWorkspace"; }
};

// Commands on a workspace name it, and a token of it, by index modulo what exists.
struct OnWorkspace : Command {
  size_t workspace = *rc::gen::arbitrary<size_t>();
  size_t token = *rc::gen::arbitrary<size_t>();
  void checkPreconditions(const Model& m) const override { RC_PRE(m.workspaces > 0); }
  Sut::Known& ws(Sut& sut) const { return sut.workspaces[workspace % sut.workspaces.size()]; }
  std::string token_of(Sut& sut) const {
    const Sut::Known& w = ws(sut);
    return w.tokens[token % w.tokens.size()];
  }
};

struct IssueToken : OnWorkspace {
  Scope scope = *rc::gen::element(Scope::kRead, Scope::kReadWrite, Scope::kOwner);
  bool expires = *rc::gen::arbitrary<bool>();
  uint64_t expires_in_ms = *rc::gen::inRange<uint64_t>(1000, 100000);
  void run(const Model& m, Sut& sut) const override {
    CreateTokenRequest request{
        scope, scope == Scope::kOwner || !expires ? std::nullopt : std::optional(expires_in_ms)};
    Response r = sut.both("POST", "/v1/workspaces/" + ws(sut).id + "/tokens", token_of(sut),
                          serialize_message(request), m.now_ms);
    if (r.status == 201) ws(sut).tokens.push_back(parse_message<TokenIssued>(r.body)->token);
  }
  void show(std::ostream& os) const override { os << "IssueToken"; }
};

struct Upload : OnWorkspace {
  uint64_t seed = *rc::gen::arbitrary<uint64_t>();
  size_t fresh = *rc::gen::inRange<size_t>(0, 8);
  size_t repeats = *rc::gen::inRange<size_t>(0, 3);
  bool forge = *rc::gen::arbitrary<bool>();
  bool skewed = *rc::gen::arbitrary<bool>();
  void run(const Model& m, Sut& sut) const override {
    Sut::Known& w = ws(sut);
    SeededRandom random(seed);
    UploadOpsRequest request;
    for (size_t i = 0; i < fresh; ++i)
      request.ops.push_back(make_op(random, m.now_ms, 28 + random.below(600)));
    for (size_t i = 0; i < repeats && !w.ops.empty(); ++i)
      request.ops.push_back(w.ops[random.below(w.ops.size())]);
    if (forge && !w.ops.empty()) {
      WireOp forged = w.ops[random.below(w.ops.size())];
      forged.payload.back() ^= 1;
      request.ops.push_back(forged);
    }
    if (skewed) request.ops.push_back(make_op(random, m.now_ms + 3'600'000));
    if (request.ops.empty()) return;
    Response r = sut.both("POST", "/v1/workspaces/" + w.id + "/ops", token_of(sut),
                          serialize_message(request), m.now_ms);
    if (r.status == 200)
      for (size_t i = 0; i < fresh; ++i) w.ops.push_back(request.ops[i]);
  }
  void show(std::ostream& os) const override {
    os << "Upload(" << fresh << " new, " << repeats << " again)";
  }
};

struct ReadOps : OnWorkspace {
  uint64_t after_seq = *rc::gen::inRange<uint64_t>(0, 40);
  uint64_t limit = *rc::gen::inRange<uint64_t>(1, 8);
  void run(const Model& m, Sut& sut) const override {
    sut.both("GET", "/v1/workspaces/" + ws(sut).id + "/ops", token_of(sut), "", m.now_ms, "",
             {{"after_seq", std::to_string(after_seq)}, {"limit", std::to_string(limit)}});
  }
  void show(std::ostream& os) const override {
    os << "ReadOps(" << after_seq << ", " << limit << ")";
  }
};

struct ReadBlocks : OnWorkspace {
  uint64_t start = *rc::gen::inRange<uint64_t>(0, 10);
  void run(const Model& m, Sut& sut) const override {
    sut.both("GET", "/v1/workspaces/" + ws(sut).id + "/blocks", token_of(sut), "", m.now_ms, "",
             {{"start", std::to_string(start)}, {"limit", "2"}});
  }
  void show(std::ostream& os) const override { os << "ReadBlocks(" << start << ")"; }
};

struct PutKey : OnWorkspace {
  uint32_t key_id = *rc::gen::inRange<uint32_t>(1, 4);
  uint64_t expected_version = *rc::gen::inRange<uint64_t>(0, 3);
  void run(const Model& m, Sut& sut) const override {
    PutKeyRequest request{expected_version, KdfParams{}, Bytes(60, static_cast<uint8_t>(key_id))};
    sut.both("PUT", "/v1/workspaces/" + ws(sut).id + "/keys/" + std::to_string(key_id),
             token_of(sut), serialize_message(request), m.now_ms);
    sut.both("GET", "/v1/workspaces/" + ws(sut).id + "/keys", token_of(sut), "", m.now_ms);
  }
  void show(std::ostream& os) const override {
    os << "PutKey(" << key_id << ", v" << expected_version << ")";
  }
};

// File commands: create, upload a chunk, commit, delete, status, download.
struct FileCommand : OnWorkspace {
  size_t file = *rc::gen::arbitrary<size_t>();
  int action = *rc::gen::inRange(0, 7);
  uint32_t index = *rc::gen::inRange<uint32_t>(0, 4);
  uint64_t seed = *rc::gen::arbitrary<uint64_t>();
  void run(const Model& m, Sut& sut) const override {
    Sut::Known& w = ws(sut);
    SeededRandom random(seed);
    if (w.files.empty() || action == 0) w.files.push_back(to_base64url(random.id()));
    const std::string path = "/v1/workspaces/" + w.id + "/files/" + w.files[file % w.files.size()];
    const std::string token = token_of(sut);
    switch (action) {
      case 0:
      case 1:
        sut.both("POST", path, token, "{\"chunk_count\":3}", m.now_ms);
        break;
      case 2:
        sut.both("PUT", path + "/chunks/" + std::to_string(index), token,
                 to_string(random.bytes(28 + random.below(100))), m.now_ms,
                 "application/octet-stream");
        break;
      case 3:
        sut.both("POST", path + "/commit", token, "{\"chunk_count\":3}", m.now_ms);
        break;
      case 4:
        sut.both("DELETE", path, token, "", m.now_ms);
        break;
      case 5:
        sut.both("GET", path + "/chunks/" + std::to_string(index), token, "", m.now_ms);
        break;
      default:
        sut.both("POST", "/v1/workspaces/" + w.id + "/file-status", token,
                 "{\"file_ids\":[\"" + w.files[file % w.files.size()] + "\"]}", m.now_ms);
    }
    sut.both("GET", path, token, "", m.now_ms);
  }
  void show(std::ostream& os) const override {
    os << "File(action " << action << ", chunk " << index << ")";
  }
};

struct RevokeOrDelete : OnWorkspace {
  bool delete_workspace = *rc::gen::inRange(0, 5) == 0;
  void run(const Model& m, Sut& sut) const override {
    Sut::Known& w = ws(sut);
    const std::string owner = w.tokens[0];
    if (delete_workspace) {
      sut.both("DELETE", "/v1/workspaces/" + w.id, owner, "", m.now_ms);
      return;
    }
    Response self =
        sut.both("GET", "/v1/workspaces/" + w.id + "/tokens/self", token_of(sut), "", m.now_ms);
    if (self.status != 200) return;
    const std::string token_id = to_base64url(parse_message<TokenEntry>(self.body)->token_id);
    sut.both("DELETE", "/v1/workspaces/" + w.id + "/tokens/" + token_id, owner, "", m.now_ms);
    sut.both("GET", "/v1/workspaces/" + w.id + "/tokens", owner, "", m.now_ms, "",
             {{"limit", "2"}});
  }
  void show(std::ostream& os) const override {
    os << (delete_workspace ? "DeleteWorkspace" : "RevokeToken");
  }
};

// Time passes, tokens expire, garbage is collected.
struct AdvanceTime : Command {
  uint64_t ms = *rc::gen::element<uint64_t>(1000, 60'000, kReferenceUploadExpiryMs,
                                            kReferenceFileRetentionMs + 1);
  void apply(Model& m) const override { m.now_ms += ms; }
  void run(const Model& m, Sut& sut) const override {
    RC_ASSERT(sut.memory_core->collect_garbage(m.now_ms + ms) ==
              sut.sqlite_core->collect_garbage(m.now_ms + ms));
  }
  void show(std::ostream& os) const override { os << "AdvanceTime(" << ms << ")"; }
};

// What a client can read of one workspace: every operation page, block list, file status and
// chunk, token and key record, as response bodies. Two storages that give equal fingerprints
// answer every read of the workspace alike.
std::vector<std::string> fingerprint(ServerCore& core, const CreateWorkspaceResponse& ws,
                                     const std::vector<FileId>& files, uint64_t now_ms) {
  const std::string base = "/v1/workspaces/" + to_base64url(ws.workspace_id);
  std::vector<std::string> out;
  auto read = [&](const std::string& method, const std::string& path, std::string body = "") {
    Request request;
    request.method = method;
    request.path = path;
    request.headers["authorization"] = "Bearer " + ws.owner_token;
    request.headers["opsync-request-id"] = "fingerprint";  // not a random one
    if (!body.empty()) request.headers["content-type"] = "application/json";
    request.body = std::move(body);
    const Response response = core.handle(request, now_ms);
    out.push_back(method + " " + path + " " + std::to_string(response.status) + " " +
                  response.body);
  };
  read("GET", base + "/ops");
  read("GET", base + "/blocks");
  read("GET", base + "/tokens");
  read("GET", base + "/keys");
  for (const FileId& file : files) {
    read("GET", base + "/files/" + to_base64url(file));
    for (int index = 0; index < 3; ++index)
      read("GET", base + "/files/" + to_base64url(file) + "/chunks/" + std::to_string(index));
  }
  return out;
}

// Writes to a workspace through the core: `ops` fresh operations, a token, and one file of three
// chunks, committed or deleted.
struct Writer {
  ServerCore& core;
  const CreateWorkspaceResponse& ws;
  SeededRandom random{7};

  Response call(const std::string& method, const std::string& path, std::string body,
                uint64_t now_ms, const std::string& type = "application/json") {
    Request request;
    request.method = method;
    request.path = "/v1/workspaces/" + to_base64url(ws.workspace_id) + path;
    request.headers["authorization"] = "Bearer " + ws.owner_token;
    if (method != "GET" && method != "DELETE") request.headers["content-type"] = type;
    request.body = std::move(body);
    return core.handle(request, now_ms);
  }
  void write(const FileId& file, size_t ops, bool delete_file, uint64_t now_ms) {
    UploadOpsRequest upload;
    for (size_t i = 0; i < ops; ++i)
      upload.ops.push_back(make_op(random, now_ms, 28 + random.below(300)));
    BOOST_REQUIRE(call("POST", "/ops", serialize_message(upload), now_ms).status == 200);
    BOOST_REQUIRE(call("POST", "/tokens", "{\"scope\":\"read\"}", now_ms).status == 201);
    const std::string path = "/files/" + to_base64url(file);
    BOOST_REQUIRE(call("POST", path, "{\"chunk_count\":3}", now_ms).status == 201);
    for (int index = 0; index < 3; ++index)
      BOOST_REQUIRE(call("PUT", path + "/chunks/" + std::to_string(index),
                         to_string(random.bytes(40)), now_ms, "application/octet-stream")
                        .status == 200);
    BOOST_REQUIRE(call("POST", path + "/commit", "{\"chunk_count\":3}", now_ms).status == 200);
    if (delete_file) BOOST_REQUIRE(call("DELETE", path, "", now_ms).status == 200);
  }
};

void backends_agree(bool broken) {
  Model model;
  Sut sut(broken);
  rc::state::check(
      model, sut,
      rc::state::gen::execOneOfWithArgs<CreateWorkspace, IssueToken, Upload, Upload, Upload,
                                        ReadOps, ReadOps, ReadBlocks, PutKey, FileCommand,
                                        FileCommand, RevokeOrDelete, AdvanceTime>());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(storage_model)

RC_BOOST_PROP(memory_storage_answers_exactly_like_sqlite, ()) { backends_agree(false); }

BOOST_AUTO_TEST_CASE(a_restored_snapshot_answers_as_the_storage_did_when_it_was_taken) {
  MemoryStorage storage;
  SeededRandom random(1);
  ServerCore core(small_config(), storage, random);
  const CreateWorkspaceResponse ws = *core.create_workspace(kStartMs);
  Writer writer{core, ws};
  const std::vector<FileId> files = {random.id(),
                                     random.id()};  // the second is written after the backup
  writer.write(files[0], 7, false, kStartMs);
  const std::shared_ptr<const MemoryStorage::Snapshot> backup = storage.snapshot();
  BOOST_TEST(backup->op_count() == 7u);
  const std::vector<std::string> at_backup = fingerprint(core, ws, files, kStartMs);

  // Everything after the backup: operations, tokens, a committed file, the first file deleted,
  // and the deleted file collected.
  writer.write(files[1], 5, false, kStartMs + 1000);
  BOOST_REQUIRE(
      writer.call("DELETE", "/files/" + to_base64url(files[0]), "", kStartMs + 2000).status == 200);
  BOOST_TEST(core.collect_garbage(kStartMs + 2000 + kReferenceFileRetentionMs) == 1u);
  BOOST_TEST(backup->op_count() == 7u);  // the snapshot does not follow the storage
  const std::vector<std::string> after = fingerprint(core, ws, files, kStartMs);
  BOOST_TEST(after != at_backup);

  storage.restore(*backup);
  BOOST_TEST(fingerprint(core, ws, files, kStartMs) == at_backup, boost::test_tools::per_element());
  // The log grows again from the restored head: the next operation takes position 8.
  UploadOpsRequest one{{make_op(random, kStartMs)}};
  const Response answer = writer.call("POST", "/ops", serialize_message(one), kStartMs);
  BOOST_TEST(parse_message<UploadOpsResponse>(answer.body)->results.at(0).seq == 8u);

  // The same snapshot restores into another storage, any number of times.
  MemoryStorage elsewhere;
  SeededRandom other_random(1);
  ServerCore other(small_config(), elsewhere, other_random);
  elsewhere.restore(*backup);
  BOOST_TEST(fingerprint(other, ws, files, kStartMs) == at_backup,
             boost::test_tools::per_element());
  storage.restore(*backup);
  BOOST_TEST(fingerprint(core, ws, files, kStartMs) == at_backup, boost::test_tools::per_element());
}

// AUTH-030: a token revoked after a backup is refused once the backup is restored.
struct Revoked {
  TokenIssued token;
  Response self(ServerCore& core, const CreateWorkspaceResponse& ws, uint64_t now_ms) const {
    Request request;
    request.method = "GET";
    request.path = "/v1/workspaces/" + to_base64url(ws.workspace_id) + "/tokens/self";
    request.headers["authorization"] = "Bearer " + token.token;
    return core.handle(request, now_ms);
  }
};

Revoked issue(Writer& writer) {
  const Response issued = writer.call("POST", "/tokens", "{\"scope\":\"read_write\"}", kStartMs);
  BOOST_REQUIRE(issued.status == 201);
  return Revoked{*parse_message<TokenIssued>(issued.body)};
}

void revoke(Writer& writer, const Revoked& revoked) {
  BOOST_REQUIRE(
      writer.call("DELETE", "/tokens/" + to_base64url(revoked.token.token_id), "", kStartMs + 1000)
          .status == 200);
}

// A workspace with a token revoked after a backup, and the restore of that backup.
struct RevokedAfterBackup {
  MemoryStorage storage;
  SeededRandom random{1};
  std::unique_ptr<ServerCore> core = std::make_unique<ServerCore>(small_config(), storage, random);
  CreateWorkspaceResponse ws = *core->create_workspace(kStartMs);
  Revoked stolen;

  explicit RevokedAfterBackup(bool restore_rolls_journal_back) {
    Writer writer{*core, ws};
    stolen = issue(writer);
    const std::shared_ptr<const MemoryStorage::Snapshot> backup = storage.snapshot();
    revoke(writer, stolen);
    BOOST_TEST(storage.journaled_revocations()->size() == 1u);
    if (restore_rolls_journal_back)
      storage.restore_with_journal(*backup);
    else
      storage.restore(*backup);
    core =
        std::make_unique<ServerCore>(small_config(), storage, random);  // the server starts on it
  }
};

BOOST_AUTO_TEST_CASE(a_revocation_survives_a_restore_of_the_data) {
  RevokedAfterBackup r(/*restore_rolls_journal_back=*/false);
  const Response answer = r.stolen.self(*r.core, r.ws, kStartMs + 2000);
  BOOST_TEST(answer.status == 401);
  BOOST_TEST(answer.error_code == "token_revoked");
  // The token list shows it revoked, at the time of the revocation.
  Writer after{*r.core, r.ws};
  const TokenListResponse list =
      *parse_message<TokenListResponse>(after.call("GET", "/tokens", "", kStartMs + 2000).body);
  const auto entry = std::find_if(list.tokens.begin(), list.tokens.end(), [&](const TokenEntry& e) {
    return e.token_id == r.stolen.token.token_id;
  });
  BOOST_REQUIRE(entry != list.tokens.end());
  BOOST_TEST(entry->revoked_at_ms == std::optional<uint64_t>(kStartMs + 1000));
}

// The companion: a restore that rolls the journal back with the data brings the token back, and
// the check above sees it.
BOOST_AUTO_TEST_CASE(catches_a_restore_that_rolls_revocations_back) {
  RevokedAfterBackup r(/*restore_rolls_journal_back=*/true);
  BOOST_TEST(r.stolen.self(*r.core, r.ws, kStartMs + 2000).status == 200);
}

BOOST_AUTO_TEST_CASE(sqlite_keeps_its_revocations_beside_the_database_a_restore_replaces) {
  const server::testing::TempDir dir;
  const std::filesystem::path data = dir.path();
  SeededRandom random(1);
  std::optional<CreateWorkspaceResponse> ws;
  std::optional<Revoked> stolen;
  {
    std::unique_ptr<SqliteStorage> storage =
        std::move(SqliteStorage::open(data.string(), Durability::kProcess)).value();
    ServerCore core(small_config(), *storage, random);
    ws = *core.create_workspace(kStartMs);
    Writer writer{core, *ws};
    stolen = issue(writer);
  }
  std::filesystem::copy_file(data / "opsync.db", data / "backup.db");  // the server is stopped
  {
    std::unique_ptr<SqliteStorage> storage =
        std::move(SqliteStorage::open(data.string(), Durability::kProcess)).value();
    ServerCore core(small_config(), *storage, random);
    Writer writer{core, *ws};
    revoke(writer, *stolen);
  }
  // The restore of deploy/README.md: the database replaced, the journal left where it is.
  std::filesystem::remove(data / "opsync.db-wal");
  std::filesystem::remove(data / "opsync.db-shm");
  std::filesystem::copy_file(data / "backup.db", data / "opsync.db",
                             std::filesystem::copy_options::overwrite_existing);
  std::unique_ptr<SqliteStorage> storage =
      std::move(SqliteStorage::open(data.string(), Durability::kProcess)).value();
  ServerCore core(small_config(), *storage, random);
  const Response answer = stolen->self(core, *ws, kStartMs + 2000);
  BOOST_TEST(answer.status == 401);
  BOOST_TEST(answer.error_code == "token_revoked");
}

BOOST_AUTO_TEST_CASE(a_damaged_revocation_journal_is_refused_naming_its_line) {
  const server::testing::TempDir dir;
  const std::filesystem::path journal = std::filesystem::path(dir.path()) / "revocations.journal";
  const Revocation one{Id{}, Id{}, 5};
  {
    std::ofstream out(journal);
    out << "opsync-revocation/1 AAAAAAAAAAAAAAAAAAAAAA AAAAAAAAAAAAAAAAAAAAAA 5\n";
    out << "opsync-revocation/1 AAAAAAAAAAAAAAAAAAAAAA AAAAAAAAAAAAAA";  // an append a crash cut
                                                                         // short
  }
  {
    auto storage = SqliteStorage::open(dir.path(), Durability::kProcess);
    BOOST_REQUIRE(storage.ok());
    BOOST_TEST(((*storage)->journaled_revocations().value() == std::vector<Revocation>{one}));
  }
  {
    std::ofstream out(journal);
    out << "opsync-revocation/1 AAAAAAAAAAAAAAAAAAAAAA AAAAAAAAAAAAAAAAAAAAAA 5\n";
    out << "this is not a revocation\n";
    out << "opsync-revocation/1 AAAAAAAAAAAAAAAAAAAAAA AAAAAAAAAAAAAAAAAAAAAA 6\n";
  }
  auto refused = SqliteStorage::open(dir.path(), Durability::kProcess);
  BOOST_REQUIRE(!refused.ok());
  BOOST_TEST(refused.error().message.find("revocations.journal line 2") != std::string::npos,
             refused.error().message);
}

BOOST_AUTO_TEST_CASE(catches_a_backend_that_pages_one_too_many) {
  BOOST_TEST(opsync::testing::finds_counterexample(
      "a backend paging one operation too many agrees with SQLite", [] { backends_agree(true); }));
}

BOOST_AUTO_TEST_SUITE_END()
