#include "opsync/client/engine.h"

#include <algorithm>
#include <deque>
#include <functional>
#include <set>

#include "opsync/protocol/check.h"
#include "opsync/protocol/diff.h"
#include "opsync/protocol/endpoints.h"
#include "opsync/protocol/files.h"
#include "opsync/protocol/hlc.h"
#include "opsync/protocol/limits.h"
#include "opsync/protocol/messages.h"
#include "opsync/protocol/sha256.h"

namespace opsync::client {

const Subkeys* Keyring::find(uint32_t key_id) const {
  auto it = keys.find(key_id);
  return it == keys.end() ? nullptr : &it->second;
}

const Subkeys& Keyring::current() const {
  const Subkeys* subkeys = find(current_key_id);
  OPSYNC_CHECK_MSG(subkeys != nullptr, "the keyring lacks its current key");
  return *subkeys;
}

uint64_t backoff_ms(uint32_t attempt, uint64_t unit_ms, uint64_t cap_ms) {
  const uint64_t factor = attempt >= 32 ? (uint64_t{1} << 32) : (uint64_t{1} << attempt);
  if (unit_ms != 0 && factor > cap_ms / unit_ms) return cap_ms;
  return std::min(cap_ms, factor * unit_ms);
}

namespace {

constexpr const char* kJson = "application/json";
constexpr const char* kOctets = "application/octet-stream";
constexpr uint32_t kRestampsPerOpMax =
    3;  // re-stamps of one operation in one sync before it fails (HLC-020)

// Thrown inside the engine to end the sync with an error; caught at the entry points, so a sync
// that fails leaves the store with every step committed before the failure and nothing partial.
struct SyncFailure {
  Error error;
};

[[noreturn]] void fail(Error error) { throw SyncFailure{std::move(error)}; }
[[noreturn]] void fail(Code code, std::string message) { fail(Error(code, std::move(message))); }

template <typename T>
T take(Result<T> result) {
  if (!result.ok()) fail(result.error());
  return std::move(result).value();
}
void take(const Status& status) {
  if (!status.ok()) fail(status.error());
}

template <typename M>
M parse_or_fail(const HttpResponse& response, const char* what) {
  Result<M> parsed = parse_message<M>(response.body);
  if (!parsed.ok()) {
    // A gap in a page (SYNC-007) and an operation of an unknown format (VER-008) keep their own
    // codes, which tell the user more; anything else the server got wrong is a protocol error.
    const Code code = parsed.error().code;
    if (code == Code::kPageGap || code == Code::kUnsupportedFormat) fail(parsed.error());
    fail(Code::kProtocolError,
         std::string("the server's ") + what + " does not parse: " + parsed.error().to_string());
  }
  return std::move(parsed).value();
}

bool is_success(int status) { return status >= 200 && status < 300; }

// Statuses worth another attempt after backoff: the server could not answer now.
bool is_transient(int status) { return status >= 500; }

// A file's chunk in plaintext, read from the device's copy (FILE-032: one chunk in memory).
// nullopt when the copy is gone or shorter than its reference says (someone removed or changed
// it): the upload cannot finish.
std::optional<Bytes> read_chunk(BlobStore& blobs, const FileRef& ref, uint32_t index) {
  const uint64_t size = chunk_plaintext_bytes(ref.size_bytes, ref.chunk_bytes, index);
  return blobs.read(ref.id, BlobKind::kCopy, uint64_t{index} * ref.chunk_bytes, size);
}

// SHA-256 of the first `size_bytes` of a blob, read a slice at a time; zeros when it is shorter
// (a short file cannot match a real hash of size_bytes).
Hash hash_blob(BlobStore& blobs, const FileId& id, BlobKind kind, uint64_t size_bytes) {
  constexpr uint64_t kSliceBytes = 1 << 20;
  Sha256 hasher;
  for (uint64_t offset = 0; offset < size_bytes; offset += kSliceBytes) {
    const std::optional<Bytes> slice =
        blobs.read(id, kind, offset, std::min(kSliceBytes, size_bytes - offset));
    if (!slice) return Hash{};
    hasher.update(*slice);
  }
  return hasher.finish();
}

std::vector<uint32_t> expand(const std::vector<ChunkRange>& ranges) {
  std::vector<uint32_t> out;
  for (const auto& [start, end] : ranges)
    for (uint32_t i = start; i < end; ++i) out.push_back(i);
  return out;
}

}  // namespace

// One file's reconciliation in progress (spec 11.4).
struct FileJob {
  enum class Stage {
    kDecide,     // pick the action from the table
    kCreate,     // POST /files/{id}
    kStatus,     // GET /files/{id}: which chunks are missing
    kPutChunks,  // PUT the missing chunks
    kCommit,     // POST /files/{id}/commit
    kRestore,    // POST /files/{id}/commit of a deleted file, then upload or download
    kDownload,   // GET the chunks not yet in the partial file
    kDone,
  };
  FileId id;
  LocalFile local;
  FileState server_state = FileState::kAbsent;
  Stage stage = Stage::kDecide;
  bool download_after_restore = false;
  std::deque<uint32_t> chunks;  // to put or to get, ascending
};

struct SyncEngine::Impl {
  enum class Phase {
    kInfo,
    kPrefix,
    kBlocks,
    kPages,
    kFileStatus,
    kFiles,
    kUpload,
    kCleanup,
    kDone
  };

  LocalStore& store;
  const Keyring& keys;
  RandomSource& random;
  SyncOptions options;
  SyncReport report;

