// End-to-end tests of the reference server over real HTTP on 127.0.0.1, against real SQLite.
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "opsync/protocol/blocks.h"
#include "opsync/protocol/files.h"
#include "opsync/protocol/op.h"
#include "server_fixture.h"

using namespace opsync;
using namespace opsync::server;
using namespace opsync::server::testing;

namespace {

UploadOpsRequest batch_of(RandomSource& random, size_t count, uint64_t now_ms = system_time_ms()) {
  UploadOpsRequest request;
  for (size_t i = 0; i < count; ++i) request.ops.push_back(make_op(random, now_ms));
  return request;
}

std::string b64(const Id& id) { return to_base64url(id); }

}  // namespace

BOOST_AUTO_TEST_SUITE(flow)

BOOST_AUTO_TEST_CASE(info_states_limits_and_time) {
  TestServer server;
  Http http = server.client();
  const uint64_t before = system_time_ms();
  HttpAnswer answer = http.get("/v1/info");
  BOOST_TEST(answer.status == 200);
  InfoResponse info = answer.as<InfoResponse>();
  BOOST_TEST(info.protocol == "opsync");
  BOOST_TEST(info.versions == std::vector<uint32_t>{1});
  BOOST_TEST(info.has_capability("files"));
  BOOST_TEST((info.limits == kReferenceLimits));
  BOOST_TEST(info.server_time_ms >= before);
  BOOST_TEST(answer.header("OpSync-Server-Time-Ms") ==
             std::to_string(info.server_time_ms));  // INF-002
  BOOST_TEST(!answer.header("OpSync-Request-Id").empty());
  // A valid request id is echoed (TRN-008).
  HttpAnswer echoed =
      http.request("GET", "/v1/info", "", "", "", {{"OpSync-Request-Id", "case-42"}});
  BOOST_TEST(echoed.header("OpSync-Request-Id") == "case-42");
}

BOOST_AUTO_TEST_CASE(workspace_tokens_and_scopes) {
  TestServer server;
  Http http = server.client();
  Workspace ws = server.create_workspace();

  // Issue, list, inspect, revoke.
  CreateTokenRequest reader_request{Scope::kRead, std::nullopt};
  HttpAnswer issued = http.post(ws.path("/tokens"), reader_request, ws.owner_token);
  BOOST_REQUIRE_EQUAL(issued.status, 201);
  TokenIssued reader = issued.as<TokenIssued>();
  BOOST_TEST(!reader.expires_at_ms.has_value());

  HttpAnswer self = http.get(ws.path("/tokens/self"), reader.token);
  BOOST_TEST(self.status == 200);
  BOOST_TEST((self.as<TokenEntry>().token_id == reader.token_id));

  // Listing shows no secrets and pages by token id.
  for (int i = 0; i < 3; ++i) server.issue_token(ws, Scope::kReadWrite);
  std::set<TokenId> listed;
  std::string after;
  for (int page = 0; page < 10; ++page) {
    HttpAnswer list = http.get(ws.path("/tokens?limit=2" + after), ws.owner_token);
    BOOST_REQUIRE_EQUAL(list.status, 200);
    BOOST_TEST(list.body.find("opsync_") == std::string::npos);  // AUTH-011
    TokenListResponse tokens = list.as<TokenListResponse>();
    for (const TokenEntry& t : tokens.tokens) BOOST_TEST(listed.insert(t.token_id).second);
    if (!tokens.next_after) break;
    after = "&after=" + b64(*tokens.next_after);
  }
  BOOST_TEST(listed.size() == 5u);  // owner, reader, three writers

  // Scopes: a read token cannot write or manage tokens (403 insufficient_scope).
  HttpAnswer write_attempt =
      http.post(ws.path("/ops"), batch_of(*std::make_unique<SystemRandom>(), 1), reader.token);
  BOOST_TEST(write_attempt.status == 403);
  BOOST_TEST(write_attempt.code() == "insufficient_scope");
  BOOST_TEST(http.get(ws.path("/tokens"), reader.token).code() == "insufficient_scope");

  // Revoke: idempotent, takes effect at once, and a token cannot revoke itself.
  HttpAnswer revoked =
      http.request("DELETE", ws.path("/tokens/" + b64(reader.token_id)), ws.owner_token);
  BOOST_TEST(revoked.status == 200);
  const uint64_t revoked_at = revoked.as<RevokeTokenResponse>().revoked_at_ms;
  HttpAnswer again =
      http.request("DELETE", ws.path("/tokens/" + b64(reader.token_id)), ws.owner_token);
  BOOST_TEST(again.as<RevokeTokenResponse>().revoked_at_ms == revoked_at);
  BOOST_TEST(http.get(ws.path("/tokens/self"), reader.token).code() == "token_revoked");
  HttpAnswer self_entry = http.get(ws.path("/tokens/self"), ws.owner_token);
  const std::string owner_id = b64(self_entry.as<TokenEntry>().token_id);
  BOOST_TEST(http.request("DELETE", ws.path("/tokens/" + owner_id), ws.owner_token).code() ==
             "cannot_revoke_self");
}

