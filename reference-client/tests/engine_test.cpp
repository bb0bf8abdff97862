// The sync engine on its own, without a network: scripted responses and injected time show the
// backoff of SYNC-010, the retry of the same request (SYNC-008), that a malformed or
// contradictory server answer ends the sync with an error instead of a loop or a bad write, and
// that a page is applied while the next one is requested, with the same result whenever the
// driver lets that work happen.
#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include "client_test_support.h"
#include "opsync/client/engine.h"
#include "opsync/protocol/blocks.h"
#include "opsync/protocol/messages.h"

using namespace opsync;
using namespace opsync::client;
using opsync::client::testing::must;

namespace {

struct EngineFixture {
  opsync::client::testing::TempDir dir;
  SeededRandom random{42};
  std::unique_ptr<LocalStore> store;
  Keyring keys;

  EngineFixture() {
    StoreOptions options;
    options.durability = Durability::kProcess;
    WorkspaceBinding binding{"http://127.0.0.1:1", random.id(), random.id(), 4};
    store = std::move(LocalStore::create(dir.path(), binding, "opsync_token", options).value());
    keys.keys.emplace(1, derive_subkeys(SecretKey::random(random)));
  }

  static HttpResponse json(int status, const std::string& body,
                           uint64_t server_ms = 1'764'000'000'000) {
    HttpResponse r;
    r.status = status;
    r.body = body;
    r.headers["opsync-server-time-ms"] = std::to_string(server_ms);
    return r;
  }
  static std::string info_body() {
    InfoResponse info;
    info.versions = {1};
    info.server = {"scripted", "0"};
    info.max_clock_skew_ms = 60000;
    info.block_size = 4;
    info.limits = kReferenceLimits;
    info.server_time_ms = 1'764'000'000'000;
    info.upload_expiry_ms = 604'800'000;
    info.file_retention_ms = 2'592'000'000;
    BOOST_REQUIRE(parse_message<InfoResponse>(serialize_message(info)).ok());
    return serialize_message(info);
  }
};

const SendRequest& expect_send(const SyncStep& step) {
  BOOST_REQUIRE_MESSAGE(std::holds_alternative<SendRequest>(step), "expected a request");
  return std::get<SendRequest>(step);
}

// A server's log of sealed operations, one key each, served in pages as GET /ops answers them.
struct ScriptedLog {
  std::vector<SequencedOp> ops;
  std::vector<Hash> op_hashes;

  ScriptedLog(const EngineFixture& f, SeededRandom& random, uint64_t count) {
    for (uint64_t seq = 1; seq <= count; ++seq) {
      ObjectPayload payload;
      payload.type = OpType::kPut;
      payload.key = "k" + std::to_string(seq);
      payload.value = to_bytes("v" + std::to_string(seq));
      WireOp op;
      op.id = random.id();
      op.device_id = random.id();
      op.hlc = Hlc{1'764'000'000'000, static_cast<uint32_t>(seq)};
      op.key_id = 1;
      seal_op_payload(f.keys.current().op_key, op, serialize_payload(payload), random);
      op_hashes.push_back(op_hash(op));
      ops.push_back(SequencedOp{seq, std::move(op)});
    }
  }

  // The page after `after_seq` of at most `limit` operations.
  std::string page(uint64_t after_seq, uint64_t limit, uint32_t block_size = 4) const {
    OpsPageResponse page;
    page.after_seq = after_seq;
    page.head_seq = ops.size();
    const std::vector<Hash> blocks = compute_block_hashes(op_hashes, block_size);
    page.after_hash = prefix_hash(blocks, op_hashes, after_seq, block_size);
    const uint64_t end = std::min<uint64_t>(ops.size(), after_seq + limit);
    page.ops.assign(ops.begin() + static_cast<std::ptrdiff_t>(after_seq),
                    ops.begin() + static_cast<std::ptrdiff_t>(end));
    if (end < ops.size()) page.next_after_seq = end;
    return serialize_message(page);
  }
};

constexpr uint64_t kNow = 1'764'000'000'000;

// Both of the device's clocks at `ms`: these tests move the two apart only where they say so.
constexpr DeviceTime at(uint64_t ms) { return DeviceTime::same(ms); }

// A sync of a scripted log read in pages of 4, past its info exchange: the engine's next step is
// the first page's request.
struct PagedSync {
  EngineFixture fixture;
  SeededRandom random;
  ScriptedLog log;
  SyncEngine engine;