  Phase phase = Phase::kInfo;
  std::optional<SyncFinished> finished;
  std::string workspace;  // the workspace id as the paths spell it
  Limits limits{};
  uint64_t file_retention_ms = 0;          // the server's, from this sync's /v1/info (FILE-040)
  std::optional<uint64_t> last_server_ms;  // the server's clock in its latest answer (TRN-007)

  // The request in flight, or to be sent again after a transport failure.
  std::optional<HttpRequest> request;
  std::function<void(const HttpResponse&, DeviceTime now)> on_answer;
  bool awaiting_answer = false;
  DeviceTime sent_at;
  uint32_t attempt = 0;
  std::optional<uint64_t>
      retry_at_monotonic_ms;  // the end of the backoff wait (SYNC-010, SYNC-020)

  // Clock (HLC-010): the estimate from the response with the shortest round trip so far.
  std::optional<uint64_t> best_round_trip_ms;
  int64_t offset_ms = 0;
  int64_t stored_offset_ms = 0;
  HlcClock clock;

  // The divergence search.
  uint32_t divergence_searches = 0;
  uint32_t server_block_size = 0;
  uint64_t local_blocks_needed = 0;
  std::vector<Hash> server_blocks;

  // A page that promised more, decoded and checked but not yet applied. The next page's request
  // goes out first, so a driver can apply this one while that request travels (work()); the next
  // answer or failure applies it first if the driver did not. The physical time of its arrival is
  // kept with it, so when it is applied changes nothing the store ends up holding.
  struct HeldPage {
    OpsPageResponse page;
    uint64_t physical_ms = 0;
  };
  std::optional<HeldPage> held_page;

  // Uploads.
  uint32_t upload_round = 0;
  std::map<OpId, uint32_t> restamps;  // re-stamps in this sync, per operation (bounded by its ops)
  bool files_before_upload_done = false;

  // Files.
  std::deque<FileId> files_to_query;               // for POST /file-status
  std::map<FileId, FileState> server_file_states;  // answers of this sync (FILE-030)
  std::deque<FileJob> file_jobs;
  bool final_file_pass = false;
  std::vector<FileId> files_to_delete;  // FILE-022, after the final pass
  bool leftovers_removed = false;
  std::set<FileId> pending_files;  // wait or missing, each counted once however many passes

  void note_pending(const FileId& id) {
    pending_files.insert(id);
    report.files_pending = pending_files.size();
  }

  Impl(LocalStore& s, const Keyring& k, RandomSource& r, SyncOptions o)
      : store(s), keys(k), random(r), options(o) {
    workspace = to_base64url(store.binding().workspace_id);
    const SyncMeta meta = take(store.meta());
    offset_ms = meta.clock_offset_ms;
    stored_offset_ms = meta.clock_offset_ms;
    clock = HlcClock(meta.hlc);
  }

  uint64_t physical_ms(uint64_t now_ms) const {
    const int64_t pt = static_cast<int64_t>(now_ms) + offset_ms;
    return pt < 0 ? 0 : static_cast<uint64_t>(pt);
  }

  void send(HttpRequest r, std::function<void(const HttpResponse&, DeviceTime)> handler) {
    request = std::move(r);
    on_answer = std::move(handler);
    attempt = 0;
    retry_at_monotonic_ms.reset();
  }

  // ---- responses that every request shares ---------------------------------------------------

  // `force`: take this response's estimate whatever its round trip (HLC-020: after a clock_skew
  // rejection the estimate is refreshed; the device's clock may have stepped since the best one).
  // The offset estimate, written when it changed (HLC-012: the last one is used offline).
  void save_offset() {
    if (offset_ms == stored_offset_ms) return;
    take(store.set_clock_offset_ms(offset_ms));
    stored_offset_ms = offset_ms;
  }

  // The server's clock as an answer reports it (TRN-007), when the header is there and plain.
  static std::optional<uint64_t> server_time_of(const HttpResponse& response) {
    const std::string& header = response.header("opsync-server-time-ms");
    if (header.empty() || header.size() > 16) return std::nullopt;
    uint64_t server_ms = 0;
    for (char c : header) {
      if (c < '0' || c > '9') return std::nullopt;
      server_ms = server_ms * 10 + static_cast<uint64_t>(c - '0');
    }
    return server_ms;
  }

  void observe_server_time(const HttpResponse& response, DeviceTime now, bool force = false) {
    const std::optional<uint64_t> read = server_time_of(response);
    if (!read) return;
    const uint64_t server_ms = *read;
    last_server_ms = server_ms;
    // The round trip on the monotonic clock; the request's midpoint on the wall clock is then
    // that much before the receipt (HLC-010), whatever the wall clock did meanwhile.
    const uint64_t round_trip_ms =
        now.monotonic_ms >= sent_at.monotonic_ms ? now.monotonic_ms - sent_at.monotonic_ms : 0;
    if (!force && best_round_trip_ms && round_trip_ms > *best_round_trip_ms) return;
    best_round_trip_ms = round_trip_ms;
    const uint64_t sent_wall_ms = now.wall_ms >= round_trip_ms ? now.wall_ms - round_trip_ms : 0;
    offset_ms = estimate_clock_offset_ms(sent_wall_ms, now.wall_ms, server_ms);
    report.clock_offset_ms = offset_ms;
  }

  // ---- planning the next request ---------------------------------------------------------------

