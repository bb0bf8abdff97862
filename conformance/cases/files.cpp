// Spec 11.1 and 11.2: files on the server: chunks, resume, commit, download, delete, status.
#include <chrono>
#include <thread>

#include "common.h"

namespace opsync::conformance::cases {
namespace {

struct TestFile {
  FileId id;
  std::vector<std::string> chunks;
};

TestFile make_file(CaseContext& c, size_t chunk_count) {
  TestFile f{c.random().id(), {}};
  for (size_t i = 0; i < chunk_count; ++i) f.chunks.push_back(chunk_body(c.random(), 40 + 10 * i));
  return f;
}

HttpResponse create(CaseContext& c, const TestWorkspace& ws, const FileId& id,
                    uint64_t chunk_count) {
  return c.post_json(file_path(ws, id), ws.owner_token,
                     R"({"chunk_count":)" + std::to_string(chunk_count) + "}");
}
HttpResponse put_chunk(CaseContext& c, const TestWorkspace& ws, const FileId& id, size_t index,
                       const std::string& body) {
  return c.request("PUT", chunk_path(ws, id, std::to_string(index)), ws.owner_token, body,
                   "application/octet-stream");
}
HttpResponse commit(CaseContext& c, const TestWorkspace& ws, const FileId& id,
                    uint64_t chunk_count) {
  return c.post_json(path(E::kCommitFile, {ws.id, to_base64url(id)}), ws.owner_token,
                     R"({"chunk_count":)" + std::to_string(chunk_count) + "}");
}
HttpResponse get_chunk(CaseContext& c, const TestWorkspace& ws, const FileId& id,
                       std::string_view index) {
  return c.get(path(E::kGetChunk, {ws.id, to_base64url(id), index}), ws.owner_token);
}

// A committed file of the given chunks.
void upload_whole(CaseContext& c, const TestWorkspace& ws, const TestFile& f) {
  c.require(create(c, ws, f.id, f.chunks.size()).status == 201, "FILE-002", "the file created");
  for (size_t i = 0; i < f.chunks.size(); ++i)
    c.require(put_chunk(c, ws, f.id, i, f.chunks[i]).status == 200, "FILE-003", "chunk stored");
  c.require(commit(c, ws, f.id, f.chunks.size()).status == 200, "FILE-008", "the file committed");
}

void a_file_goes_from_created_to_downloaded(CaseContext& c) {
  const TestWorkspace ws = c.workspace();
  const TestFile f = make_file(c, 5);
  const FileStatus created = c.expect_message<FileStatus>(create(c, ws, f.id, 5), 201, "FILE-002");
  c.check(created.state == FileState::kUploading &&
              created.chunks_missing == std::vector<ChunkRange>{{0, 5}},
          "FILE-002", "uploading, chunks [0, 5) missing");
  const FileStatus again = c.expect_message<FileStatus>(create(c, ws, f.id, 5), 200, "FILE-002");
  c.check(again.state == FileState::kUploading, "FILE-002",
          "creating again answers 200 with the status");
  for (size_t i : {1u, 3u}) {
    const ChunkStored stored =
        c.expect_message<ChunkStored>(put_chunk(c, ws, f.id, i, f.chunks[i]), 200, "FILE-003");
    c.check(stored.file_id == f.id && stored.index == i && stored.size_bytes == f.chunks[i].size(),
            "FILE-003", "the chunk's file, index and size");
  }
  const FileStatus partial =
      c.expect_message<FileStatus>(c.get(file_path(ws, f.id), ws.owner_token), 200, "FILE-006");
  c.check(partial.chunks_missing == (std::vector<ChunkRange>{{0, 1}, {2, 3}, {4, 5}}), "FILE-006",
          "chunks_missing [[0,1],[2,3],[4,5]]: what to resume (FILE-031)");
  c.check(partial.stored_bytes == f.chunks[1].size() + f.chunks[3].size(), "FILE-017",
          "stored_bytes = the chunks held");
  const HttpResponse early = commit(c, ws, f.id, 5);
  if (c.expect_error(early, 409, "file_incomplete", "FILE-008"))
    c.check(
        error_of(early).details.chunks_missing == (std::vector<ChunkRange>{{0, 1}, {2, 3}, {4, 5}}),
        "ERR-010", "details.chunks_missing as in the status");
  c.expect_error(get_chunk(c, ws, f.id, "1"), 409, "file_not_committed", "FILE-009");
  for (size_t i : {0u, 2u, 4u})
    c.require(put_chunk(c, ws, f.id, i, f.chunks[i]).status == 200, "FILE-003", "stored");
  const FileStatus committed =
      c.expect_message<FileStatus>(commit(c, ws, f.id, 5), 200, "FILE-008");
  c.check(committed.state == FileState::kCommitted && committed.chunks_missing.empty(), "FILE-008",
          "committed");
  c.check(c.expect_message<FileStatus>(commit(c, ws, f.id, 5), 200, "FILE-008") == committed,
          "FILE-008", "commit is idempotent");
  for (size_t i = 0; i < 5; ++i) {
    const HttpResponse chunk = get_chunk(c, ws, f.id, std::to_string(i));
    c.check(chunk.status == 200 && chunk.body == f.chunks[i], "FILE-009",
            "chunk " + std::to_string(i) + " as uploaded");
    c.check(chunk.header("content-type").value_or("").rfind("application/octet-stream", 0) == 0,
            "TRN-005", "application/octet-stream");
  }
}

void chunk_rules_of_finished_and_absent_files(CaseContext& c) {
  const TestWorkspace ws = c.workspace();
  const TestFile f = make_file(c, 2);
  upload_whole(c, ws, f);
  const std::string before = c.fingerprint(ws, {f.id});
  c.check(put_chunk(c, ws, f.id, 0, f.chunks[0]).status == 200, "FILE-004",
          "the same chunk again: 200");
  c.expect_error(put_chunk(c, ws, f.id, 0, f.chunks[1]), 409, "file_not_uploading", "FILE-004");
  const HttpResponse out_of_range = put_chunk(c, ws, f.id, 2, f.chunks[0]);
  if (c.expect_error(out_of_range, 400, "chunk_index_out_of_range", "FILE-004"))
    c.check(error_of(out_of_range).details.chunk_count == 2u, "ERR-010", "details.chunk_count 2");
  c.expect_error(put_chunk(c, ws, c.random().id(), 0, f.chunks[0]), 404, "file_not_found",
                 "FILE-004");
  c.expect_error(get_chunk(c, ws, f.id, "2"), 400, "chunk_index_out_of_range", "FILE-009");
  c.expect_error(get_chunk(c, ws, c.random().id(), "0"), 404, "file_not_found", "FILE-009");
  c.check(c.fingerprint(ws, {f.id}) == before, "ERR-003",
          "nothing changed, updated_at_ms included (FILE-016)", "the file changed");
}

void chunk_counts_must_agree(CaseContext& c) {
  const TestWorkspace ws = c.workspace();
  const TestFile f = make_file(c, 3);
  c.require(create(c, ws, f.id, 3).status == 201, "FILE-002", "created");
  const HttpResponse other = create(c, ws, f.id, 4);
  if (c.expect_error(other, 409, "file_chunk_count_mismatch", "FILE-002"))
    c.check(error_of(other).details.chunk_count == 3u, "ERR-010", "details.chunk_count 3");
  c.expect_error(commit(c, ws, f.id, 2), 409, "file_chunk_count_mismatch", "FILE-008");
  c.expect_error(commit(c, ws, c.random().id(), 2), 404, "file_not_found", "FILE-008");
  const std::string too_many =
      R"({"chunk_count":)" + std::to_string(c.limits().file_chunks_max + 1) + "}";
  expect_error_at(c, c.post_json(file_path(ws, c.random().id()), ws.owner_token, too_many), 400,
                  "invalid_field", "chunk_count", "FILE-002");
}

void deleted_files_wait_and_commit_restores_them(CaseContext& c) {
  const TestWorkspace ws = c.workspace();
  const TestFile f = make_file(c, 2);
  upload_whole(c, ws, f);
  const FileStatus deleted = c.expect_message<FileStatus>(
      c.request("DELETE", file_path(ws, f.id), ws.owner_token), 200, "FILE-010");
  c.check(deleted.state == FileState::kDeleted, "FILE-010", "deleted");
  c.check(c.expect_message<FileStatus>(c.request("DELETE", file_path(ws, f.id), ws.owner_token),
                                       200, "FILE-010") == deleted,
          "FILE-010", "deleting again answers the same");
  c.expect_error(get_chunk(c, ws, f.id, "0"), 409, "file_deleted", "FILE-009");
  c.expect_error(create(c, ws, f.id, 5), 409, "file_deleted", "FILE-015");
  c.expect_error(put_chunk(c, ws, f.id, 0, f.chunks[1]), 409, "file_not_uploading", "FILE-004");
  c.expect_error(commit(c, ws, f.id, 3), 409, "file_chunk_count_mismatch", "FILE-015");
  const FileStatus restored = c.expect_message<FileStatus>(commit(c, ws, f.id, 2), 200, "FILE-008");
  c.check(restored.state == FileState::kCommitted, "FILE-008", "commit restores a deleted file");
  c.check(get_chunk(c, ws, f.id, "1").body == f.chunks[1], "FILE-008", "with its chunks");
  const TestFile half = make_file(c, 2);
  c.require(create(c, ws, half.id, 2).status == 201, "FILE-002", "created");
  c.expect_error(c.request("DELETE", file_path(ws, half.id), ws.owner_token), 409,
                 "file_not_committed", "FILE-010");
  c.expect_error(c.request("DELETE", file_path(ws, c.random().id()), ws.owner_token), 404,
                 "file_not_found", "FILE-010");
}

void file_status_lists_every_id_in_order(CaseContext& c) {
  const TestWorkspace ws = c.workspace();
  const TestFile committed = make_file(c, 1);
  upload_whole(c, ws, committed);
  const TestFile uploading = make_file(c, 2);
  c.require(create(c, ws, uploading.id, 2).status == 201, "FILE-002", "created");
  const FileId absent = c.random().id();
  FileStatusRequest request{{absent, committed.id, uploading.id}};
  const HttpResponse r =
      c.post_json(path(E::kFileStatus, {ws.id}), ws.owner_token, serialize_message(request));
  const auto answer = c.expect_message<FileStatusResponse>(r, 200, "FILE-007");
  const std::vector<FileStateEntry> expected = {{absent, FileState::kAbsent},
                                                {committed.id, FileState::kCommitted},
                                                {uploading.id, FileState::kUploading}};
  c.check(answer.files == expected, "FILE-007", "absent, committed, uploading in the order asked");
  c.expect_error(c.get(file_path(ws, absent), ws.owner_token), 404, "file_not_found", "FILE-013");
}

void chunk_indexes_and_bodies_keep_their_form(CaseContext& c) {
  const TestWorkspace ws = c.workspace();
  const TestFile f = make_file(c, 10);
  c.require(create(c, ws, f.id, 10).status == 201, "FILE-002", "created");
  for (const char* index : {"007", "4294967296", "-1", "1.0", "x"})
    expect_error_at(c,
                    c.request("PUT", chunk_path(ws, f.id, index), ws.owner_token, f.chunks[0],
                              "application/octet-stream"),
                    400, "invalid_id", "index", "FILE-012");
  expect_error_at(c,
                  c.request("PUT", chunk_path(ws, f.id, "0"), ws.owner_token, std::string(27, 'x'),
                            "application/octet-stream"),
                  400, "invalid_field", "body", "FILE-014");
  expect_error_at(c,
                  c.request("PUT", chunk_path(ws, f.id, "007"), ws.owner_token,
                            std::string(27, 'x'), "application/octet-stream"),
                  400, "invalid_field", "body", "ERR-013");
  c.expect_error(put_chunk(c, ws, f.id, 4294967295u, f.chunks[0]), 400, "chunk_index_out_of_range",
                 "FILE-012");
}

void updated_at_moves_only_on_change(CaseContext& c) {
  const TestWorkspace ws = c.workspace();
  const TestFile f = make_file(c, 2);
  const FileStatus created = c.expect_message<FileStatus>(create(c, ws, f.id, 2), 201, "FILE-002");
  // Let the server's clock move on, so that a change shows in updated_at_ms.
  const uint64_t from = c.server_time_ms();
  for (int i = 0; i < 20 && c.server_time_ms() < from + 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    (void)c.get(path(E::kInfo));
  }
  c.require(put_chunk(c, ws, f.id, 0, f.chunks[0]).status == 200, "FILE-003", "stored");
  const FileStatus after_chunk =
      c.expect_message<FileStatus>(c.get(file_path(ws, f.id), ws.owner_token), 200, "FILE-006");
  c.check(after_chunk.updated_at_ms > created.updated_at_ms, "FILE-016",
          "a stored chunk moves updated_at_ms");
  const FileStatus read_again =
      c.expect_message<FileStatus>(create(c, ws, f.id, 2), 200, "FILE-002");
  c.check(read_again.updated_at_ms == after_chunk.updated_at_ms, "FILE-016",
          "creating again changes nothing");
  c.check(after_chunk.stored_bytes == f.chunks[0].size(), "FILE-017",
          "stored_bytes = the one chunk held");
  c.require(put_chunk(c, ws, f.id, 0, f.chunks[1]).status == 200, "FILE-003",
            "replaced while uploading");
  c.require(put_chunk(c, ws, f.id, 1, f.chunks[1]).status == 200, "FILE-003", "stored");
  c.require(commit(c, ws, f.id, 2).status == 200, "FILE-008", "committed");
  c.check(get_chunk(c, ws, f.id, "0").body == f.chunks[1], "FILE-003",
          "a chunk sent again replaces the earlier body");
  c.check(get_chunk(c, ws, f.id, "0").body != f.chunks[0], "FILE-005", "whole chunks only");
}

// FILE-043 and FILE-017: every chunk answered 200 while uploading is activity, an equal body
// included; the counters follow a replaced chunk.
void every_chunk_upload_is_activity(CaseContext& c) {
  const TestWorkspace ws = c.workspace();
  const TestFile f = make_file(c, 2);
  c.require(create(c, ws, f.id, 2).status == 201, "FILE-002", "created");
  c.require(put_chunk(c, ws, f.id, 0, f.chunks[0]).status == 200, "FILE-003", "stored");
  const FileStatus before =
      c.expect_message<FileStatus>(c.get(file_path(ws, f.id), ws.owner_token), 200, "FILE-006");
  const uint64_t from = c.server_time_ms();
  for (int i = 0; i < 20 && c.server_time_ms() < from + 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    (void)c.get(path(E::kInfo));
  }
  const FileStatus repeated = c.expect_message<FileStatus>(create(c, ws, f.id, 2), 200, "FILE-002");
  c.check(
      repeated.updated_at_ms == before.updated_at_ms, "FILE-043",
      "a repeated create is no activity",
      std::to_string(repeated.updated_at_ms) + " after " + std::to_string(before.updated_at_ms));
  c.require(put_chunk(c, ws, f.id, 0, f.chunks[0]).status == 200, "FILE-003",
            "the equal chunk again: 200");
  const FileStatus after =
      c.expect_message<FileStatus>(c.get(file_path(ws, f.id), ws.owner_token), 200, "FILE-006");
  c.check(after.updated_at_ms > before.updated_at_ms, "FILE-043",
          "an equal chunk re-sent while uploading moves updated_at_ms",
          std::to_string(after.updated_at_ms) + " after " + std::to_string(before.updated_at_ms));
  c.check(after.stored_bytes == f.chunks[0].size(), "FILE-017",
          "stored_bytes unchanged by an equal chunk", std::to_string(after.stored_bytes));
  const std::string longer = chunk_body(c.random(), f.chunks[0].size() + 17);
  c.require(put_chunk(c, ws, f.id, 0, longer).status == 200, "FILE-003",
            "replaced by a longer body");
  const FileStatus replaced =
      c.expect_message<FileStatus>(c.get(file_path(ws, f.id), ws.owner_token), 200, "FILE-006");
  c.check(replaced.stored_bytes == longer.size(), "FILE-017",
          "stored_bytes counts the replacing body alone", std::to_string(replaced.stored_bytes));
  c.check(replaced.chunks_missing == std::vector<ChunkRange>{{1, 2}}, "FILE-017",
          "chunk 1 still missing, chunk 0 once");
}

constexpr std::array kCases = {
    Case{"files-001",
         "FILE-001 FILE-002 FILE-003 FILE-006 FILE-008 FILE-009 FILE-017 ERR-010 TRN-005 VER-003",
         Level::kMust, Capability::kFiles,
         "create, upload out of order, resume from the status, commit, download byte for byte",
         &a_file_goes_from_created_to_downloaded},
    Case{"files-002", "FILE-004 FILE-009 FILE-015 FILE-016 ERR-003 ERR-010", Level::kMust,
         Capability::kFiles, "chunks of committed and absent files, and indexes out of range",
         &chunk_rules_of_finished_and_absent_files},
    Case{"files-003", "FILE-002 FILE-008 ERR-010 FILE-015", Level::kMust, Capability::kFiles,
         "another chunk count is 409 file_chunk_count_mismatch; above file_chunks_max is 400",
         &chunk_counts_must_agree},
    Case{"files-004", "FILE-008 FILE-009 FILE-010 FILE-015 FILE-004 FILE-001 FILE-002",
         Level::kMust, Capability::kFiles,
         "delete, the rules of a deleted file, and commit restoring it",
         &deleted_files_wait_and_commit_restores_them},
    Case{"files-005", "FILE-007 FILE-013 FILE-001 FILE-006", Level::kMust, Capability::kFiles,
         "file-status answers every id in the order asked, absent ones included",
         &file_status_lists_every_id_in_order},
    Case{"files-006", "FILE-012 FILE-014 ERR-013 ERR-012", Level::kMust, Capability::kFiles,
         "chunk indexes are plain decimals below 2^32; bodies of at least 28 bytes, judged first",
         &chunk_indexes_and_bodies_keep_their_form},
    Case{"files-007", "FILE-016 FILE-017 FILE-003 FILE-005", Level::kMust, Capability::kFiles,
         "updated_at_ms moves on changes only; a chunk sent again replaces the earlier one whole",
         &updated_at_moves_only_on_change},
    Case{"files-008", "FILE-043 FILE-017 FILE-016", Level::kMust, Capability::kFiles,
         "every chunk answered 200 while uploading is activity, an equal body too; counters after "
         "a replaced chunk",
         &every_chunk_upload_is_activity},
};

}  // namespace

std::span<const Case> files_cases() { return kCases; }

}  // namespace opsync::conformance::cases
