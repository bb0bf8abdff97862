// Spec 2.1, 2.6 and 3: the info endpoint, versions, routes and methods, headers.
#include <netdb.h>

#include "common.h"

namespace opsync::conformance::cases {
namespace {

void info_has_every_member(CaseContext& c) {
  const HttpResponse r = c.get(path(E::kInfo));
  const InfoResponse info = c.expect_message<InfoResponse>(r, 200, "INF-001");
  // Parsing already held every member to its range (INF-003, INF-004, LIM-001, INF-005).
  c.check(std::find(info.versions.begin(), info.versions.end(), 1u) != info.versions.end(),
          "INF-001", "versions lists 1");
  c.check(limits_meet_floors(info.limits), "LIM-001",
          "every limit at least its floor, chunk_bytes at most 16 MiB");
  c.check(r.header("content-type").value_or("").rfind("application/json", 0) == 0, "TRN-006",
          "Content-Type: application/json");
}

void request_ids_are_echoed_or_made_up(CaseContext& c) {
  const std::string mine = "conformance.id_" + std::to_string(c.random().below(1000000));
  // Raw requests, so that each carries exactly the id this case chooses (or none).
  const std::string head = "GET " + path(E::kInfo) + " HTTP/1.1\r\nHost: x\r\nOpSync-Test-Case: " +
                           std::string(c.current().id) + "\r\n";
  Result<HttpResponse> echoed = c.raw(head + "OpSync-Request-Id: " + mine + "\r\n\r\n");
  c.require(echoed.ok(), "TRN-008", "an answer");
  c.check(echoed->header("opsync-request-id") == mine, "TRN-008",
          "the request's id echoed: " + mine,
          echoed->header("opsync-request-id").value_or("(none)"));
  for (const std::string& bad :
       {std::string(65, 'a'), std::string("has space"), std::string("slash/es")}) {
    Result<HttpResponse> fresh = c.raw(head + "OpSync-Request-Id: " + bad + "\r\n\r\n");
    c.require(fresh.ok(), "TRN-008", "an answer");
    const std::string id = fresh->header("opsync-request-id").value_or("");
    c.check(valid_request_id(id) && id != bad, "TRN-008",
            "a fresh well-formed id for the invalid one \"" + bad + "\"", id);
  }
  Result<HttpResponse> none = c.raw(head + "\r\n");
  c.require(none.ok(), "TRN-008", "an answer");
  c.check(valid_request_id(none->header("opsync-request-id").value_or("")), "TRN-008",
          "a made-up id", none->header("opsync-request-id").value_or("(none)"));
}

void unknown_versions_are_404_unsupported_version(CaseContext& c) {
  for (const char* target : {"/v2/info", "/v0/info", "/v01/info", "/v99/workspaces"})
    c.expect_error(c.get(target), 404, "unsupported_version", "VER-001");
}

void paths_match_byte_for_byte(CaseContext& c) {
  for (const char* target : {"/v1/info/", "/V1/info", "/v1x/info", "/v1/%69nfo", "/v1//info", "/v1",
                             "/", "/info", "/v1/workspaces/"})
    c.expect_error(c.get(target), 404, "not_found", "TRN-012");
}

void wrong_methods_are_405_with_allow(CaseContext& c) {
  const HttpResponse post = c.request("POST", path(E::kInfo), "", "{}", "application/json");
  if (c.expect_error(post, 405, "method_not_allowed", "TRN-010"))
    c.check(post.header("allow").value_or("").find("GET") != std::string::npos, "TRN-010",
            "Allow: GET", post.header("allow").value_or("(none)"));
  const HttpResponse del = c.request("DELETE", path(E::kCreateWorkspace));
  if (c.expect_error(del, 405, "method_not_allowed", "TRN-010"))
    c.check(del.header("allow").value_or("").find("POST") != std::string::npos, "TRN-010",
            "Allow: POST", del.header("allow").value_or("(none)"));
}

void unknown_query_parameters_are_400(CaseContext& c) {
  const HttpResponse r = c.get(path(E::kInfo) + "?verbose=1");
  expect_error_at(c, r, 400, "invalid_query", "verbose", "TRN-011");
}

void unknown_headers_are_ignored(CaseContext& c) {
  const HttpResponse r =
      c.request("GET", path(E::kInfo), "", "", "",
                {{"X-Conformance", "1"}, {"OpSync-Future-Header", "yes"}, {"Accept", "text/html"}});
  c.check(r.status == 200, "TRN-009", "200: headers the spec does not name are ignored",
          describe(r));
}

void capabilities_not_advertised_are_404(CaseContext& c) {
  const bool files = c.info().has_capability("files");
  const bool deletes = c.info().has_capability("workspace_delete");
  if (files && deletes) c.skip("the server advertises every capability of version 1");
  const TestWorkspace ws = c.new_workspace();
  if (!files) {
    c.expect_error(c.post_json(path(E::kFileStatus, {ws.id}), ws.owner_token,
                               R"({"file_ids":["AAAAAAAAAAAAAAAAAAAAAA"]})"),
                   404, "not_found", "VER-004");
    // No route, so no method either: step 2 of ERR-013 answers before step 3.
    c.expect_error(c.request("PATCH", path(E::kFileStatus, {ws.id}), ws.owner_token), 404,
                   "not_found", "ERR-013");
  }
  if (!deletes)
    c.expect_error(c.request("DELETE", path(E::kDeleteWorkspace, {ws.id}), ws.owner_token), 404,
                   "not_found", "VER-004");
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

void remote_servers_serve_https(CaseContext& c) {
  const Server& server = c.options().server;
  c.check(server.tls || is_loopback(server.host), "TRN-002",
          "HTTPS for a server reachable from other machines", "plain HTTP on " + server.host);
}

constexpr std::array kCases = {
    Case{"discovery-001",
         "INF-001 INF-002 INF-003 INF-004 INF-005 LIM-001 TRN-001 TRN-006 TRN-007 TRN-029",
         Level::kMust, Capability::kNone,
         "GET /v1/info answers 200 with every member, each within its range",
         &info_has_every_member},
    Case{
        "discovery-002", "TRN-008", Level::kMust, Capability::kNone,
        "a valid OpSync-Request-Id is echoed; an invalid or missing one is replaced by a fresh one",
        &request_ids_are_echoed_or_made_up},
    Case{"discovery-003", "VER-001 TRN-012", Level::kMust, Capability::kNone,
         "/v2, /v0 and /v01 are versions the server does not serve: 404 unsupported_version",
         &unknown_versions_are_404_unsupported_version},
    Case{"discovery-004", "TRN-003 TRN-012", Level::kMust, Capability::kNone,
         "trailing slashes, other letter case, empty segments and percent-encoded paths match no "
         "route",
         &paths_match_byte_for_byte},
    Case{"discovery-005", "TRN-010", Level::kMust, Capability::kNone,
         "a known path with another method: 405 method_not_allowed with Allow",
         &wrong_methods_are_405_with_allow},
    Case{"discovery-006", "TRN-011", Level::kMust, Capability::kNone,
         "a query parameter the endpoint does not define: 400 invalid_query naming it",
         &unknown_query_parameters_are_400},
    Case{"discovery-007", "TRN-009", Level::kMust, Capability::kNone,
         "headers the spec does not name are ignored", &unknown_headers_are_ignored},
    Case{"discovery-008", "VER-004 VER-003 ERR-013", Level::kMust, Capability::kNone,
         "endpoints of capabilities the server does not advertise answer 404 not_found",
         &capabilities_not_advertised_are_404},
    Case{"discovery-009", "TRN-002", Level::kShould, Capability::kNone,
         "a server reachable from other machines serves HTTPS", &remote_servers_serve_https},
};

}  // namespace

std::span<const Case> discovery_cases() { return kCases; }

}  // namespace opsync::conformance::cases