  void plan(uint64_t now_ms) {
    // Every branch either sends a request or moves to a later phase; phases only move forward
    // except the bounded upload rounds, so this loop ends.
    for (int guard = 0; guard < 64 && !request && !finished; ++guard) {
      switch (phase) {
        case Phase::kInfo:
          send({"GET", endpoint_path(EndpointId::kInfo, {}), "", "", false},
               [this](const HttpResponse& r, DeviceTime) { on_info(r); });
          break;
        case Phase::kPrefix:
          send_prefix_check();
          break;
        case Phase::kBlocks:
          send_blocks_request();
          break;
        case Phase::kPages:
          send_page_request();
          break;
        case Phase::kFileStatus:
        case Phase::kFiles:
          plan_files();
          break;
        case Phase::kUpload:
          plan_upload();
          break;
        case Phase::kCleanup:
          plan_cleanup(now_ms);
          break;
        case Phase::kDone:
          take(store.record_sync_success(now_ms));
          save_offset();
          finished = SyncFinished{};
          break;
      }
    }
    OPSYNC_CHECK_MSG(request || finished, "the sync engine planned nothing");
  }

  void on_info(const HttpResponse& response) {
    const InfoResponse info = parse_or_fail<InfoResponse>(response, "info");
    if (std::find(info.versions.begin(), info.versions.end(), 1u) == info.versions.end())
      fail(Code::kUnsupportedVersion, "the server does not speak protocol version 1 (VER-002)");
    limits = info.limits;
    file_retention_ms = info.file_retention_ms;
    report.max_clock_skew_ms = info.max_clock_skew_ms;
    save_offset();
    phase = Phase::kPrefix;
  }

  // ---- the prefix check and the divergence search (spec 9.1 steps 2 and 3) ----------------------

  // The prefix check is the first read of pages: the same request and the same checks, and its
  // answer is the first page.
  void send_prefix_check() { send_ops_read(/*prefix_check=*/true); }

  void start_divergence_search() {
    // A log that changes under every read (a server restored again and again, or something
    // between device and server altering pages) would send the sync round this cycle forever.
    if (++divergence_searches > options.divergence_searches_max)
      fail(Code::kProtocolError, "the server's log changed under this sync " +
                                     std::to_string(divergence_searches) +
                                     " times; try again later");
    report.diverged = true;
    server_blocks.clear();
    phase = Phase::kBlocks;
  }

  void send_blocks_request() {
    // Only the blocks the mirror covers can match; hashes chain, so they are a prefix.
    const std::string target = endpoint_target(EndpointId::kReadBlocks, {workspace},
                                               {{"start", std::to_string(server_blocks.size())}});
    send({"GET", target, "", ""}, [this](const HttpResponse& r, DeviceTime) {
      if (!is_success(r.status)) fail(error_from_response(r));
      const BlocksResponse blocks = parse_or_fail<BlocksResponse>(r, "block list");
      if (blocks.block_size == 0) fail(Code::kProtocolError, "block_size 0");
      const std::vector<Hash> local = take(store.block_hashes(blocks.block_size));
      for (const BlockEntry& entry : blocks.blocks) {
        if (entry.index != server_blocks.size())
          fail(Code::kProtocolError, "block indexes are not consecutive");
        server_blocks.push_back(entry.hash);
      }
      const bool enough = server_blocks.size() >= local.size();
      if (blocks.next_start && !enough && !blocks.blocks.empty()) return;  // read the next page
      const uint64_t p = verified_prefix_from_blocks(local, server_blocks, blocks.block_size);
      const uint64_t mirror_before = take(store.mirror_size());
      take(store.truncate_mirror(p));
      report.verified_prefix = p;
      report.ops_unverified += mirror_before > p ? mirror_before - p : 0;
      phase = Phase::kPages;
    });
  }

  // ---- pages of operations (step 4) -------------------------------------------------------------

  std::string ops_target(uint64_t after_seq) const {
    if (options.page_ops_max == 0)
      return endpoint_target(EndpointId::kReadOps, {workspace},
                             {{"after_seq", std::to_string(after_seq)}});
    return endpoint_target(EndpointId::kReadOps, {workspace},
                           {{"after_seq", std::to_string(after_seq)},
                            {"limit", std::to_string(options.page_ops_max)}});
  }

  void send_page_request() { send_ops_read(/*prefix_check=*/false); }

  void send_ops_read(bool prefix_check) {
    // A held page ends where the mirror will end once it is applied: its seqs are checked to follow
    // after_seq one by one when it is (SYNC-007), or the sync ends before this answer.
    const uint64_t m = held_page ? held_page->page.after_seq + held_page->page.ops.size()
                                 : take(store.mirror_size());
    send({"GET", ops_target(m), "", ""},
         [this, m, prefix_check](const HttpResponse& r, DeviceTime t) {
           if (!is_success(r.status)) {
             const Error error = error_from_response(r);
             // The server holds less than the mirror: restored from a backup, before this sync or
             // during it (SYNC-001).
             if (error.code == Code::kAfterSeqBeyondHead) return start_divergence_search();
             fail(error);
           }
           OpsPageResponse page = parse_or_fail<OpsPageResponse>(r, "ops page");
           if (page.after_seq != m)
             fail(Code::kProtocolError, "the page answers another after_seq");
           if (page.after_hash != take(store.prefix_hash(m))) return start_divergence_search();
           if (prefix_check) {
             report.verified_prefix = m;
             phase = Phase::kPages;
           }
           take_page(std::move(page), t.wall_ms);
         });
  }

  void take_page(OpsPageResponse page, uint64_t now_ms) {
    // A page that promised more but held nothing would have the engine ask the same forever;
    // parsing refuses such a page (LOG-028).
    OPSYNC_CHECK_MSG(!page.ops.empty() || !page.next_after_seq,
                     "an empty page with a cursor got through parsing");
    OPSYNC_CHECK_MSG(!held_page, "a page arrived while another waits to be applied");
    if (page.next_after_seq) {  // phase stays kPages: read on, and apply this one meanwhile
      held_page = HeldPage{std::move(page), physical_ms(now_ms)};
      return;
    }
    apply_page(page, physical_ms(now_ms));
    after_pages();
  }

