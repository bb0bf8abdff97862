// The sync engine on its own, without a network: scripted responses and injected time show the
// backoff of SYNC-010, the retry of the same request (SYNC-008), and that a malformed or
// contradictory server answer ends the sync with an error instead of a loop or a bad write.
#include <boost/test/unit_test.hpp>

#include "client_test_support.h"
#include "opsync/client/engine.h"
#include "opsync/protocol/messages.h"

using namespace opsync;
using namespace opsync::client;

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

  static HttpResponse json(int status, const std::string& body, uint64_t server_ms = 1'764'000'000'000) {
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

}  // namespace

BOOST_AUTO_TEST_SUITE(engine)

BOOST_AUTO_TEST_CASE(backoff_doubles_from_one_second_and_stops_at_64) {
  const std::vector<uint64_t> expected = {1000, 2000, 4000, 8000, 16000, 32000, 64000, 64000, 64000};
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
  const HttpRequest first = expect_send(engine.next(now)).request;
  BOOST_TEST(first.target == "/v1/info");
  std::vector<uint64_t> waits;
  for (int failure = 0; failure < 3; ++failure) {
    engine.on_transport_failure("connection refused", now);
    const SyncStep step = engine.next(now);
    BOOST_REQUIRE(std::holds_alternative<WaitUntil>(step));
    waits.push_back(std::get<WaitUntil>(step).until_ms - now);
    // Asking early changes nothing; at the time, the same request goes again.
    BOOST_REQUIRE(std::holds_alternative<WaitUntil>(engine.next(now + 1)));
    now = std::get<WaitUntil>(step).until_ms;
    const HttpRequest again = expect_send(engine.next(now)).request;
    BOOST_TEST(again.target == first.target);
    BOOST_TEST(again.method == first.method);
  }
  BOOST_TEST(waits == (std::vector<uint64_t>{1000, 2000, 4000}));
  engine.on_transport_failure("connection refused", now);
  const SyncStep last = engine.next(now);
  BOOST_REQUIRE(std::holds_alternative<SyncFinished>(last));
  BOOST_REQUIRE(std::get<SyncFinished>(last).error.has_value());
  BOOST_TEST(std::get<SyncFinished>(last).error->code == Code::kTransport);
}

BOOST_AUTO_TEST_CASE(an_empty_page_that_promises_more_ends_the_sync_instead_of_looping) {
  EngineFixture f;
  SyncEngine engine(*f.store, f.keys, f.random);
  const uint64_t now = 1'764'000'000'000;
  expect_send(engine.next(now));
  engine.on_response(EngineFixture::json(200, EngineFixture::info_body()), now);
  const HttpRequest page = expect_send(engine.next(now)).request;
  BOOST_TEST(page.target.ends_with("/ops?after_seq=0"));
  OpsPageResponse empty;
  empty.after_seq = 0;
  empty.head_seq = 5;
  empty.next_after_seq = 0;
  engine.on_response(EngineFixture::json(200, serialize_message(empty)), now);
  const SyncStep step = engine.next(now);
  BOOST_REQUIRE(std::holds_alternative<SyncFinished>(step));
  BOOST_TEST(std::get<SyncFinished>(step).error->code == Code::kProtocolError);
  BOOST_TEST(*f.store->mirror_size() == 0u);
}

BOOST_AUTO_TEST_CASE(answers_that_break_the_spec_end_the_sync_with_an_error) {
  for (const std::string& body : {std::string("not json"), std::string("{\"versions\":[2]}"),
                                  [] {
                                    InfoResponse info;
                                    info.versions = {2};
                                    info.server = {"x", "0"};
                                    info.limits = kReferenceLimits;
                                    info.block_size = 4;
                                    return serialize_message(info);
                                  }()}) {
    EngineFixture f;
    SyncEngine engine(*f.store, f.keys, f.random);
    expect_send(engine.next(1));
    engine.on_response(EngineFixture::json(200, body), 1);
    const SyncStep step = engine.next(1);
    BOOST_REQUIRE(std::holds_alternative<SyncFinished>(step));
    BOOST_REQUIRE(std::get<SyncFinished>(step).error.has_value());
    const Code code = std::get<SyncFinished>(step).error->code;
    BOOST_TEST((code == Code::kProtocolError || code == Code::kUnsupportedVersion));
  }
  // An error body's code is what the sync reports (ERR-005 falls back on the status).
  EngineFixture f;
  SyncEngine engine(*f.store, f.keys, f.random);
  expect_send(engine.next(1));
  engine.on_response(EngineFixture::json(200, EngineFixture::info_body()), 1);
  expect_send(engine.next(1));
  engine.on_response(EngineFixture::json(401, serialize_error(Error(Code::kTokenRevoked, "revoked"))), 1);
  const SyncStep step = engine.next(1);
  BOOST_REQUIRE(std::holds_alternative<SyncFinished>(step));
  BOOST_TEST(std::get<SyncFinished>(step).error->code == Code::kTokenRevoked);
}

BOOST_AUTO_TEST_SUITE_END()
