// file_reconciliation.json: what a device does about each referenced file (spec 11.4), chunk
// arithmetic (LWW-002, spec 11) and the chunks_missing ranges of a file status (spec 11.2).
#include "opsync/protocol/files.h"
#include "opsync/protocol/messages.h"
#include "suite.h"

namespace opsync::vectors {
namespace {

constexpr std::string_view kName = "file_reconciliation";
constexpr std::string_view kAlgorithm = "FileReconciliation";

// ---- the table of spec 11.4 -------------------------------------------------------------------

struct TableRow {
  LocalCopy local;
  FileState server;
  std::string_view action;  // as written in the spec's table, by its FileAction name
};

// Written out from the spec's table, not from the library, so that generation stops if they
// disagree.
constexpr TableRow kTable[] = {
    {LocalCopy::kPresent, FileState::kCommitted, "none"},
    {LocalCopy::kPresent, FileState::kAbsent, "upload"},
    {LocalCopy::kPresent, FileState::kUploading, "resume_upload"},
    {LocalCopy::kPresent, FileState::kDeleted, "restore"},
    {LocalCopy::kAbsent, FileState::kCommitted, "download"},
    {LocalCopy::kAbsent, FileState::kDeleted, "restore_then_download"},
    {LocalCopy::kAbsent, FileState::kUploading, "wait"},
    {LocalCopy::kAbsent, FileState::kAbsent, "missing"},
};

std::string_view local_copy_name(LocalCopy local) {
  return local == LocalCopy::kPresent ? "present" : "absent";
}

// ---- file status texts ------------------------------------------------------------------------

const std::string kFileId = to_base64url(Bytes{0xf1, 0x1e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                               0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01});

// `stored_bytes` defaults to a total some chunks can have; a file with no chunk stored has 0
// (FILE-017).
std::string status_text(std::string_view state, uint64_t chunk_count,
                        std::string_view chunks_missing, uint64_t stored_bytes = 1000) {
  return "{\"file_id\":\"" + kFileId + "\",\"state\":\"" + std::string(state) +
         "\",\"chunk_count\":" + std::to_string(chunk_count) +
         ",\"chunks_missing\":" + std::string(chunks_missing) +
         ",\"stored_bytes\":" + std::to_string(stored_bytes) + ",\"updated_at_ms\":1764000000000}";
}

Json ranges_json(const std::vector<ChunkRange>& ranges) {
  Json out = Json::array();
  for (const auto& [start, end] : ranges) out.push_back(Json::array({start, end}));
  return out;
}

void add_status(TestGroup& group, std::string id, std::string comment,
                std::vector<std::string> flags, const std::string& text) {
  Result<FileStatus> parsed = parse_message<FileStatus>(text);
  require(parsed.ok(), id + ": parse_message<FileStatus> rejected it");
  group.add(TestCase{std::move(id), std::move(comment), std::move(flags), true,
                     Json{{"json", text}, {"chunksMissing", ranges_json(parsed->chunks_missing)}}});
}

void add_bad_status(TestGroup& group, std::string id, std::string comment,
                    std::vector<std::string> flags, const std::string& text, Code code,
                    std::string field) {
  Result<FileStatus> parsed = parse_message<FileStatus>(text);
  require(!parsed.ok(), id + ": parse_message<FileStatus> accepted it");
  require(parsed.error().code == code && parsed.error().field == field,
          id + ": the library reports " + parsed.error().to_string() + ", expected " +
              std::string(code_name(code)) + " at " + field);
  group.add(TestCase{
      std::move(id), std::move(comment), std::move(flags), false,
      Json{{"json", text}, {"errorCode", code_name(code)}, {"errorField", std::move(field)}}});
}

Json generate() {
  VectorFileWriter file(
      kName, kAlgorithm,
      {"Files (spec 11): the reconciliation decision of 11.4, chunk arithmetic, and the "
       "chunks_missing ranges of a file status (11.2).",
       "FileActionTest: localCopy (absent or present: whether the device holds a verified copy), "
       "uploadFlag (the device's cached belief that it committed the file) and serverState "
       "(absent, uploading, committed or deleted, from the current sync) give the action. The "
       "server's state decides and the flag never does (FILE-030). Action names: none, upload "
       "(every chunk, then commit), resume_upload (the missing chunks, then commit), restore "
       "(commit; upload if the server then answers absent), restore_then_download, download, "
       "wait, missing.",
       "ChunkCountTest: a file of sizeBytes in chunks of chunkBytes has chunkCount = max(1, "
       "ceil(sizeBytes / chunkBytes)) chunks; every chunk but the last holds chunkBytes, the "
       "last holds lastChunkBytes (0 for an empty file).",
       "MissingRangesTest: a file of chunkCount chunks of which presentChunks (ascending) are "
       "stored lacks chunksMissing, as ascending half-open [start, end) ranges.",
       "FileStatusParseTest: json is a file status response body. Valid ones parse, with "
       "chunks_missing as chunksMissing; invalid ones must be rejected. Responses ignore "
       "unknown members (TRN-023); errorCode and errorField are what the reference library "
       "reports."});
  file.note("ReconciliationTable", "BASIC", "A row of the table of spec 11.4.");
  file.note("UploadFlagIgnored", "KNOWN_BUG",
            "The upload flag is set, yet the server's state decides: Dataans trusted the flag "
            "and never re-uploaded a file the server had lost (FILE-030).");
  file.note("ChunkArithmetic", "BASIC", "chunk_count and the size of the last chunk.");
  file.note("ChunkBoundary", "EDGE_CASE",
            "Sizes at, just below and just above a multiple of chunk_bytes, and the empty file "
            "(one empty chunk).");
  file.note("MissingRanges", "BASIC", "Missing chunk indices as half-open ranges.");
  file.note("ValidStatus", "BASIC", "A well-formed file status.");
  file.note("BadRanges", "MODIFIED_PARAMETER",
            "chunks_missing ranges that overlap, descend, are empty or reversed, pass "
            "chunk_count, are not [start, end) pairs of integers, or appear on a file that is "
            "not uploading.");
  file.note("BadStatus", "MODIFIED_PARAMETER", "Another member of the status is wrong.");

  TestGroup& actions = file.group(Json{{"type", "FileActionTest"}});
  for (const TableRow& row : kTable) {
    for (bool upload_flag : {false, true}) {
      const std::string_view action =
          file_action_name(decide_file_action(row.local, upload_flag, row.server));
      const std::string local(local_copy_name(row.local));
      const std::string server(file_state_name(row.server));
      require(action == row.action, "decide_file_action(" + local + ", " + server + ") is " +
                                        std::string(action) + ", the spec says " +
                                        std::string(row.action));
      std::vector<std::string> flags = {"ReconciliationTable"};
      if (upload_flag) flags.push_back("UploadFlagIgnored");
      actions.add(TestCase{"file-reconciliation/" + local + "-" + server +
                               (upload_flag ? "-flag-set" : "-flag-clear"),
                           "Local copy " + local + ", server " + server + ", upload flag " +
                               (upload_flag ? "set" : "clear") + ".",
                           std::move(flags), true,
                           Json{{"localCopy", local},
                                {"uploadFlag", upload_flag},
                                {"serverState", server},
                                {"action", action}}});
    }
  }

  TestGroup& chunks = file.group(Json{{"type", "ChunkCountTest"}});
  struct ChunkCase {
    std::string id;
    std::string comment;
    std::string flag;
    uint64_t size_bytes;
    uint32_t chunk_bytes;
    uint64_t chunk_count;
    uint64_t last_chunk_bytes;
  };
  const std::vector<ChunkCase> chunk_cases = {
      {"empty-file", "An empty file is one empty chunk.", "ChunkBoundary", 0, 65536, 1, 0},
      {"one-byte", "One byte.", "ChunkArithmetic", 1, 65536, 1, 1},
      {"one-byte-short-of-a-chunk", "65,535 bytes in 64 KiB chunks.", "ChunkBoundary", 65535, 65536,
       1, 65535},
      {"exactly-one-chunk", "65,536 bytes: one full chunk, no empty second chunk.", "ChunkBoundary",
       65536, 65536, 1, 65536},
      {"one-byte-past-a-chunk", "65,537 bytes: a second chunk of one byte.", "ChunkBoundary", 65537,
       65536, 2, 1},
      {"photo-in-1-mib-chunks", "3,000,000 bytes in 1 MiB chunks.", "ChunkArithmetic", 3000000,
       1048576, 3, 902848},
      {"16-gib-in-1-mib-chunks", "16 GiB in 1 MiB chunks: 16,384 chunks, the reference limit.",
       "ChunkBoundary", uint64_t{1} << 34, 1048576, 16384, 1048576},
      {"exactly-one-largest-chunk", "16 MiB in 16 MiB chunks.", "ChunkBoundary", 16777216, 16777216,
       1, 16777216},
      {"one-tib-plus-one-byte", "2^40 + 1 bytes in 16 MiB chunks.", "ChunkBoundary",
       (uint64_t{1} << 40) + 1, 16777216, 65537, 1},
  };
  for (const ChunkCase& c : chunk_cases) {
    const uint64_t count = chunk_count_for(c.size_bytes, c.chunk_bytes);
    const uint64_t last = chunk_plaintext_bytes(c.size_bytes, c.chunk_bytes, count - 1);
    require(count == c.chunk_count && last == c.last_chunk_bytes,
            c.id + ": the library computes " + std::to_string(count) + " chunks, the last of " +
                std::to_string(last) + " bytes");
    chunks.add(TestCase{"file-reconciliation/chunks-" + c.id,
                        c.comment,
                        {c.flag},
                        true,
                        Json{{"sizeBytes", c.size_bytes},
                             {"chunkBytes", c.chunk_bytes},
                             {"chunkCount", c.chunk_count},
                             {"lastChunkBytes", c.last_chunk_bytes}}});
  }

  TestGroup& ranges = file.group(Json{{"type", "MissingRangesTest"}});
  struct RangeCase {
    std::string id;
    uint32_t chunk_count;
    std::vector<uint32_t> present;
    std::vector<ChunkRange> missing;
  };
  const std::vector<RangeCase> range_cases = {
      {"single-chunk-missing", 1, {}, {{0, 1}}},
      {"single-chunk-present", 1, {0}, {}},
      {"nothing-stored", 5, {}, {{0, 5}}},
      {"everything-stored", 5, {0, 1, 2, 3, 4}, {}},
      {"every-other-chunk", 5, {0, 2, 4}, {{1, 2}, {3, 4}}},
      {"ends-missing", 5, {1, 2, 3}, {{0, 1}, {4, 5}}},
      {"runs", 10, {0, 1, 5, 9}, {{2, 5}, {6, 9}}},
      {"one-in-the-middle", 10, {3}, {{0, 3}, {4, 10}}},
  };
  for (const RangeCase& c : range_cases) {
    require(missing_chunk_ranges(c.present, c.chunk_count) == c.missing,
            c.id + ": missing_chunk_ranges disagrees");
    ranges.add(TestCase{"file-reconciliation/missing-" + c.id,
                        std::to_string(c.present.size()) + " of " + std::to_string(c.chunk_count) +
                            " chunks stored.",
                        {"MissingRanges"},
                        true,
                        Json{{"chunkCount", c.chunk_count},
                             {"presentChunks", c.present},
                             {"chunksMissing", ranges_json(c.missing)}}});
  }

  TestGroup& statuses = file.group(Json{{"type", "FileStatusParseTest"}});
  add_status(statuses, "file-reconciliation/status-uploading-with-gaps",
             "Chunks 0, 1, 5 and 6 of 8 are missing.", {"ValidStatus"},
             status_text("uploading", 8, "[[0,2],[5,7]]"));
  add_status(statuses, "file-reconciliation/status-uploading-nothing-stored",
             "A created file with no chunks yet.", {"ValidStatus"},
             status_text("uploading", 8, "[[0,8]]", 0));
  add_status(statuses, "file-reconciliation/status-uploading-complete",
             "Every chunk stored, not yet committed.", {"ValidStatus"},
             status_text("uploading", 8, "[]"));
  add_status(statuses, "file-reconciliation/status-committed", "A committed file.", {"ValidStatus"},
             status_text("committed", 8, "[]"));
  add_status(statuses, "file-reconciliation/status-deleted", "A deleted file.", {"ValidStatus"},
             status_text("deleted", 1, "[]"));
  {
    std::string extended = status_text("committed", 8, "[]");
    extended.insert(1, "\"checksum_hint\":null,");
    add_status(statuses, "file-reconciliation/status-unknown-member",
               "A member this version does not define: a client ignores it (TRN-023).",
               {"ValidStatus"}, extended);
  }
  using enum Code;
  auto bad = [&](std::string id, std::string comment, std::string flag, const std::string& text,
                 Code code, std::string field) {
    add_bad_status(statuses, "file-reconciliation/status-" + id, std::move(comment),
                   {std::move(flag)}, text, code, std::move(field));
  };
  bad("ranges-overlapping", "[0,3) and [2,5) overlap.", "BadRanges",
      status_text("uploading", 8, "[[0,3],[2,5]]"), kInvalidField, "chunks_missing[1]");
  bad("ranges-descending", "[5,7) before [0,2).", "BadRanges",
      status_text("uploading", 8, "[[5,7],[0,2]]"), kInvalidField, "chunks_missing[1]");
  bad("ranges-repeated", "[1,2) twice.", "BadRanges", status_text("uploading", 8, "[[1,2],[1,2]]"),
      kInvalidField, "chunks_missing[1]");
  bad("range-beyond-chunk-count", "[6,9) with 8 chunks.", "BadRanges",
      status_text("uploading", 8, "[[6,9]]"), kInvalidField, "chunks_missing[0]");
  bad("range-starts-at-chunk-count", "[8,9) with 8 chunks.", "BadRanges",
      status_text("uploading", 8, "[[8,9]]"), kInvalidField, "chunks_missing[0]");
  bad("range-empty", "[3,3) holds no index.", "BadRanges", status_text("uploading", 8, "[[3,3]]"),
      kInvalidField, "chunks_missing[0]");
  bad("range-reversed", "[4,2).", "BadRanges", status_text("uploading", 8, "[[4,2]]"),
      kInvalidField, "chunks_missing[0]");
  bad("range-single-number", "[1] is not a pair.", "BadRanges",
      status_text("uploading", 8, "[[1]]"), kInvalidField, "chunks_missing[0]");
  bad("range-triple", "[1,2,3] is not a pair.", "BadRanges",
      status_text("uploading", 8, "[[1,2,3]]"), kInvalidField, "chunks_missing[0]");
  bad("range-as-number", "3 instead of [3,4].", "BadRanges", status_text("uploading", 8, "[3]"),
      kInvalidField, "chunks_missing[0]");
  bad("range-as-string", "\"0-2\" instead of [0,2].", "BadRanges",
      status_text("uploading", 8, "[\"0-2\"]"), kInvalidField, "chunks_missing[0]");
  bad("range-end-1.0", "An end written 2.0 (TRN-024).", "BadRanges",
      status_text("uploading", 8, "[[0,2.0]]"), kInvalidField, "chunks_missing[0][1]");
  bad("range-start-negative", "A start of -1.", "BadRanges",
      status_text("uploading", 8, "[[-1,2]]"), kInvalidField, "chunks_missing[0][0]");
  bad("ranges-on-committed-file", "A committed file has no missing chunks.", "BadRanges",
      status_text("committed", 8, "[[0,2]]"), kInvalidField, "chunks_missing");
  bad("ranges-on-deleted-file", "A deleted file lists no missing chunks.", "BadRanges",
      status_text("deleted", 8, "[[7,8]]"), kInvalidField, "chunks_missing");
  bad("ranges-null", "chunks_missing null instead of [].", "BadRanges",
      status_text("committed", 8, "null"), kInvalidField, "chunks_missing");
  {
    std::string without = status_text("committed", 8, "[]");
    without.erase(without.find(",\"chunks_missing\":[]"),
                  std::string_view(",\"chunks_missing\":[]").size());
    bad("ranges-missing", "No chunks_missing member.", "BadRanges", without, kMissingField,
        "chunks_missing");
  }
  bad("state-absent", "A status exists only for a file the server holds.", "BadStatus",
      status_text("absent", 8, "[]"), kInvalidField, "state");
  bad("chunk-count-zero", "A file has at least one chunk.", "BadStatus",
      status_text("uploading", 0, "[]"), kInvalidField, "chunk_count");
  return file.finish();
}

// ---- verification -----------------------------------------------------------------------------

void check_action(const Json&, const Json& test, Findings& findings) {
  if (!read_expects_valid(test)) throw MalformedVector("FileActionTest cases are all valid");
  const std::string local = read_string(test, "localCopy");
  if (local != "absent" && local != "present")
    throw MalformedVector("localCopy must be \"absent\" or \"present\"");
  const std::optional<FileState> server = file_state_from_name(read_string(test, "serverState"));
  if (!server) throw MalformedVector("serverState must name a file state");
  const FileAction action =
      decide_file_action(local == "present" ? LocalCopy::kPresent : LocalCopy::kAbsent,
                         read_bool(test, "uploadFlag"), *server);
  findings.expect_equal("action", read_string(test, "action"),
                        std::string(file_action_name(action)));
}

void check_chunk_count(const Json&, const Json& test, Findings& findings) {
  if (!read_expects_valid(test)) throw MalformedVector("ChunkCountTest cases are all valid");
  const uint64_t size_bytes = read_uint(test, "sizeBytes");
  const uint32_t chunk_bytes = static_cast<uint32_t>(read_uint(test, "chunkBytes", kChunkBytesMax));
  if (chunk_bytes == 0) throw MalformedVector("chunkBytes must be positive");
  const uint64_t count = chunk_count_for(size_bytes, chunk_bytes);
  findings.expect_equal("chunkCount", read_uint(test, "chunkCount"), count);
  findings.expect_equal("lastChunkBytes", read_uint(test, "lastChunkBytes"),
                        chunk_plaintext_bytes(size_bytes, chunk_bytes, count - 1));
  if (count > 1)
    findings.expect_equal("bytes of chunk 0", uint64_t{chunk_bytes},
                          chunk_plaintext_bytes(size_bytes, chunk_bytes, 0));
}

std::vector<ChunkRange> read_ranges(const Json& test, std::string_view name) {
  std::vector<ChunkRange> out;
  for (const Json& range : read_array(test, name)) {
    if (!range.is_array() || range.size() != 2 || !range[0].is_number_unsigned() ||
        !range[1].is_number_unsigned() || range[0].get<uint64_t>() > 0xFFFFFFFFu ||
        range[1].get<uint64_t>() > 0xFFFFFFFFu)
      throw MalformedVector(std::string(name) + " must hold [start, end) pairs of u32");
    out.emplace_back(range[0].get<uint32_t>(), range[1].get<uint32_t>());
  }
  return out;
}

void check_missing_ranges(const Json&, const Json& test, Findings& findings) {
  if (!read_expects_valid(test)) throw MalformedVector("MissingRangesTest cases are all valid");
  const uint32_t chunk_count = static_cast<uint32_t>(read_uint(test, "chunkCount", 0xFFFFFFFFu));
  std::vector<uint32_t> present;
  for (const Json& index : read_array(test, "presentChunks")) {
    if (!index.is_number_unsigned() || index.get<uint64_t>() >= chunk_count ||
        (!present.empty() && index.get<uint64_t>() <= present.back()))
      throw MalformedVector("presentChunks must be ascending indices below chunkCount");
    present.push_back(index.get<uint32_t>());
  }
  const std::vector<ChunkRange> expected = read_ranges(test, "chunksMissing");
  if (expected != missing_chunk_ranges(present, chunk_count))
    findings.add("chunksMissing: the library computes other ranges");
}

void check_status(const Json&, const Json& test, Findings& findings) {
  Result<FileStatus> parsed = parse_message<FileStatus>(read_string(test, "json"));
  if (!read_expects_valid(test)) {
    findings.expect_error(test, parsed);
    return;
  }
  if (!parsed.ok()) {
    findings.add("parse_message<FileStatus> failed: " + parsed.error().to_string());
    return;
  }
  if (read_ranges(test, "chunksMissing") != parsed->chunks_missing)
    findings.add("chunksMissing: the parsed ranges differ");
}

}  // namespace

Suite file_reconciliation_suite() {
  return Suite{kName,
               kAlgorithm,
               &generate,
               {{"FileActionTest", &check_action},
                {"ChunkCountTest", &check_chunk_count},
                {"MissingRangesTest", &check_missing_ranges},
                {"FileStatusParseTest", &check_status}}};
}

}  // namespace opsync::vectors