  void apply_held_page() {
    if (!held_page) return;
    const HeldPage held = std::move(*held_page);
    held_page.reset();
    apply_page(held.page, held.physical_ms);
  }

  void apply_page(const OpsPageResponse& page, uint64_t pt) {
    std::vector<PageOp> ops;
    ops.reserve(page.ops.size());
    // Every operation is decrypted and its timestamp taken in (HLC-002), without asking the store
    // first which ones it holds: apply_page decides that in its own transaction and ignores the
    // meaning of operations it acknowledges (this device's own, whose timestamps the clock has
    // already passed). One store transaction per page instead of one lookup per operation.
    for (const SequencedOp& sequenced : page.ops) {
      ops.push_back(PageOp{sequenced, decrypt(sequenced.op)});
      clock.observe(sequenced.op.hlc, std::min(pt, kHlcWallMsLimit - 1));
    }
    const PageOutcome outcome =
        take(store.apply_page(page.after_seq, ops, page.head_seq, clock.last()));
    report.ops_applied += outcome.applied.size();
    report.ops_acknowledged += outcome.acknowledged.size();
    report.ops_unreadable += outcome.unreadable.size();
    for (const FileId& id : outcome.files_referenced) files_to_query.push_back(id);
  }

  std::optional<ObjectOp> decrypt(const WireOp& op) const {
    const Subkeys* subkeys = keys.find(op.key_id);
    if (!subkeys) return std::nullopt;
    Result<Bytes> plaintext = open_op_payload(subkeys->op_key, op);
    if (!plaintext.ok()) return std::nullopt;
    Result<ObjectPayload> payload = parse_payload(*plaintext);
    if (!payload.ok()) return std::nullopt;
    return ObjectOp{op.id, op.hlc, std::move(payload).value()};
  }

  // After the last page: files before the first upload round, uploads, then the final file pass.
  void after_pages() {
    if (upload_round > options.upload_rounds_max)
      fail(Code::kProtocolError,
           "operations keep returning to the upload queue; the server's log keeps changing");
    if (upload_round == 0 && !files_before_upload_done) {
      start_file_pass(/*own_uploads_only=*/true);
      return;
    }
    if (upload_round > 0 && take(store.ops_to_upload(1)).empty()) {
      start_file_pass(/*own_uploads_only=*/false);
      return;
    }
    phase = Phase::kUpload;
  }

  // ---- uploads (step 5) ----------------------------------------------------------------------

  void plan_upload() {
    // Batches within the server's limits: operations and an estimate of the body's size.
    const size_t batch_max = static_cast<size_t>(std::max<uint64_t>(1, limits.batch_ops_max));
    std::vector<PendingOp> pending = take(store.ops_to_upload(batch_max));
    if (pending.empty()) {
      // Everything is acknowledged or accepted ahead; the catch-up read places what is ahead.
      ++upload_round;
      phase = Phase::kPages;
      return;
    }
    UploadOpsRequest body;
    uint64_t body_bytes = 16;
    for (PendingOp& p : pending) {
      const uint64_t op_bytes = 200 + p.op.payload.size() * 4 / 3;
      if (!body.ops.empty() && body_bytes + op_bytes > limits.request_body_bytes_max) break;
      body_bytes += op_bytes;
      body.ops.push_back(std::move(p.op));
    }
    const size_t sent = body.ops.size();
    send({"POST", endpoint_path(EndpointId::kUploadOps, {workspace}), kJson,
          serialize_message(body)},
         [this, sent](const HttpResponse& r, DeviceTime t) {
           if (!is_success(r.status)) fail(error_from_response(r));
           const UploadOpsResponse answer = parse_or_fail<UploadOpsResponse>(r, "upload answer");
           if (answer.results.size() != sent)
             fail(Code::kProtocolError, "the upload answer has one result per operation");
           const UploadOutcome outcome = take(store.record_upload_results(answer.results));
           report.ops_uploaded += outcome.acknowledged.size() + outcome.accepted_ahead.size();
           report.ops_rejected += outcome.rejected.size();
           if (!outcome.clock_skew.empty()) {
             observe_server_time(r, t, /*force=*/true);
             restamp(outcome.clock_skew, t.wall_ms);
           }
         });
  }

  // HLC-020..022: re-stamp operations the server found too far ahead, oldest first. One re-stamp
  // with the refreshed offset normally settles an operation; the server rejecting the same one
  // again and again means the clock cannot be brought into its skew. The bound is per
  // operation, not per round: a device that wrote many batches offline with its clock far ahead
  // has each batch rejected once (HLC-022 lets it re-stamp only what was rejected), and must not
  // fail for having many.
  void restamp(const std::vector<OpId>& ids, uint64_t now_ms) {
    for (const OpId& id : ids)
      if (++restamps[id] > kRestampsPerOpMax)
        fail(Code::kClockSkew,
             "the server keeps rejecting this device's timestamps; check the clock");
    // The offset was refreshed from this very response (observe_server_time, forced).
    clock.reset(take(store.largest_accepted_hlc()));
    std::set<OpId> wanted(ids.begin(), ids.end());
    std::vector<PendingOp> pending = take(store.ops_to_upload(SIZE_MAX));
    std::vector<WireOp> ops;
    for (PendingOp& p : pending)
      if (wanted.count(p.op.id) && p.where == Held::kOutbox) ops.push_back(std::move(p.op));
    std::sort(ops.begin(), ops.end(),
              [](const WireOp& a, const WireOp& b) { return a.hlc < b.hlc; });
    const uint64_t pt = std::min(physical_ms(now_ms), kHlcWallMsLimit - 1);
    for (WireOp& op : ops) {
      const Subkeys* subkeys = keys.find(op.key_id);
      if (!subkeys) fail(Code::kDecryptFailed, "an outbox operation's key is not on this device");
      const Bytes plaintext = take(open_op_payload(subkeys->op_key, op));
      op.hlc = clock.stamp(pt);
      seal_op_payload(subkeys->op_key, op, plaintext, random);
    }
    take(store.restamp_outbox_ops(ops, clock.last()));
    report.ops_restamped += ops.size();
  }