  PagedSync(uint64_t seed, uint64_t ops)
      : random(seed),
        log(fixture, random, ops),
        engine(*fixture.store, fixture.keys, fixture.random, small_pages()) {
    expect_send(engine.next(at(kNow)));
    answer(EngineFixture::info_body());
  }
  static SyncOptions small_pages() {
    SyncOptions options;
    options.page_ops_max = 4;
    return options;
  }
  void answer(const std::string& body) {
    engine.on_response(EngineFixture::json(200, body), at(kNow));
  }
  LocalStore& store() { return *fixture.store; }
};

uint64_t after_seq_of(const HttpRequest& request) {
  const size_t at = request.target.find("after_seq=");
  BOOST_REQUIRE(at != std::string::npos);
  return std::stoull(request.target.substr(at + 10));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(engine)

BOOST_AUTO_TEST_CASE(backoff_doubles_from_one_second_and_stops_at_64) {
  const std::vector<uint64_t> expected = {1000,  2000,  4000,  8000, 16000,
                                          32000, 64000, 64000, 64000};
  for (uint32_t attempt = 0; attempt < expected.size(); ++attempt)
    BOOST_TEST(backoff_ms(attempt, 1000, 64000) == expected[attempt]);
  BOOST_TEST(backoff_ms(200, 1000, 64000) == 64000u);  // no overflow for any attempt
}

BOOST_AUTO_TEST_CASE(transport_failures_retry_the_same_request_after_backoff_then_give_up) {
  EngineFixture f;
  SyncOptions options;
  options.transport_attempts_max = 4;
  SyncEngine engine(*f.store, f.keys, f.random, options);
  uint64_t now = 1'000'000;
  const HttpRequest first = expect_send(engine.next(at(now))).request;
  BOOST_TEST(first.target == "/v1/info");
  std::vector<uint64_t> waits;
  for (int failure = 0; failure < 3; ++failure) {
    engine.on_transport_failure("connection refused", at(now));
    const SyncStep step = engine.next(at(now));
    BOOST_REQUIRE(std::holds_alternative<WaitUntil>(step));
    waits.push_back(std::get<WaitUntil>(step).until_monotonic_ms - now);
    // Asking early changes nothing; at the time, the same request goes again.
    BOOST_REQUIRE(std::holds_alternative<WaitUntil>(engine.next(at(now + 1))));
    now = std::get<WaitUntil>(step).until_monotonic_ms;
    const HttpRequest again = expect_send(engine.next(at(now))).request;
    BOOST_TEST(again.target == first.target);
    BOOST_TEST(again.method == first.method);
  }
  BOOST_TEST(waits == (std::vector<uint64_t>{1000, 2000, 4000}));
  engine.on_transport_failure("connection refused", at(now));
  const SyncStep last = engine.next(at(now));
  BOOST_REQUIRE(std::holds_alternative<SyncFinished>(last));
  BOOST_REQUIRE(std::get<SyncFinished>(last).error.has_value());
  BOOST_TEST(std::get<SyncFinished>(last).error->code == Code::kTransport);
}

// Waits are on the monotonic clock (SYNC-020). Found by the simulator: a device whose wall clock
// stepped back 47 minutes during a one-second backoff waited 47 minutes, and one whose wall clock
// stood still for 10 minutes waited 10 minutes, because the retry time was a wall clock reading.
struct BackoffOnTwoClocks {
  EngineFixture f;
  SyncEngine engine{*f.store, f.keys, f.random};
  DeviceTime now{1'764'000'000'000, 5'000};  // the monotonic clock counts from the device's boot

  // One failure: the engine asks to wait one second of the monotonic clock.
  BackoffOnTwoClocks() {
    expect_send(engine.next(now));
    engine.on_transport_failure("connection refused", now);
    BOOST_TEST(std::get<WaitUntil>(engine.next(now)).until_monotonic_ms == now.monotonic_ms + 1000);
  }
  // Both clocks move `elapsed_ms`, then the wall clock moves `wall_jump_ms` more (or stands still).
  void pass(uint64_t elapsed_ms, int64_t wall_jump_ms, bool wall_frozen = false) {
    now.monotonic_ms += elapsed_ms;
    if (!wall_frozen) now.wall_ms += elapsed_ms;
    now.wall_ms = static_cast<uint64_t>(static_cast<int64_t>(now.wall_ms) + wall_jump_ms);
  }
};

BOOST_AUTO_TEST_CASE(a_wall_clock_that_steps_back_during_a_backoff_does_not_stretch_it) {
  BackoffOnTwoClocks b;
  b.pass(400, -47 * 60 * 1000);
  BOOST_TEST(std::get<WaitUntil>(b.engine.next(b.now)).until_monotonic_ms ==
             b.now.monotonic_ms + 600);
  b.pass(600, 0);
  expect_send(b.engine.next(b.now));
}

BOOST_AUTO_TEST_CASE(a_wall_clock_that_stands_still_during_a_backoff_does_not_stretch_it) {
  BackoffOnTwoClocks b;
  const uint64_t wall_before = b.now.wall_ms;
  b.pass(1000, 0, /*wall_frozen=*/true);  // one second later the wall clock still reads the same
  BOOST_TEST(b.now.wall_ms == wall_before);
  expect_send(b.engine.next(b.now));
}

BOOST_AUTO_TEST_CASE(a_wall_clock_that_steps_forward_during_a_backoff_does_not_cut_it) {
  BackoffOnTwoClocks b;
  b.pass(400, 60 * 60 * 1000);
  BOOST_TEST(std::holds_alternative<WaitUntil>(b.engine.next(b.now)));
  b.pass(600, 0);
  expect_send(b.engine.next(b.now));
}

BOOST_AUTO_TEST_CASE(the_round_trip_of_the_offset_estimate_is_measured_on_the_monotonic_clock) {
  // The wall clock steps back an hour while /v1/info travels 100 ms: the estimate is the server's
  // time minus the wall clock's midpoint of the request as the monotonic clock places it.
  EngineFixture f;
  SyncEngine engine(*f.store, f.keys, f.random);
  const uint64_t server_ms = 1'764'000'000'000;
  DeviceTime now{server_ms + 5000, 10'000};  // the device's wall clock is 5 s ahead of the server
  expect_send(engine.next(now));
  now.monotonic_ms += 100;
  now.wall_ms = now.wall_ms + 100 - 3'600'000;  // and steps back an hour on the way
  engine.on_response(EngineFixture::json(200, EngineFixture::info_body(), server_ms + 50), now);
  // midpoint = receipt - 50 ms; offset = (server + 50) - (receipt - 50)
  BOOST_TEST(engine.report().clock_offset_ms ==
             static_cast<int64_t>(server_ms + 50) - static_cast<int64_t>(now.wall_ms - 50));
}

BOOST_AUTO_TEST_CASE(a_clock_skew_rejection_refreshes_the_offset_from_its_own_answer) {
  // Found by the simulator: a device whose clock jumped 23 minutes ahead in a sync kept the
  // offset it measured before the jump, because later answers took longer than the best one;
  // every re-stamp was rejected again until the sync gave up.
  EngineFixture f;
  ObjectPayload payload;
  payload.key = "k";
  payload.value = to_bytes("v");
  WireOp op;
  op.id = f.random.id();
  op.device_id = f.store->binding().device_id;
  const uint64_t server_ms = 1'764'000'000'000;
  const uint64_t jump_ms = 23 * 60 * 1000;
  op.hlc = Hlc{server_ms + jump_ms, 0};  // stamped after the jump, with the old offset of 0
  seal_op_payload(f.keys.current().op_key, op, serialize_payload(payload), f.random);
  must(f.store->commit_local_edit(
      LocalStore::LocalEdit{op, ObjectOp{op.id, op.hlc, payload}, {}, op.hlc}));

  SyncEngine engine(*f.store, f.keys, f.random);
  uint64_t now = server_ms;  // the device's clock, on time at first: the best round trip is 0
  expect_send(engine.next(at(now)));
  engine.on_response(EngineFixture::json(200, EngineFixture::info_body(), server_ms), at(now));
  expect_send(engine.next(at(now)));
  OpsPageResponse empty;
  engine.on_response(EngineFixture::json(200, serialize_message(empty), server_ms), at(now));
  now += jump_ms;  // the device's clock jumps ahead
  const HttpRequest upload = expect_send(engine.next(at(now))).request;
  BOOST_REQUIRE(upload.target.ends_with("/ops"));
  UploadOpsResponse rejected;
  OpResult result;
  result.id = op.id;
  result.status = OpStatus::kRejected;
  result.code = Code::kClockSkew;
  result.message = "ahead";
  rejected.results.push_back(result);
  engine.on_response(EngineFixture::json(200, serialize_message(rejected), server_ms + 10),
                     at(now + 20));
  // The re-stamped operation carries the server's time, not the jumped clock's.
  const HttpRequest again = expect_send(engine.next(at(now + 20))).request;
  const UploadOpsRequest sent = *parse_message<UploadOpsRequest>(again.body);
  BOOST_REQUIRE_EQUAL(sent.ops.size(), 1u);
  BOOST_TEST(sent.ops[0].hlc.wall_ms < server_ms + 60'000);
}

// HLC-020: candidates count among the accepted operations. Found by the swarm: after a restore,
// another device's operation the device held became a candidate, and the server refused it and
// the device's newer write for clock_skew; the newer write was re-stamped below the candidate,
// and lost to it once the candidate was accepted again.
BOOST_AUTO_TEST_CASE(a_restamp_goes_above_the_candidates_the_device_holds) {
  EngineFixture f;
  const uint64_t server_ms = 1'764'000'000'000;
  // Another device's operation, read at position 1, then set aside by a divergence search.
  ObjectPayload theirs_payload;
  theirs_payload.key = "k";
  theirs_payload.value = to_bytes("earlier");
  WireOp theirs;
  theirs.id = f.random.id();
  theirs.device_id = f.random.id();
  theirs.hlc = Hlc{server_ms + 55'000, 0};
  seal_op_payload(f.keys.current().op_key, theirs, serialize_payload(theirs_payload), f.random);
  const PageOp page[] = {
      PageOp{SequencedOp{1, theirs}, ObjectOp{theirs.id, theirs.hlc, theirs_payload}}};
  must(f.store->apply_page(0, page, 1, theirs.hlc));
  must(f.store->truncate_mirror(0));
  // The device's own write after it, stamped ten minutes ahead.
  ObjectPayload mine_payload;
  mine_payload.key = "k";
  mine_payload.value = to_bytes("later");
  mine_payload.bases = {theirs.id};
  WireOp mine;
  mine.id = f.random.id();
  mine.device_id = f.store->binding().device_id;
  mine.hlc = Hlc{server_ms + 600'000, 0};
  seal_op_payload(f.keys.current().op_key, mine, serialize_payload(mine_payload), f.random);
  must(f.store->commit_local_edit(
      LocalStore::LocalEdit{mine, ObjectOp{mine.id, mine.hlc, mine_payload}, {}, mine.hlc}));

  SyncEngine engine(*f.store, f.keys, f.random);
  expect_send(engine.next(at(server_ms)));
  engine.on_response(EngineFixture::json(200, EngineFixture::info_body(), server_ms),
                     at(server_ms));
  expect_send(engine.next(at(server_ms)));
  OpsPageResponse empty;
  engine.on_response(EngineFixture::json(200, serialize_message(empty), server_ms), at(server_ms));
  const UploadOpsRequest first =
      *parse_message<UploadOpsRequest>(expect_send(engine.next(at(server_ms))).request.body);
  BOOST_REQUIRE_EQUAL(first.ops.size(), 2u);  // the candidate first (SYNC-013), then the write
  UploadOpsResponse refused;
  for (const WireOp& op : first.ops) {
    OpResult result;
    result.id = op.id;
    result.status = OpStatus::kRejected;
    result.code = Code::kClockSkew;
    result.message = "ahead";
    refused.results.push_back(result);
  }
  engine.on_response(EngineFixture::json(200, serialize_message(refused), server_ms),
                     at(server_ms));
  const UploadOpsRequest again =
      *parse_message<UploadOpsRequest>(expect_send(engine.next(at(server_ms))).request.body);
  const auto restamped = std::find_if(again.ops.begin(), again.ops.end(),
                                      [&](const WireOp& op) { return op.id == mine.id; });
  BOOST_REQUIRE(restamped != again.ops.end());
  BOOST_TEST(theirs.hlc < restamped->hlc);
}

BOOST_AUTO_TEST_CASE(an_empty_page_that_promises_more_ends_the_sync_instead_of_looping) {
  EngineFixture f;
  SyncEngine engine(*f.store, f.keys, f.random);
  const uint64_t now = 1'764'000'000'000;
  expect_send(engine.next(at(now)));
  engine.on_response(EngineFixture::json(200, EngineFixture::info_body()), at(now));
  const HttpRequest page = expect_send(engine.next(at(now))).request;
  BOOST_TEST(page.target.ends_with("/ops?after_seq=0"));
  OpsPageResponse empty;
  empty.after_seq = 0;
  empty.head_seq = 5;
  empty.next_after_seq = 0;
  engine.on_response(EngineFixture::json(200, serialize_message(empty)), at(now));
  const SyncStep step = engine.next(at(now));
  BOOST_REQUIRE(std::holds_alternative<SyncFinished>(step));
  BOOST_TEST(std::get<SyncFinished>(step).error->code == Code::kProtocolError);
  BOOST_TEST(*f.store->mirror_size() == 0u);
}

BOOST_AUTO_TEST_CASE(answers_that_break_the_spec_end_the_sync_with_an_error) {
  for (const std::string& body : {std::string("not json"), std::string("{\"versions\":[2]}"), [] {
                                    InfoResponse info;
                                    info.versions = {2};
                                    info.server = {"x", "0"};
                                    info.limits = kReferenceLimits;
                                    info.block_size = 4;
                                    return serialize_message(info);
                                  }()}) {
    EngineFixture f;
    SyncEngine engine(*f.store, f.keys, f.random);
    expect_send(engine.next(at(1)));
    engine.on_response(EngineFixture::json(200, body), at(1));
    const SyncStep step = engine.next(at(1));
    BOOST_REQUIRE(std::holds_alternative<SyncFinished>(step));
    BOOST_REQUIRE(std::get<SyncFinished>(step).error.has_value());
    const Code code = std::get<SyncFinished>(step).error->code;
    BOOST_TEST((code == Code::kProtocolError || code == Code::kUnsupportedVersion));
  }
  // An error body's code is what the sync reports (ERR-005 falls back on the status).
  EngineFixture f;
  SyncEngine engine(*f.store, f.keys, f.random);
  expect_send(engine.next(at(1)));
  engine.on_response(EngineFixture::json(200, EngineFixture::info_body()), at(1));
  expect_send(engine.next(at(1)));
  engine.on_response(
      EngineFixture::json(401, serialize_error(Error(Code::kTokenRevoked, "revoked"))), at(1));
  const SyncStep step = engine.next(at(1));
  BOOST_REQUIRE(std::holds_alternative<SyncFinished>(step));
  BOOST_TEST(std::get<SyncFinished>(step).error->code == Code::kTokenRevoked);
}

BOOST_AUTO_TEST_CASE(a_page_is_applied_while_the_next_one_is_requested) {
  PagedSync sync(7, 10);
  const HttpRequest first = expect_send(sync.engine.next(at(kNow))).request;
  BOOST_TEST(first.target.ends_with("/ops?after_seq=0&limit=4"));
  BOOST_TEST(!sync.engine.has_work());
  sync.answer(sync.log.page(0, 4));

  // The request for the second page is out before the first page touches the store.
  const HttpRequest second = expect_send(sync.engine.next(at(kNow))).request;
  BOOST_TEST(after_seq_of(second) == 4u);
  BOOST_TEST(sync.engine.has_work());
  BOOST_TEST(*sync.store().mirror_size() == 0u);
  sync.engine.work();
  BOOST_TEST(!sync.engine.has_work());
  BOOST_TEST(*sync.store().mirror_size() == 4u);
  BOOST_TEST(sync.engine.report().ops_applied == 4u);
  sync.answer(sync.log.page(4, 4));

  // A driver that never calls work(): the next answer applies the held page first.
  const HttpRequest third = expect_send(sync.engine.next(at(kNow))).request;
  BOOST_TEST(after_seq_of(third) == 8u);
  BOOST_TEST(*sync.store().mirror_size() == 4u);
  sync.answer(sync.log.page(8, 4));
  BOOST_TEST(!sync.engine.has_work());  // the last page is applied at once: uploads depend on it
  BOOST_TEST(*sync.store().mirror_size() == 10u);
  const std::vector<Hash>& hashes = sync.log.op_hashes;
  BOOST_TEST(*sync.store().prefix_hash(10) ==
             prefix_hash(compute_block_hashes(hashes, 4), hashes, 10, 4));
  BOOST_TEST(sync.engine.report().ops_applied == 10u);
  BOOST_TEST(sync.store().get("k10")->heads.size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_held_page_is_applied_before_a_transport_failure_is_handled) {
  PagedSync sync(8, 6);
  expect_send(sync.engine.next(at(kNow)));
  sync.answer(sync.log.page(0, 4));
  const HttpRequest second = expect_send(sync.engine.next(at(kNow))).request;
  sync.engine.on_transport_failure("connection reset", at(kNow));
  BOOST_TEST(*sync.store().mirror_size() == 4u);  // the progress is committed (SYNC-012)
  BOOST_REQUIRE(std::holds_alternative<WaitUntil>(sync.engine.next(at(kNow))));
  const HttpRequest again = expect_send(sync.engine.next(at(kNow + 1000))).request;
  BOOST_TEST(again.target == second.target);
  sync.answer(sync.log.page(4, 4));
  BOOST_TEST(*sync.store().mirror_size() == 6u);
}

BOOST_AUTO_TEST_CASE(
    a_held_page_that_breaks_the_spec_ends_the_sync_and_the_next_answer_is_ignored) {
  PagedSync sync(9, 8);
  expect_send(sync.engine.next(at(kNow)));
  // The first page lists its second operation again at seq 4 (SYNC-014): it decodes, so it is
  // held, and fails when applied.
  OpsPageResponse twice = parse_message<OpsPageResponse>(sync.log.page(0, 4)).value();
  twice.ops[3].op = twice.ops[1].op;
  sync.answer(serialize_message(twice));
  expect_send(sync.engine.next(at(kNow)));
  sync.engine.work();
  BOOST_TEST(!sync.engine.has_work());
  sync.answer(sync.log.page(4, 4));
  const SyncStep step = sync.engine.next(at(kNow));
  BOOST_REQUIRE(std::holds_alternative<SyncFinished>(step));
  BOOST_REQUIRE(std::get<SyncFinished>(step).error.has_value());
  BOOST_TEST(std::get<SyncFinished>(step).error->code == Code::kProtocolError);
  BOOST_TEST(*sync.store().mirror_size() == 0u);
}

BOOST_AUTO_TEST_CASE(a_page_with_a_gap_ends_the_sync_with_page_gap_before_anything_is_held) {
  PagedSync sync(9, 8);
  expect_send(sync.engine.next(at(kNow)));
  // The first page skips seq 3 (SYNC-007, LOG-028): parsing refuses it, so nothing is held.
  OpsPageResponse gap = parse_message<OpsPageResponse>(sync.log.page(0, 4)).value();
  gap.ops[2].seq = 4;
  gap.ops[3].seq = 5;
  sync.answer(serialize_message(gap));
  BOOST_TEST(!sync.engine.has_work());
  const SyncStep step = sync.engine.next(at(kNow));
  BOOST_REQUIRE(std::holds_alternative<SyncFinished>(step));
  BOOST_REQUIRE(std::get<SyncFinished>(step).error.has_value());
  BOOST_TEST(std::get<SyncFinished>(step).error->code == Code::kPageGap);
  BOOST_TEST(std::get<SyncFinished>(step).error->field == "ops[2].seq");
  BOOST_TEST(*sync.store().mirror_size() == 0u);
}

BOOST_AUTO_TEST_CASE(
    a_page_with_an_operation_of_an_unknown_format_ends_the_sync_with_unsupported_format) {
  PagedSync sync(9, 8);
  expect_send(sync.engine.next(at(kNow)));
  // VER-008: the user is told to upgrade, and nothing of the page is applied.
  nlohmann::json page = nlohmann::json::parse(sync.log.page(0, 4));
  page["ops"][1]["v"] = 2;
  sync.answer(page.dump());
  const SyncStep step = sync.engine.next(at(kNow));
  BOOST_REQUIRE(std::holds_alternative<SyncFinished>(step));
  BOOST_REQUIRE(std::get<SyncFinished>(step).error.has_value());
  BOOST_TEST(std::get<SyncFinished>(step).error->code == Code::kUnsupportedFormat);
  BOOST_TEST(std::get<SyncFinished>(step).error->field == "ops[1].v");
  BOOST_TEST(*sync.store().mirror_size() == 0u);
}

BOOST_AUTO_TEST_CASE(a_log_that_changes_under_every_read_ends_the_sync_instead_of_looping) {
  // Every page's after_hash contradicts the device's prefix, so every read starts a divergence
  // search; the sync gives up after divergence_searches_max of them.
  EngineFixture f;
  SyncEngine engine(*f.store, f.keys, f.random);
  uint32_t searches = 0;
  std::optional<SyncFinished> finished;
  for (int step = 0; step < 100 && !finished; ++step) {
    const SyncStep next = engine.next(at(kNow));
    if (const auto* done = std::get_if<SyncFinished>(&next)) {
      finished = *done;
      break;
    }
    const HttpRequest& request = std::get<SendRequest>(next).request;
    if (request.target == "/v1/info") {
      engine.on_response(EngineFixture::json(200, EngineFixture::info_body()), at(kNow));
    } else if (request.target.find("/blocks?") != std::string::npos) {
      ++searches;
      BlocksResponse blocks;
      blocks.block_size = 4;
      engine.on_response(EngineFixture::json(200, serialize_message(blocks)), at(kNow));
    } else {
      OpsPageResponse page;
      page.after_hash.bytes[0] = 1;  // never the prefix hash of an empty mirror (zeros)
      engine.on_response(EngineFixture::json(200, serialize_message(page)), at(kNow));
    }
  }
  BOOST_REQUIRE(finished.has_value());
  BOOST_REQUIRE(finished->error.has_value());
  BOOST_TEST(finished->error->code == Code::kProtocolError);
  BOOST_TEST(searches == SyncOptions{}.divergence_searches_max);
}

BOOST_AUTO_TEST_SUITE_END()