BOOST_AUTO_TEST_CASE(tokens_expire_by_the_server_clock) {
  TestServer server;
  Http http = server.client();
  Workspace ws = server.create_workspace();
  CreateTokenRequest request{Scope::kRead, 1000};
  TokenIssued token = http.post(ws.path("/tokens"), request, ws.owner_token).as<TokenIssued>();
  BOOST_REQUIRE(token.expires_at_ms.has_value());
  // Each answer carries the server's time (OpSync-Server-Time-Ms), which is never before the
  // clock reading that judged the token: a refusal must come at or after the expiry. Checked on
  // the server's time rather than on a sleep, so a machine too busy to send the first request
  // within the second fails nothing.
  auto server_time = [](const HttpAnswer& answer) {
    return std::stoull(answer.header("OpSync-Server-Time-Ms"));
  };
  HttpAnswer first = http.get(ws.path("/tokens/self"), token.token);
  BOOST_TEST((first.status == 200 || server_time(first) >= *token.expires_at_ms),
             "refused before its expiry");
  HttpAnswer expired = first;
  wait_until(
      [&] {
        expired = http.get(ws.path("/tokens/self"), token.token);
        return expired.status != 200;
      },
      "the token to expire", opsync::testing::kConditionDeadline, std::chrono::milliseconds(20));
  BOOST_TEST(expired.status == 401);
  BOOST_TEST(expired.code() == "token_expired");
  BOOST_TEST(server_time(expired) >= *token.expires_at_ms);
}

BOOST_AUTO_TEST_CASE(key_records_with_versions) {
  TestServer server;
  Http http = server.client();
  Workspace ws = server.create_workspace();
  PutKeyRequest put;
  put.expected_version = 0;
  put.kdf.iterations = 600000;
  put.wrapped_key = Bytes(60, 7);
  auto put_key = [&](uint32_t key_id, const PutKeyRequest& body) {
    return http.request("PUT", ws.path("/keys/" + std::to_string(key_id)), ws.owner_token,
                        serialize_message(body));
  };
  HttpAnswer created = put_key(1, put);
  BOOST_REQUIRE_EQUAL(created.status, 200);
  BOOST_TEST(created.as<KeyRecord>().version == 1u);
  // Creating again, or replacing with a stale version, is a version conflict naming the current.
  HttpAnswer conflict = put_key(1, put);
  BOOST_TEST(conflict.status == 409);
  BOOST_TEST(conflict.code() == "version_conflict");
  BOOST_TEST(parse_message<ErrorBody>(conflict.body)->details.current_version ==
             std::optional<uint64_t>(1));
  put.expected_version = 1;
  put.wrapped_key = Bytes(60, 8);  // a password change re-wraps the key
  BOOST_TEST(put_key(1, put).as<KeyRecord>().version == 2u);
  put.expected_version = 0;
  BOOST_TEST(put_key(2, put).status == 200);
  KeyListResponse keys = http.get(ws.path("/keys"), ws.owner_token).as<KeyListResponse>();
  BOOST_REQUIRE_EQUAL(keys.keys.size(), 2u);
  BOOST_TEST(keys.keys[0].wrapped_key == Bytes(60, 8));
  BOOST_TEST(keys.keys[1].key_id == 2u);
}