  // ---- files (step 7, and FILE-021 before uploads) ----------------------------------------------

  void start_file_pass(bool own_uploads_only) {
    files_before_upload_done = files_before_upload_done || own_uploads_only;
    final_file_pass = !own_uploads_only;
    file_jobs.clear();
    std::vector<FileId> ids = take(store.referenced_files());
    for (const FileId& id : ids) {
      std::optional<LocalFile> local = take(store.file(id));
      if (!local) continue;
      if (local->unreferenced_since_ms) {
        // Referenced again, by a write concurrent with the one that dropped it: the copy kept
        // for FILE-040 is what restores or re-uploads it, and a later drop sends DELETE again.
        take(store.set_unreferenced_since(id, std::nullopt));
        local->unreferenced_since_ms.reset();
      }
      if (own_uploads_only && !(local->local_copy && !local->upload_flag)) continue;
      FileJob job;
      job.id = id;
      job.local = *local;
      file_jobs.push_back(std::move(job));
      if (!server_file_states.count(id)) files_to_query.push_back(id);
    }
    phase = Phase::kFileStatus;
  }

  void plan_files() {
    // First the states of every file of the pass that this sync has not asked about.
    while (!files_to_query.empty() && server_file_states.count(files_to_query.front()))
      files_to_query.pop_front();
    if (phase == Phase::kFileStatus && !files_to_query.empty()) {
      FileStatusRequest body;
      const size_t max = static_cast<size_t>(std::max<uint64_t>(1, limits.file_status_ids_max));
      std::set<FileId> seen;
      while (!files_to_query.empty() && body.file_ids.size() < max) {
        const FileId id = files_to_query.front();
        files_to_query.pop_front();
        if (!server_file_states.count(id) && seen.insert(id).second) body.file_ids.push_back(id);
      }
      if (body.file_ids.empty()) return;
      send({"POST", endpoint_path(EndpointId::kFileStatus, {workspace}), kJson,
            serialize_message(body)},
           [this](const HttpResponse& r, DeviceTime) {
             if (!is_success(r.status)) fail(error_from_response(r));
             const FileStatusResponse answer = parse_or_fail<FileStatusResponse>(r, "file status");
             for (const FileStateEntry& entry : answer.files)
               server_file_states[entry.file_id] = entry.state;
           });
      return;
    }
    phase = Phase::kFiles;
    while (!file_jobs.empty()) {
      FileJob& job = file_jobs.front();
      if (job.stage == FileJob::Stage::kDone) {
        file_jobs.pop_front();
        continue;
      }
      step_file(job);
      if (request) return;
    }
    // The pass is over.
    if (final_file_pass) {
      files_to_delete = take(store.unreferenced_files());
      phase = Phase::kCleanup;
    } else {
      phase = Phase::kUpload;
    }
  }

  std::string file_target(EndpointId endpoint, const FileId& id) const {
    return endpoint_path(endpoint, {workspace, to_base64url(id)});
  }
  std::string chunk_target(EndpointId endpoint, const FileId& id, uint32_t index) const {
    return endpoint_path(endpoint, {workspace, to_base64url(id), std::to_string(index)});
  }

  // FILE-022: a file no head references any more is deleted on the server. A device that still
  // references it restores it (the kRestore rows of spec 11.4), so a concurrent reference
  // survives within the retention time. The answer does not matter beyond transient failures
  // (retried): absent, still uploading (another device's upload) or refused to a read-only token
  // all leave nothing for this device to do.
  //
  // FILE-040: the device keeps its verified copy for the server's retention time after that
  // DELETE. The server's own retention does not survive a restore from a backup older than the
  // file; the devices' copies then are the only ones, and a write made concurrently with the
  // drop, by a device that never downloaded the file, would otherwise reference a file that no
  // longer exists anywhere.
  void plan_cleanup(uint64_t now_ms) {
    if (!leftovers_removed) {
      // Blobs of files the store has never heard of: an attach killed after its copy was in place
      // and before its edit committed. Nothing can reference them; they would stay forever.
      leftovers_removed = true;
      for (BlobKind kind : {BlobKind::kCopy, BlobKind::kPartial})
        for (const FileId& id : store.blobs().list(kind))
          if (!take(store.file(id))) take(store.blobs().remove(id, kind));
    }
    // Bounded by the files to delete: each turn sends a request or takes one off the list.
    while (!files_to_delete.empty()) {
      const FileId id = files_to_delete.back();
      const std::optional<LocalFile> local = take(store.file(id));
      if (!local) {
        files_to_delete.pop_back();
        continue;
      }
      // A partial download is no copy: nothing can be restored from it.
      if (store.blobs().exists(id, BlobKind::kPartial))
        take(store.blobs().remove(id, BlobKind::kPartial));
      const bool has_copy = local->local_copy && store.blobs().exists(id, BlobKind::kCopy);
      if (local->unreferenced_since_ms) {
        // The server's clock, as its latest answer read it: the retention runs on that clock, and
        // the device's own may have stepped since its offset was estimated.
        const uint64_t server_now_ms = last_server_ms.value_or(physical_ms(now_ms));
        if (has_copy && server_now_ms < *local->unreferenced_since_ms + file_retention_ms) {
          files_to_delete.pop_back();  // kept until the retention time is over
          continue;
        }
        remove_copy_and_forget(id, *local);
        ++report.files_expired;
        files_to_delete.pop_back();
        continue;
      }
      send({"DELETE", file_target(EndpointId::kDeleteFile, id), "", ""},
           [this, id](const HttpResponse& r, DeviceTime t) {
             const std::optional<LocalFile> dropped = take(store.file(id));
             if (dropped && dropped->local_copy && store.blobs().exists(id, BlobKind::kCopy))
               take(store.set_unreferenced_since(
                   id, server_time_of(r).value_or(physical_ms(t.wall_ms))));
             else if (dropped)
               remove_copy_and_forget(id, *dropped);
             files_to_delete.pop_back();
             ++report.files_deleted;
           });
      return;
    }
    phase = Phase::kDone;
  }

