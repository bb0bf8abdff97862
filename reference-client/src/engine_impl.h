// The sync engine's parts (engine.h), private to src/: what every phase of a sync shares
// (SyncSession: the store, the server's limits, the clock estimate and the one request in flight),
// the log sync of spec 9.1 steps 2 to 5 (LogSync, engine_log.cpp), the file sync of step 7 and
// FILE-021 (FileSync, engine_files.cpp, with one file's reconciliation in FileReconciler,
// engine_file_jobs.cpp), and SyncEngine::Impl, which walks the phases by the table in engine.cpp.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "opsync/client/engine.h"
#include "opsync/protocol/endpoints.h"
#include "opsync/protocol/files.h"
#include "opsync/protocol/hlc.h"
#include "opsync/protocol/messages.h"

namespace opsync::client::engine_parts {

inline constexpr const char* kJson = "application/json";
inline constexpr const char* kOctets = "application/octet-stream";

// Thrown inside the engine to end the sync with an error; caught at the entry points, so a sync
// that fails leaves the store with every step committed before the failure and nothing partial.
struct SyncFailure {
  Error error;
};

[[noreturn]] inline void fail(Error error) { throw SyncFailure{std::move(error)}; }
[[noreturn]] inline void fail(Code code, std::string message) {
  fail(Error(code, std::move(message)));
}

template <typename T>
T take(Result<T> result) {
  if (!result.ok()) fail(result.error());
  return std::move(result).value();
}
inline void take(const Status& status) {
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

inline bool is_success(int status) { return status >= 200 && status < 300; }

// The phases of one sync (spec 9.1), in the order a sync first meets them. kPhaseTable in
// engine.cpp says what each asks and where its answers may lead; SyncSession::enter() refuses any
// other move.
enum class Phase : uint8_t {
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

class PhaseSet {
 public:
  constexpr PhaseSet() = default;
  constexpr PhaseSet(std::initializer_list<Phase> phases) {
    for (Phase phase : phases) bits_ |= bit(phase);
  }
  constexpr bool contains(Phase phase) const { return (bits_ & bit(phase)) != 0; }

 private:
  static constexpr uint32_t bit(Phase phase) { return uint32_t{1} << static_cast<uint32_t>(phase); }
  uint32_t bits_ = 0;
};

using AnswerHandler = std::function<void(const HttpResponse&, DeviceTime now)>;

// What every phase of one sync shares.
struct SyncSession {
  SyncSession(LocalStore& s, const Keyring& k, RandomSource& r, SyncOptions o);

  LocalStore& store;
  const Keyring& keys;
  RandomSource& random;
  SyncOptions options;
  SyncReport report;

  Phase phase = Phase::kInfo;
  std::string workspace;  // the workspace id as the paths spell it
  Limits limits{};
  uint64_t file_retention_ms = 0;          // the server's, from this sync's /v1/info (FILE-040)
  std::optional<uint64_t> last_server_ms;  // the server's clock in its latest answer (TRN-007)

  // The request in flight, or to be sent again after a transport failure.
  std::optional<HttpRequest> request;
  AnswerHandler on_answer;
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

  // Moves to `next`, which kPhaseTable must allow from the current phase (or be it).
  void enter(Phase next);
  void send(HttpRequest r, AnswerHandler handler);
  uint64_t physical_ms(uint64_t now_ms) const;
  // The offset estimate, written when it changed (HLC-012: the last one is used offline).
  void save_offset();
  // The server's clock as an answer reports it (TRN-007), when the header is there and plain.
  static std::optional<uint64_t> server_time_of(const HttpResponse& response);
  // `force`: take this response's estimate whatever its round trip (HLC-020: after a clock_skew
  // rejection the estimate is refreshed; the device's clock may have stepped since the best one).
  void observe_server_time(const HttpResponse& response, DeviceTime now, bool force = false);
};

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

// Where a request about file `id` (and its chunk `index`) goes.
std::string file_target(const SyncSession& session, EndpointId endpoint, const FileId& id);
std::string chunk_target(const SyncSession& session, EndpointId endpoint, const FileId& id,
                         uint32_t index);

// One file's reconciliation (spec 11.4, engine_file_jobs.cpp): a handler per stage of its FileJob,
// each sending one request or moving the job on. The server's file states are the file sync's,
// shared: its status queries fill them, the answers to a job's requests update them.
class FileReconciler {
 public:
  FileReconciler(SyncSession& session, std::map<FileId, FileState>& server_file_states)
      : session_(session), server_file_states_(server_file_states) {}

  // Runs the handler of the job's stage.
  void step(FileJob& job);

 private:
  void decide(FileJob& job);
  void send_create(FileJob& job);
  void send_status(FileJob& job);
  void put_next_chunk(FileJob& job);
  void send_commit(FileJob& job);
  void send_restore(FileJob& job);
  void get_next_chunk(FileJob& job);
  void done(FileJob& /*job*/) {}
  void take_chunk(FileJob& job, uint32_t index, const HttpResponse& response);
  void take_upload_status(FileJob& job, const FileStatus& status);
  void start_download(FileJob& job);
  void finish_download(FileJob& job);
  void note_pending(const FileId& id);
  void set_pending(FileJob& job, FilePending pending);
  void set_upload_flag(FileJob& job);

  SyncSession& session_;
  std::map<FileId, FileState>& server_file_states_;  // FileSync's
  std::set<FileId> pending_files_;  // wait or missing, each counted once however many passes
};

// The file sync (spec 9.1 step 7, and FILE-021 before uploads): passes over the referenced files,
// each asking the server for the states it lacks (kFileStatus) and then reconciling every file by
// the table of spec 11.4 (kFiles, FileReconciler); after the final pass, the unreferenced files
// (kCleanup).
class FileSync {
 public:
  explicit FileSync(SyncSession& session)
      : session_(session), reconciler_(session, server_file_states_) {}

  // A file an applied operation references: its state is asked with the next pass's.
  void referenced(const FileId& id) { files_to_query_.push_back(id); }
  // The pass before uploads takes only the files this device holds and has not committed.
  void start_pass(bool own_uploads_only);
  void plan_pass();  // kFileStatus and kFiles
  void plan_cleanup(uint64_t now_ms);

 private:
  // engine_files.cpp: the passes and the cleanup.
  void send_status_query();
  void remove_copy_and_forget(const FileId& id, const LocalFile& local);
  void send_delete(const FileId& id);

  SyncSession& session_;
  std::deque<FileId> files_to_query_;               // for POST /file-status
  std::map<FileId, FileState> server_file_states_;  // answers of this sync (FILE-030)
  FileReconciler reconciler_;
  std::deque<FileJob> file_jobs_;
  bool final_file_pass_ = false;
  std::vector<FileId> files_to_delete_;  // FILE-022, after the final pass
  bool leftovers_removed_ = false;
};

// The log sync (spec 9.1 steps 2 to 5): the prefix check (kPrefix) and the divergence search
// (kBlocks), pages of operations (kPages) and uploads (kUpload).
class LogSync {
 public:
  LogSync(SyncSession& session, FileSync& files) : session_(session), files_(files) {}

  // The prefix check is the first read of pages: the same request and the same checks, and its
  // answer is the first page.
  void send_prefix_check() { send_ops_read(/*prefix_check=*/true); }
  void send_blocks_request();
  void send_page_request() { send_ops_read(/*prefix_check=*/false); }
  void plan_upload();

  bool has_held_page() const { return held_page_.has_value(); }
  void apply_held_page();

 private:
  void start_divergence_search();
  void take_blocks(const BlocksResponse& blocks);
  std::string ops_target(uint64_t after_seq) const;
  void send_ops_read(bool prefix_check);
  void take_ops_answer(const HttpResponse& response, DeviceTime now, uint64_t after_seq,
                       bool prefix_check);
  void take_page(OpsPageResponse page, uint64_t now_ms);
  void apply_page(const OpsPageResponse& page, uint64_t pt);
  void after_pages();
  void take_upload_answer(const HttpResponse& response, DeviceTime now, size_t sent);
  void restamp(const std::vector<OpId>& ids, uint64_t now_ms);

  SyncSession& session_;
  FileSync& files_;

  // The divergence search.
  uint32_t divergence_searches_ = 0;
  std::vector<Hash> server_blocks_;

  // A page that promised more, decoded and checked but not yet applied. The next page's request
  // goes out first, so a driver can apply this one while that request travels (work()); the next
  // answer or failure applies it first if the driver did not. The physical time of its arrival is
  // kept with it, so when it is applied changes nothing the store ends up holding.
  struct HeldPage {
    OpsPageResponse page;
    uint64_t physical_ms = 0;
  };
  std::optional<HeldPage> held_page_;

  // Uploads.
  uint32_t upload_round_ = 0;
  std::map<OpId, uint32_t> restamps_;  // re-stamps in this sync, per operation (bounded by its ops)
  bool files_before_upload_done_ = false;
};

}  // namespace opsync::client::engine_parts

namespace opsync::client {

// The engine: the phases walked by kPhaseTable, and the entry points of engine.h.
struct SyncEngine::Impl {
  Impl(LocalStore& store, const Keyring& keys, RandomSource& random, SyncOptions options)
      : session(store, keys, random, options), files(session), log(session, files) {}

  engine_parts::SyncSession session;
  engine_parts::FileSync files;
  engine_parts::LogSync log;
  std::optional<SyncFinished> finished;

  void plan(uint64_t now_ms);
  // What each phase asks (kPhaseTable's planners).
  void ask_info(uint64_t now_ms);
  void ask_prefix(uint64_t /*now_ms*/) { log.send_prefix_check(); }
  void ask_blocks(uint64_t /*now_ms*/) { log.send_blocks_request(); }
  void ask_pages(uint64_t /*now_ms*/) { log.send_page_request(); }
  void ask_files(uint64_t /*now_ms*/) { files.plan_pass(); }
  void ask_upload(uint64_t /*now_ms*/) { log.plan_upload(); }
  void ask_cleanup(uint64_t now_ms) { files.plan_cleanup(now_ms); }
  void record_done(uint64_t now_ms);
  void on_info(const HttpResponse& response);

  SyncStep next(DeviceTime now);
  void work();
  void answer(const HttpResponse& response, DeviceTime now);
  void transport_failure(const std::string& what, DeviceTime now);
  void retry(DeviceTime now, const std::string& what);
};

}  // namespace opsync::client
