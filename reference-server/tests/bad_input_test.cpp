// Bad input gets the spec's error and changes nothing: each case checks the status, the code
// and that the storage fingerprint is the same before and after (ERR-003). And one workspace's
// token is useless on every endpoint of another (AUTH-021, AUTH-022).
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "server_fixture.h"

using namespace opsync;
using namespace opsync::server;
using namespace opsync::server::testing;

namespace {

// A workspace holding a little of everything, so that a wrongly accepted request would have
// something to change.
struct Populated {
  TestServer server;
  Workspace ws;
  Workspace other;
  std::string reader;
  std::string writer;
  FileId committed_file;
  FileId uploading_file;
  SystemRandom random;

  Populated() {
    ws = server.create_workspace();
    other = server.create_workspace();
    reader = server.issue_token(ws, Scope::kRead);
    writer = server.issue_token(ws, Scope::kReadWrite);
    Http http = server.client();
    UploadOpsRequest batch;
    for (int i = 0; i < 20; ++i) batch.ops.push_back(make_op(random, system_time_ms()));
    BOOST_REQUIRE_EQUAL(http.post(ws.path("/ops"), batch, writer).status, 200);
    committed_file = random.id();
    uploading_file = random.id();
    const std::string committed = ws.path("/files/" + to_base64url(committed_file));
    BOOST_REQUIRE_EQUAL(http.post(committed, CreateFileRequest{1}, writer).status, 201);
    BOOST_REQUIRE_EQUAL(http.request("PUT", committed + "/chunks/0", writer, std::string(40, 'c'),
                                     "application/octet-stream")
                            .status,
                        200);
    BOOST_REQUIRE_EQUAL(http.post(committed + "/commit", CommitFileRequest{1}, writer).status, 200);
    BOOST_REQUIRE_EQUAL(
        http.post(ws.path("/files/" + to_base64url(uploading_file)), CreateFileRequest{3}, writer)
            .status,
        201);
  }

