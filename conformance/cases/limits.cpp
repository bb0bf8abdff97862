// Spec 2.4: advertised limits, refused without reading the body, and paging.
#include <cstdio>

#include "common.h"

namespace opsync::conformance::cases {
namespace {

void a_declared_oversize_body_is_refused_unread(CaseContext& c) {
  const TestWorkspace ws = c.workspace();
  const std::string head = "POST " + path(E::kUploadOps, {ws.id}) +
                           " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + ws.owner_token +
                           "\r\nContent-Type: application/json\r\nContent-Length: " +
                           std::to_string(c.limits().request_body_bytes_max + 1) + "\r\n\r\n";
  Result<HttpResponse> r = c.raw(head);
  c.require(r.ok(), "LIM-002", "413 before any byte of the body is sent",
            r.ok() ? "" : r.error().message);
  if (c.expect_error(*r, 413, "body_too_large", "LIM-002"))
    c.check(error_of(*r).details.limit_bytes == c.limits().request_body_bytes_max, "ERR-010",
            "details.limit_bytes = request_body_bytes_max");
}

void a_chunked_body_is_cut_off_at_the_limit(CaseContext& c) {
  const TestWorkspace ws = c.workspace();
  const std::string before = c.fingerprint(ws);
  std::string request = "POST " + path(E::kUploadOps, {ws.id}) +
                        " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + ws.owner_token +
                        "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string piece(256 * 1024, ' ');
  const uint64_t pieces = c.limits().request_body_bytes_max / piece.size() + 2;
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
  for (uint64_t i = 0; i < pieces; ++i) request += size + piece + "\r\n";
  request += "0\r\n\r\n";
  Result<HttpResponse> r = c.raw(request);
  c.require(r.ok(), "LIM-002", "an answer", r.ok() ? "" : r.error().message);
  c.expect_error(*r, 413, "body_too_large", "LIM-002");
  c.check(c.fingerprint(ws) == before, "ERR-003", "nothing changed", "the workspace changed");
}

void a_chunk_body_above_chunk_bytes_is_413(CaseContext& c) {
  const TestWorkspace ws = c.workspace();
  const FileId file = c.random().id();
  c.require(c.post_json(path(E::kCreateFile, {ws.id, to_base64url(file)}), ws.owner_token,
                        R"({"chunk_count":1})")
                    .status == 201,
            "FILE-002", "a file created");
  const std::string head =
      "PUT " + chunk_path(ws, file, "0") + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
      ws.owner_token + "\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
      std::to_string(c.limits().chunk_bytes + kEnvelopeOverheadBytes + 1) + "\r\n\r\n";
  Result<HttpResponse> r = c.raw(head);
  c.require(r.ok(), "LIM-002", "413 before any byte of the chunk is sent",
            r.ok() ? "" : r.error().message);
  if (c.expect_error(*r, 413, "body_too_large", "LIM-002"))
    c.check(error_of(*r).details.limit_bytes == c.limits().chunk_bytes + kEnvelopeOverheadBytes,
            "ERR-010", "details.limit_bytes = chunk_bytes + 28");
}

void batches_and_payloads_keep_their_limits(CaseContext& c) {
  const TestWorkspace ws = c.workspace();
  const std::string ops = path(E::kUploadOps, {ws.id});
  const std::string before = c.fingerprint(ws);
  expect_error_at(c, c.post_json(ops, ws.owner_token, R"({"ops":[]})"), 400, "invalid_field", "ops",
                  "LOG-001");
  std::vector<WireOp> big = c.make_ops(2);
  big[1].payload = c.random().bytes(c.limits().op_payload_bytes_max + 1);
  expect_error_at(c, c.post_json(ops, ws.owner_token, serialize_message(UploadOpsRequest{big})),
                  400, "invalid_field", "ops[1].payload", "OP-001");
  c.check(c.fingerprint(ws) == before, "ERR-003", "nothing changed", "the workspace changed");
  big[1].payload = c.random().bytes(c.limits().op_payload_bytes_max);
  const UploadOpsResponse largest = c.upload(ws, ws.owner_token, big);
  c.check(largest.results[1].status == OpStatus::kAccepted, "OP-001",
          "a payload of op_payload_bytes_max accepted");
}

void file_status_lists_keep_their_limit(CaseContext& c) {
  const TestWorkspace ws = c.workspace();
  FileStatusRequest request;
  for (uint64_t i = 0; i <= c.limits().file_status_ids_max; ++i)
    request.file_ids.push_back(c.random().id());
  const HttpResponse r =
      c.post_json(path(E::kFileStatus, {ws.id}), ws.owner_token, serialize_message(request));
  if (c.expect_error(r, 413, "too_many_ids", "FILE-007"))
    c.check(error_of(r).details.limit == c.limits().file_status_ids_max, "ERR-010",
            "details.limit = file_status_ids_max");
  request.file_ids.pop_back();
  c.check(c.post_json(path(E::kFileStatus, {ws.id}), ws.owner_token, serialize_message(request))
                  .status == 200,
          "FILE-007", "file_status_ids_max ids accepted");
}

void pages_end_at_the_limit(CaseContext& c) {
  const TestWorkspace ws = c.new_workspace();
  c.upload(ws, ws.owner_token, c.make_ops(10));
  uint64_t after = 0;
  size_t pages = 0;
  while (pages < 20) {
    const HttpResponse r =
        c.get(endpoint_target(E::kReadOps, {ws.id},
                              {{"after_seq", std::to_string(after)}, {"limit", "3"}}),
              ws.owner_token);
    const OpsPageResponse page = c.expect_message<OpsPageResponse>(r, 200, "LOG-020");
    ++pages;
    // With small payloads the byte limit cannot end a page first: exactly 3, or the rest.
    c.check(page.ops.size() == std::min<uint64_t>(3, 10 - after), "LOG-020",
            "pages of limit=3 operations",
            std::to_string(page.ops.size()) + " after " + std::to_string(after));
    if (!page.next_after_seq || page.ops.empty()) break;
    after = *page.next_after_seq;
  }
  c.check(pages == 4, "LIM-004", "10 operations in 4 pages of at most 3",
          std::to_string(pages) + " pages");
}

void page_bytes_count_decoded_payload_bytes(CaseContext& c) {
  const TestWorkspace ws = c.new_workspace();
  // Payloads of a size whose text is a third longer: a server counting characters would end the
  // page an operation or more early.
  const uint64_t payload = std::min<uint64_t>(c.limits().op_payload_bytes_max, 16384);
  const uint64_t needed =
      (c.limits().page_bytes_max + payload - 1) / payload;  // the one that reaches it
  if (needed > 600) c.skip("page_bytes_max / op_payload_bytes_max is too large to fill here");
  const uint64_t total = needed + 2;
  for (uint64_t done = 0; done < total;) {
    const uint64_t count =
        std::min<uint64_t>({total - done, c.limits().batch_ops_max,
                            (c.limits().request_body_bytes_max / 2) / (payload * 4 / 3 + 200)});
    c.upload(ws, ws.owner_token, c.make_ops(count, payload));
    done += count;
  }
  const HttpResponse r = c.get(endpoint_path(E::kReadOps, {ws.id}), ws.owner_token);
  const OpsPageResponse page = c.expect_message<OpsPageResponse>(r, 200, "LOG-020");
  const uint64_t expected = std::min<uint64_t>(needed, c.limits().page_ops_max);
  c.check(page.ops.size() == expected, "LIM-010",
          std::to_string(expected) +
              " operations: the page ends with the one whose payload bytes reach page_bytes_max",
          std::to_string(page.ops.size()));
}

constexpr std::array kCases = {
    Case{"limits-001", "LIM-002 ERR-010", Level::kMust, Capability::kNone,
         "a JSON body declared above request_body_bytes_max: 413 before it is read",
         &a_declared_oversize_body_is_refused_unread},
    Case{"limits-002", "LIM-002 ERR-003", Level::kMust, Capability::kNone,
         "a chunked body that passes the limit: 413, nothing changed",
         &a_chunked_body_is_cut_off_at_the_limit},
    Case{"limits-003", "LIM-002 FILE-003 ERR-010", Level::kMust, Capability::kFiles,
         "a chunk declared above chunk_bytes + 28: 413 before it is read",
         &a_chunk_body_above_chunk_bytes_is_413},
    Case{"limits-004", "LOG-001 OP-001 ERR-003", Level::kMust, Capability::kNone,
         "an empty batch and a payload above op_payload_bytes_max are refused whole; the largest "
         "payload is taken",
         &batches_and_payloads_keep_their_limits},
    Case{"limits-005", "FILE-007 ERR-010", Level::kMust, Capability::kFiles,
         "more ids than file_status_ids_max: 413 too_many_ids; exactly that many: 200",
         &file_status_lists_keep_their_limit},
    Case{"limits-006", "LOG-020 LIM-004 LIM-005", Level::kMust, Capability::kNewWorkspaces,
         "pages of `limit` operations, with a cursor until the last", &pages_end_at_the_limit},
    Case{"limits-007", "LIM-010 LOG-020", Level::kMust, Capability::kNewWorkspaces,
         "a page ends with the operation whose decoded payload bytes reach page_bytes_max",
         &page_bytes_count_decoded_payload_bytes},
};

}  // namespace

std::span<const Case> limits_cases() { return kCases; }

}  // namespace opsync::conformance::cases