BOOST_AUTO_TEST_CASE(upload_read_and_blocks) {
  ServerConfig config;
  config.block_size = 16;
  TestServer server(config);
  Http http = server.client();
  Workspace ws = server.create_workspace();
  SystemRandom random;

  std::vector<WireOp> uploaded;
  for (int batch = 0; batch < 5; ++batch) {
    UploadOpsRequest request = batch_of(random, 37);
    HttpAnswer answer = http.post(ws.path("/ops"), request, ws.owner_token);
    BOOST_REQUIRE_EQUAL(answer.status, 200);
    UploadOpsResponse results = answer.as<UploadOpsResponse>();
    BOOST_REQUIRE_EQUAL(results.results.size(), 37u);
    for (size_t i = 0; i < 37; ++i) {
      BOOST_TEST((results.results[i].status == OpStatus::kAccepted));
      BOOST_TEST(results.results[i].seq == uploaded.size() + 1);  // dense, in request order
      uploaded.push_back(request.ops[i]);
    }
    BOOST_TEST(results.head_seq == uploaded.size());
  }

  // Pages of any size return the log in order with the spec's prefix hashes.
  std::vector<Hash> hashes;
  for (const WireOp& op : uploaded) hashes.push_back(op_hash(op));
  const std::vector<Hash> blocks = compute_block_hashes(hashes, 16);
  for (size_t limit : {1u, 7u, 1000u}) {
    std::vector<SequencedOp> all = read_all(http, ws, limit);
    BOOST_REQUIRE_EQUAL(all.size(), uploaded.size());
    for (size_t i = 0; i < all.size(); ++i)
      BOOST_TEST((all[i].op == uploaded[i] && all[i].seq == i + 1));
  }
  for (uint64_t after : {0ull, 1ull, 15ull, 16ull, 17ull, 100ull, 185ull}) {
    HttpAnswer page =
        http.get(ws.path("/ops?limit=3&after_seq=" + std::to_string(after)), ws.owner_token);
    BOOST_TEST((page.as<OpsPageResponse>().after_hash == prefix_hash(blocks, hashes, after, 16)),
               "after " << after);
  }
  HttpAnswer beyond = http.get(ws.path("/ops?after_seq=186"), ws.owner_token);
  BOOST_TEST(beyond.status == 409);
  BOOST_TEST(beyond.code() == "after_seq_beyond_head");
  BOOST_TEST(parse_message<ErrorBody>(beyond.body)->details.head_seq ==
             std::optional<uint64_t>(185));

  // Block hashes: complete blocks only, paged.
  BlocksResponse first = http.get(ws.path("/blocks?limit=5"), ws.owner_token).as<BlocksResponse>();
  BOOST_TEST(first.block_count == 11u);  // 185 / 16
  BOOST_REQUIRE_EQUAL(first.blocks.size(), 5u);
  BOOST_TEST(first.next_start == std::optional<uint64_t>(5));
  BlocksResponse rest = http.get(ws.path("/blocks?start=5"), ws.owner_token).as<BlocksResponse>();
  BOOST_REQUIRE_EQUAL(rest.blocks.size(), 6u);
  BOOST_TEST(!rest.next_start.has_value());
  for (size_t b = 0; b < 11; ++b)
    BOOST_TEST((b < 5 ? first.blocks[b].hash : rest.blocks[b - 5].hash) == blocks[b]);
}

// ERR-013's checks run once per request: preflight matches the route and reads the token before
// the body, and hands what it learned to the handler, which neither matches nor reads them again.
BOOST_AUTO_TEST_CASE(a_request_is_matched_once_and_its_token_read_once) {
  TestServer server;
  Http http = server.client();
  Workspace ws = server.create_workspace();
  SystemRandom random;
  struct Counts {
    uint64_t route_matches, reads, writes;
  };
  auto counts = [&] {
    return Counts{server.core().route_matches(), server.transactions().reads(),
                  server.transactions().writes()};
  };
  // What one request costs: route matches, read transactions, write transactions.
  auto cost = [&](auto&& request) {
    const Counts before = counts();
    request();
    const Counts after = counts();
    return Counts{after.route_matches - before.route_matches, after.reads - before.reads,
                  after.writes - before.writes};
  };

  // A body the handler rejects: the admission's read is the only one.
  Counts bad_body = cost([&] {
    BOOST_TEST(http.post(ws.path("/ops"), std::string("{"), ws.owner_token).status == 400);
  });
  BOOST_TEST(bad_body.route_matches == 1u);
  BOOST_TEST(bad_body.reads == 1u);
  BOOST_TEST(bad_body.writes == 0u);

  // An upload: the admission's read, then the handler's one write.
  Counts upload = cost([&] {
    BOOST_TEST(http.post(ws.path("/ops"), batch_of(random, 5), ws.owner_token).status == 200);
  });
  BOOST_TEST(upload.route_matches == 1u);
  BOOST_TEST(upload.reads == 1u);
  BOOST_TEST(upload.writes == 1u);

  // A page: the admission's read, then the page's.
  Counts page = cost([&] { BOOST_TEST(http.get(ws.path("/ops"), ws.owner_token).status == 200); });
  BOOST_TEST(page.route_matches == 1u);
  BOOST_TEST(page.reads == 2u);
  BOOST_TEST(page.writes == 0u);

  // A request refused before its body is read (no token): one match, no transaction.
  Counts refused = cost([&] { BOOST_TEST(http.get(ws.path("/ops")).status == 401); });
  BOOST_TEST(refused.route_matches == 1u);
  BOOST_TEST(refused.reads == 0u);
}