  // Sends a request, checks the answer's status and code, and that storage did not change.
  void expect_rejected(const std::string& method, const std::string& path, const std::string& token,
                       const std::string& body, const std::string& content_type, int status,
                       const std::string& code, httplib::Headers headers = {}) {
    const Hash before = server.fingerprint();
    HttpAnswer answer =
        server.client().request(method, path, token, body, content_type, std::move(headers));
    BOOST_TEST(answer.status == status,
               method << " " << path << ": status " << answer.status << " " << answer.body);
    BOOST_TEST(answer.code() == code, method << " " << path << ": " << answer.body);
    BOOST_TEST(answer.content_type.find("application/json") == 0);
    BOOST_TEST(!answer.header("OpSync-Server-Time-Ms").empty());
    BOOST_TEST(server.fingerprint() == before, method << " " << path << " changed storage");
  }
  void expect_json_rejected(const std::string& method, const std::string& path,
                            const std::string& body, int status, const std::string& code) {
    expect_rejected(method, path, writer, body, "application/json", status, code);
  }
  std::string file_path(const FileId& id) const { return ws.path("/files/" + to_base64url(id)); }
};

// A valid upload body with `count` operations, as text.
std::string upload_text(RandomSource& random, size_t count) {
  UploadOpsRequest request;
  for (size_t i = 0; i < count; ++i) request.ops.push_back(make_op(random, system_time_ms()));
  return serialize_message(request);
}

// Sends raw bytes over a socket and returns what the server answered before closing, waiting at
// most `timeout_ms`. For requests a client library would refuse to send.
std::string raw_exchange(uint16_t port, const std::string& bytes, int timeout_ms = 5000) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  BOOST_REQUIRE(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  timeval timeout{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  BOOST_REQUIRE(send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
                static_cast<ssize_t>(bytes.size()));
  std::string answer;
  char buffer[4096];
  while (true) {
    const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    answer.append(buffer, static_cast<size_t>(n));
    if (answer.find("\r\n\r\n") != std::string::npos && answer.find("}") != std::string::npos)
      break;
  }
  close(fd);
  return answer;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(bad_input)

BOOST_FIXTURE_TEST_CASE(malformed_json_and_wrong_types, Populated) {
  const std::string ops = ws.path("/ops");
  expect_json_rejected("POST", ops, "{\"ops\": [", 400, "malformed_json");
  expect_json_rejected("POST", ops, "not json", 400, "malformed_json");
  expect_json_rejected("POST", ops, "[]", 400, "malformed_json");
  expect_json_rejected("POST", ops, "{\"ops\": \"x\"}", 400, "invalid_field");
  expect_json_rejected("POST", ops, "{\"ops\": []}", 400, "invalid_field");  // LOG-001
  expect_json_rejected("POST", ops, "{}", 400, "missing_field");
  expect_json_rejected("POST", ops, "{\"ops\": [], \"ops\": []}", 400, "duplicate_field");
  std::string with_extra = upload_text(random, 1);
  with_extra.insert(1, "\"extra\": 1, ");
  expect_json_rejected("POST", ops, with_extra, 400, "unknown_field");
  expect_json_rejected("POST", ops, std::string(20, '[') + std::string(20, ']'), 400,
                       "malformed_json");
  expect_json_rejected("POST", ops, "{\"ops\": [\"\xff\"]}", 400,
                       "malformed_json");  // invalid UTF-8
  expect_json_rejected("POST", "/v1/workspaces", "{\"name\": \"x\"}", 400, "unknown_field");
  expect_rejected("POST", ws.path("/tokens"), ws.owner_token, "{\"scope\": \"admin\"}",
                  "application/json", 400, "invalid_field");
  expect_rejected("POST", ws.path("/tokens"), ws.owner_token,
                  "{\"scope\": \"owner\", \"expires_in_ms\": 5000}", "application/json", 400,
                  "invalid_field");  // AUTH-014
  expect_json_rejected(
      "PUT", ws.path("/keys/1"),
      "{\"expected_version\": 0, \"kdf\": {\"algorithm\": \"scrypt\", \"iterations\": 1}, "
      "\"wrapped_key\": \"" +
          std::string(80, 'A') + "\"}",
      400, "invalid_field");
}

BOOST_FIXTURE_TEST_CASE(bad_operations_reject_the_whole_batch, Populated) {
  // One damaged operation among good ones: the answer names it and nothing of the batch is stored.
  UploadOpsRequest good;
  for (int i = 0; i < 5; ++i) good.ops.push_back(make_op(random, system_time_ms()));
  const nlohmann::json base = nlohmann::json::parse(serialize_message(good));
  struct Damage {
    std::string pointer;  // JSON pointer into ops[3]
    nlohmann::json value;
    std::string code;
    std::string field;
  };
  const std::vector<Damage> damages = {
      {"/id", "!!!!!!!!!!!!!!!!!!!!!!", "invalid_field", "ops[3].id"},
      {"/id", std::string(21, 'A'), "invalid_field", "ops[3].id"},
      {"/device_id", "Zg", "invalid_field", "ops[3].device_id"},
      {"/hlc/wall_ms", uint64_t{1} << 48, "invalid_field", "ops[3].hlc.wall_ms"},
      {"/hlc/wall_ms", 1.5, "invalid_field", "ops[3].hlc.wall_ms"},
      {"/hlc/counter", -1, "invalid_field", "ops[3].hlc.counter"},
      {"/key_id", 0, "invalid_field", "ops[3].key_id"},
      {"/v", 2, "invalid_field", "ops[3].v"},
      {"/payload", to_base64url(Bytes(27, 1)), "invalid_field", "ops[3].payload"},
      {"/payload", to_base64url(Bytes(kReferenceLimits.op_payload_bytes_max + 1, 1)),
       "invalid_field", "ops[3].payload"},
      {"/payload", "AAAA==", "invalid_field", "ops[3].payload"},
      {"/extra", 1, "unknown_field", "ops[3].extra"},
  };
  for (const Damage& d : damages) {
    nlohmann::json request = base;
    request["ops"][3][nlohmann::json::json_pointer(d.pointer)] = d.value;
    const Hash before = server.fingerprint();
    HttpAnswer answer = server.client().request("POST", ws.path("/ops"), writer, request.dump());
    BOOST_TEST(answer.status == 400, d.pointer << ": " << answer.body);
    BOOST_TEST(answer.code() == d.code, d.pointer << ": " << answer.body);
    BOOST_TEST(answer.field() == d.field, d.pointer << ": " << answer.body);
    BOOST_TEST(server.fingerprint() == before);
  }
  nlohmann::json missing = base;
  missing["ops"][3].erase("key_id");
  expect_json_rejected("POST", ws.path("/ops"), missing.dump(), 400, "missing_field");
  expect_json_rejected("POST", ws.path("/ops"),
                       upload_text(random, kReferenceLimits.batch_ops_max + 1), 413,
                       "too_many_ops");
}

BOOST_FIXTURE_TEST_CASE(versions_routes_and_methods, Populated) {
  expect_rejected("GET", "/v2/info", "", "", "", 404, "unsupported_version");  // VER-001
  expect_rejected("GET", "/v0/info", "", "", "", 404, "unsupported_version");
  expect_rejected("GET", "/v1/nothing", "", "", "", 404, "not_found");
  expect_rejected("GET", "/v1/info/", "", "", "", 404, "not_found");
  expect_rejected("GET", "/V1/info", "", "", "", 404, "not_found");
  expect_rejected("GET", "/", "", "", "", 404, "not_found");
  expect_rejected("GET", "/v1/workspaces/" + ws.id + "/ops/extra", writer, "", "", 404,
                  "not_found");
  const Hash before = server.fingerprint();
  HttpAnswer patch = server.client().request("PATCH", "/v1/info", "", "{}");
  BOOST_TEST(patch.status == 405);
  BOOST_TEST(patch.code() == "method_not_allowed");
  BOOST_TEST(patch.header("Allow") == "GET");  // TRN-010
  BOOST_TEST(server.fingerprint() == before);
  expect_rejected("DELETE", "/v1/info", "", "", "", 405, "method_not_allowed");
  // TRN-012: byte for byte, no percent-decoding, literal segments before parameters.
  expect_rejected("GET", "/v01/info", "", "", "", 404, "unsupported_version");
  expect_rejected("GET", "/v1x/info", "", "", "", 404, "not_found");
  expect_rejected("GET", "/v1/%69nfo", "", "", "", 404, "not_found");
  expect_rejected("GET", "/v1//info", "", "", "", 404, "not_found");
  const auto allowed = [&](const std::string& method, const std::string& path) {
    HttpAnswer answer = server.client().request(method, path, ws.owner_token, "", "");
    BOOST_TEST(answer.status == 405,
               method << " " << path << ": " << answer.status << " " << answer.body);
    BOOST_TEST(answer.code() == "method_not_allowed");
    return answer.header("Allow");
  };
  BOOST_TEST(allowed("DELETE", ws.path("/tokens/self")) == "GET");
  BOOST_TEST(allowed("GET", ws.path("/tokens/" + to_base64url(random.id()))) == "DELETE");
  BOOST_TEST(allowed("PUT", ws.path("/files/" + to_base64url(committed_file))) ==
             "POST, GET, DELETE");
  BOOST_TEST(server.fingerprint() == before);
}

BOOST_FIXTURE_TEST_CASE(the_first_fault_in_the_order_of_checks_is_answered, Populated) {
  // ERR-013: version, route, method, query, content type, size, authorization, body, path ids.
  const std::string body = upload_text(random, 1);
  expect_rejected("PATCH", "/v2/workspaces/x/ops?bogus=1", "", body, "text/plain", 404,
                  "unsupported_version");
  expect_rejected("PATCH", ws.path("/opz?bogus=1"), "", body, "text/plain", 404, "not_found");
  expect_rejected("PATCH", ws.path("/ops?bogus=1"), "", body, "text/plain", 405,
                  "method_not_allowed");
  expect_rejected("POST", ws.path("/ops?bogus=1"), "", body, "text/plain", 400, "invalid_query");
  expect_rejected("GET", ws.path("/ops?limit=0&bogus=1"), "", "", "", 400, "invalid_query");
  expect_rejected("POST", ws.path("/ops"), "", body, "text/plain", 415, "unsupported_media_type");
  expect_rejected("POST", "/v1/workspaces/not-an-id/ops", "", "{", "text/plain", 415,
                  "unsupported_media_type");
  // Size before authorization: an oversize body without a token is 413 (as a proxy would answer).
  const std::string head = "POST " + ws.path("/ops") +
                           " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                           "Content-Length: 100000000\r\n\r\n";
  const std::string oversize = raw_exchange(server.port(), head);
  BOOST_TEST(oversize.rfind("HTTP/1.1 413", 0) == 0, oversize.substr(0, 200));
  expect_rejected("POST", ws.path("/ops"), "", "{", "application/json", 401, "token_missing");
  expect_rejected("POST", "/v1/workspaces/not-an-id/ops", "", "{", "application/json", 401,
                  "token_missing");
  // AUTH-025: a malformed workspace id after a valid token, before the body.
  expect_rejected("POST", "/v1/workspaces/not-an-id/ops", writer, "{", "application/json", 400,
                  "invalid_id");
  expect_rejected("POST", ws.path("/ops"), reader, "{", "application/json", 403,
                  "insufficient_scope");
  // The body before the path ids of sub-resources.
  expect_rejected("POST", ws.path("/files/bad"), writer, "{", "application/json", 400,
                  "malformed_json");
  expect_rejected("POST", ws.path("/files/bad"), writer, "{\"chunk_count\":1}", "application/json",
                  400, "invalid_id");
  // FILE-014: a chunk body too short for an envelope, before the file id and index.
  expect_rejected("PUT", ws.path("/files/bad/chunks/007"), writer, std::string(10, 'x'),
                  "application/octet-stream", 400, "invalid_field");
  expect_rejected("PUT", ws.path("/files/bad/chunks/007"), writer, std::string(40, 'x'),
                  "application/octet-stream", 400, "invalid_id");
}

BOOST_FIXTURE_TEST_CASE(json_faults_are_reported_in_the_order_of_err_014, Populated) {
  const std::string op = nlohmann::json::parse(upload_text(random, 1))["ops"][0].dump();
  // The text first: a repeated member in a text that is also cut short, or too deep.
  expect_json_rejected("POST", ws.path("/ops"), "{\"ops\":[" + op + "],\"ops\":[" + op + "]", 400,
                       "malformed_json");
  expect_json_rejected(
      "POST", ws.path("/ops"),
      "{\"ops\":[],\"ops\":[],\"deep\":" + std::string(17, '[') + std::string(17, ']') + "}", 400,
      "malformed_json");
  // TRN-028: a byte order mark, a lone surrogate.
  expect_json_rejected("POST", ws.path("/ops"), "\xEF\xBB\xBF{\"ops\":[" + op + "]}", 400,
                       "malformed_json");
  expect_json_rejected("POST", ws.path("/ops"), "{\"ops\":[" + op + "],\"x\":\"\\ud800\"}", 400,
                       "malformed_json");
  // Then the first repeated member, named by its path (TRN-027), before any member fault.
  nlohmann::json doubled = nlohmann::json::parse(op);
  const std::string repeated =
      "{\"ops\":[" + op.substr(0, op.size() - 1) + ",\"key_id\":1}],\"extra\":1}";
  HttpAnswer answer =
      server.client().request("POST", ws.path("/ops"), writer, repeated, "application/json");
  BOOST_TEST(answer.code() == "duplicate_field");
  BOOST_TEST(answer.field() == "ops[0].key_id");
  // Then members in schema order, an object's unknown members after its own.
  nlohmann::json two = nlohmann::json::parse(upload_text(random, 2));
  two["ops"][0]["hlc"]["extra"] = 1;
  two["ops"][0]["key_id"] = 0;
  answer = server.client().request("POST", ws.path("/ops"), writer, two.dump(), "application/json");
  BOOST_TEST(answer.code() == "unknown_field");
  BOOST_TEST(answer.field() == "ops[0].hlc.extra");
}

BOOST_FIXTURE_TEST_CASE(content_type_parameters, Populated) {
  // TRN-014: charset=utf-8 only, in any case, quoted or not; octet-stream without parameters.
  for (const char* type : {"application/json;charset=UTF-8", "application/json ; charset=\"utf-8\"",
                           "application/json;", "APPLICATION/JSON"}) {
    HttpAnswer ok =
        server.client().request("POST", ws.path("/ops"), writer, upload_text(random, 1), type);
    BOOST_TEST(ok.status == 200, type << ": " << ok.body);
  }
  const std::string body = upload_text(random, 1);
  for (const char* type :
       {"application/json; charset=latin1", "application/json; boundary=x",
        "application/json; charset=utf-8; charset=utf-8", "application/json; charset",
        "application/jsonx", "application/json-seq"})
    expect_rejected("POST", ws.path("/ops"), writer, body, type, 415, "unsupported_media_type");
  expect_rejected("PUT", file_path(uploading_file) + "/chunks/0", writer, std::string(40, 'x'),
                  "application/octet-stream; charset=utf-8", 415, "unsupported_media_type");
}

BOOST_FIXTURE_TEST_CASE(bodies_sent_to_endpoints_without_one, Populated) {
  // TRN-015: ignored, whatever their type, but not beyond the JSON body limit.
  HttpAnswer ignored = server.client().request("DELETE", file_path(committed_file), writer,
                                               "{not json", "text/plain");
  BOOST_TEST(ignored.status == 200, ignored.body);
  const std::string head = "DELETE " + file_path(committed_file) +
                           " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + writer +
                           "\r\nContent-Length: 100000000\r\n\r\n";
  const std::string oversize = raw_exchange(server.port(), head);
  BOOST_TEST(oversize.rfind("HTTP/1.1 413", 0) == 0, oversize.substr(0, 200));
}

BOOST_FIXTURE_TEST_CASE(content_types, Populated) {
  const std::string body = upload_text(random, 1);
  expect_rejected("POST", ws.path("/ops"), writer, body, "", 415, "unsupported_media_type");
  expect_rejected("POST", ws.path("/ops"), writer, body, "text/plain", 415,
                  "unsupported_media_type");
  expect_rejected("POST", ws.path("/ops"), writer, body, "application/octet-stream", 415,
                  "unsupported_media_type");
  expect_rejected("PUT", file_path(uploading_file) + "/chunks/0", writer, std::string(40, 'x'),
                  "application/json", 415, "unsupported_media_type");
  // A charset parameter and different letter case are fine (TRN-004).
  HttpAnswer ok = server.client().request("POST", ws.path("/ops"), writer, body,
                                          "Application/JSON; charset=utf-8");
  BOOST_TEST(ok.status == 200);
}

BOOST_FIXTURE_TEST_CASE(oversize_bodies_are_refused_before_they_are_read, Populated) {
  // The head alone declares 100 MB; the server answers 413 without waiting for a byte of it.
  const Hash before = server.fingerprint();
  const std::string head =
      "POST " + ws.path("/ops") + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
      writer + "\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n";
  const std::string answer = raw_exchange(server.port(), head);
  BOOST_TEST(answer.rfind("HTTP/1.1 413", 0) == 0, answer.substr(0, 200));
  BOOST_TEST(answer.find("body_too_large") != std::string::npos);
  const std::string chunk_head = "PUT " + file_path(uploading_file) +
                                 "/chunks/0 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                 "Authorization: Bearer " +
                                 writer +
                                 "\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
                                 std::to_string(kReferenceLimits.chunk_bytes + 29) + "\r\n\r\n";
  BOOST_TEST(raw_exchange(server.port(), chunk_head).rfind("HTTP/1.1 413", 0) == 0);
  // A chunked body that passes the limit is cut off as soon as it does.
  const std::string piece(1 << 20, 'x');
  std::string chunked = "POST " + ws.path("/ops") +
                        " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + writer +
                        "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 9; ++i) {
    char size[16];
    std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
    chunked += size + piece + "\r\n";
  }
  chunked += "0\r\n\r\n";
  const std::string chunked_answer = raw_exchange(server.port(), chunked);
  BOOST_TEST(chunked_answer.rfind("HTTP/1.1 413", 0) == 0, chunked_answer.substr(0, 200));
  BOOST_TEST(server.fingerprint() == before);
  // The server still serves afterwards.
  BOOST_TEST(server.client().get("/v1/info").status == 200);
}

BOOST_FIXTURE_TEST_CASE(tokens_missing_wrong_and_revoked, Populated) {
  const std::string body = upload_text(random, 1);
  expect_rejected("POST", ws.path("/ops"), "", body, "application/json", 401, "token_missing");
  expect_rejected("POST", ws.path("/ops"), "opsync_not-a-token", body, "application/json", 401,
                  "token_invalid");
  expect_rejected("POST", ws.path("/ops"), "", body, "application/json", 401, "token_missing",
                  {{"Authorization", "Basic dXNlcjpwYXNz"}});
  expect_rejected("GET", ws.path("/ops"), "", "", "", 401, "token_missing",
                  {{"Authorization", "Bearer"}});
  HttpAnswer self = server.client().get(ws.path("/tokens/self"), writer);
  const std::string writer_id = to_base64url(self.as<TokenEntry>().token_id);
  BOOST_REQUIRE_EQUAL(
      server.client().request("DELETE", ws.path("/tokens/" + writer_id), ws.owner_token).status,
      200);
  expect_rejected("POST", ws.path("/ops"), writer, body, "application/json", 401, "token_revoked");
  // A read token may read but never write (403 before the body is looked at).
  expect_rejected("POST", ws.path("/ops"), reader, body, "application/json", 403,
                  "insufficient_scope");
  expect_rejected("PUT", file_path(uploading_file) + "/chunks/0", reader, std::string(40, 'x'),
                  "application/octet-stream", 403, "insufficient_scope");
  expect_rejected("DELETE", file_path(committed_file), reader, "", "", 403, "insufficient_scope");
  expect_rejected("POST", ws.path("/tokens"), reader, "{\"scope\":\"read\"}", "application/json",
                  403, "insufficient_scope");
  expect_rejected("DELETE", ws.path(), reader, "", "", 403, "insufficient_scope");
}

BOOST_FIXTURE_TEST_CASE(query_parameters, Populated) {
  const std::string ops = ws.path("/ops");
  for (const char* query : {"?bogus=1", "?after_seq=1&after_seq=2", "?limit=0", "?limit=1001",
                            "?limit=abc", "?after_seq=-1", "?after_seq=01", "?after_seq=1e3",
                            "?limit=", "?after_seq=99999999999999999999", "?limit", "?limit=+1",
                            "?limit=%2B1", "?limit=1%20", "?after_seq=1&after_seq=1"})
    expect_rejected("GET", ops + std::string(query), reader, "", "", 400, "invalid_query");
  expect_rejected("GET", ws.path("/blocks?start=x"), reader, "", "", 400, "invalid_query");
  expect_rejected("GET", ws.path("/tokens?after=short"), ws.owner_token, "", "", 400,
                  "invalid_query");
  expect_rejected("GET", ws.path("/keys?limit=65"), reader, "", "", 400, "invalid_query");
  expect_rejected("GET", "/v1/info?verbose=1", "", "", "", 400, "invalid_query");
  // TRN-013: values are percent-decoded before they are checked; an empty query is none.
  BOOST_TEST(server.client().get(ops + "?limit=%31", reader).status == 200);
  BOOST_TEST(server.client().get(ops + "?", reader).status == 200);
  // AUTH-024: any token id is a cursor, also one the workspace does not hold.
  BOOST_TEST(server.client()
                 .get(ws.path("/tokens?after=" + to_base64url(random.id())), ws.owner_token)
                 .status == 200);
}

BOOST_FIXTURE_TEST_CASE(ids_in_paths, Populated) {
  // Malformed ids never reach storage (SEC-004).
  expect_rejected("GET", "/v1/workspaces/not-an-id/ops", writer, "", "", 400, "invalid_id");
  expect_rejected("GET", "/v1/workspaces/" + ws.id + "A/ops", writer, "", "", 400, "invalid_id");
  // Paths are matched without percent-decoding (TRN-012): this is one segment, a malformed id.
  expect_rejected("GET", ws.path("/files/..%2F..%2Fetc%2Fpasswd"), writer, "", "", 400,
                  "invalid_id");
  expect_rejected("GET", ws.path("/files/.."), writer, "", "", 400, "invalid_id");
  expect_rejected("GET", ws.path("/files/" + std::string(22, '.')), writer, "", "", 400,
                  "invalid_id");
  expect_rejected("GET", "/v1/workspaces/../../etc/passwd", writer, "", "", 404, "not_found");
  for (const char* key_id : {"0", "4294967296", "-1", "01", "x"})
    expect_rejected("PUT", ws.path("/keys/" + std::string(key_id)), writer,
                    serialize_message(PutKeyRequest{0, KdfParams{}, Bytes(60, 1)}),
                    "application/json", 400, "invalid_id");
  for (const char* index : {"x", "-1", "01", "4294967296"})
    expect_rejected("GET", file_path(committed_file) + "/chunks/" + std::string(index), reader, "",
                    "", 400, "invalid_id");
  expect_rejected("DELETE", ws.path("/tokens/xyz"), ws.owner_token, "", "", 400, "invalid_id");
}

BOOST_FIXTURE_TEST_CASE(file_rules, Populated) {
  const std::string uploading = file_path(uploading_file);
  expect_rejected("PUT", uploading + "/chunks/3", writer, std::string(40, 'x'),
                  "application/octet-stream", 400, "chunk_index_out_of_range");
  expect_rejected("PUT", uploading + "/chunks/0", writer, std::string(27, 'x'),
                  "application/octet-stream", 400, "invalid_field");
  expect_json_rejected("POST", uploading + "/commit", "{\"chunk_count\": 3}", 409,
                       "file_incomplete");
  expect_json_rejected("POST", uploading + "/commit", "{\"chunk_count\": 2}", 409,
                       "file_chunk_count_mismatch");
  expect_rejected("DELETE", uploading, writer, "", "", 409, "file_not_committed");
  expect_rejected("GET", uploading + "/chunks/0", reader, "", "", 409, "file_not_committed");
  expect_rejected("GET", file_path(committed_file) + "/chunks/1", reader, "", "", 400,
                  "chunk_index_out_of_range");
  const std::string absent = file_path(random.id());
  expect_rejected("PUT", absent + "/chunks/0", writer, std::string(40, 'x'),
                  "application/octet-stream", 404, "file_not_found");
  expect_json_rejected("POST", absent + "/commit", "{\"chunk_count\": 1}", 404, "file_not_found");
  expect_rejected("DELETE", absent, writer, "", "", 404, "file_not_found");
  expect_json_rejected("POST", absent, "{\"chunk_count\": 0}", 400, "invalid_field");
  expect_json_rejected(
      "POST", absent,
      "{\"chunk_count\": " + std::to_string(kReferenceLimits.file_chunks_max + 1) + "}", 400,
      "invalid_field");
  FileStatusRequest too_many;
  for (uint64_t i = 0; i <= kReferenceLimits.file_status_ids_max; ++i)
    too_many.file_ids.push_back(random.id());
  expect_json_rejected("POST", ws.path("/file-status"), serialize_message(too_many), 413,
                       "too_many_ids");
  const std::string twice = "{\"file_ids\": [\"" + to_base64url(committed_file) + "\", \"" +
                            to_base64url(committed_file) + "\"]}";
  expect_json_rejected("POST", ws.path("/file-status"), twice, 400, "invalid_field");
}

BOOST_FIXTURE_TEST_CASE(key_record_limits, Populated) {
  Http http = server.client();
  for (uint32_t key_id = 1; key_id <= kReferenceLimits.key_records_max; ++key_id)
    BOOST_REQUIRE_EQUAL(http.request("PUT", ws.path("/keys/" + std::to_string(key_id)), writer,
                                     serialize_message(PutKeyRequest{0, KdfParams{}, Bytes(60, 1)}))
                            .status,
                        200);
  expect_json_rejected("PUT", ws.path("/keys/999"),
                       serialize_message(PutKeyRequest{0, KdfParams{}, Bytes(60, 1)}), 409,
                       "key_records_full");
  expect_json_rejected("PUT", ws.path("/keys/1"),
                       serialize_message(PutKeyRequest{7, KdfParams{}, Bytes(60, 1)}), 409,
                       "version_conflict");
}

BOOST_FIXTURE_TEST_CASE(closed_registration, Populated) {
  ServerConfig config;
  config.registration = Registration::kClosed;
  TestServer closed(config);
  HttpAnswer answer = closed.client().post("/v1/workspaces", std::string("{}"));
  BOOST_TEST(answer.status == 403);
  BOOST_TEST(answer.code() == "registration_closed");
  // The operator can still create one outside the protocol.
  Result<CreateWorkspaceResponse> created = closed.core().create_workspace(system_time_ms());
  BOOST_REQUIRE(created.ok());
  BOOST_TEST(closed.client()
                 .get("/v1/workspaces/" + to_base64url(created->workspace_id) + "/tokens/self",
                      created->owner_token)
                 .status == 200);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(isolation)

BOOST_FIXTURE_TEST_CASE(another_workspaces_token_opens_nothing, Populated) {
  // ws's owner token against every endpoint of `other`: the same 404 whether or not it exists.
  const std::string file = "/files/" + to_base64url(committed_file);
  const std::vector<std::tuple<std::string, std::string, std::string, std::string>> requests = {
      {"DELETE", "", "", ""},
      {"POST", "/tokens", "{\"scope\":\"read\"}", "application/json"},
      {"GET", "/tokens", "", ""},
      {"GET", "/tokens/self", "", ""},
      {"DELETE", "/tokens/" + to_base64url(random.id()), "", ""},
      {"GET", "/keys", "", ""},
      {"PUT", "/keys/1", serialize_message(PutKeyRequest{0, KdfParams{}, Bytes(60, 1)}),
       "application/json"},
      {"POST", "/ops", upload_text(random, 1), "application/json"},
      {"GET", "/ops", "", ""},
      {"GET", "/blocks", "", ""},
      {"POST", "/file-status", "{\"file_ids\":[\"" + to_base64url(committed_file) + "\"]}",
       "application/json"},
      {"POST", file, "{\"chunk_count\":1}", "application/json"},
      {"GET", file, "", ""},
      {"DELETE", file, "", ""},
      {"POST", file + "/commit", "{\"chunk_count\":1}", "application/json"},
      {"PUT", file + "/chunks/0", std::string(40, 'x'), "application/octet-stream"},
      {"GET", file + "/chunks/0", "", ""},
  };
  const std::string missing_workspace = "/v1/workspaces/" + to_base64url(random.id());
  for (const auto& [method, rest, body, type] : requests) {
    expect_rejected(method, other.path(rest), ws.owner_token, body, type, 404,
                    "workspace_not_found");
    expect_rejected(method, missing_workspace + rest, ws.owner_token, body, type, 404,
                    "workspace_not_found");
  }
}

BOOST_FIXTURE_TEST_CASE(ids_of_one_workspace_mean_nothing_in_another, Populated) {
  // `other`'s owner, in its own workspace, naming ws's file and token ids: not found there.
  const std::string file = other.path("/files/" + to_base64url(committed_file));
  expect_rejected("GET", file, other.owner_token, "", "", 404, "file_not_found");
  expect_rejected("GET", file + "/chunks/0", other.owner_token, "", "", 404, "file_not_found");
  expect_rejected("DELETE", file, other.owner_token, "", "", 404, "file_not_found");
  HttpAnswer writer_entry = server.client().get(ws.path("/tokens/self"), writer);
  expect_rejected("DELETE",
                  other.path("/tokens/" + to_base64url(writer_entry.as<TokenEntry>().token_id)),
                  other.owner_token, "", "", 404, "token_not_found");
  FileStatusRequest query{{committed_file}};
  FileStatusResponse states = server.client()
                                  .post(other.path("/file-status"), query, other.owner_token)
                                  .as<FileStatusResponse>();
  BOOST_TEST((states.files.at(0).state == FileState::kAbsent));
  OpsPageResponse page =
      server.client().get(other.path("/ops"), other.owner_token).as<OpsPageResponse>();
  BOOST_TEST(page.head_seq == 0u);  // ws holds 20 operations; other sees none
}

BOOST_AUTO_TEST_SUITE_END()
