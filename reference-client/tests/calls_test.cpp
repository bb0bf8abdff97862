// The calls outside a sync (create, join, invite, change the password) as state machines: each
// asks for one request at a time and waits for its answer, so a driver can interleave them with
// anything else; a lost answer or an error at any step ends the call and leaves nothing on the
// device; answered in full, a call leaves what the synchronous form left.
#include <boost/test/unit_test.hpp>

#include "client_test_support.h"
#include "opsync/client/device.h"
#include "opsync/protocol/messages.h"

using namespace opsync;
using namespace opsync::client;
using namespace opsync::client::testing;

namespace {

constexpr uint64_t kNow = 1'764'000'000'000;
constexpr uint32_t kKdfIterations = 10;

HttpResponse answer(int status, const std::string& body) {
  HttpResponse response;
  response.status = status;
  response.body = body;
  response.headers["opsync-server-time-ms"] = std::to_string(kNow);
  return response;
}

std::string info_body() {
  InfoResponse info;
  info.versions = {1};
  info.server = {"scripted", "0"};
  info.max_clock_skew_ms = 60000;
  info.block_size = 4;
  info.limits = kLimitFloors;
  info.server_time_ms = kNow;
  info.upload_expiry_ms = 3'600'000;
  info.file_retention_ms = 3'600'000;
  return serialize_message(info);
}

// A scripted server for one workspace: answers the requests of the calls, in the order they make
// them, and records what it was sent.
struct ScriptedServer {
  SeededRandom random{3};
  WorkspaceId workspace = random.id();
  std::string owner_token = "opsync_owner";
  std::optional<KeyRecord> key_record;
  std::vector<std::string> seen;  // "METHOD target"

