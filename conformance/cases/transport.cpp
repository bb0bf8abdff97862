// RFC 9112 framing and the HTTP layer's own answers (spec 2.1, 2.4, 2.6): malformed framing,
// unsupported transfer codings, the advertised limits on a request's head, HTTP versions,
// pipelining, and the headers of every answer the HTTP layer makes, 100 Continue included.
//
// The bytes are written here exactly as sent, so each case builds its own request line and
// header section: OpSync-Test-Case and OpSync-Request-Id always among them (TRN-009).
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <thread>

#include "common.h"

namespace opsync::conformance::cases {
namespace {

constexpr uint64_t kAnswerMs = 5000;  // an answer "at once": well before any server's read deadline
constexpr uint64_t kCloseMs = 3000;   // the connection closed after an answer that ends it

// The head of a request whose fields are `fields` (each ending in CRLF), with the case's headers.
std::string head(CaseContext& c, const std::string& method, const std::string& target,
                 const std::string& fields, const std::string& version = "HTTP/1.1",
                 bool host = true) {
  std::string out = method + " " + target + " " + version + "\r\n";
  if (host) out += "Host: " + c.options().server.host + "\r\n";
  for (const auto& [name, value] : c.case_headers()) out += name + ": " + value + "\r\n";
  return out + fields;
}

std::string chunk(const std::string& data) {
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  return size + data + "\r\n";
}

// Holds a raw answer to what every response must be (TRN-007, TRN-008, ERR-001, TRN-056): the
// checks CaseContext applies to its own requests.
void check_wire(CaseContext& c, const std::string& method, const std::string& target,
                const HttpResponse& response, const std::string& what) {
  const std::optional<std::string> id = response.header("OpSync-Request-Id");
  const WireExchange exchange{
      method,          target,        std::nullopt,
      response.status, response.body, [&](std::string_view name) { return response.header(name); }};
  for (const WireViolation& v : check_wire_response(exchange))
    c.check(false, v.requirement, v.what, what + " -> " + std::to_string(response.status));
  if (!id) c.check(false, "TRN-056", "OpSync-Request-Id on the HTTP layer's answer", what);
}

// How an answer of the HTTP layer ends its connection. A front relaying the server's 400, 414
// or 431 may keep the client's connection open once it has read the whole request (TRN-073), so
// the close is required only where no front can have relayed the answer.
enum class Close : uint8_t { kRequired, kNotRequired };

// Sends `bytes` on a connection of the case's, expects an error answer of `status` and `code`
// at once, with the headers of every answer, and (when `close` says so) the connection closed
// after it. With `or_501`, 501 unsupported_transfer_coding is accepted as well (TRN-072).
void expect_refused(CaseContext& c, const std::string& what, const std::string& bytes, int status,
                    std::string_view code, std::string_view requirement,
                    Close close = Close::kRequired, bool or_501 = false) {
  std::unique_ptr<Connection> connection = c.connect();
  const Status sent = connection->send(bytes);
  Result<HttpResponse> response = connection->read_response(kAnswerMs);
  c.record(bytes, response, 0);
  if (!response.ok()) {
    c.check(false, requirement,
            what + ": status " + std::to_string(status) + " " + std::string(code),
            "no answer within " + std::to_string(kAnswerMs) + " ms" +
                (sent.ok() ? "" : " (sending failed)"));
    return;
  }
  check_wire(c, "POST", "/", *response, what);
  const auto [got_code, field] = code_and_field(*response);
  const bool as_501 =
      or_501 && response->status == 501 && got_code == "unsupported_transfer_coding";
  c.check((response->status == status && got_code == code) || as_501, requirement,
          what + ": status " + std::to_string(status) + " " + std::string(code) +
              (or_501 ? " or 501 unsupported_transfer_coding" : ""),
          describe(*response));
  if (close == Close::kRequired)
    c.check(connection->wait_closed(kCloseMs), requirement,
            what + ": the connection closed after the answer",
            "still open after " + std::to_string(kCloseMs) + " ms");
}

// TRN-064: a request line without a version is never served as HTTP/1.1. A 400, a closed
// connection, or an answer in HTTP/0.9's form (no status line) all meet it.
void expect_not_served_as_http11(CaseContext& c, const std::string& what,
                                 const std::string& bytes) {
  std::unique_ptr<Connection> connection = c.connect();
  (void)connection->send(bytes);
  Result<HttpResponse> response = connection->read_response(kAnswerMs);
  c.record(bytes, response, 0);
  if (!response.ok()) return;  // closed, or no HTTP/1.1 status line: not served as HTTP/1.1
  const auto [code, field] = code_and_field(*response);
  c.check(response->status == 400 && code == "malformed_request", "TRN-064",
          what + ": 400 malformed_request, a close, or no HTTP/1.1 answer", describe(*response));
}

// A JSON request head for an endpoint that takes a body and needs no token.
std::string create_head(CaseContext& c, const std::string& framing) {
  return head(c, "POST", path(E::kCreateWorkspace), "Content-Type: application/json\r\n" + framing);
}

void malformed_framing_is_400_and_closes(CaseContext& c) {
  struct Fault {
    const char* what;
    std::string bytes;
  };
  const std::vector<Fault> faults = {
      {"Content-Length twice with equal values",
       create_head(c, "Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}")},
      {"Content-Length twice, the longer second",
       create_head(c, "Content-Length: 2\r\nContent-Length: 40\r\n\r\n{}")},
      {"Content-Length as a list", create_head(c, "Content-Length: 2, 2\r\n\r\n{}")},
      {"Content-Length +2", create_head(c, "Content-Length: +2\r\n\r\n{}")},
      {"Content-Length 2x", create_head(c, "Content-Length: 2x\r\n\r\n{}")},
      {"Content-Length abc", create_head(c, "Content-Length: abc\r\n\r\n{}")},
      {"Content-Length -1", create_head(c, "Content-Length: -1\r\n\r\n{}")},
      {"Content-Length with Transfer-Encoding",
       create_head(c, "Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk("{}") +
                          "0\r\n\r\n")},
      {"a negative chunk size",
       create_head(c, "Transfer-Encoding: chunked\r\n\r\n-2\r\n{}\r\n0\r\n\r\n")},
      {"a chunk size that is not hex",
       create_head(c, "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n")},
      {"a chunk without its CRLF",
       create_head(c, "Transfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n")},
      {"HTTP/1.1 without Host", head(c, "GET", path(E::kInfo), "\r\n", "HTTP/1.1", /*host=*/false)},
      {"two Host fields", head(c, "GET", path(E::kInfo), "Host: a\r\n\r\n")},
      {"whitespace before a field's colon", head(c, "GET", path(E::kInfo), "X-Padded : 1\r\n\r\n")},
      {"a line that is no request line", "NOT A REQUEST\r\n\r\n"},
      {"a target in authority form", head(c, "GET", "127.0.0.1:80", "\r\n")},
      {"the asterisk form with GET", head(c, "GET", "*", "\r\n")},
  };
  for (const Fault& f : faults)
    expect_refused(c, f.what, f.bytes, 400, "malformed_request", "TRN-051");
  // Codings other than exactly one chunked: 400, or 501 as nginx answers (TRN-072).
  const std::vector<Fault> codings = {
      {"chunked twice",
       create_head(c, "Transfer-Encoding: chunked, chunked\r\n\r\n" + chunk("{}") + "0\r\n\r\n")},
      {"chunked not last",
       create_head(c, "Transfer-Encoding: chunked, gzip\r\n\r\n" + chunk("{}") + "0\r\n\r\n")},
      {"a transfer coding without chunked", create_head(c, "Transfer-Encoding: gzip\r\n\r\n{}")},
  };
  for (const Fault& f : codings)
    expect_refused(c, f.what, f.bytes, 400, "malformed_request", "TRN-072", Close::kRequired,
                   /*or_501=*/true);
  expect_not_served_as_http11(c, "a request line without a version",
                              "GET " + path(E::kInfo) + "\r\nHost: a\r\n\r\n");
}

void another_transfer_coding_is_501(CaseContext& c) {
  expect_refused(
      c, "gzip, chunked",
      create_head(c, "Transfer-Encoding: gzip, chunked\r\n\r\n" + chunk("{}") + "0\r\n\r\n"), 501,
      "unsupported_transfer_coding", "TRN-052");
}

void the_limits_on_a_head_are_advertised_and_kept(CaseContext& c) {
  const std::optional<HttpLimits> advertised = c.info().http_limits;
  c.require(advertised.has_value(), "INF-010", "http_limits in /v1/info", "none");
  const HttpLimits limits = *advertised;  // the floors are checked by the message's decoder

  // The target: exactly at the limit is no 414 (it is an unknown query parameter), one byte more
  // is.
  const std::string info = path(E::kInfo);
  const std::string at_limit =
      info + "?q=" + std::string(limits.request_target_bytes_max - info.size() - 3, 'q');
  Result<HttpResponse> fits = c.raw(head(c, "GET", at_limit, "\r\n"), kAnswerMs);
  c.require(fits.ok(), "TRN-053", "an answer to a target at the limit",
            fits.ok() ? "" : fits.error().message);
  c.check(fits->status != 414, "TRN-053", "a target of request_target_bytes_max bytes is no 414",
          describe(*fits));
  expect_refused(c, "a target one byte over the limit", head(c, "GET", at_limit + "q", "\r\n"), 414,
                 "uri_too_long", "TRN-053", Close::kNotRequired);

  // Header fields: header_fields_max in all pass, one more does not.
  const size_t own_fields = 1 + c.case_headers().size();  // Host and the case's
  c.require(limits.header_fields_max > own_fields, "INF-010",
            "room for the suite's own header fields");
  auto with_fields = [&](size_t total) {
    std::string fields;
    for (size_t i = own_fields; i < total; ++i) fields += "X-F" + std::to_string(i) + ": 1\r\n";
    return head(c, "GET", info, fields + "\r\n");
  };
  Result<HttpResponse> most = c.raw(with_fields(limits.header_fields_max), kAnswerMs);
  c.require(most.ok(), "TRN-053", "an answer with header_fields_max fields",
            most.ok() ? "" : most.error().message);
  c.check(most->status == 200, "TRN-053", "header_fields_max fields: 200", describe(*most));
  expect_refused(c, "one header field too many", with_fields(limits.header_fields_max + 1), 431,
                 "headers_too_large", "TRN-053", Close::kNotRequired);

  // The header section's bytes, request line and empty line included.
  auto with_section = [&](uint64_t bytes) {
    const std::string start = head(c, "GET", info, "");
    const std::string name = "X-Pad: ";
    const uint64_t fixed = start.size() + name.size() + 2 + 2;
    return start + name + std::string(bytes - fixed, 'p') + "\r\n\r\n";
  };
  Result<HttpResponse> largest = c.raw(with_section(limits.header_section_bytes_max), kAnswerMs);
  c.require(largest.ok(), "TRN-053", "an answer to a header section at the limit",
            largest.ok() ? "" : largest.error().message);
  c.check(largest->status == 200, "TRN-053",
          "a header section of header_section_bytes_max bytes: 200", describe(*largest));
  expect_refused(c, "a header section one byte over",
                 with_section(limits.header_section_bytes_max + 1), 431, "headers_too_large",
                 "TRN-053", Close::kNotRequired);
}

void http_versions(CaseContext& c) {
  const std::string info = path(E::kInfo);
  Result<HttpResponse> later_minor =
      c.raw(head(c, "GET", info, "Connection: close\r\n\r\n", "HTTP/1.2"), kAnswerMs);
  c.require(later_minor.ok(), "TRN-054", "an answer to HTTP/1.2",
            later_minor.ok() ? "" : later_minor.error().message);
  c.check(later_minor->status == 200, "TRN-054", "HTTP/1.2 served as HTTP/1.1: 200",
          describe(*later_minor));
  check_wire(c, "GET", info, *later_minor, "HTTP/1.2");
  Result<HttpResponse> one_zero = c.raw(head(c, "GET", info, "\r\n", "HTTP/1.0"), kAnswerMs);
  c.require(one_zero.ok(), "TRN-054", "an answer to HTTP/1.0",
            one_zero.ok() ? "" : one_zero.error().message);
  c.check(one_zero->status == 200, "TRN-054", "HTTP/1.0 served: 200", describe(*one_zero));
  expect_refused(c, "HTTP/2.0", head(c, "GET", info, "\r\n", "HTTP/2.0"), 505,
                 "unsupported_http_version", "TRN-054");
  expect_refused(c, "HTTP/0.9", head(c, "GET", info, "\r\n", "HTTP/0.9"), 400, "malformed_request",
                 "TRN-064");
}

void pipelined_requests_are_answered_in_order(CaseContext& c) {
  const std::string info = path(E::kInfo);
  auto request = [&](const std::string& target, const std::string& id) {
    return "GET " + target + " HTTP/1.1\r\nHost: " + c.options().server.host +
           "\r\nOpSync-Test-Case: " + std::string(c.current().id) + "\r\nOpSync-Request-Id: " + id +
           "\r\n\r\n";
  };
  const std::vector<std::pair<std::string, int>> expected = {
      {"pipelined-1", 200}, {"pipelined-2", 404}, {"pipelined-3", 400}, {"pipelined-4", 200}};
  const std::string bytes = request(info, "pipelined-1") + request(info + "x", "pipelined-2") +
                            request(info + "?bogus=1", "pipelined-3") +
                            request(info, "pipelined-4");
  std::unique_ptr<Connection> connection = c.connect();
  c.require(connection->send(bytes).ok(), "TRN-055", "four requests sent at once");
  for (const auto& [id, status] : expected) {
    Result<HttpResponse> response = connection->read_response(kAnswerMs);
    c.record("(pipelined) " + id, response, 0);
    c.require(response.ok(), "TRN-055", id + " answered",
              response.ok() ? "" : response.error().message);
    c.check(
        response->header("OpSync-Request-Id") == id && response->status == status, "TRN-055",
        id + ": status " + std::to_string(status) + " with its own request id",
        describe(*response) + " for " + response->header("OpSync-Request-Id").value_or("no id"));
  }
}

void an_interim_100_carries_the_headers_of_its_final_answer(CaseContext& c) {
  const TestWorkspace ws = c.workspace();
  const std::string target = path(E::kUploadOps, {ws.id});
  const std::string body = R"({"ops":[]})";  // answered 400 invalid_field: nothing is written
  std::string request =
      "POST " + target + " HTTP/1.1\r\nHost: " + c.options().server.host +
      "\r\nOpSync-Test-Case: " + std::string(c.current().id) +
      "\r\nOpSync-Request-Id: continue-1\r\nAuthorization: Bearer " + ws.owner_token +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nExpect: 100-continue\r\n\r\n";
  std::unique_ptr<Connection> connection = c.connect();
  c.require(connection->send(request).ok(), "TRN-056", "the head sent");
  // A server may skip the interim answer (RFC 9110 10.1.1); a client then sends the body anyway.
  connection->readable(1000);
  c.require(connection->send(body).ok(), "TRN-056", "the body sent");
  Result<HttpResponse> response = connection->read_response(kAnswerMs);
  c.record(request + body, response, 0);
  c.require(response.ok(), "TRN-056", "an answer", response.ok() ? "" : response.error().message);
  check_wire(c, "POST", target, *response, "the final answer");
  c.check(response->header("OpSync-Request-Id") == "continue-1", "TRN-008",
          "the final answer echoes continue-1");
}

// TRN-074, a SHOULD: the interim 100 carries the time and the final answer's request id. A front
// that answers Expect itself sends a bare 100 (nginx does), so this warns, never fails.
void an_interim_100_should_carry_the_headers_of_its_final_answer(CaseContext& c) {
  const TestWorkspace ws = c.workspace();
  const std::string target = path(E::kUploadOps, {ws.id});
  const std::string body = R"({"ops":[]})";  // answered 400 invalid_field: nothing is written
  std::string request =
      "POST " + target + " HTTP/1.1\r\nHost: " + c.options().server.host +
      "\r\nOpSync-Test-Case: " + std::string(c.current().id) +
      "\r\nOpSync-Request-Id: continue-2\r\nAuthorization: Bearer " + ws.owner_token +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nExpect: 100-continue\r\n\r\n";
  std::unique_ptr<Connection> connection = c.connect();
  c.require(connection->send(request).ok(), "TRN-074", "the head sent");
  connection->readable(1000);
  c.require(connection->send(body).ok(), "TRN-074", "the body sent");
  Result<HttpResponse> response = connection->read_response(kAnswerMs);
  c.record(request + body, response, 0);
  c.require(response.ok(), "TRN-074", "an answer", response.ok() ? "" : response.error().message);
  c.check(!response->interim_statuses.empty(), "TRN-074", "an interim 100 before the final answer",
          "none");
  for (size_t i = 0; i < response->interim_statuses.size(); ++i) {
    const Headers& interim = response->interim_headers[i];
    auto header = [&](std::string_view name) -> std::optional<std::string> {
      for (const auto& [key, value] : interim)
        if (key.size() == name.size() &&
            std::equal(key.begin(), key.end(), name.begin(),
                       [](char a, char b) { return std::tolower(a) == std::tolower(b); }))
          return value;
      return std::nullopt;
    };
    c.check(header("OpSync-Server-Time-Ms").has_value(), "TRN-074",
            "OpSync-Server-Time-Ms on the 100",
            "status " + std::to_string(response->interim_statuses[i]) + " without it");
    c.check(header("OpSync-Request-Id") == response->header("OpSync-Request-Id"), "TRN-074",
            "the 100 and the final answer share the request id",
            header("OpSync-Request-Id").value_or("none"));
  }
}

// TRN-059, a SHOULD: dozens of connections that sit idle or drip a request's head or body a byte
// at a time must not delay a normal request on a fresh connection. One thread drives them all
// (a byte to each slow connection per tick, a timed request every other tick), so the case costs
// the suite no threads and about two seconds. The figures go in the report either way.
void idle_and_slow_clients_do_not_delay_others(CaseContext& c) {
  constexpr size_t kIdle = 48;
  constexpr size_t kSlowHeads = 16;
  constexpr size_t kSlowBodies = 16;
  constexpr int kTicks = 20;
  constexpr auto kTick = std::chrono::milliseconds(100);
  constexpr double kPromptMs = 2000;

  std::vector<std::unique_ptr<Connection>> held;
  auto open_some = [&](size_t count) {
    size_t opened = 0;
    for (size_t i = 0; i < count; ++i) {
      Result<std::unique_ptr<Connection>> connection =
          Connection::open(c.options().server, kAnswerMs);
      if (!connection.ok()) break;  // a connection cap (TRN-057): what is open is the load
      held.push_back(std::move(*connection));
      ++opened;
    }
    return opened;
  };
  const size_t idle = open_some(kIdle);
  const size_t first_slow = held.size();
  const size_t slow_heads = open_some(kSlowHeads);
  const size_t first_body = held.size();
  const size_t slow_bodies = open_some(kSlowBodies);

  // What each slow connection sends, a byte per tick: a head that never ends, or a complete head
  // announcing a body far longer than what arrives.
  std::vector<std::string> drip(held.size());
  for (size_t i = first_slow; i < held.size(); ++i) {
    drip[i] = i < first_body
                  ? head(c, "GET", path(E::kInfo), "X-Slow: " + std::string(kTicks * 2, 's'))
                  : create_head(c, "Content-Length: 4000\r\n\r\n") + std::string(kTicks * 2, ' ');
    if (i >= first_body) {  // the body's head at once, then its bytes one by one
      const size_t head_bytes = drip[i].size() - kTicks * 2;
      (void)held[i]->send(drip[i].substr(0, head_bytes));
      drip[i].erase(0, head_bytes);
    }
  }

  std::vector<double> latencies_ms;
  for (int tick = 0; tick < kTicks; ++tick) {
    for (size_t i = first_slow; i < held.size(); ++i)
      if (!drip[i].empty()) {
        (void)held[i]->send(drip[i].substr(0, 1));
        drip[i].erase(0, 1);
      }
    if (tick % 2 == 1) {
      const auto started = std::chrono::steady_clock::now();
      const HttpResponse response = c.get(path(E::kInfo));
      latencies_ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
              .count());
      c.check(response.status == 200, "TRN-059", "GET /v1/info answered 200 under the load",
              describe(response));
    }
    std::this_thread::sleep_for(kTick);
  }
  std::sort(latencies_ms.begin(), latencies_ms.end());
  const double median_ms = latencies_ms[latencies_ms.size() / 2];
  const double worst_ms = latencies_ms.back();
  char figures[200];
  std::snprintf(figures, sizeof figures,
                "%zu idle, %zu slow heads and %zu slow bodies open: %zu requests, median %.0f ms, "
                "slowest %.0f ms",
                idle, slow_heads, slow_bodies, latencies_ms.size(), median_ms, worst_ms);
  c.check(worst_ms < kPromptMs, "TRN-059", "every request answered within 2000 ms", figures);
  c.note(figures);
}

// Two or more faults of the HTTP message in one head: the first in the order of TRN-063 is the
// answer. Each pair puts the later fault first in the bytes where that can mislead a server.
void the_first_fault_of_a_head_is_answered(CaseContext& c) {
  const HttpLimits limits = c.info().http_limits.value_or(HttpLimits{});
  const std::string info = path(E::kInfo);
  const std::string long_target = info + "?q=" + std::string(limits.request_target_bytes_max, 'q');
  std::string too_many_fields;
  for (uint64_t i = 0; i <= limits.header_fields_max; ++i)
    too_many_fields += "X-F" + std::to_string(i) + ": 1\r\n";
  const std::string gzip_chunked = "Transfer-Encoding: gzip, chunked\r\n";
  const std::string json = "Content-Type: application/json\r\n";
  const std::string create = path(E::kCreateWorkspace);
  struct Pair {
    const char* what;
    std::string bytes;
    int status;
    std::string_view code;
    std::string_view requirement;
    bool or_501 = false;  // a Transfer-Encoding other than one chunked is in it (TRN-072)
  };
  const std::vector<Pair> pairs = {
      {"a bad method before a target over the limit",
       "G(T " + long_target + " HTTP/1.1\r\nHost: a\r\n\r\n", 400, "malformed_request", "TRN-063"},
      {"HTTP/2.0 with a target over the limit", head(c, "GET", long_target, "\r\n", "HTTP/2.0"),
       505, "unsupported_http_version", "TRN-063"},
      {"HTTP/2.0 with a malformed field", head(c, "GET", info, "Bad Field\r\n\r\n", "HTTP/2.0"),
       505, "unsupported_http_version", "TRN-063"},
      {"HTTP/2.0 with a target in authority form", head(c, "GET", "a:80", "\r\n", "HTTP/2.0"), 400,
       "malformed_request", "TRN-063"},
      {"a target over the limit with a malformed field",
       head(c, "GET", long_target, "Bad : 1\r\n\r\n"), 400, "malformed_request", "TRN-063"},
      {"a target over the limit without Host",
       head(c, "GET", long_target, "\r\n", "HTTP/1.1", false), 400, "malformed_request", "TRN-063"},
      {"a target over the limit with too many fields",
       head(c, "GET", long_target, too_many_fields + "\r\n"), 414, "uri_too_long", "TRN-063"},
      {"a malformed field before too many fields",
       head(c, "GET", info, "Bad : 1\r\n" + too_many_fields + "\r\n"), 400, "malformed_request",
       "TRN-063"},
      {"too many fields before a malformed field",
       head(c, "GET", info, too_many_fields + "Bad : 1\r\n\r\n"), 400, "malformed_request",
       "TRN-063"},
      {"too many fields without Host",
       head(c, "GET", info, too_many_fields + "\r\n", "HTTP/1.1", false), 400, "malformed_request",
       "TRN-063"},
      {"too many fields with gzip, chunked",
       head(c, "POST", create, json + too_many_fields + gzip_chunked + "\r\n"), 501,
       "unsupported_transfer_coding", "TRN-063"},
      {"a target in authority form with too many fields",
       head(c, "GET", "a:80", too_many_fields + "\r\n"), 400, "malformed_request", "TRN-063"},
      {"no Host with gzip, chunked",
       head(c, "POST", create, json + gzip_chunked + "\r\n", "HTTP/1.1", false), 400,
       "malformed_request", "TRN-063", true},
      {"Content-Length before gzip, chunked",
       head(c, "POST", create, json + "Content-Length: 2\r\n" + gzip_chunked + "\r\n{}"), 400,
       "malformed_request", "TRN-063", true},
      {"gzip, chunked before Content-Length",
       head(c, "POST", create, json + gzip_chunked + "Content-Length: 2\r\n\r\n{}"), 400,
       "malformed_request", "TRN-063", true},
      {"a control character in the target", head(c, "GET", info + "\x01", "\r\n"), 400,
       "malformed_request", "TRN-062"},
      {"Transfer-Encoding on HTTP/1.0",
       head(c, "POST", create,
            json + "Transfer-Encoding: chunked\r\n\r\n" + chunk("{}") + "0\r\n\r\n", "HTTP/1.0"),
       400, "malformed_request", "TRN-064"},
      {"CONNECT with an authority-form target", head(c, "CONNECT", "a:443", "\r\n"), 400,
       "malformed_request", "TRN-071"},
      {"OPTIONS *", head(c, "OPTIONS", "*", "\r\n"), 400, "malformed_request", "TRN-071"},
  };
  for (const Pair& p : pairs)
    expect_refused(c, p.what, p.bytes, p.status, p.code, p.requirement,
                   p.status == 414 || p.status == 431 ? Close::kNotRequired : Close::kRequired,
                   p.or_501);
  expect_not_served_as_http11(c, "no version after a target over the limit",
                              "GET " + long_target + "\r\nHost: a\r\n\r\n");

  // Answers of the routes, not of the HTTP layer.
  struct Routed {
    const char* what;
    std::string bytes;
    int status;
    std::string_view code;
    std::string field;
    std::string_view requirement;
  };
  const std::vector<Routed> routed = {
      {"a quote in the path", head(c, "GET", "/v1/in\"fo", "\r\n"), 404, "not_found", "",
       "TRN-062"},
      {"a brace in a query name", head(c, "GET", info + "?a{b=1", "\r\n"), 400, "invalid_query",
       "a{b", "TRN-062"},
      {"a byte 0xFF in a query name", head(c, "GET", info + "?\xFF=1", "\r\n"), 400,
       "invalid_query", "\xEF\xBF\xBD", "TRN-062"},
      {"OPTIONS on /v1/info", head(c, "OPTIONS", info, "\r\n"), 405, "method_not_allowed", "",
       "TRN-071"},
      {"CONNECT on /v1/info", head(c, "CONNECT", info, "\r\n"), 405, "method_not_allowed", "",
       "TRN-071"},
  };
  for (const Routed& r : routed) {
    Result<HttpResponse> response = c.raw(r.bytes, kAnswerMs);
    if (!response.ok()) {
      c.check(false, r.requirement, std::string(r.what) + ": an answer", response.error().message);
      continue;
    }
    check_wire(c, "GET", info, *response, r.what);
    const auto [code, field] = code_and_field(*response);
    c.check(response->status == r.status && code == r.code && field == r.field, r.requirement,
            std::string(r.what) + ": status " + std::to_string(r.status) + " " +
                std::string(r.code) + (r.field.empty() ? "" : " at " + r.field),
            describe(*response));
    if (r.status == 405)
      c.check(response->header("Allow") == std::optional<std::string>("GET"), "TRN-071",
              std::string(r.what) + ": Allow: GET", response->header("Allow").value_or("no Allow"));
  }
}

// TRN-065: the id is echoed when its field was read before the fault, and only then.
void the_http_layer_echoes_the_request_id_it_read(CaseContext& c) {
  const HttpLimits limits = c.info().http_limits.value_or(HttpLimits{});
  const std::string info = path(E::kInfo);
  const std::string id = "echo-" + std::string(c.current().id);
  const std::string id_field = "OpSync-Request-Id: " + id + "\r\n";
  const std::string host = "Host: " + c.options().server.host + "\r\n";
  const std::string long_target = info + "?q=" + std::string(limits.request_target_bytes_max, 'q');
  struct Probe {
    const char* what;
    std::string bytes;
    bool echoed;
  };
  const std::vector<Probe> probes = {
      {"a malformed field after the id",
       "GET " + info + " HTTP/1.1\r\n" + host + id_field + "Bad : 1\r\n\r\n", true},
      {"a malformed field before the id",
       "GET " + info + " HTTP/1.1\r\n" + host + "Bad : 1\r\n" + id_field + "\r\n", false},
      {"no Host", "GET " + info + " HTTP/1.1\r\n" + id_field + "\r\n", true},
      {"gzip, chunked",
       "POST " + path(E::kCreateWorkspace) + " HTTP/1.1\r\n" + host + id_field +
           "Content-Type: application/json\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
       true},
      {"a target over the limit", "GET " + long_target + " HTTP/1.1\r\n" + host + id_field + "\r\n",
       true},
      {"HTTP/2.0", "GET " + info + " HTTP/2.0\r\n" + host + id_field + "\r\n", false},
      {"a target in authority form", "GET a:80 HTTP/1.1\r\n" + host + id_field + "\r\n", false},
  };
  for (const Probe& p : probes) {
    std::unique_ptr<Connection> connection = c.connect();
    (void)connection->send(p.bytes);
    Result<HttpResponse> response = connection->read_response(kAnswerMs);
    c.record(p.bytes, response, 0);
    if (!response.ok()) {
      c.check(false, "TRN-065", std::string(p.what) + ": an answer", response.error().message);
      continue;
    }
    const std::optional<std::string> got = response->header("OpSync-Request-Id");
    c.check(got.has_value() && (*got == id) == p.echoed, "TRN-065",
            std::string(p.what) + (p.echoed ? ": the id echoed" : ": a fresh id, not the one sent"),
            got.value_or("no OpSync-Request-Id"));
  }
}

// TRN-066, TRN-067, TRN-070: HEAD, absolute-form targets and Expect values.
void head_absolute_form_and_expect(CaseContext& c) {
  const std::string info = path(E::kInfo);
  {
    // HEAD then GET on one connection: the GET's answer must follow the HEAD's header section.
    std::unique_ptr<Connection> connection = c.connect();
    const std::string bytes = head(c, "HEAD", info, "\r\n") + head(c, "GET", info, "\r\n");
    (void)connection->send(bytes);
    Result<HttpResponse> first = connection->read_response(kAnswerMs, /*head_only=*/true);
    c.record(bytes, first, 0);
    c.require(first.ok(), "TRN-066", "an answer to HEAD", first.ok() ? "" : first.error().message);
    c.check(first->status == 405 && first->header("Allow") == std::optional<std::string>("GET"),
            "TRN-066", "HEAD /v1/info: 405 with Allow: GET",
            "status " + std::to_string(first->status));
    c.check(first->header("Content-Type").value_or("").rfind("application/json", 0) == 0, "TRN-066",
            "the error body's Content-Type", first->header("Content-Type").value_or("none"));
    const std::string length = first->header("Content-Length").value_or("");
    c.check(!length.empty() && length != "0", "TRN-066", "the error body's Content-Length",
            length.empty() ? "none" : length);
    Result<HttpResponse> second = connection->read_response(kAnswerMs);
    c.check(second.ok() && second->status == 200, "TRN-066",
            "the next answer on the connection: 200 to the GET, no body after the HEAD's head",
            second.ok() ? describe(*second) : second.error().message);
  }
  const HttpLimits limits = c.info().http_limits.value_or(HttpLimits{});
  const std::string authority = "http://" + c.options().server.host;
  Result<HttpResponse> absolute = c.raw(head(c, "GET", authority + info, "\r\n"), kAnswerMs);
  c.check(absolute.ok() && absolute->status == 200, "TRN-067",
          "an absolute-form target served: 200",
          absolute.ok() ? describe(*absolute) : absolute.error().message);
  // The limit counts the path and query: at the limit with the authority on top is no 414.
  const std::string at_limit =
      info + "?q=" + std::string(limits.request_target_bytes_max - info.size() - 3, 'q');
  Result<HttpResponse> long_absolute =
      c.raw(head(c, "GET", authority + at_limit, "\r\n"), kAnswerMs);
  c.check(long_absolute.ok() && long_absolute->status != 414, "TRN-067",
          "an absolute-form target whose path and query are at the limit: no 414",
          long_absolute.ok() ? describe(*long_absolute) : long_absolute.error().message);
  expect_refused(c, "an absolute-form target whose path and query are one byte over the limit",
                 head(c, "GET", authority + at_limit + "q", "\r\n"), 414, "uri_too_long", "TRN-067",
                 Close::kNotRequired);
  const TestWorkspace ws = c.workspace();
  const HttpResponse odd = c.request("POST", path(E::kUploadOps, {ws.id}), ws.owner_token,
                                     serialize_message(UploadOpsRequest{c.make_ops(1)}),
                                     "application/json", {{"Expect", "x-something-else"}});
  c.check(odd.status == 200 && odd.interim_statuses.empty(), "TRN-070",
          "Expect other than 100-continue ignored: 200 without an interim answer", describe(odd));
  const std::string ops_body = serialize_message(UploadOpsRequest{c.make_ops(1)});
  Result<HttpResponse> old =
      c.raw(head(c, "POST", path(E::kUploadOps, {ws.id}),
                 "Authorization: Bearer " + ws.owner_token +
                     "\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
                     "Content-Length: " +
                     std::to_string(ops_body.size()) + "\r\n\r\n" + ops_body,
                 "HTTP/1.0"),
            kAnswerMs);
  c.check(old.ok() && old->status == 200 && old->interim_statuses.empty(), "TRN-070",
          "HTTP/1.0 with Expect: 100-continue: 200 without 100",
          old.ok() ? describe(*old) + (old->interim_statuses.empty() ? "" : " after a 100")
                   : old.error().message);
}

constexpr std::array kCases = {
    Case{"transport-001", "TRN-051 TRN-072 TRN-064 TRN-056 ERR-001", Level::kMust,
         Capability::kNone,
         "malformed framing (repeated or bad Content-Length, both framings, bad chunks, Host) is "
         "400 at once and closes",
         &malformed_framing_is_400_and_closes},
    Case{"transport-002", "TRN-052 TRN-056", Level::kMust, Capability::kNone,
         "a transfer coding other than chunked alone is 501 unsupported_transfer_coding and closes",
         &another_transfer_coding_is_501},
    Case{"transport-003", "TRN-053 INF-010 TRN-056", Level::kMust, Capability::kNone,
         "the advertised limits on a request's head hold exactly: 414 and 431 one past them",
         &the_limits_on_a_head_are_advertised_and_kept},
    Case{"transport-004", "TRN-054 TRN-056 TRN-064", Level::kMust, Capability::kNone,
         "HTTP/1.2 is served as HTTP/1.1, HTTP/1.0 is served, other major versions are 505",
         &http_versions},
    Case{"transport-005", "TRN-055", Level::kMust, Capability::kNone,
         "four pipelined requests are answered in order, each with its own request id",
         &pipelined_requests_are_answered_in_order},
    Case{"transport-006", "TRN-056 TRN-008", Level::kMust, Capability::kNone,
         "after Expect: 100-continue the final answer carries the time and echoes the request id",
         &an_interim_100_carries_the_headers_of_its_final_answer},
    Case{"transport-007", "TRN-059", Level::kShould, Capability::kNone,
         "48 idle and 32 slow-sending connections open: a normal request is still answered within "
         "2 s",
         &idle_and_slow_clients_do_not_delay_others},
    Case{"transport-008", "TRN-063 TRN-062 TRN-064 TRN-071 TRN-072 TRN-056", Level::kMust,
         Capability::kNone,
         "faults of several kinds in one head: the first in the order of TRN-063; characters, "
         "versions, methods",
         &the_first_fault_of_a_head_is_answered},
    Case{"transport-009", "TRN-065", Level::kMust, Capability::kNone,
         "the HTTP layer echoes the request id when it read the field before the fault, else a "
         "fresh one",
         &the_http_layer_echoes_the_request_id_it_read},
    Case{"transport-010", "TRN-066 TRN-067 TRN-070", Level::kMust, Capability::kNone,
         "HEAD answered by its header section, absolute-form targets, Expect values other than "
         "100-continue",
         &head_absolute_form_and_expect},
    Case{"transport-011", "TRN-074", Level::kShould, Capability::kNone,
         "an interim 100 Continue carries the time and the request id of its final answer",
         &an_interim_100_should_carry_the_headers_of_its_final_answer},
};

}  // namespace

std::span<const Case> transport_cases() { return kCases; }

}  // namespace opsync::conformance::cases