  void remove_copy_and_forget(const FileId& id, const LocalFile& local) {
    // The store forgets the copy before the copy goes: a device killed in between must not
    // believe it holds a copy that is gone, should the file be referenced again.
    if (local.local_copy) take(store.set_local_copy(id, false));
    for (BlobKind kind : {BlobKind::kCopy, BlobKind::kPartial})
      if (store.blobs().exists(id, kind)) take(store.blobs().remove(id, kind));
    take(store.forget_file(id));
  }

  // The file's flags, written only when they change: a sync with nothing to move writes nothing.
  void set_pending(FileJob& job, FilePending pending) {
    if (job.local.pending == pending) return;
    take(store.set_pending(job.id, pending));
    job.local.pending = pending;
  }
  void set_upload_flag(FileJob& job) {
    if (job.local.upload_flag) return;
    take(store.set_upload_flag(job.id, true));
    job.local.upload_flag = true;
  }

  void step_file(FileJob& job) {
    using Stage = FileJob::Stage;
    const FileRef& ref = job.local.ref;
    switch (job.stage) {
      case Stage::kDecide: {
        auto known = server_file_states.find(job.id);
        job.server_state = known == server_file_states.end() ? FileState::kAbsent : known->second;
        // A copy the store records but the blob store lacks (removed by hand, or cut short) is
        // no copy: it is downloaded again, or reported missing.
        if (job.local.local_copy &&
            store.blobs().size(job.id, BlobKind::kCopy) != job.local.ref.size_bytes) {
          take(store.set_local_copy(job.id, false));
          job.local.local_copy = false;
        }
        const LocalCopy copy = job.local.local_copy ? LocalCopy::kPresent : LocalCopy::kAbsent;
        switch (decide_file_action(copy, job.local.upload_flag, job.server_state)) {
          case FileAction::kNone:
            if (job.local.local_copy) set_upload_flag(job);
            set_pending(job, FilePending::kNone);
            job.stage = Stage::kDone;
            return;
          case FileAction::kUpload:
            job.stage = Stage::kCreate;
            return step_file(job);
          case FileAction::kResumeUpload:
            job.stage = Stage::kStatus;
            return step_file(job);
          case FileAction::kRestore:
          case FileAction::kRestoreThenDownload:
            job.download_after_restore = !job.local.local_copy;
            job.stage = Stage::kRestore;
            return step_file(job);
          case FileAction::kDownload:
            start_download(job);
            return step_file(job);
          case FileAction::kWait:
          case FileAction::kMissing:
            set_pending(job, job.server_state == FileState::kUploading ? FilePending::kWait
                                                                       : FilePending::kMissing);
            note_pending(job.id);
            job.stage = Stage::kDone;
            return;
        }
        return;
      }
      case Stage::kCreate:
        send({"POST", file_target(EndpointId::kCreateFile, job.id), kJson,
              serialize_message(CreateFileRequest{ref.chunk_count})},
             [this, &job](const HttpResponse& r, DeviceTime) {
               if (r.status == 409 && error_from_response(r).code == Code::kFileDeleted) {
                 job.stage = FileJob::Stage::kRestore;
                 return;
               }
               if (!is_success(r.status)) fail(error_from_response(r));
               take_upload_status(job, parse_or_fail<FileStatus>(r, "file status"));
             });
        return;
      case Stage::kStatus:
        send({"GET", file_target(EndpointId::kGetFile, job.id), "", ""},
             [this, &job](const HttpResponse& r, DeviceTime) {
               if (r.status == 404) {
                 job.stage = FileJob::Stage::kCreate;
                 return;
               }
               if (!is_success(r.status)) fail(error_from_response(r));
               take_upload_status(job, parse_or_fail<FileStatus>(r, "file status"));
             });
        return;
      case Stage::kPutChunks: {
        if (job.chunks.empty()) {
          job.stage = Stage::kCommit;
          return step_file(job);
        }
        const uint32_t index = job.chunks.front();
        const std::optional<Bytes> read = read_chunk(store.blobs(), ref, index);
        if (!read) {
          // FILE-021's exception: the upload cannot finish, so the operations go ahead and every
          // device (this one too) sees the file as missing until someone uploads it.
          take(store.set_local_copy(job.id, false));
          set_pending(job, FilePending::kMissing);
          note_pending(job.id);
          job.stage = Stage::kDone;
          return;
        }
        const Bytes& plaintext = *read;
        const Bytes envelope =
            seal_chunk(keys.current().chunk_key, job.id, index, ref.chunk_count, plaintext, random);
        const uint64_t plaintext_bytes = plaintext.size();
        send({"PUT", chunk_target(EndpointId::kPutChunk, job.id, index), kOctets,
              std::string(envelope.begin(), envelope.end())},
             [this, &job, index, plaintext_bytes](const HttpResponse& r, DeviceTime) {
               if (r.status == 409 && error_from_response(r).code == Code::kFileNotUploading) {
                 // Another device's upload of the same file (both hold a copy, the server had lost
                 // it) committed first: its chunks differ only in their nonces. Ask again.
                 job.chunks.clear();
                 job.stage = FileJob::Stage::kStatus;
                 return;
               }
               if (!is_success(r.status)) fail(error_from_response(r));
               take(store.record_chunk_done(job.id, TransferDirection::kUpload, index));
               job.chunks.pop_front();
               ++report.chunks_uploaded;
               report.file_bytes_moved += plaintext_bytes;
             });
        return;
      }
      case Stage::kCommit:
        send({"POST", file_target(EndpointId::kCommitFile, job.id), kJson,
              serialize_message(CommitFileRequest{ref.chunk_count})},
             [this, &job](const HttpResponse& r, DeviceTime) {
               if (r.status == 409 && error_from_response(r).code == Code::kFileIncomplete) {
                 job.stage = FileJob::Stage::kStatus;  // chunks went missing: ask again
                 return;
               }
               if (!is_success(r.status)) fail(error_from_response(r));
               set_upload_flag(job);
               set_pending(job, FilePending::kNone);
               server_file_states[job.id] = FileState::kCommitted;
               ++report.files_uploaded;
               job.stage = FileJob::Stage::kDone;
             });
        return;
      case Stage::kRestore:
        send({"POST", file_target(EndpointId::kCommitFile, job.id), kJson,
              serialize_message(CommitFileRequest{ref.chunk_count})},
             [this, &job](const HttpResponse& r, DeviceTime) {
               if (r.status == 404) {  // its chunks are gone: upload if we can, else it is missing
                 if (job.local.local_copy) {
                   job.stage = FileJob::Stage::kCreate;
                 } else {
                   set_pending(job, FilePending::kMissing);
                   note_pending(job.id);
                   job.stage = FileJob::Stage::kDone;
                 }
                 return;
               }
               if (!is_success(r.status)) fail(error_from_response(r));
               server_file_states[job.id] = FileState::kCommitted;
               if (job.download_after_restore) {
                 start_download(job);
               } else {
                 set_upload_flag(job);
                 set_pending(job, FilePending::kNone);
                 job.stage = FileJob::Stage::kDone;
               }
             });
        return;
      case Stage::kDownload: {
        if (job.chunks.empty()) return finish_download(job);
        const uint32_t index = job.chunks.front();
        send({"GET", chunk_target(EndpointId::kGetChunk, job.id, index), "", ""},
             [this, &job, index](const HttpResponse& r, DeviceTime) {
               if (r.status == 409 || r.status == 404) {  // no longer committed: next sync
                 set_pending(job, FilePending::kWait);
                 note_pending(job.id);
                 job.stage = FileJob::Stage::kDone;
                 return;
               }
               if (!is_success(r.status)) fail(error_from_response(r));
               const FileRef& ref = job.local.ref;
               const Bytes envelope(r.body.begin(), r.body.end());
               // A file reference names no key id (CRY-025): the current key first, then the
               // others.
               Result<Bytes> plaintext =
                   open_chunk(keys.current().chunk_key, job.id, index, ref.chunk_count, envelope);
               for (auto key = keys.keys.begin(); !plaintext.ok() && key != keys.keys.end(); ++key)
                 if (key->first != keys.current_key_id)
                   plaintext =
                       open_chunk(key->second.chunk_key, job.id, index, ref.chunk_count, envelope);
               if (!plaintext.ok() ||
                   plaintext->size() !=
                       chunk_plaintext_bytes(ref.size_bytes, ref.chunk_bytes, index))
                 fail(Code::kDecryptFailed, "chunk " + std::to_string(index) + " of file " +
                                                to_base64url(job.id) +
                                                " does not open with this workspace's key");
               // Durable before the chunk is recorded as done, so a crash never records a chunk
               // the partial blob lacks.
               take(store.blobs().write(job.id, BlobKind::kPartial,
                                        uint64_t{index} * ref.chunk_bytes, *plaintext));
               take(store.record_chunk_done(job.id, TransferDirection::kDownload, index));
               job.chunks.pop_front();
               ++report.chunks_downloaded;
               report.file_bytes_moved += plaintext->size();
             });
        return;
      }
      case Stage::kDone:
        return;
    }
  }