BOOST_AUTO_TEST_CASE(reupload_after_a_lost_response_is_idempotent) {
  TestServer server;
  Http http = server.client();
  Workspace ws = server.create_workspace();
  SystemRandom random;
  UploadOpsRequest request = batch_of(random, 50);
  UploadOpsResponse first =
      http.post(ws.path("/ops"), request, ws.owner_token).as<UploadOpsResponse>();
  const Hash after_first = server.fingerprint();

  // The client never saw the answer and sends the same batch again: every operation is a
  // duplicate with the seq it already had, and nothing is stored twice (LOG-004).
  UploadOpsResponse retry =
      http.post(ws.path("/ops"), request, ws.owner_token).as<UploadOpsResponse>();
  BOOST_TEST(server.fingerprint() == after_first);
  for (size_t i = 0; i < 50; ++i) {
    BOOST_TEST((retry.results[i].status == OpStatus::kDuplicate));
    BOOST_TEST(retry.results[i].seq == first.results[i].seq);
  }
  BOOST_TEST(retry.head_seq == 50u);

  // A retry mixed with new operations appends only the new ones.
  UploadOpsRequest mixed = batch_of(random, 2);
  mixed.ops.insert(mixed.ops.begin() + 1, request.ops[7]);
  UploadOpsResponse answer =
      http.post(ws.path("/ops"), mixed, ws.owner_token).as<UploadOpsResponse>();
  BOOST_TEST((answer.results[0].status == OpStatus::kAccepted && answer.results[0].seq == 51));
  BOOST_TEST((answer.results[1].status == OpStatus::kDuplicate && answer.results[1].seq == 8));
  BOOST_TEST((answer.results[2].status == OpStatus::kAccepted && answer.results[2].seq == 52));

  // The same id with different bytes is rejected, and the stored operation stays (LOG-005).
  UploadOpsRequest forged;
  forged.ops.push_back(request.ops[3]);
  forged.ops[0].payload[0] ^= 1;
  const Hash before_forgery = server.fingerprint();
  UploadOpsResponse rejected =
      http.post(ws.path("/ops"), forged, ws.owner_token).as<UploadOpsResponse>();
  BOOST_TEST((rejected.results[0].status == OpStatus::kRejected &&
              rejected.results[0].code == Code::kOpIdConflict));
  BOOST_TEST(server.fingerprint() == before_forgery);
}

