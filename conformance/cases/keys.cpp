// Spec 5.2: key records.
#include <nlohmann/json.hpp>

#include "common.h"

namespace opsync::conformance::cases {
namespace {

std::string key_path(const TestWorkspace& ws, uint64_t key_id) {
  return path(E::kPutKey, {ws.id, std::to_string(key_id)});
}

void records_are_created_and_replaced_by_version(CaseContext& c) {
  const TestWorkspace ws = c.new_workspace();
  const std::string writer = c.issue_token(ws, Scope::kReadWrite);
  PutKeyRequest create = *parse_message<PutKeyRequest>(key_body(c.random(), 0));
  const HttpResponse r =
      c.request("PUT", key_path(ws, 1), writer, serialize_message(create), "application/json");
  const auto first = c.expect_message<KeyRecord>(r, 200, "KEY-002");
  c.check(first.version == 1 && first.key_id == 1, "KEY-002", "key 1 at version 1");
  c.check(first.wrapped_key == create.wrapped_key && first.kdf == create.kdf, "KEY-002",
          "the record as sent");
  PutKeyRequest replace = *parse_message<PutKeyRequest>(key_body(c.random(), 1));
  const auto second = c.expect_message<KeyRecord>(
      c.request("PUT", key_path(ws, 1), writer, serialize_message(replace), "application/json"),
      200, "KEY-002");
  c.check(second.version == 2 && second.wrapped_key == replace.wrapped_key, "KEY-002",
          "version 2 with the new key");
  const auto listed =
      c.expect_message<KeyListResponse>(c.get(path(E::kListKeys, {ws.id}), writer), 200, "KEY-001");
  c.check(listed.keys.size() == 1 && listed.keys[0] == second, "KEY-001",
          "the list holds the replaced record");
}

void a_stale_version_is_409_and_changes_nothing(CaseContext& c) {
  const TestWorkspace ws = c.new_workspace();
  c.require(
      c.request("PUT", key_path(ws, 3), ws.owner_token, key_body(c.random(), 0), "application/json")
              .status == 200,
      "KEY-002", "a record created");
  const std::string before = c.fingerprint(ws);
  for (uint64_t stale : {0u, 2u, 7u}) {
    const HttpResponse r = c.request("PUT", key_path(ws, 3), ws.owner_token,
                                     key_body(c.random(), stale), "application/json");
    if (c.expect_error(r, 409, "version_conflict", "KEY-003"))
      c.check(error_of(r).details.current_version == 1u, "KEY-003", "details.current_version 1");
  }
  const HttpResponse absent = c.request("PUT", key_path(ws, 4), ws.owner_token,
                                        key_body(c.random(), 1), "application/json");
  if (c.expect_error(absent, 409, "version_conflict", "KEY-003"))
    c.check(error_of(absent).details.current_version == 0u, "KEY-003",
            "details.current_version 0 without a record");
  c.check(c.fingerprint(ws) == before, "KEY-003", "nothing changed", "the records changed");
}

void key_ids_and_records_keep_their_bounds(CaseContext& c) {
  const TestWorkspace ws = c.new_workspace();
  for (const char* id : {"0", "4294967296", "01", "-1", "x", "1.0"})
    expect_error_at(c,
                    c.request("PUT", path(E::kPutKey, {ws.id, id}), ws.owner_token,
                              key_body(c.random(), 0), "application/json"),
                    400, "invalid_id", "key_id", "KEY-004");
  c.check(c.request("PUT", key_path(ws, 4294967295u), ws.owner_token, key_body(c.random(), 0),
                    "application/json")
                  .status == 200,
          "KEY-004", "key id 2^32 - 1 accepted");
  PutKeyRequest request = *parse_message<PutKeyRequest>(key_body(c.random(), 0));
  nlohmann::json edits = nlohmann::json::parse(serialize_message(request));
  edits["kdf"]["iterations"] = 0;
  expect_error_at(
      c, c.request("PUT", key_path(ws, 5), ws.owner_token, edits.dump(), "application/json"), 400,
      "invalid_field", "kdf.iterations", "KEY-004");
  edits["kdf"]["iterations"] = 10000001;
  expect_error_at(
      c, c.request("PUT", key_path(ws, 5), ws.owner_token, edits.dump(), "application/json"), 400,
      "invalid_field", "kdf.iterations", "KEY-004");
  // Both ends of the range are taken.
  uint64_t key_id = 6;
  for (uint64_t iterations : {uint64_t{1}, uint64_t{10000000}}) {
    edits["kdf"]["iterations"] = iterations;
    const HttpResponse r =
        c.request("PUT", key_path(ws, key_id++), ws.owner_token, edits.dump(), "application/json");
    c.check(r.status == 200, "KEY-004", "iterations " + std::to_string(iterations) + " accepted",
            describe(r));
  }
}

void the_workspace_holds_at_most_key_records_max(CaseContext& c) {
  const TestWorkspace ws = c.new_workspace();
  const uint64_t max = c.limits().key_records_max;
  if (max > 1024) c.skip("key_records_max is too large to fill here");
  for (uint64_t id = 1; id <= max; ++id)
    c.require(c.request("PUT", key_path(ws, id), ws.owner_token, key_body(c.random(), 0),
                        "application/json")
                      .status == 200,
              "KEY-005",
              "record " + std::to_string(id) + " of " + std::to_string(max) + " created");
  const HttpResponse full = c.request("PUT", key_path(ws, max + 1), ws.owner_token,
                                      key_body(c.random(), 0), "application/json");
  if (c.expect_error(full, 409, "key_records_full", "KEY-005"))
    c.check(full.body.find("\"field\"") == std::string::npos, "ERR-024",
            "key_records_full without field", full.body.substr(0, 200));
  // Without `limit`, a page is as long as page_keys_max allows (LIM-005).
  const uint64_t page = std::min<uint64_t>(max, c.limits().page_keys_max);
  const auto listed = c.expect_message<KeyListResponse>(
      c.get(path(E::kListKeys, {ws.id}), ws.owner_token), 200, "KEY-001");
  c.check(
      listed.keys.size() == page && listed.next_after.has_value() == (max > page), "LIM-005",
      "no limit: a page of " + std::to_string(page) + " records (page_keys_max, or all of them)",
      std::to_string(listed.keys.size()) + " records");
  // The version check comes first (KEY-007), and replacing stays possible.
  c.expect_error(c.request("PUT", key_path(ws, max + 1), ws.owner_token, key_body(c.random(), 3),
                           "application/json"),
                 409, "version_conflict", "KEY-007");
  c.check(
      c.request("PUT", key_path(ws, 1), ws.owner_token, key_body(c.random(), 1), "application/json")
              .status == 200,
      "KEY-005", "a full workspace still replaces its records");
}

void the_key_list_is_ascending_and_paged(CaseContext& c) {
  const TestWorkspace ws = c.new_workspace();
  for (uint64_t id : {9u, 2u, 5u})
    c.require(c.request("PUT", key_path(ws, id), ws.owner_token, key_body(c.random(), 0),
                        "application/json")
                      .status == 200,
              "KEY-002", "record created");
  std::vector<uint32_t> seen;
  uint64_t after = 0;
  for (int page = 0; page < 10; ++page) {
    const HttpResponse r = c.get(
        endpoint_target(E::kListKeys, {ws.id}, {{"after", std::to_string(after)}, {"limit", "2"}}),
        ws.owner_token);
    const auto list = c.expect_message<KeyListResponse>(r, 200, "KEY-001");
    for (const KeyRecord& k : list.keys) seen.push_back(k.key_id);
    if (!list.next_after) break;
    after = *list.next_after;
  }
  c.check(seen == std::vector<uint32_t>{2, 5, 9}, "KEY-001", "2, 5, 9 in pages of two");
}

constexpr std::array kCases = {
    Case{"keys-001", "KEY-001 KEY-002 KEY-006", Level::kMust, Capability::kNewWorkspaces,
         "a record is created at version 1 and replaced at the version read, by a read_write token",
         &records_are_created_and_replaced_by_version},
    Case{"keys-002", "KEY-003 ERR-010", Level::kMust, Capability::kNewWorkspaces,
         "a stale or wrong expected_version: 409 version_conflict with details.current_version, "
         "nothing changed",
         &a_stale_version_is_409_and_changes_nothing},
    Case{"keys-003", "KEY-004", Level::kMust, Capability::kNewWorkspaces,
         "key ids from 1 to 2^32 - 1 in decimal; iterations from 1 to 10,000,000",
         &key_ids_and_records_keep_their_bounds},
    Case{"keys-004", "KEY-005 KEY-007 LIM-005 ERR-024", Level::kMust, Capability::kNewWorkspaces,
         "key_records_max records, then 409 key_records_full; the version check first",
         &the_workspace_holds_at_most_key_records_max},
    Case{"keys-005", "KEY-001 KEY-006 LIM-004", Level::kMust, Capability::kNewWorkspaces,
         "the key list is in ascending key id order, paged with after and limit",
         &the_key_list_is_ascending_and_paged},
};

}  // namespace

std::span<const Case> keys_cases() { return kCases; }

}  // namespace opsync::conformance::cases