  void take_upload_status(FileJob& job, const FileStatus& status) {
    if (status.file_id != job.id) fail(Code::kProtocolError, "a file status names another file");
    server_file_states[job.id] = status.state;
    if (status.state == FileState::kCommitted) {
      set_upload_flag(job);
      set_pending(job, FilePending::kNone);
      job.stage = FileJob::Stage::kDone;
      return;
    }
    if (status.state == FileState::kDeleted) {
      job.stage = FileJob::Stage::kRestore;
      return;
    }
    // FILE-031: only what the server lists as missing.
    const std::vector<uint32_t> missing = expand(status.chunks_missing);
    job.chunks.assign(missing.begin(), missing.end());
    for (uint32_t index : missing)
      report.file_bytes_planned +=
          chunk_plaintext_bytes(job.local.ref.size_bytes, job.local.ref.chunk_bytes, index);
    job.stage = FileJob::Stage::kPutChunks;
  }

  void start_download(FileJob& job) {
    const std::vector<uint32_t> done =
        take(store.chunks_done(job.id, TransferDirection::kDownload));
    const std::set<uint32_t> have(done.begin(), done.end());
    job.chunks.clear();
    for (uint32_t i = 0; i < job.local.ref.chunk_count; ++i) {
      if (have.count(i)) continue;
      job.chunks.push_back(i);
      report.file_bytes_planned +=
          chunk_plaintext_bytes(job.local.ref.size_bytes, job.local.ref.chunk_bytes, i);
    }
    job.stage = FileJob::Stage::kDownload;
  }

