// Opening, meta and durability of the client store: state survives closing and the process
// vanishing; a transaction interrupted at any point (an exception, a killed process) leaves
// nothing of itself; files from a newer build or not from SQLite at all are refused cleanly.
#include <sqlite3.h>

#include <boost/test/unit_test.hpp>
#include <fstream>
#include <random>
#include <sstream>

#include "client_test_support.h"
#include "opsync/protocol/blocks.h"
#include "store_impl.h"

using namespace opsync;
using namespace opsync::client;
using namespace opsync::client::testing;

BOOST_TEST_DONT_PRINT_LOG_VALUE(std::optional<opsync::Bytes>)

namespace {

// Everything a store exposes, as text: two stores are in the same state when their dumps match,
// and a failing comparison prints both.
std::string dump(LocalStore& store) {
  std::ostringstream out;
  const SyncMeta meta = must(store.meta());
  out << "meta " << meta.token << " " << meta.hlc << " " << meta.clock_offset_ms << " "
      << (meta.last_sync_ms ? std::to_string(*meta.last_sync_ms) : "never") << "\n";
  for (const KeyRecord& record : must(store.key_records()))
    out << "key " << record.key_id << " v" << record.version << " " << record.kdf.iterations << " "
        << to_hex(record.wrapped_key) << "\n";
  const uint64_t m = must(store.mirror_size());
  for (uint64_t seq = 1; seq <= m; ++seq) {
    const WireOp op = must(store.mirror_op(seq))->op;
    out << "mirror " << seq << " " << op << " " << to_hex(must(store.prefix_hash(seq)).view())
        << " found at " << must(store.lookup(op.id)).seq << "\n";
  }
  for (const PendingOp& pending : must(store.ops_to_upload(1000)))
    out << "upload " << pending.where << " " << pending.op << " " << pending.hash << "\n";
  for (const RejectedOp& rejected : must(store.rejected_ops()))
    out << "rejected " << rejected.pending.op << " " << rejected.code << "\n";
  for (const UnreadableOp& unreadable : must(store.unreadable_ops()))
    out << "unreadable " << unreadable.seq << " " << unreadable.id << "\n";
  out << "pending " << must(store.pending_count()) << "\n";
  for (const char* key : {"a", "b", "k", "photos"}) {
    for (const ObjectOp& head : must(store.get(key)).heads)
      out << "head " << key << " " << head << " " << to_string(head.payload.value) << "\n";
  }
  for (const std::string& key : must(store.list())) out << "present " << key << "\n";
  for (const std::string& key : must(store.conflicted_keys())) out << "conflict " << key << "\n";
  for (const FileId& id : must(store.referenced_files())) {
    const LocalFile file = must(store.file(id)).value();
    out << "file " << id << " " << file.ref.name << " copy=" << file.local_copy
        << " flag=" << file.upload_flag << " pending=" << static_cast<int>(file.pending);
    for (uint32_t index : must(store.chunks_done(id, TransferDirection::kUpload)))
      out << " up" << index;
    for (uint32_t index : must(store.chunks_done(id, TransferDirection::kDownload)))
      out << " down" << index;
    out << "\n";
  }
  return out.str();
}

const FileRef kPhoto = file_ref(id_of(0xF1), "photo.jpg", 300000);
const FileRef kScan = file_ref(id_of(0xF2), "scan.pdf", 70000);

// A store with something in every table: meta, key records, mirror, outbox, candidates, a
// rejected operation, conflicts, files with transfer progress.
void fill(LocalStore& store) {
  must(store.set_token("token-2"));
  must(store.set_clock_offset_ms(-1234));
  must(store.record_sync_success(1'764'000'000'000));
  const std::vector<KeyRecord> keys{
      KeyRecord{1, 2, KdfParams{}, Bytes(60, 7), 99},
      KeyRecord{2, 1, KdfParams{kKdfAlgorithm, 10}, Bytes(60, 8), 100}};
  must(store.put_key_records(keys));

  const ObjectOp a1 = make_object(id_of(0xA1), {10, 0}, "a", OpType::kPut, {}, "a one");
  const ObjectOp photo =
      make_object(id_of(0xA2), {11, 0}, "photos", OpType::kPut, {}, "album", {kPhoto, kScan});
  const ObjectOp k1 = make_object(id_of(0xA3), {12, 0}, "k", OpType::kPut, {}, "mine");
  const ObjectOp rejected = make_object(id_of(0xA4), {13, 0}, "b", OpType::kPut, {}, "refused");
  must(store.commit_local_edit(local_edit(a1)));
  must(store.commit_local_edit(local_edit(photo, {kPhoto.id})));
  must(store.commit_local_edit(local_edit(k1)));
  must(store.commit_local_edit(local_edit(rejected)));

  const ObjectOp k2 = make_object(id_of(0xB1), {12, 0}, "k", OpType::kPut, {}, "theirs");
  const ObjectOp a2 = make_object(id_of(0xB2), {14, 0}, "a", OpType::kDelete, {a1.id});
  std::vector<PageOp> page{page_op(1, k2, other_device()), page_op(2, a2, other_device())};
  must(store.apply_page(0, page, 2, {14, 0}));
  OpResult refused;
  refused.id = rejected.id;
  refused.status = OpStatus::kRejected;
  refused.code = Code::kOpIdConflict;
  const std::vector<OpResult> results{accepted(a1.id, 3), accepted(photo.id, 4), refused};
  must(store.record_upload_results(results));
  must(store.truncate_mirror(3));  // photo becomes a candidate

  must(store.record_chunk_done(kPhoto.id, TransferDirection::kUpload, 0));
  must(store.record_chunk_done(kPhoto.id, TransferDirection::kUpload, 3));
  must(store.record_chunk_done(kScan.id, TransferDirection::kDownload, 1));
  must(store.set_pending(kScan.id, FilePending::kMissing));
}

// A fault hook that throws at one named point while armed.
struct Injector {
  std::string armed;
  int hits = 0;
  StoreOptions options() {
    StoreOptions options = test_options();
    options.fault_point = [this](std::string_view point) {
      if (point != armed) return;
      ++hits;
      throw std::runtime_error("injected at " + std::string(point));
    };
    return options;
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(store)

BOOST_AUTO_TEST_CASE(a_new_store_keeps_its_binding_and_starts_empty) {
  TempDir dir;
  {
    auto store = create_store(dir.path(), 256);
    BOOST_TEST((store->binding() == test_binding(256)));
  }
  auto store = open_store(dir.path());
  BOOST_TEST((store->binding() == test_binding(256)));
  BOOST_TEST((must(store->meta()) == SyncMeta{"token-1", Hlc{}, 0, std::nullopt}));
  BOOST_TEST(must(store->mirror_size()) == 0u);
  BOOST_TEST(must(store->prefix_hash(0)) == Hash{});
  BOOST_TEST(must(store->pending_count()) == 0u);
  BOOST_TEST(must(store->list()).empty());
  BOOST_TEST(must(store->key_records()).empty());
  BOOST_TEST(std::filesystem::is_directory(dir.path() / "files"));
  BOOST_TEST(store->file_path(id_of(1)).parent_path() == dir.path() / "files");
}

BOOST_AUTO_TEST_CASE(meta_and_key_records_are_stored_as_given) {
  TempDir dir;
  auto store = create_store(dir.path());
  must(store->set_token("token-2"));
  must(store->set_clock_offset_ms(-3'600'000));
  must(store->save_hlc({1'764'000'000'000, 4}));
  must(store->record_sync_success(1'764'000'000'123));
  BOOST_TEST((must(store->meta()) ==
              SyncMeta{"token-2", Hlc{1'764'000'000'000, 4}, -3'600'000, 1'764'000'000'123}));

  const KeyRecord first{1, 1, KdfParams{}, Bytes(60, 1), 10};
  const KeyRecord rotated{2, 1, KdfParams{}, Bytes(60, 2), 20};
  const KeyRecord rewrapped{1, 2, KdfParams{kKdfAlgorithm, 700000}, Bytes(60, 3), 30};
  const std::vector<KeyRecord> batch1{rotated, first};
  const std::vector<KeyRecord> batch2{rewrapped};
  must(store->put_key_records(batch1));
  must(store->put_key_records(batch2));  // CRY-012: a password change replaces the record
  BOOST_TEST((must(store->key_records()) == std::vector<KeyRecord>{rewrapped, rotated}));
}

BOOST_AUTO_TEST_CASE(a_clock_that_goes_backwards_fails_a_check) {
  TempDir dir;
  {
    auto store = create_store(dir.path());
    must(store->save_hlc({100, 0}));
  }
  BOOST_TEST(fails_check([&] { (void)open_store(dir.path())->save_hlc({99, 5}); }, "HLC"));
  BOOST_TEST(must(open_store(dir.path())->meta()).hlc == (Hlc{100, 0}));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(durability)

BOOST_AUTO_TEST_CASE(reopening_gives_the_same_state) {
  TempDir dir;
  std::string before;
  {
    auto store = create_store(dir.path());
    fill(*store);
    before = dump(*store);
  }
  // The dump covers every table, so an empty one would make this test vacuous.
  for (const char* expected : {"mirror 3", "upload candidate", "upload outbox", "rejected",
                               "conflict k", "up3", "down1", "key 2"})
    BOOST_TEST(before.find(expected) != std::string::npos, "dump lacks " << expected);
  auto store = open_store(dir.path());
  BOOST_TEST(dump(*store) == before);
}

BOOST_AUTO_TEST_CASE(an_exception_at_any_point_of_a_transaction_leaves_nothing_of_it) {
  // For each fault point: the store is filled, the fault is armed, one more transaction fails at
  // that point, and the state is exactly what it was; disarmed, the same call succeeds.
  struct Case {
    const char* point;
    std::function<Status(LocalStore&)> call;
  };
  const ObjectOp edit = make_object(id_of(0xC1), {20, 0}, "b", OpType::kPut, {}, "new", {kScan});
  const ObjectOp remote = make_object(id_of(0xC2), {21, 0}, "a", OpType::kPut, {}, "remote");
  const ObjectOp remote2 = make_object(id_of(0xC3), {22, 0}, "k", OpType::kDelete);
  auto apply_two = [&](LocalStore& store) -> Status {
    std::vector<PageOp> page{page_op(4, remote, other_device()),
                             page_op(5, remote2, other_device())};
    Result<PageOutcome> outcome = store.apply_page(3, page, 5, {22, 0});
    if (!outcome.ok()) return outcome.error();
    return {};
  };
  auto upload = [&](LocalStore& store) -> Status {
    const std::vector<OpResult> results{accepted(id_of(0xA2), 4)};
    Result<UploadOutcome> outcome = store.record_upload_results(results);
    if (!outcome.ok()) return outcome.error();
    return {};
  };
  const std::vector<Case> cases{
      {"local_edit:after_outbox",
       [&](LocalStore& s) { return s.commit_local_edit(local_edit(edit, {kScan.id})); }},
      {"apply:after_object_row",
       [&](LocalStore& s) { return s.commit_local_edit(local_edit(edit, {kScan.id})); }},
      {"local_edit:after_objects",
       [&](LocalStore& s) { return s.commit_local_edit(local_edit(edit, {kScan.id})); }},
      {"page:after_mirror", apply_two},
      {"apply:after_object_row", apply_two},
      {"page:after_operation", apply_two},
      {"upload:after_results", upload},
  };
  // Also with a mirror id index that settles at every commit (src/mirror_ids.h).
  for (const uint32_t recent_ids_min : {kMirrorRecentIdsMin, 1u})
    for (const Case& c : cases) {
      BOOST_TEST_CONTEXT(c.point << ", recent ids settled from " << recent_ids_min) {
        TempDir dir;
        Injector injector;
        StoreOptions options = injector.options();
        options.mirror_recent_ids_min = recent_ids_min;
        auto store = must(LocalStore::create(dir.path(), test_binding(), "token-1", options));
        fill(*store);
        const std::string before = dump(*store);
        injector.armed = c.point;
        BOOST_CHECK_THROW((void)c.call(*store), std::runtime_error);
        BOOST_TEST(injector.hits == 1);
        BOOST_TEST(dump(*store) == before);
        injector.armed.clear();
        BOOST_TEST(c.call(*store).ok());
        BOOST_TEST(dump(*store) != before);
      }
    }
}

BOOST_AUTO_TEST_CASE(a_process_that_vanishes_mid_transaction_leaves_nothing_of_it) {
  // The process ends with _exit inside the transaction: no rollback runs, the WAL holds
  // uncommitted frames, and SQLite's recovery on the next open must discard them.
  for (const char* point : {"local_edit:after_outbox", "local_edit:after_objects"}) {
    BOOST_TEST_CONTEXT(point) {
      TempDir dir;
      std::string before;
      {
        auto store = create_store(dir.path(), 3, StoreOptions{});
        fill(*store);
        before = dump(*store);
      }
      const ObjectOp edit = make_object(id_of(0xC1), {20, 0}, "b", OpType::kPut, {}, "lost");
      const int exit_code = run_and_vanish([&] {
        StoreOptions options;  // full durability: the real configuration
        options.fault_point = [point](std::string_view at) {
          if (at == point) _exit(42);
        };
        auto store = must(LocalStore::open(dir.path(), options));
        (void)store->commit_local_edit(local_edit(edit));
      });
      BOOST_TEST(exit_code == 42);  // it did stop at the point
      auto store = open_store(dir.path());
      BOOST_TEST(dump(*store) == before);
      BOOST_TEST(must(store->lookup(edit.id)).where == Held::kNowhere);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_committed_edit_survives_the_process_vanishing_right_after) {
  TempDir dir;
  create_store(dir.path(), 3, StoreOptions{});
  const ObjectOp edit = make_object(id_of(0xC1), {20, 0}, "b", OpType::kPut, {}, "kept");
  const int exit_code = run_and_vanish([&] {
    auto store = must(LocalStore::open(dir.path(), StoreOptions{}));
    must(store->commit_local_edit(local_edit(edit)));
    _exit(7);  // no destructor, no checkpoint
  });
  BOOST_TEST(exit_code == 7);
  auto store = open_store(dir.path());
  BOOST_TEST(must(store->lookup(edit.id)).where == Held::kOutbox);
  BOOST_TEST(must(store->list()) == std::vector<std::string>{"b"});
  BOOST_TEST(must(store->meta()).hlc == (Hlc{20, 0}));
}

BOOST_AUTO_TEST_CASE(every_commit_is_reported_as_a_durable_step_and_a_kill_there_keeps_it) {
  // The simulator kills a device by throwing from after_durable_step: the step it names has
  // committed, nothing after it has happened, and a reopened store holds exactly that.
  TempDir dir;
  std::vector<std::string> steps;
  bool kill_next = false;
  StoreOptions options = test_options();
  options.after_durable_step = [&](std::string_view step) {
    steps.emplace_back(step);
    if (kill_next) throw std::runtime_error("killed after " + std::string(step));
  };
  const ObjectOp first = make_object(id_of(0xC1), {20, 0}, "b", OpType::kPut, {}, "one");
  const ObjectOp second = make_object(id_of(0xC2), {21, 0}, "c", OpType::kPut, {}, "two");
  {
    auto store = must(LocalStore::create(dir.path(), test_binding(), "token-1", options));
    must(store->commit_local_edit(local_edit(first)));
    must(store->set_clock_offset_ms(5));
    (void)must(store->meta());  // reads are not steps
    (void)must(store->ops_to_upload(10));
    must(store->blobs().write(id_of(0xF1), BlobKind::kPartial, 0, to_bytes("abc")));
    BOOST_TEST(store->blobs().read(id_of(0xF1), BlobKind::kPartial, 0, 3) ==
               std::optional(to_bytes("abc")));
    must(store->blobs().promote(id_of(0xF1)));
    BOOST_TEST(steps == (std::vector<std::string>{"commit_local_edit", "set_clock_offset_ms",
                                                  "blob_write", "blob_promote"}));
    kill_next = true;
    BOOST_CHECK_THROW((void)store->commit_local_edit(local_edit(second)), std::runtime_error);
    BOOST_TEST(steps.back() == "commit_local_edit");
  }
  kill_next = false;
  auto store = must(LocalStore::open(dir.path(), options));
  BOOST_TEST(must(store->lookup(second.id)).where == Held::kOutbox);  // committed before the kill
  BOOST_TEST(must(store->list()) == (std::vector<std::string>{"b", "c"}));
  BOOST_TEST(must(store->meta()).clock_offset_ms == 5);
  BOOST_TEST(store->blobs().exists(id_of(0xF1), BlobKind::kCopy));
  // A transaction that fails rolls back and is not a step.
  const size_t before = steps.size();
  const std::vector<OpResult> unknown{accepted(id_of(0xEE), 1)};
  BOOST_TEST(store->record_upload_results(unknown).error().code == Code::kProtocolError);
  BOOST_TEST(steps.size() == before);
}

BOOST_AUTO_TEST_CASE(re_stamping_an_upload_answer_is_one_durable_step) {
  // Found by the simulator: re-stamping one operation at a time, a device killed after the first
  // had its clock reset below the stamps of the others, and stamped its next edit below an
  // operation it wrote earlier (HLC-004).
  TempDir dir;
  std::vector<std::string> steps;
  StoreOptions options = test_options();
  options.after_durable_step = [&](std::string_view step) { steps.emplace_back(step); };
  auto store = must(LocalStore::create(dir.path(), test_binding(), "token-1", options));
  const ObjectOp a = make_object(id_of(0xA1), {500, 0}, "a", OpType::kPut, {}, "1");
  const ObjectOp b = make_object(id_of(0xA2), {500, 1}, "b", OpType::kPut, {}, "2");
  must(store->commit_local_edit(local_edit(a)));
  must(store->commit_local_edit(local_edit(b)));
  steps.clear();
  WireOp a2 = wire_of(a, this_device()), b2 = wire_of(b, this_device());
  a2.hlc = {100, 0};
  b2.hlc = {100, 1};
  must(store->restamp_outbox_ops(std::vector<WireOp>{a2, b2}, {100, 1}));
  BOOST_TEST(steps == std::vector<std::string>{"restamp_outbox_ops"});
  BOOST_TEST(must(store->meta()).hlc == (Hlc{100, 1}));
  BOOST_TEST(must(store->get("b")).heads.at(0).hlc == (Hlc{100, 1}));
}

// tests/data/store_v1.sql is device "a" of a two-device workspace as the version-1 client left
// it: a file, bases, a deleted key, a conflicted key and one unsynced edit. Opening it migrates it
// to the current schema, and everything a user or a sync reads must be as it was.
BOOST_AUTO_TEST_CASE(a_version_1_store_migrates_with_everything_intact) {
  TempDir dir;
  std::ifstream dump_file(std::string(OPSYNC_CLIENT_TEST_DATA) + "/store_v1.sql");
  BOOST_REQUIRE(dump_file);
  const std::string dump((std::istreambuf_iterator<char>(dump_file)), {});
  {
    sqlite3* db = nullptr;
    BOOST_REQUIRE(sqlite3_open((dir.path() / "state.sqlite3").c_str(), &db) == SQLITE_OK);
    BOOST_REQUIRE(sqlite3_exec(db, dump.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
  }
  auto store = open_store(dir.path());

  BOOST_TEST(must(store->list()) == (std::vector<std::string>{"color", "note", "photo", "size"}));
  BOOST_TEST(must(store->conflicted_keys()) == std::vector<std::string>{"size"});
  const ObjectView size = must(store->get("size"));
  BOOST_REQUIRE(size.heads.size() == 2u);
  BOOST_TEST(size.heads[0].payload.value == to_bytes("small"));
  BOOST_TEST(size.heads[1].payload.value == to_bytes("large"));
  // "yellow" was written after both concurrent colors were seen: it names both in bases.
  const ObjectView color = must(store->get("color"));
  BOOST_REQUIRE(color.heads.size() == 1u);
  BOOST_TEST(color.heads[0].payload.value == to_bytes("yellow"));
  BOOST_TEST(color.heads[0].payload.bases.size() == 2u);
  const ObjectView shape = must(store->get("shape"));
  BOOST_REQUIRE(shape.heads.size() == 1u);
  BOOST_TEST((shape.heads[0].payload.type == OpType::kDelete));
  const ObjectView photo = must(store->get("photo"));
  BOOST_REQUIRE(photo.heads.size() == 1u);
  BOOST_REQUIRE(photo.heads[0].payload.files.size() == 1u);
  const FileRef& file = photo.heads[0].payload.files[0];
  BOOST_TEST(file.name == "photo.bin");
  BOOST_TEST(file.size_bytes == 200000u);
  BOOST_TEST(must(store->referenced_files()) == std::vector<FileId>{file.id});
  BOOST_TEST(must(store->unreferenced_files()).empty());
  // Version 4 (FILE-040): no copy is kept for a deletion yet; the mark is set and cleared.
  BOOST_TEST(!must(store->file(file.id))->unreferenced_since_ms.has_value());
  must(store->set_unreferenced_since(file.id, uint64_t{1764000000000}));
  BOOST_TEST(must(store->file(file.id))->unreferenced_since_ms.value_or(0) ==
             uint64_t{1764000000000});
  must(store->set_unreferenced_since(file.id, std::nullopt));
  BOOST_TEST(!must(store->file(file.id))->unreferenced_since_ms.has_value());

  // The log: nine operations in the mirror with their prefix hashes, one edit waiting.
  BOOST_TEST(must(store->mirror_size()) == 9u);
  std::vector<Hash> mirror_hashes;
  for (uint64_t seq = 1; seq <= 9; ++seq) {
    const WireOp op = must(store->mirror_op(seq))->op;
    mirror_hashes.push_back(op_hash(op));
    BOOST_TEST(must(store->lookup(op.id)).seq == seq);  // version 5: the settled id index
  }
  BOOST_TEST(must(store->prefix_hash(9)) ==
             prefix_hash(compute_block_hashes(mirror_hashes, 256), mirror_hashes, 9, 256));
  const std::vector<PendingOp> outbox = must(store->ops_to_upload(10));
  BOOST_REQUIRE(outbox.size() == 1u);

  // The migrated outbox knows its key: re-stamping (HLC-020) moves the object row too.
  WireOp restamped = outbox[0].op;
  const Hlc before = must(store->get("note")).heads.at(0).hlc;
  restamped.hlc = Hlc{before.wall_ms + 1000, 0};
  must(store->restamp_outbox_op(restamped, restamped.hlc));
  BOOST_TEST(must(store->get("note")).heads.at(0).hlc == restamped.hlc);
}

// A version-4 store as that client left it, its mirror indexed by id through mirror_by_id_prefix
// (an index over the mirror itself), holding 2,500 operations: opening it migrates to version 5,
// whose settled tier then holds every position. Each id is found where it is, ids that share
// their first four bytes are told apart, unreadable operations keep their positions, and later
// pages append after it and are refused when they repeat a migrated id.
BOOST_AUTO_TEST_CASE(a_version_4_store_migrates_its_mirror_id_index) {
  TempDir dir;
  constexpr uint32_t kBlockSize = 3;
  constexpr size_t kOps = 2500;
  std::mt19937_64 random(2024);
  std::vector<ObjectOp> ops;
  for (size_t i = 0; i < kOps; ++i) {
    ObjectOp op =
        make_object(OpId{}, {1000 + i, 0}, "key" + std::to_string(i % 300), OpType::kPut, {}, "v");
    for (size_t b = 0; b < 16; b += 8) {
      const uint64_t word = random();
      for (size_t k = 0; k < 8; ++k) op.id.bytes[b + k] = static_cast<uint8_t>(word >> (8 * k));
    }
    ops.push_back(op);
  }
  std::copy_n(ops[10].id.bytes.begin(), 4, ops[2000].id.bytes.begin());  // a shared prefix
  {
    sqlite3* db = nullptr;
    BOOST_REQUIRE(sqlite3_open((dir.path() / "state.sqlite3").c_str(), &db) == SQLITE_OK);
    auto exec = [&](const std::string& sql) {
      BOOST_REQUIRE_MESSAGE(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK,
                            sqlite3_errmsg(db));
    };
    exec("BEGIN");
    for (int v = 0; v < 4; ++v) exec(schema_migrations()[v]);
    exec("PRAGMA user_version = 4");
    const WorkspaceBinding binding = test_binding(kBlockSize);
    exec(
        "INSERT INTO device (singleton, server_url, workspace_id, device_id, block_size, token, "
        "hlc_wall_ms, "
        "hlc_counter, clock_offset_ms, last_sync_ms) VALUES (1, '" +
        binding.server_url + "', x'" + to_hex(binding.workspace_id.view()) + "', x'" +
        to_hex(binding.device_id.view()) + "', " + std::to_string(kBlockSize) +
        ", 't', 0, 0, 0, NULL)");
    sqlite3_stmt* insert = nullptr;
    BOOST_REQUIRE(sqlite3_prepare_v2(
                      db,
                      "INSERT INTO mirror (seq, id, hash, prefix_hash, wall_ms, counter, encoding) "
                      "VALUES (?, ?, ?, ?, ?, 0, ?)",
                      -1, &insert, nullptr) == SQLITE_OK);
    PrefixChainer chainer(kBlockSize, Hash{}, {});
    for (size_t i = 0; i < kOps; ++i) {
      const WireOp wire = wire_of(ops[i], other_device());
      const Bytes encoding = encode_op(wire);
      const Hash hash = op_hash(wire);
      const Hash prefix = chainer.append(hash);
      sqlite3_bind_int64(insert, 1, static_cast<int64_t>(i + 1));
      sqlite3_bind_blob(insert, 2, wire.id.bytes.data(), 16, SQLITE_TRANSIENT);
      sqlite3_bind_blob(insert, 3, hash.bytes.data(), 32, SQLITE_TRANSIENT);
      sqlite3_bind_blob(insert, 4, prefix.bytes.data(), 32, SQLITE_TRANSIENT);
      sqlite3_bind_int64(insert, 5, static_cast<int64_t>(wire.hlc.wall_ms));
      sqlite3_bind_blob(insert, 6, encoding.data(), static_cast<int>(encoding.size()),
                        SQLITE_TRANSIENT);
      BOOST_REQUIRE(sqlite3_step(insert) == SQLITE_DONE);
      sqlite3_reset(insert);
    }
    sqlite3_finalize(insert);
    exec("INSERT INTO unreadable (id, key_id) VALUES (x'" + to_hex(ops[77].id.view()) + "', 9)");
    exec("COMMIT");
    sqlite3_close(db);
  }
  auto store = open_store(dir.path());
  BOOST_TEST(must(store->mirror_size()) == kOps);
  for (size_t i = 0; i < kOps; ++i) {
    const OpLocation found = must(store->lookup(ops[i].id));
    BOOST_TEST_REQUIRE((found.where == Held::kMirror && found.seq == i + 1), "operation " << i);
    BOOST_TEST_REQUIRE(found.hash == op_hash(wire_of(ops[i], other_device())));
  }
  OpId stranger = ops[10].id;
  stranger.bytes[15] ^= 1;
  BOOST_TEST(must(store->lookup(stranger)).where == Held::kNowhere);
  const std::vector<UnreadableOp> unreadable = must(store->unreadable_ops());
  BOOST_REQUIRE(unreadable.size() == 1u);
  BOOST_TEST(unreadable[0].seq == 78u);
  BOOST_TEST(unreadable[0].key_id == 9u);

  // Later pages: a new operation appends; one repeating a migrated id is refused.
  const ObjectOp next = make_object(id_of(0xE1), {5000, 0}, "next", OpType::kPut, {}, "n");
  std::vector<PageOp> page{page_op(kOps + 1, next, other_device())};
  must(store->apply_page(kOps, page, kOps + 1, {5000, 0}));
  BOOST_TEST(must(store->lookup(next.id)).seq == kOps + 1);
  page = {page_op(kOps + 2, ops[1234], other_device())};
  const Result<PageOutcome> repeated = store->apply_page(kOps + 1, page, kOps + 2, {5000, 0});
  BOOST_REQUIRE(!repeated.ok());
  BOOST_TEST(repeated.error().code == Code::kProtocolError);
  BOOST_TEST(must(store->prefix_hash(kOps + 1)) != Hash{});

  // The old index is gone; the settled tier holds every migrated position.
  store.reset();
  sqlite3* db = nullptr;
  BOOST_REQUIRE(sqlite3_open_v2((dir.path() / "state.sqlite3").c_str(), &db, SQLITE_OPEN_READONLY,
                                nullptr) == SQLITE_OK);
  auto number = [&](const char* sql) {
    sqlite3_stmt* s = nullptr;
    BOOST_REQUIRE(sqlite3_prepare_v2(db, sql, -1, &s, nullptr) == SQLITE_OK);
    BOOST_REQUIRE(sqlite3_step(s) == SQLITE_ROW);
    const int64_t n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return n;
  };
  BOOST_TEST(number("PRAGMA user_version") == LocalStore::schema_version());
  BOOST_TEST(number("SELECT COUNT(*) FROM sqlite_master WHERE name = 'mirror_by_id_prefix'") == 0);
  BOOST_TEST(number("SELECT COUNT(*) FROM mirror_ids") == static_cast<int64_t>(kOps));
  BOOST_TEST(number("SELECT COUNT(*) FROM mirror_recent_ids") ==
             1);  // the page after the migration
  sqlite3_close(db);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(bad_input)

BOOST_AUTO_TEST_CASE(a_store_from_a_newer_schema_version_is_refused_with_a_clear_error) {
  TempDir dir;
  create_store(dir.path());
  const std::filesystem::path file = dir.path() / "state.sqlite3";
  {
    sqlite3* db = nullptr;
    BOOST_REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
    const std::string set =
        "PRAGMA user_version = " + std::to_string(LocalStore::schema_version() + 1);
    BOOST_REQUIRE(sqlite3_exec(db, set.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
  }
  Result<std::unique_ptr<LocalStore>> opened = LocalStore::open(dir.path(), test_options());
  BOOST_REQUIRE(!opened.ok());
  BOOST_TEST(opened.error().code == Code::kUnsupportedFormat);
  const std::string& message = opened.error().message;
  BOOST_TEST(message.find(file.string()) != std::string::npos, message);
  BOOST_TEST(message.find("schema version " + std::to_string(LocalStore::schema_version() + 1)) !=
                 std::string::npos,
             message);
  BOOST_TEST(message.find("upgrade") != std::string::npos, message);
}

BOOST_AUTO_TEST_CASE(a_file_that_is_not_sqlite_fails_cleanly_and_stays_as_it_was) {
  TempDir dir;
  const std::filesystem::path file = dir.path() / "state.sqlite3";
  const std::string garbage = "this is a text file, not a database\n" + std::string(4096, 'x');
  std::ofstream(file, std::ios::binary) << garbage;
  Result<std::unique_ptr<LocalStore>> opened = LocalStore::open(dir.path(), test_options());
  BOOST_REQUIRE(!opened.ok());
  BOOST_TEST(opened.error().message.find(file.string()) != std::string::npos,
             opened.error().message);
  BOOST_TEST(opened.error().message.find("not a database") != std::string::npos,
             opened.error().message);
  std::ifstream in(file, std::ios::binary);
  const std::string after((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  BOOST_TEST(after == garbage);
  // create() does not overwrite it either.
  BOOST_TEST(!LocalStore::create(dir.path(), test_binding(), "t", test_options()).ok());
}

BOOST_AUTO_TEST_CASE(opening_a_directory_without_a_store_creates_nothing) {
  TempDir dir;
  Result<std::unique_ptr<LocalStore>> opened =
      LocalStore::open(dir.path() / "absent", test_options());
  BOOST_REQUIRE(!opened.ok());
  BOOST_TEST(opened.error().message.find("no client store") != std::string::npos);
  BOOST_TEST(!std::filesystem::exists(dir.path() / "absent"));
}

BOOST_AUTO_TEST_CASE(a_store_is_created_once_and_opened_by_one_process_at_a_time) {
  TempDir dir;
  auto store = create_store(dir.path());
  Result<std::unique_ptr<LocalStore>> second = LocalStore::open(dir.path(), test_options());
  BOOST_REQUIRE(!second.ok());
  BOOST_TEST(second.error().code == Code::kUnavailable);
  store.reset();
  WorkspaceBinding other = test_binding();
  other.device_id = other_device();
  Result<std::unique_ptr<LocalStore>> again =
      LocalStore::create(dir.path(), other, "t", test_options());
  BOOST_REQUIRE(!again.ok());  // OP-003: the device id is never replaced
  BOOST_TEST(again.error().message.find("already holds") != std::string::npos);
  BOOST_TEST(open_store(dir.path())->binding().device_id == this_device());
}

BOOST_AUTO_TEST_CASE(an_invalid_binding_is_refused) {
  TempDir dir;
  for (uint32_t block_size : {0u, kBlockSizeMax + 1}) {
    Result<std::unique_ptr<LocalStore>> created =
        LocalStore::create(dir.path(), test_binding(block_size), "t", test_options());
    BOOST_REQUIRE(!created.ok());
    BOOST_TEST(created.error().field == "block_size");
  }
  WorkspaceBinding no_url = test_binding();
  no_url.server_url.clear();
  BOOST_TEST(LocalStore::create(dir.path(), no_url, "t", test_options()).error().field ==
             "server_url");
  BOOST_TEST(!std::filesystem::exists(dir.path() / "state.sqlite3"));
}

BOOST_AUTO_TEST_SUITE_END()