BOOST_AUTO_TEST_CASE(operations_too_far_ahead_are_rejected_for_clock_skew) {
  ServerConfig config;
  config.max_clock_skew_ms = 60000;
  TestServer server(config);
  Http http = server.client();
  Workspace ws = server.create_workspace();
  SystemRandom random;
  const uint64_t now = system_time_ms();
  UploadOpsRequest request;
  request.ops.push_back(make_op(random, now + 3'600'000));   // an hour ahead
  request.ops.push_back(make_op(random, now + 30'000));      // within the skew
  request.ops.push_back(make_op(random, now - 86'400'000));  // a day behind: fine
  UploadOpsResponse answer =
      http.post(ws.path("/ops"), request, ws.owner_token).as<UploadOpsResponse>();
  BOOST_TEST((answer.results[0].status == OpStatus::kRejected &&
              answer.results[0].code == Code::kClockSkew));
  BOOST_TEST((answer.results[1].status == OpStatus::kAccepted && answer.results[1].seq == 1));
  BOOST_TEST((answer.results[2].status == OpStatus::kAccepted && answer.results[2].seq == 2));
}

BOOST_AUTO_TEST_CASE(files_upload_resume_commit_download_delete_restore_collect) {
  TestServer server;
  Http http = server.client();
  Workspace ws = server.create_workspace();
  SystemRandom random;
  const FileId file = random.id();
  const std::string file_path = ws.path("/files/" + b64(file));
  std::vector<std::string> chunks;
  for (int i = 0; i < 4; ++i) chunks.push_back(to_string(random.bytes(1000 + i)));

  HttpAnswer created = http.post(file_path, CreateFileRequest{4}, ws.owner_token);
  BOOST_TEST(created.status == 201);
  BOOST_TEST(http.post(file_path, CreateFileRequest{4}, ws.owner_token).status ==
             200);  // idempotent
  BOOST_TEST(http.post(file_path, CreateFileRequest{5}, ws.owner_token).code() ==
             "file_chunk_count_mismatch");
  auto put_chunk = [&](int index, const std::string& body) {
    return http.request("PUT", file_path + "/chunks/" + std::to_string(index), ws.owner_token, body,
                        "application/octet-stream");
  };
  BOOST_TEST(put_chunk(0, chunks[0]).status == 200);
  BOOST_TEST(put_chunk(2, chunks[2]).status == 200);

  // The resume query lists what is missing; commit refuses until it is complete.
  FileStatus status = http.get(file_path, ws.owner_token).as<FileStatus>();
  BOOST_TEST((status.chunks_missing == std::vector<ChunkRange>{{1, 2}, {3, 4}}));
  HttpAnswer incomplete = http.post(file_path + "/commit", CommitFileRequest{4}, ws.owner_token);
  BOOST_TEST(incomplete.code() == "file_incomplete");
  BOOST_TEST((parse_message<ErrorBody>(incomplete.body)->details.chunks_missing ==
              std::optional<std::vector<ChunkRange>>({{1, 2}, {3, 4}})));
  BOOST_TEST(http.get(file_path + "/chunks/0", ws.owner_token).code() == "file_not_committed");
  BOOST_TEST(put_chunk(1, chunks[1]).status == 200);
  BOOST_TEST(put_chunk(3, chunks[3]).status == 200);
  HttpAnswer committed = http.post(file_path + "/commit", CommitFileRequest{4}, ws.owner_token);
  BOOST_TEST(committed.status == 200);
  BOOST_TEST((committed.as<FileStatus>().state == FileState::kCommitted));
  BOOST_TEST(http.post(file_path + "/commit", CommitFileRequest{4}, ws.owner_token).status ==
             200);  // idempotent

  for (int i = 0; i < 4; ++i) {
    HttpAnswer chunk = http.get(file_path + "/chunks/" + std::to_string(i), ws.owner_token);
    BOOST_TEST(chunk.status == 200);
    BOOST_TEST(chunk.content_type == "application/octet-stream");
    BOOST_TEST(chunk.body == chunks[i]);
  }
  // A retried chunk upload after commit is fine if it changes nothing (FILE-004).
  BOOST_TEST(put_chunk(1, chunks[1]).status == 200);
  BOOST_TEST(put_chunk(1, chunks[0]).code() == "file_not_uploading");

  // Batch existence check.
  FileStatusRequest query{{file, random.id()}};
  FileStatusResponse states =
      http.post(ws.path("/file-status"), query, ws.owner_token).as<FileStatusResponse>();
  BOOST_TEST((states.files[0].state == FileState::kCommitted &&
              states.files[1].state == FileState::kAbsent));

  // Delete, restore by commit, delete again, collect after the retention time.
  BOOST_TEST((http.request("DELETE", file_path, ws.owner_token).as<FileStatus>().state ==
              FileState::kDeleted));
  BOOST_TEST(http.get(file_path + "/chunks/0", ws.owner_token).code() == "file_deleted");
  BOOST_TEST((http.post(file_path + "/commit", CommitFileRequest{4}, ws.owner_token)
                  .as<FileStatus>()
                  .state == FileState::kCommitted));
  BOOST_TEST(http.request("DELETE", file_path, ws.owner_token).status == 200);
  const uint64_t now = system_time_ms();
  BOOST_TEST(server.core().collect_garbage(now) == 0u);  // still within retention (FILE-011)
  BOOST_TEST(server.core().collect_garbage(now + kReferenceFileRetentionMs + 1000) == 1u);
  BOOST_TEST(http.get(file_path, ws.owner_token).code() == "file_not_found");
}

BOOST_AUTO_TEST_CASE(abandoned_uploads_expire) {
  TestServer server;
  Http http = server.client();
  Workspace ws = server.create_workspace();
  SystemRandom random;
  const std::string file_path = ws.path("/files/" + b64(random.id()));
  BOOST_TEST(http.post(file_path, CreateFileRequest{2}, ws.owner_token).status == 201);
  BOOST_TEST(http.request("DELETE", file_path, ws.owner_token).code() ==
             "file_not_committed");  // FILE-010
  BOOST_TEST(server.core().collect_garbage(system_time_ms() + kReferenceUploadExpiryMs + 1000) ==
             1u);
  BOOST_TEST(http.get(file_path, ws.owner_token).status == 404);
}

BOOST_AUTO_TEST_CASE(deleting_a_workspace_removes_everything) {
  TestServer server;
  Http http = server.client();
  SystemRandom random;
  Workspace other = server.create_workspace();
  BOOST_TEST(http.post(other.path("/ops"), batch_of(random, 3), other.owner_token).status == 200);
  const Hash before = server.fingerprint();

  Workspace ws = server.create_workspace();
  BOOST_TEST(http.post(ws.path("/ops"), batch_of(random, 300), ws.owner_token).status == 200);
  server.issue_token(ws, Scope::kRead);
  BOOST_TEST(http.post(ws.path("/files/" + b64(random.id())), CreateFileRequest{1}, ws.owner_token)
                 .status == 201);
  BOOST_TEST(http.request("DELETE", ws.path(), ws.owner_token).status == 200);

  // Every row of the deleted workspace is gone: the store is exactly as before it existed.
  BOOST_TEST(server.fingerprint() == before);
  BOOST_TEST(http.get(ws.path("/tokens/self"), ws.owner_token).code() == "token_invalid");
  BOOST_TEST(read_all(http, other).size() == 3u);
}

BOOST_AUTO_TEST_CASE(reproduces_the_block_hashes_of_the_test_vectors) {
  // vectors/block_hashes.json gives a log as wire operations with the op, block and prefix hashes
  // every implementation must compute; a server fed those operations must answer exactly those.
  std::ifstream in("vectors/block_hashes.json");
  BOOST_REQUIRE_MESSAGE(in, "vectors/block_hashes.json (tests run from the repository root)");
  const nlohmann::json vectors = nlohmann::json::parse(in);
  size_t checked = 0;
  for (const nlohmann::json& group : vectors["testGroups"]) {
    if (group["type"] != "OperationLogTest") continue;
    for (const nlohmann::json& test : group["tests"]) {
      if (test["result"] != "valid") continue;
      ServerConfig config;
      config.block_size = group["blockSize"].get<uint32_t>();
      TestServer server(config);
      Http http = server.client();
      Workspace ws = server.create_workspace();
      const nlohmann::json upload = {{"ops", test["ops"]}};
      HttpAnswer answer = http.post(ws.path("/ops"), upload.dump(), ws.owner_token);
      BOOST_REQUIRE_EQUAL(answer.status, 200);
      BlocksResponse blocks = http.get(ws.path("/blocks"), ws.owner_token).as<BlocksResponse>();
      BOOST_REQUIRE_EQUAL(blocks.blocks.size(), test["blockHashes"].size());
      for (size_t b = 0; b < blocks.blocks.size(); ++b)
        BOOST_TEST(to_hex(blocks.blocks[b].hash.view()) ==
                   test["blockHashes"][b].get<std::string>());
      for (const nlohmann::json& prefix : test["prefixHashes"]) {
        const uint64_t position = prefix["position"].get<uint64_t>();
        OpsPageResponse page =
            http.get(ws.path("/ops?limit=1&after_seq=" + std::to_string(position)), ws.owner_token)
                .as<OpsPageResponse>();
        BOOST_TEST(to_hex(page.after_hash.view()) == prefix["hash"].get<std::string>(),
                   "position " << position);
      }
      ++checked;
    }
  }
  BOOST_TEST(checked >= 1u);
}

BOOST_AUTO_TEST_SUITE_END()