  // FILE-023: the plaintext hash decides; a copy that does not match is discarded.
  void finish_download(FileJob& job) {
    BlobStore& blobs = store.blobs();
    const FileRef& ref = job.local.ref;
    // A device killed after the verified download became the copy, before the store recorded it,
    // finds every chunk done, no partial blob and the copy in place: the copy is checked instead.
    const bool promoted_before =
        !blobs.exists(job.id, BlobKind::kPartial) && blobs.exists(job.id, BlobKind::kCopy) &&
        hash_blob(blobs, job.id, BlobKind::kCopy, ref.size_bytes) == ref.sha256;
    if (!promoted_before) {
      // An empty file has one empty chunk, never written: sizing creates its blob.
      take(blobs.resize(job.id, BlobKind::kPartial, ref.size_bytes));
      if (hash_blob(blobs, job.id, BlobKind::kPartial, ref.size_bytes) != ref.sha256) {
        take(blobs.remove(job.id, BlobKind::kPartial));
        take(store.clear_chunk_progress(job.id, TransferDirection::kDownload));
        fail(Code::kHashMismatch,
             "file " + to_base64url(job.id) + " does not match its reference's SHA-256");
      }
      take(blobs.promote(job.id));
    }
    take(store.set_local_copy(job.id, true));
    set_upload_flag(job);  // it came from a committed file
    set_pending(job, FilePending::kNone);
    ++report.files_downloaded;
    job.stage = FileJob::Stage::kDone;
  }

  // ---- entry points ----------------------------------------------------------------------------

  SyncStep next(DeviceTime now) {
    if (finished) return *finished;
    OPSYNC_CHECK_MSG(!awaiting_answer, "next() before the last request was answered");
    try {
      // Waits are on the monotonic clock (SYNC-020): a wall clock set back, stepped forward or
      // standing still neither stretches nor cuts them.
      if (retry_at_monotonic_ms && now.monotonic_ms < *retry_at_monotonic_ms)
        return WaitUntil{*retry_at_monotonic_ms};
      retry_at_monotonic_ms.reset();
      if (!request) plan(now.wall_ms);
      if (finished) return *finished;
      awaiting_answer = true;
      sent_at = now;
      ++report.requests;
      return SendRequest{*request};
    } catch (const SyncFailure& failure) {
      finished = SyncFinished{failure.error};
      return *finished;
    }
  }

  // Work left by the last answer; a failure here ends the sync, and the answer to the request
  // already sent is then ignored.
  void work() {
    if (finished) return;
    try {
      apply_held_page();
    } catch (const SyncFailure& failure) {
      finished = SyncFinished{failure.error};
    }
  }

  void answer(const HttpResponse& response, DeviceTime now) {
    OPSYNC_CHECK_MSG(awaiting_answer, "a response without a request");
    awaiting_answer = false;
    work();
    if (finished) return;
    try {
      observe_server_time(response, now);
      if (is_transient(response.status))
        return retry(now, "the server answered " + std::to_string(response.status));
      auto handler = std::move(on_answer);
      request.reset();
      on_answer = nullptr;
      handler(response, now);
    } catch (const SyncFailure& failure) {
      finished = SyncFinished{failure.error};
    }
  }

  void transport_failure(const std::string& what, DeviceTime now) {
    OPSYNC_CHECK_MSG(awaiting_answer, "a transport failure without a request");
    awaiting_answer = false;
    work();
    if (finished) return;
    retry(now, what);
  }

  // SYNC-008: the same request again, after backoff (SYNC-010); uploads are idempotent.
  void retry(DeviceTime now, const std::string& what) {
    if (++attempt >= options.transport_attempts_max) {
      finished = SyncFinished{
          Error(Code::kTransport, what + " (" + std::to_string(attempt) + " attempts)")};
      return;
    }
    retry_at_monotonic_ms =
        now.monotonic_ms + backoff_ms(attempt - 1, options.backoff_unit_ms, options.backoff_cap_ms);
  }
};

SyncEngine::SyncEngine(LocalStore& store, const Keyring& keys, RandomSource& random,
                       SyncOptions options)
    : impl_(std::make_unique<Impl>(store, keys, random, options)) {}
SyncEngine::~SyncEngine() = default;
SyncStep SyncEngine::next(DeviceTime now) { return impl_->next(now); }
void SyncEngine::on_response(const HttpResponse& response, DeviceTime now) {
  impl_->answer(response, now);
}
void SyncEngine::on_transport_failure(const std::string& what, DeviceTime now) {
  impl_->transport_failure(what, now);
}
bool SyncEngine::has_work() const { return impl_->held_page.has_value() && !impl_->finished; }
void SyncEngine::work() { impl_->work(); }
const SyncReport& SyncEngine::report() const { return impl_->report; }

}  // namespace opsync::client