  HttpResponse handle(const ServerCall::Outgoing& out) {
    const HttpRequest& r = out.request;
    seen.push_back(r.method + " " + r.target);
    const std::string base = "/v1/workspaces/" + to_base64url(workspace);
    if (r.target == "/v1/info") return answer(200, info_body());
    if (r.method == "POST" && r.target == "/v1/workspaces") {
      CreateWorkspaceResponse created{workspace, owner_token, random.id(), 4, kNow};
      return answer(201, serialize_message(created));
    }
    if (r.method == "PUT" && r.target == base + "/keys/1") {
      const PutKeyRequest put = *parse_message<PutKeyRequest>(r.body);
      key_record = KeyRecord{1, put.expected_version + 1, put.kdf, put.wrapped_key, kNow};
      return answer(200, serialize_message(*key_record));
    }
    if (r.method == "GET" && r.target == base + "/keys") {
      KeyListResponse list;
      if (key_record) list.keys.push_back(*key_record);
      return answer(200, serialize_message(list));
    }
    if (r.method == "GET" && r.target == base + "/blocks?limit=1") {
      BlocksResponse blocks;
      blocks.block_size = 4;
      return answer(200, serialize_message(blocks));
    }
    if (r.method == "POST" && r.target == base + "/tokens") {
      TokenIssued issued{random.id(), "opsync_invited", Scope::kReadWrite, kNow, std::nullopt};
      return answer(201, serialize_message(issued));
    }
    return answer(404, serialize_error(Error(Code::kNotFound, "no such route")));
  }
};

// Answers every request of `call` until it ends; the `fail_at`-th request (from 0) gets no answer.
Status drive(ServerCall& call, ScriptedServer& server,
             std::optional<size_t> fail_at = std::nullopt) {
  for (size_t sent = 0; call.next(); ++sent) {  // bounded: calls send at most four requests
    BOOST_REQUIRE(sent < 8);
    if (fail_at == sent) {
      call.on_transport_failure("answer lost");
      continue;
    }
    call.on_response(server.handle(*call.next()));
  }
  return call.status();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(calls)

BOOST_AUTO_TEST_CASE(creating_a_workspace_is_three_requests_and_then_the_device_exists) {
  TempDir dir;
  ScriptedServer server;
  SeededRandom random(1);
  CreateWorkspaceCall call(dir.path() / "d", "sim://server", "pw", random, kKdfIterations,
                           test_options());
  BOOST_REQUIRE(call.next().has_value());
  BOOST_TEST(call.next()->request.target == "/v1/info");
  BOOST_TEST(!call.done());
  BOOST_TEST(drive(call, server).ok());
  BOOST_TEST(server.seen ==
             (std::vector<std::string>{
                 "GET /v1/info", "POST /v1/workspaces",
                 "PUT /v1/workspaces/" + to_base64url(server.workspace) + "/keys/1"}));
  BOOST_TEST(call.result().workspace_id == server.workspace);
  auto device = must(Device::open(dir.path() / "d", test_options()));
  BOOST_TEST(device->token() == server.owner_token);

  // Another device joins with the passphrase, and the owner invites it.
  JoinCall join(dir.path() / "e",
                JoinRequest{"sim://server", server.workspace, "opsync_invited", "pw",
                            call.result().passphrase},
                random, test_options());
  BOOST_TEST(drive(join, server).ok());
  const bool same_key =
      must(Device::open(dir.path() / "e", test_options()))->keys().current().op_key ==
      device->keys().current().op_key;
  BOOST_TEST(same_key);
  std::unique_ptr<Device::InviteCall> invite =
      device->start_invite(Scope::kReadWrite, std::nullopt);
  BOOST_TEST(drive(*invite, server).ok());
  BOOST_TEST(invite->result().token == "opsync_invited");
}

BOOST_AUTO_TEST_CASE(a_lost_answer_at_any_step_ends_the_call_and_leaves_no_device) {
  for (size_t fail_at = 0; fail_at < 3; ++fail_at) {
    BOOST_TEST_CONTEXT("no answer to request " << fail_at) {
      TempDir dir;
      ScriptedServer server;
      SeededRandom random(1);
      CreateWorkspaceCall call(dir.path() / "d", "sim://server", "pw", random, kKdfIterations,
                               test_options());
      const Status status = drive(call, server, fail_at);
      BOOST_TEST(status.error().code == Code::kTransport);
      BOOST_TEST(!call.next().has_value());
      BOOST_TEST(server.seen.size() == fail_at);  // the request whose answer was lost never arrived
      BOOST_TEST(!std::filesystem::exists(dir.path() / "d" / "state.sqlite3"));
    }
  }
}

BOOST_AUTO_TEST_CASE(a_wrong_passphrase_or_an_error_answer_ends_a_join_with_its_code) {
  TempDir dir;
  ScriptedServer server;
  SeededRandom random(1);
  CreateWorkspaceCall create(dir.path() / "d", "sim://server", "pw", random, kKdfIterations,
                             test_options());
  BOOST_REQUIRE(drive(create, server).ok());

  JoinCall wrong(dir.path() / "e",
                 JoinRequest{"sim://server", server.workspace, "t", "pw", "not the passphrase"},
                 random, test_options());
  BOOST_TEST(drive(wrong, server).error().code == Code::kWrongPassword);
  BOOST_TEST(!std::filesystem::exists(dir.path() / "e" / "state.sqlite3"));

  JoinCall elsewhere(
      dir.path() / "f",
      JoinRequest{"sim://server", random.id(), "t", "pw", create.result().passphrase}, random,
      test_options());
  BOOST_TEST(drive(elsewhere, server).error().code == Code::kNotFound);  // the server's 404
  BOOST_TEST(!std::filesystem::exists(dir.path() / "f" / "state.sqlite3"));

  // A directory that already holds a device ends the call before any request.
  CreateWorkspaceCall again(dir.path() / "d", "sim://server", "pw", random, kKdfIterations,
                            test_options());
  BOOST_TEST(again.done());
  BOOST_TEST(again.status().error().code == Code::kInvalidField);
}

BOOST_AUTO_TEST_SUITE_END()
