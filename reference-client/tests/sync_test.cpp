// Devices syncing through the real reference server over HTTP on 127.0.0.1: convergence of two and
// three devices editing offline, joining, skewed clocks, a lost answer, a server restored from an
// old copy, and the authentication failures.
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <set>

#include "e2e_support.h"

using namespace opsync;
using namespace opsync::client;
using namespace opsync::client::testing;

namespace {

constexpr int64_t kHourMs = 3'600'000;
constexpr int64_t kDayMs = 24 * kHourMs;

// A server and an owner device, plus helpers to add devices that join it.
struct Workspace {
  ScratchDir scratch;
  ServerProcess server{scratch.path() / "server"};
  TestDevice owner{scratch.path() / "owner"};
  std::string passphrase = owner.create(server.url());
  int devices = 0;

  std::unique_ptr<TestDevice> join(int64_t skew_ms = 0, Scope scope = Scope::kReadWrite) {
    Result<TokenIssued> token = owner.invite(scope);
    BOOST_REQUIRE(token.ok());
    auto device = std::make_unique<TestDevice>(
        scratch.path() / ("device" + std::to_string(++devices)), skew_ms);
    Status joined = device->join(server.url(), owner.device().store().binding().workspace_id,
                                 token->token, passphrase);
    BOOST_REQUIRE_MESSAGE(joined.ok(), (joined.ok() ? "" : joined.error().to_string()));
    return device;
  }
};

// Every device shows the same keys, values and conflict counts.
void require_converged(std::vector<TestDevice*> devices) {
  const std::vector<std::string> keys = devices[0]->keys();
  for (TestDevice* d : devices) {
    BOOST_TEST(d->keys() == keys);
    for (const std::string& k : keys) {
      BOOST_TEST(d->get(k) == devices[0]->get(k), "key " << k);
      BOOST_TEST(d->conflicts(k) == devices[0]->conflicts(k), "key " << k);
    }
  }
}

// The store's record of a file, which the test requires to exist.
LocalFile stored_file(TestDevice& device, const FileId& id) {
  Result<std::optional<LocalFile>> local = device.device().store().file(id);
  BOOST_REQUIRE(local.ok() && local->has_value());
  return **local;
}

// Waits until the time `later` stamps its writes with has passed the millisecond of `earlier`'s
// head of `key`, so that a write `later` makes next is the greater head (HLC order: wall clock
// first). That time is the device's clock plus its last estimate of the server's offset (HLC-012),
// which a loaded machine can move by more than a few milliseconds.
void wait_for_a_later_millisecond(TestDevice& later, TestDevice& earlier, const std::string& key) {
  Result<ObjectView> view = earlier.device().get(key);
  BOOST_REQUIRE(view.ok() && view->winner() != nullptr);
  const int64_t written_ms = static_cast<int64_t>(view->winner()->hlc.wall_ms);
  Result<SyncMeta> meta = later.device().store().meta();
  BOOST_REQUIRE(meta.ok());
  const int64_t offset_ms = meta->clock_offset_ms;
  wait_until([&] { return static_cast<int64_t>(later.now_ms()) + offset_ms > written_ms; },
             "a millisecond after " + key + "'s write", opsync::testing::kConditionDeadline,
             std::chrono::milliseconds(1));
}

uint64_t server_head_seq(const ServerProcess& server, TestDevice& device) {
  httplib::Client client("127.0.0.1", server.port());
  const std::string path = "/v1/workspaces/" +
                           to_base64url(device.device().store().binding().workspace_id) +
                           "/ops?limit=1";
  auto answer = client.Get(path, {{"Authorization", "Bearer " + device.device().token()}});
  BOOST_REQUIRE(answer && answer->status == 200);
  return parse_message<OpsPageResponse>(answer->body)->head_seq;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(converge)

BOOST_AUTO_TEST_CASE(two_devices_editing_the_same_keys_offline_converge_with_visible_conflicts) {
  Workspace w;
  auto b = w.join();
  // Offline, both write: some keys on one side only, some on both (concurrent), one deleted.
  w.owner.put("shared", "from owner");
  w.owner.put("owner-only", "1");
  w.owner.put("doomed", "x");
  b->put("shared", "from b");
  b->put("b-only", "2");
  w.owner.sync_ok();
  const SyncReport rb = b->sync_ok();
  BOOST_TEST(rb.ops_applied == 3u);
  BOOST_TEST(rb.ops_uploaded == 2u);
  w.owner.sync_ok();
  require_converged({&w.owner, b.get()});
  // A concurrent write is a conflict on both sides, never a silent loss (LWW-014).
  BOOST_TEST(w.owner.conflicts("shared") == 1u);
  // A write made after seeing both resolves it everywhere (LWW-011).
  b->put("shared", "resolved");
  b->remove("doomed");
  b->sync_ok();
  w.owner.sync_ok();
  require_converged({&w.owner, b.get()});
  BOOST_TEST(w.owner.get("shared") == std::string("resolved"));
  BOOST_TEST(w.owner.conflicts("shared") == 0u);
  BOOST_TEST(w.owner.get("doomed") == kAbsent);
  BOOST_TEST(server_head_seq(w.server, w.owner) == 7u);  // every op once, none twice
}

BOOST_AUTO_TEST_CASE(three_devices_with_interleaved_offline_edits_converge) {
  Workspace w;
  auto b = w.join();
  auto c = w.join();
  std::vector<TestDevice*> all = {&w.owner, b.get(), c.get()};
  SystemRandom random;
  // Rounds of offline edits over a small key space, each device syncing in a shuffled order.
  for (int round = 0; round < 5; ++round) {
    for (TestDevice* d : all)
      for (int i = 0; i < 4; ++i) {
        const std::string key = "k" + std::to_string(random.below(6));
        if (random.below(5) == 0 && d->get(key) != kAbsent)
          d->remove(key);
        else
          d->put(key, "r" + std::to_string(round) + "-" + std::to_string(random.below(1000)));
      }
    for (size_t i = 0; i < all.size(); ++i) std::swap(all[i], all[random.below(all.size())]);
    for (TestDevice* d : all) d->sync_ok();
  }
  for (TestDevice* d : all) d->sync_ok();  // a quiet round: everyone sees everything
  require_converged(all);
  BOOST_TEST(server_head_seq(w.server, w.owner) == 3u * 5 * 4);
}

BOOST_AUTO_TEST_CASE(a_lost_upload_answer_is_retried_and_counted_once) {
  Workspace w;
  for (int i = 0; i < 10; ++i) w.owner.put("k" + std::to_string(i), "v");
  auto real = TestDevice::connect(w.server.url());
  bool lose_next_upload = true;
  LosingTransport losing(*real, [&](const HttpRequest& r) {
    const bool lose = lose_next_upload && r.method == "POST" && r.target.ends_with("/ops");
    if (lose) lose_next_upload = false;
    return lose;
  });
  const SyncReport report = w.owner.sync_ok(&losing);
  BOOST_TEST(losing.lost == 1);
  BOOST_TEST(report.ops_uploaded == 10u);
  BOOST_TEST(*w.owner.device().store().pending_count() == 0u);
  BOOST_TEST(server_head_seq(w.server, w.owner) == 10u);  // the retry was a duplicate, not new ops
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(join)

BOOST_AUTO_TEST_CASE(a_new_device_joins_and_gets_everything_without_the_password_again) {
  Workspace w;
  for (int i = 0; i < 300; ++i)
    w.owner.put("note/" + std::to_string(i), "text " + std::to_string(i));
  w.owner.sync_ok();
  auto b = w.join();
  b->set_page_ops_max(64);  // five pages, each applied while the next one travels
  const SyncReport report = b->sync_ok();
  BOOST_TEST(report.ops_applied == 300u);
  BOOST_TEST(report.requests >= 5u);
  // The directory holds plaintext and the data key: its owner's alone.
  using std::filesystem::perms;
  BOOST_CHECK((std::filesystem::status(b->dir()).permissions() & perms::all) == perms::owner_all);
  BOOST_CHECK((std::filesystem::status(b->dir() / "device.json").permissions() & perms::all) ==
              (perms::owner_read | perms::owner_write));
  require_converged({&w.owner, b.get()});
  // The key stays on the device: a reopened device reads and writes without secrets.
  b->reopen();
  b->put("note/new", "from b");
  b->sync_ok();
  w.owner.sync_ok();
  BOOST_TEST(w.owner.get("note/new") == std::string("from b"));
}

BOOST_AUTO_TEST_CASE(a_wrong_password_or_passphrase_is_a_clear_error_and_leaves_no_device) {
  Workspace w;
  Result<TokenIssued> token = w.owner.invite();
  BOOST_REQUIRE(token.ok());
  const WorkspaceId ws = w.owner.device().store().binding().workspace_id;
  TestDevice b(w.scratch.path() / "b");
  Status wrong_password =
      b.join(w.server.url(), ws, token->token, w.passphrase, "not the password");
  BOOST_REQUIRE(!wrong_password.ok());
  BOOST_TEST(wrong_password.error().code == Code::kWrongPassword);
  Status wrong_phrase = b.join(w.server.url(), ws, token->token, "AAAA-BBBB", kPassword);
  BOOST_REQUIRE(!wrong_phrase.ok());
  BOOST_TEST(wrong_phrase.error().code == Code::kWrongPassword);
  BOOST_TEST(!std::filesystem::exists(b.dir() / "state.sqlite3"));
  BOOST_TEST(b.join(w.server.url(), ws, token->token, w.passphrase).ok());  // and then it works
}

BOOST_AUTO_TEST_CASE(a_changed_password_rewraps_the_key_for_new_devices) {
  Workspace w;
  auto transport = TestDevice::connect(w.server.url());
  Status changed = w.owner.device().change_password(
      kPassword, "new password", w.passphrase, *transport, w.owner.random(), kTestKdfIterations);
  BOOST_REQUIRE_MESSAGE(changed.ok(), (changed.ok() ? "" : changed.error().to_string()));
  Result<TokenIssued> token = w.owner.invite();
  const WorkspaceId ws = w.owner.device().store().binding().workspace_id;
  TestDevice old_password(w.scratch.path() / "old");
  BOOST_TEST(old_password.join(w.server.url(), ws, token->token, w.passphrase).error().code ==
             Code::kWrongPassword);
  TestDevice new_password(w.scratch.path() / "new");
  BOOST_TEST(
      new_password.join(w.server.url(), ws, token->token, w.passphrase, "new password").ok());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(clocks)

BOOST_AUTO_TEST_CASE(a_write_made_after_seeing_another_wins_whatever_the_clocks) {
  Workspace w;
  auto ahead = w.join(+kHourMs);
  auto behind = w.join(-kDayMs);
  // The device an hour ahead writes offline; the server rejects its stamp (clock_skew) and it
  // re-stamps on the server's time (HLC-020).
  ahead->put("doc", "written ahead");
  const SyncReport first = ahead->sync_ok();
  BOOST_TEST(first.ops_restamped == 1u);
  BOOST_TEST(*ahead->device().store().pending_count() == 0u);
  // The device a day behind sees that write, then overwrites it: its write must win although its
  // clock reads a day earlier (HLC-002).
  behind->sync_ok();
  BOOST_TEST(behind->get("doc") == std::string("written ahead"));
  behind->put("doc", "written behind, after seeing");
  behind->sync_ok();
  ahead->sync_ok();
  w.owner.sync_ok();
  for (TestDevice* d : {ahead.get(), behind.get(), &w.owner}) {
    BOOST_TEST(d->get("doc") == std::string("written behind, after seeing"));
    BOOST_TEST(d->conflicts("doc") == 0u);
  }
  // And the other way round: the device ahead overwrites after seeing.
  ahead->put("doc", "ahead again, after seeing");
  ahead->sync_ok();
  behind->sync_ok();
  BOOST_TEST(behind->get("doc") == std::string("ahead again, after seeing"));
  // The offset estimate is the server's view of each clock (HLC-010), within a second.
  BOOST_TEST(std::abs(ahead->device().store().meta()->clock_offset_ms + kHourMs) < 1000);
  BOOST_TEST(std::abs(behind->device().store().meta()->clock_offset_ms - kDayMs) < 1000);
}

BOOST_AUTO_TEST_CASE(writes_made_without_seeing_each_other_stay_visible_as_a_conflict) {
  Workspace w;
  auto ahead = w.join(+kHourMs);
  auto behind = w.join(-kDayMs);
  ahead->sync_ok();
  behind->sync_ok();  // both have measured their offsets
  ahead->put("doc", "a");
  behind->put("doc", "b");
  ahead->sync_ok();
  behind->sync_ok();
  ahead->sync_ok();
  require_converged({ahead.get(), behind.get()});
  BOOST_TEST(ahead->conflicts("doc") == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(restore)

BOOST_AUTO_TEST_CASE(after_a_restore_from_an_old_copy_the_devices_upload_what_the_server_lost) {
  Workspace w;
  auto b = w.join();
  for (int i = 0; i < 300; ++i) w.owner.put("early/" + std::to_string(i), "v");
  w.owner.sync_ok();
  b->sync_ok();
  // The operator's backup.
  w.server.stop();
  const std::filesystem::path backup = w.scratch.path() / "backup";
  std::filesystem::copy(w.server.data_dir(), backup, std::filesystem::copy_options::recursive);
  w.server.start();
  for (int i = 0; i < 200; ++i) w.owner.put("late/owner/" + std::to_string(i), "v");
  for (int i = 0; i < 100; ++i) b->put("late/b/" + std::to_string(i), "v");
  w.owner.sync_ok();
  b->sync_ok();  // b holds all 600; the owner has not seen b's 100 yet
  BOOST_TEST(server_head_seq(w.server, w.owner) == 600u);
  // The disk is lost; the backup comes back.
  w.server.stop();
  std::filesystem::remove_all(w.server.data_dir());
  std::filesystem::copy(backup, w.server.data_dir(), std::filesystem::copy_options::recursive);
  w.server.start();
  BOOST_TEST(server_head_seq(w.server, w.owner) == 300u);
  // Each device finds the divergence and re-uploads what it holds and the server lacks (SYNC-005).
  const SyncReport owner_report = w.owner.sync_ok();
  BOOST_TEST(owner_report.diverged);
  BOOST_TEST(owner_report.verified_prefix <= 300u);
  BOOST_TEST(owner_report.ops_uploaded == 200u);  // its own late operations
  const SyncReport b_report = b->sync_ok();
  BOOST_TEST(b_report.diverged);              // its mirror ran to 600, the server's log to 500
  BOOST_TEST(b_report.ops_uploaded == 100u);  // only what nobody else had re-uploaded
  w.owner.sync_ok();
  BOOST_TEST(server_head_seq(w.server, w.owner) == 600u);
  require_converged({&w.owner, b.get()});
  BOOST_TEST(w.owner.keys().size() == 600u);
  // A device that joins now gets everything from the restored server.
  auto c = w.join();
  c->sync_ok();
  require_converged({&w.owner, b.get(), c.get()});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(auth)

BOOST_AUTO_TEST_CASE(a_revoked_token_stops_syncing_with_token_revoked) {
  Workspace w;
  Result<TokenIssued> token = w.owner.invite();
  BOOST_REQUIRE(token.ok());
  TestDevice b(w.scratch.path() / "b");
  BOOST_REQUIRE(b.join(w.server.url(), w.owner.device().store().binding().workspace_id,
                       token->token, w.passphrase)
                    .ok());
  b.sync_ok();
  httplib::Client client("127.0.0.1", w.server.port());
  const std::string path = "/v1/workspaces/" +
                           to_base64url(w.owner.device().store().binding().workspace_id) +
                           "/tokens/" + to_base64url(token->token_id);
  auto revoked = client.Delete(path, {{"Authorization", "Bearer " + w.owner.device().token()}});
  BOOST_REQUIRE(revoked && revoked->status == 200);
  b.put("k", "v");
  std::optional<Error> error = b.sync();
  BOOST_REQUIRE(error.has_value());
  BOOST_TEST(error->code == Code::kTokenRevoked);
  BOOST_TEST(*b.device().store().pending_count() == 1u);  // the edit is kept for a later sync
}

BOOST_AUTO_TEST_CASE(a_read_only_device_reads_but_its_writes_are_refused) {
  Workspace w;
  w.owner.put("k", "owner");
  w.owner.sync_ok();
  auto reader = w.join(0, Scope::kRead);
  reader->sync_ok();
  BOOST_TEST(reader->get("k") == std::string("owner"));
  reader->put("k", "reader");
  std::optional<Error> error = reader->sync();
  BOOST_REQUIRE(error.has_value());
  BOOST_TEST(error->code == Code::kInsufficientScope);
  BOOST_TEST(server_head_seq(w.server, w.owner) == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(files)

namespace {

// A file of `size` pseudo-random bytes.
std::filesystem::path make_file(const std::filesystem::path& path, size_t size, uint64_t seed) {
  SeededRandom random(seed);
  std::ofstream out(path, std::ios::binary);
  const Bytes bytes = random.bytes(size);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  return path;
}

std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Loses every answer to requests matching `what` after the first `allowed` of them, so a sync
// stops partway through a transfer (its retries fail too).
struct CutAfter {
  std::string what;
  int allowed;
  int seen = 0;
  bool operator()(const HttpRequest& r) {
    return r.target.find(what) != std::string::npos && ++seen > allowed;
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(an_attached_file_travels_to_another_device_and_exports_byte_for_byte) {
  Workspace w;
  auto b = w.join();
  const auto source = make_file(w.scratch.path() / "photo.jpg", 3'500'000, 1);
  const auto empty = make_file(w.scratch.path() / "empty.txt", 0, 2);
  w.owner.put("album", "holiday");
  BOOST_REQUIRE(w.owner.device().attach("album", source, w.owner.now_ms(), w.owner.random()).ok());
  BOOST_REQUIRE(w.owner.device().attach("album", empty, w.owner.now_ms(), w.owner.random()).ok());
  const SyncReport up = w.owner.sync_ok();
  BOOST_TEST(up.files_uploaded == 2u);
  BOOST_TEST(up.chunks_uploaded == 4u + 1u);  // 1 MiB chunks, and one empty chunk
  const SyncReport down = b->sync_ok();
  BOOST_TEST(down.files_downloaded == 2u);
  BOOST_TEST(b->get("album") == "holiday");
  Result<std::vector<FileRef>> missing =
      b->device().export_files("album", w.scratch.path() / "out");
  BOOST_REQUIRE(missing.ok());
  BOOST_TEST(missing->empty());
  BOOST_TEST(read_all(w.scratch.path() / "out" / "photo.jpg") == read_all(source));
  BOOST_TEST(std::filesystem::file_size(w.scratch.path() / "out" / "empty.txt") == 0u);
  // Nothing moves the second time.
  const SyncReport again = b->sync_ok();
  BOOST_TEST(again.chunks_downloaded + again.chunks_uploaded == 0u);
}

BOOST_AUTO_TEST_CASE(interrupted_transfers_resume_with_the_chunks_that_are_left) {
  Workspace w;
  auto b = w.join();
  const auto source = make_file(w.scratch.path() / "big.bin", 6 * 1048576 + 5, 3);  // 7 chunks
  BOOST_REQUIRE(w.owner.device().attach("big", source, w.owner.now_ms(), w.owner.random()).ok());
  // The upload stops after 3 chunks.
  auto real = TestDevice::connect(w.server.url());
  CutAfter cut_upload{"/chunks/", 3};
  LosingTransport losing_upload(*real, std::ref(cut_upload));
  BOOST_REQUIRE(w.owner.sync(nullptr, &losing_upload).has_value());
  const SyncReport resumed_up = w.owner.sync_ok();
  // The server stored the 4th chunk too (only its answer was lost), so 3 of 7 are missing, and
  // only those move (FILE-031).
  BOOST_TEST(resumed_up.chunks_uploaded == 3u);
  BOOST_TEST(resumed_up.files_uploaded == 1u);
  // The download stops after 2 chunks, then resumes.
  CutAfter cut_download{"/chunks/", 2};
  LosingTransport losing_download(*real, std::ref(cut_download));
  BOOST_REQUIRE(b->sync(nullptr, &losing_download).has_value());
  const SyncReport resumed_down = b->sync_ok();
  BOOST_TEST(resumed_down.chunks_downloaded == 5u);
  BOOST_TEST(resumed_down.files_downloaded == 1u);
  BOOST_REQUIRE(b->device().export_files("big", w.scratch.path() / "out")->empty());
  BOOST_TEST(read_all(w.scratch.path() / "out" / "big.bin") == read_all(source));
}

BOOST_AUTO_TEST_CASE(a_file_the_server_lost_is_uploaded_again_despite_the_upload_flag) {
  Workspace w;
  w.owner.sync_ok();
  w.server.stop();
  const std::filesystem::path backup = w.scratch.path() / "backup";
  std::filesystem::copy(w.server.data_dir(), backup, std::filesystem::copy_options::recursive);
  w.server.start();
  const auto source = make_file(w.scratch.path() / "doc.pdf", 100'000, 4);
  BOOST_REQUIRE(w.owner.device().attach("doc", source, w.owner.now_ms(), w.owner.random()).ok());
  BOOST_TEST(w.owner.sync_ok().files_uploaded == 1u);
  w.server.stop();
  std::filesystem::remove_all(w.server.data_dir());
  std::filesystem::copy(backup, w.server.data_dir(), std::filesystem::copy_options::recursive);
  w.server.start();
  const SyncReport report = w.owner.sync_ok();  // FILE-030: the server's state decides
  BOOST_TEST(report.files_uploaded == 1u);
  auto b = w.join();
  BOOST_TEST(b->sync_ok().files_downloaded == 1u);
}

BOOST_AUTO_TEST_CASE(
    a_file_no_head_references_is_deleted_on_the_server_and_its_copy_kept_for_the_retention_time) {
  Workspace w;
  auto b = w.join();
  const auto source = make_file(w.scratch.path() / "old.bin", 2000, 6);
  Result<FileRef> ref = w.owner.device().attach("k", source, w.owner.now_ms(), w.owner.random());
  BOOST_REQUIRE(ref.ok());
  w.owner.sync_ok();
  b->sync_ok();
  BOOST_REQUIRE(std::filesystem::exists(b->device().store().file_path(ref->id)));
  const std::string status_path = "/v1/workspaces/" +
                                  to_base64url(w.owner.device().store().binding().workspace_id) +
                                  "/files/" + to_base64url(ref->id);
  auto server_state = [&] {
    httplib::Client client("127.0.0.1", w.server.port());
    auto answer =
        client.Get(status_path, {{"Authorization", "Bearer " + w.owner.device().token()}});
    BOOST_REQUIRE(answer);
    return answer->status == 200 ? parse_message<FileStatus>(answer->body)->state
                                 : FileState::kAbsent;
  };
  BOOST_TEST(file_state_name(server_state()) == "committed");
  // b writes the object again (keeping its file) while the owner deletes it: concurrent edits.
  b->put("k", "b keeps it");
  // A later millisecond: the delete is the greater head, so the key is absent where both are seen.
  wait_for_a_later_millisecond(w.owner, *b, "k");
  w.owner.remove("k");
  // The owner's delete leaves the file referenced by no head it holds (FILE-022); the owner keeps
  // its copy for the retention time (FILE-040).
  const SyncReport report = w.owner.sync_ok();
  BOOST_TEST(report.files_deleted == 1u);
  BOOST_TEST(std::filesystem::exists(w.owner.device().store().file_path(ref->id)));
  BOOST_TEST(stored_file(w.owner, ref->id).unreferenced_since_ms.has_value());
  BOOST_TEST(file_state_name(server_state()) == "deleted");
  // b still references it (its put is a head beside the delete): it restores it on the server.
  const SyncReport restored = b->sync_ok();
  BOOST_TEST(restored.files_deleted == 0u);
  BOOST_TEST(b->conflicts("k") == 1u);
  BOOST_TEST(std::filesystem::exists(b->device().store().file_path(ref->id)));
  BOOST_TEST(file_state_name(server_state()) == "committed");
  // The owner sees the conflict, so the file is referenced again there: its kept copy serves.
  BOOST_TEST(w.owner.sync_ok().files_downloaded == 0u);
  BOOST_TEST(std::filesystem::exists(w.owner.device().store().file_path(ref->id)));
  BOOST_TEST(!stored_file(w.owner, ref->id).unreferenced_since_ms.has_value());
  // Once a write resolves the conflict without the file, both devices drop it.
  BOOST_REQUIRE(w.owner.get("k") == kAbsent);  // the delete won
  w.owner.put("k", "resolved");  // a put keeps the winner's files: the delete has none
  BOOST_TEST(w.owner.sync_ok().files_deleted == 1u);
  BOOST_TEST(b->sync_ok().files_deleted == 1u);
  BOOST_TEST(stored_file(*b, ref->id).unreferenced_since_ms.has_value());
  BOOST_TEST(file_state_name(server_state()) == "deleted");
  // Within the retention time (a month on this server) the next syncs keep the copies and send
  // no DELETE again.
  const SyncReport quiet = b->sync_ok();
  BOOST_TEST(quiet.files_deleted == 0u);
  BOOST_TEST(quiet.files_expired == 0u);
  BOOST_TEST(std::filesystem::exists(b->device().store().file_path(ref->id)));
}

// FILE-040, found by the simulator (simulator/scenarios/regression-swarm-8341-...): the server is
// restored from a backup older than a file that every device holding a copy had deleted, and a
// device that never held a copy wrote a reference to it concurrently with the deletion. The copy
// the deleting device kept is the only one left; it is uploaded when the reference comes back.
// The companion run removes that copy with the DELETE, as the client did before FILE-040: the
// file is then missing everywhere.
BOOST_AUTO_TEST_CASE(
    a_file_deleted_before_a_restore_comes_back_from_a_kept_copy_when_referenced_again) {
  for (const bool keep_copies : {true, false}) {
    BOOST_TEST_CONTEXT("copies kept: " << keep_copies) {
      Workspace w;
      auto b = w.join();
      w.owner.sync_ok();
      w.server.stop();
      const std::filesystem::path backup = w.scratch.path() / "backup";
      std::filesystem::copy(w.server.data_dir(), backup, std::filesystem::copy_options::recursive);
      w.server.start();
      const auto source = make_file(w.scratch.path() / "photo.bin", 5000, 9);
      Result<FileRef> ref =
          w.owner.device().attach("k", source, w.owner.now_ms(), w.owner.random());
      BOOST_REQUIRE(ref.ok());
      w.owner.sync_ok();
      b->sync_ok();
      // b loses its copy (as a device killed mid-download would never have had it), then writes
      // the key, carrying the file reference forward, before it sees any delete.
      BOOST_REQUIRE(b->device().store().blobs().remove(ref->id, BlobKind::kCopy).ok());
      b->put("k", "b's edit");
      wait_for_a_later_millisecond(w.owner, *b, "k");  // the delete is the greater head
      w.owner.remove("k");
      BOOST_TEST(w.owner.sync_ok().files_deleted == 1u);
      if (!keep_copies) {
        LocalStore& store = w.owner.device().store();
        BOOST_REQUIRE(store.set_local_copy(ref->id, false).ok());
        BOOST_REQUIRE(store.blobs().remove(ref->id, BlobKind::kCopy).ok());
        BOOST_REQUIRE(store.forget_file(ref->id).ok());
      }
      // The disk is lost; the backup from before the attach comes back.
      w.server.stop();
      std::filesystem::remove_all(w.server.data_dir());
      std::filesystem::copy(backup, w.server.data_dir(), std::filesystem::copy_options::recursive);
      w.server.start();
      BOOST_TEST(w.owner.sync_ok().diverged);
      // b's write comes in beside the owner's delete: a head references the file again.
      b->sync_ok();
      BOOST_TEST(b->conflicts("k") == 1u);
      const SyncReport owner = w.owner.sync_ok();
      BOOST_TEST(owner.files_uploaded == (keep_copies ? 1u : 0u));
      const SyncReport fetched = b->sync_ok();
      if (keep_copies) {
        BOOST_TEST(fetched.files_downloaded == 1u);
        BOOST_TEST(fetched.files_pending == 0u);
        BOOST_TEST(std::filesystem::exists(b->device().store().file_path(ref->id)));
      } else {
        BOOST_TEST(fetched.files_pending == 1u);  // missing: no copy exists anywhere
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(a_file_whose_copy_was_lost_before_upload_does_not_hold_back_the_edits) {
  Workspace w;
  auto b = w.join();
  const auto source = make_file(w.scratch.path() / "gone.bin", 3000, 7);
  Result<FileRef> ref = w.owner.device().attach("k", source, w.owner.now_ms(), w.owner.random());
  BOOST_REQUIRE(ref.ok());
  w.owner.put("other", "edit");
  std::filesystem::remove(w.owner.device().store().file_path(ref->id));  // the user deleted it
  // FILE-021's exception: the upload cannot finish, so the operations go ahead anyway.
  const SyncReport report = w.owner.sync_ok();
  BOOST_TEST(report.ops_uploaded == 2u);
  BOOST_TEST(report.files_uploaded == 0u);
  BOOST_TEST(report.files_pending == 1u);
  const SyncReport seen = b->sync_ok();
  BOOST_TEST(seen.ops_applied == 2u);
  BOOST_TEST(seen.files_pending == 1u);  // missing everywhere until someone uploads it
  Result<std::vector<FileRef>> missing = b->device().export_files("k", w.scratch.path() / "out");
  BOOST_REQUIRE(missing.ok());
  BOOST_TEST(missing->size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_file_nobody_uploaded_yet_is_pending_not_an_error) {
  Workspace w;
  auto b = w.join();
  const auto source = make_file(w.scratch.path() / "later.bin", 1000, 5);
  BOOST_REQUIRE(w.owner.device().attach("k", source, w.owner.now_ms(), w.owner.random()).ok());
  // The owner's file upload is cut entirely; FILE-021 lets the operation go ahead only once the
  // upload cannot finish, so here the whole sync stops and b sees nothing yet.
  auto real = TestDevice::connect(w.server.url());
  CutAfter cut{"/files/", 0};
  LosingTransport losing(*real, std::ref(cut));
  BOOST_TEST(w.owner.sync(nullptr, &losing).has_value());
  BOOST_TEST(b->sync_ok().ops_applied == 0u);
  w.owner.sync_ok();
  const SyncReport report = b->sync_ok();
  BOOST_TEST(report.ops_applied == 1u);
  BOOST_TEST(report.files_downloaded == 1u);
  BOOST_TEST(report.files_pending == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
