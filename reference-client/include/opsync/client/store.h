// The reference client's durable local state: one SQLite file per device copy of a workspace.
//
// LocalStore keeps everything spec section 9 says a device keeps, in DIR/state.sqlite3:
//
//   - the binding (server, workspace, device, block size), the bearer token, the HLC state, the
//     measured server clock offset, the time of the last successful sync, and the wrapped key
//     records (spec 5.2; the plaintext data key is never stored here);
//   - the mirror: the server's log as read, positions 1..m, each with its wire encoding, its op
//     hash and the prefix hash at that position (spec 7.4), so the prefix check of a sync
//     (SYNC-001) is one row read;
//   - the pending operations: the outbox (created here, not yet acknowledged) and the candidates
//     (read from the server before a divergence, spec 9.1 step 3), with the upload state of each;
//   - the objects: every decrypted operation with its bases, from which each key's heads, winner
//     and conflicts follow exactly as in spec 10.2 (protocol lww.h is the model);
//   - the files: each referenced file's reference, local copy, upload flag, pending state and
//     per-chunk transfer progress (spec 11).
//
// Every state change that belongs together commits in one SQLite transaction (WAL,
// synchronous=FULL by default): a local edit with its effect on the objects and its file
// references (FILE-020), a page of server operations with every acknowledgement and application
// it causes (SYNC-004, SYNC-012), an upload answer with its acknowledgements. A crash or an
// exception at any point leaves either all of it or none of it.
//
// Like the protocol library, this layer never reads a clock and never draws randomness: times,
// ids and clock states are parameters. It also never decrypts: the engine decrypts payloads and
// hands in ObjectOps beside the wire operations.
//
// Errors: every function that touches the database returns a Result or Status. Failures of
// SQLite itself (I/O errors, a full disk, a locked file) come back as kInternalError or
// kUnavailable; bad data from a server comes back with the spec's code (op_id_conflict,
// page_gap, protocol_error) and changes nothing. A caller breaking a documented REQUIRES (its own
// bookkeeping is wrong) fails an always-on OPSYNC_CHECK: continuing would write a corrupt log.
//
// One LocalStore per directory at a time: open() takes an exclusive lock on DIR/lock, which also
// gives SYNC-009 (one sync of a workspace at a time) across processes. Not thread-safe; use one
// object from one thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "opsync/client/blobs.h"
#include "opsync/protocol/bytes.h"
#include "opsync/protocol/diff.h"
#include "opsync/protocol/lww.h"
#include "opsync/protocol/messages.h"
#include "opsync/protocol/op.h"
#include "opsync/protocol/result.h"

namespace opsync::client {

// What ties a local copy to one workspace on one server. Fixed when the store is created: a
// device id is kept for the life of the local copy (OP-003), and the stored prefix hashes are
// chained with this block size (spec 7.4).
struct WorkspaceBinding {
  std::string server_url;
  WorkspaceId workspace_id;
  DeviceId device_id;
  uint32_t block_size = 0;  // the workspace's, from the create answer or GET /v1/info

  bool operator==(const WorkspaceBinding&) const = default;
};

// The small mutable state a sync reads first.
struct SyncMeta {
  std::string token;            // the bearer token (spec 2.5)
  Hlc hlc;                      // the clock's last timestamp issued or taken in (spec 8.1)
  int64_t clock_offset_ms = 0;  // server clock minus device clock (HLC-010); 0 until measured
  std::optional<uint64_t> last_sync_ms;  // device time of the last sync that completed

  bool operator==(const SyncMeta&) const = default;
};

// How commits reach the disk.
enum class Durability : uint8_t {
  // fsync on every commit: a committed edit survives power loss. The default.
  kFull,
  // Commits reach the operating system only: they survive a crash of the process, not of the
  // machine. For tests that commit thousands of transactions.
  kProcess,
};

// The default of StoreOptions::mirror_recent_ids_min: 1 MiB of ids.
inline constexpr uint32_t kMirrorRecentIdsMin = 65'536;

struct StoreOptions {
  Durability durability = Durability::kFull;
  // Failure injection for atomicity tests. Called inside write transactions at named points
  // (listed in store.cpp, e.g. "local_edit:after_outbox"); if it throws, the transaction rolls
  // back completely and the exception propagates. Production code leaves it empty.
  std::function<void(std::string_view point)> fault_point;
  // Called after every durable step: each committed write transaction, named by the function that
  // made it ("apply_page", "set_upload_flag", ...), and each change to a blob ("blob_write",
  // "blob_resize", "blob_promote", "blob_remove"). The simulator throws from it to kill the
  // device right there, as kill -9 would: nothing after that step happens, the exception
  // propagates out of whatever called the store, and the caller must discard the store (and any
  // engine or device using it) and open it again. Production code leaves it empty.
  std::function<void(std::string_view step)> after_durable_step;
  // Where file contents live; empty: a DirectoryBlobStore on DIR/files. The simulator passes a
  // MemoryBlobStore that outlives the store, as a disk outlives a process.
  std::shared_ptr<BlobStore> blobs;
  // Where the database lives; empty: DIR/state.sqlite3. Otherwise an SQLite URI, such as one of
  // the memdb VFS ("file:/NAME?vfs=memdb"), whose pages stay in the process for as long as any
  // connection holds them: the simulator keeps one open per device, as a disk outlives a process,
  // so that a killed device's store closes (rolling back what it had not committed) and opens
  // again to exactly what it committed, without a page going through the kernel.
  std::string database_uri;
  // The fewest ids the mirror's recent tier gathers before they are settled into its sorted id
  // index (src/mirror_ids.h). Tests lower it to settle every few operations.
  uint32_t mirror_recent_ids_min = kMirrorRecentIdsMin;
};

// Whether DIR (or options.database_uri) holds a store that open() would open.
bool store_exists(const std::filesystem::path& dir, const StoreOptions& options);

// Where a known operation is, with what the sync needs to match it by id and hash (SYNC-003).
struct OpLocation {
  Held where = Held::kNowhere;  // kMirror, kOutbox or kCandidate; kNowhere: unknown
  Hash hash;                    // meaningful unless kNowhere
  uint64_t seq = 0;             // the mirror position; 0 elsewhere

  HeldOp held() const { return HeldOp{where, hash}; }
};

// One operation of a page read with GET /ops (spec 7.3), with its meaning if the engine could
// read it.
struct PageOp {
  SequencedOp op;
  // For an operation the device does not hold yet: its decrypted payload (id and hlc equal to the
  // wire form's), or nullopt when it could not be read (unknown key id, unknown payload format,
  // a payload breaking LWW-001/002). An unreadable operation still takes its place in the mirror
  // but changes no object (VER-007, LWW-003); unreadable_ops() reports it. Ignored for operations
  // the device already holds (they are acknowledged, not applied).
  std::optional<ObjectOp> object;
};

// What apply_page did, for the engine's report and for FILE-034.
struct PageOutcome {
  std::vector<OpId> applied;             // new to the device: into the mirror and the objects
  std::vector<OpId> acknowledged;        // outbox or candidate operations: into the mirror
  std::vector<OpId> unreadable;          // new to the device but not readable: into the mirror only
  std::vector<FileId> files_referenced;  // by the applied operations, to reconcile this sync
};

// What record_upload_results did with one upload answer.
struct UploadOutcome {
  std::vector<OpId> acknowledged;  // accepted or duplicate directly after the mirror: in it now
  // Accepted or duplicate at a seq beyond the mirror's end (another device uploaded meanwhile):
  // no longer uploaded; the catch-up read (spec 9.1 step 6) acknowledges them at their position.
  std::vector<OpId> accepted_ahead;
  std::vector<OpId> rejected;    // a code other than clock_skew: kept, never uploaded (SYNC-011)
  std::vector<OpId> clock_skew;  // unchanged; the engine re-stamps them (restamp_outbox_op)
};

// An operation waiting for upload, or held back.
struct PendingOp {
  Held where = Held::kOutbox;  // kOutbox or kCandidate
  WireOp op;
  Hash hash;
};

// An operation the server refused with a code other than clock_skew (SYNC-011).
struct RejectedOp {
  PendingOp pending;
  Code code = Code::kOpIdConflict;
  std::string message;
};

// A held operation that could not be read (VER-007).
struct UnreadableOp {
  uint64_t seq = 0;  // its mirror position; 0 when a divergence made it a candidate
  OpId id;
  uint32_t key_id = 0;
};

// The state of one key (spec 10.2), as protocol KeyState defines it.
struct ObjectView {
  std::vector<ObjectOp> heads;  // every head, greatest first by (hlc, id); empty: never seen

  // The greatest head, or nullptr when the key has no head.
  const ObjectOp* winner() const { return heads.empty() ? nullptr : &heads.front(); }
  // True when the winner is a put (a delete winner, or no head, makes the key absent).
  bool present() const { return !heads.empty() && heads.front().payload.type == OpType::kPut; }
  // Every head but the winner, greatest first: the losing sides of concurrent writes (LWW-014).
  std::span<const ObjectOp> conflicts() const {
    return heads.empty() ? std::span<const ObjectOp>() : std::span(heads).subspan(1);
  }
};

// Whether a referenced file waits on someone else (FILE-033: reported as pending, not as an
// error): the "wait" and "missing" rows of spec 11.4.
enum class FilePending : uint8_t { kNone, kWait, kMissing };

enum class TransferDirection : uint8_t { kUpload, kDownload };

// What the device knows about one file.
struct LocalFile {
  FileRef ref;               // as first referenced (a file id names one immutable content)
  bool local_copy = false;   // a verified plaintext copy is at file_path(ref.id) (FILE-023)
  bool upload_flag = false;  // "I have committed this": a cache, never the decision (FILE-030)
  FilePending pending = FilePending::kNone;
  // Set when no head references the file any more and its DELETE was answered (FILE-022): from
  // then the device keeps its copy for the server's file_retention_ms (FILE-040), on the server's
  // clock as its answers report it, in case a concurrent write references the file again.
  // Cleared when a head references it again.
  std::optional<uint64_t> unreferenced_since_ms;

  bool operator==(const LocalFile&) const = default;
};

class LocalStore {
 public:
  // Creates DIR (if needed) and a new store bound to `binding`, with `token` as the bearer token
  // and every other state empty. Fails if DIR already holds a bound store (a device id is never
  // replaced, OP-003), if the binding is invalid (empty server URL, block size outside
  // kBlockSizeMin..kBlockSizeMax), or as open() fails.
  static Result<std::unique_ptr<LocalStore>> create(const std::filesystem::path& dir,
                                                    const WorkspaceBinding& binding,
                                                    std::string_view token,
                                                    StoreOptions options = {});
  // Opens the store in DIR, migrating its schema forward. Fails with a message naming the file
  // when it is not an SQLite database, when its schema version is newer than this build knows
  // (the store is refused rather than guessed at), when DIR holds no bound store, or when
  // another process has it open.
  static Result<std::unique_ptr<LocalStore>> open(const std::filesystem::path& dir,
                                                  StoreOptions options = {});
  ~LocalStore();
  LocalStore(const LocalStore&) = delete;
  LocalStore& operator=(const LocalStore&) = delete;

  // The schema version this build writes (PRAGMA user_version).
  static int schema_version();

  const std::filesystem::path& dir() const;
  const WorkspaceBinding& binding() const;

  // ---- meta --------------------------------------------------------------------------------

  Result<SyncMeta> meta();
  // Replaces the bearer token (a new token after the old one expired or was revoked).
  Status set_token(std::string_view token);
  // Records a new offset estimate (HLC-010); the last one recorded is used while offline
  // (HLC-012).
  Status set_clock_offset_ms(int64_t offset_ms);
  // Persists the HLC state after taking in timestamps outside apply_page (HLC-002).
  // REQUIRES: hlc >= the stored state (a clock never goes backwards outside HLC-020).
  Status save_hlc(const Hlc& hlc);
  // Records that a sync completed at device time `now_ms`.
  Status record_sync_success(uint64_t now_ms);

  // The wrapped key records read from the server (KEY-001), replacing stored records of the same
  // key id. Records are kept wrapped; unwrapping needs the password and passphrase.
  Status put_key_records(std::span<const KeyRecord> records);
  // Every stored record, ascending key id.
  Result<std::vector<KeyRecord>> key_records();

  // ---- local edits ---------------------------------------------------------------------------

  struct LocalEdit {
    WireOp op;        // stamped and sealed; op.device_id is the binding's device id
    ObjectOp object;  // its decrypted meaning: object.id == op.id, object.hlc == op.hlc
    // Files of object.payload.files whose plaintext the engine has already written, complete
    // and durable, to file_path(id) (FILE-020): recorded as local copies in the same commit.
    std::vector<FileId> attached_here;
    Hlc clock_after;  // the clock state after stamping op (HLC-001: persisted with the op)
  };
  // Commits one local write in one transaction: the operation into the outbox (last in upload
  // order), its effect on the objects, the file references it makes, and the clock state. Either
  // all of it is durable when this returns ok, or none of it is.
  // REQUIRES: the fields agree as described above; op.id is new to the store (ids are fresh
  // random, OP-002); clock_after >= op.hlc and >= the stored clock; op passes validate_op.
  Status commit_local_edit(const LocalEdit& edit);

  // ---- applying what the server has (spec 9.1 step 4) ------------------------------------------

  // Takes one page of operations read with after_seq into the store, in one transaction. For
  // each operation, by id and hash (SYNC-003): one in the outbox or among the candidates is
  // acknowledged (moves into the mirror at its seq); an unknown one is applied (mirror and
  // objects, once, SYNC-004); a known id with another hash fails with kOpIdConflict, a page that
  // is not consecutive from after_seq + 1 with kPageGap (SYNC-007), an operation already in the
  // mirror with kProtocolError. On failure nothing of the page is kept. `head_seq` is the page's
  // (LOG-021): an "accepted ahead" claim beyond it is stale (the server no longer holds what it
  // reported, as after a restore) and the operation goes back to the upload queue; an empty page
  // is therefore worth applying too. `clock_after` is the clock after taking in every applied
  // timestamp (HLC-002), persisted in the same commit.
  // REQUIRES: after_seq == mirror_size() (the mirror is a dense prefix: a sync reads from its
  // end, after truncate_mirror when it diverged); clock_after >= the stored clock.
  Result<PageOutcome> apply_page(uint64_t after_seq, std::span<const PageOp> page,
                                 uint64_t head_seq, const Hlc& clock_after);

  // Spec 9.1 step 3: positions 1..verified_prefix match the server; the mirror's operations after
  // it become candidates (still held, no longer positioned), in their old order, and every
  // "accepted ahead" claim is forgotten (the server they came from is gone). The objects do not
  // change: the device still holds the same operations.
  // REQUIRES: verified_prefix <= mirror_size().
  Status truncate_mirror(uint64_t verified_prefix);

  // ---- uploading (spec 9.1 step 5) -----------------------------------------------------------

  // Up to `limit` operations to upload, oldest first: candidates (in their old mirror order),
  // then the outbox (in creation order), as protocol plan_diff orders them. Operations the
  // server rejected (SYNC-011) or already accepted ahead of the mirror are not listed.
  Result<std::vector<PendingOp>> ops_to_upload(size_t limit);
  // Takes in one upload answer (results in any order; duplicate is treated as accepted,
  // SYNC-006), in one transaction: accepted operations whose seq directly follows the mirror move
  // into it (repeatedly, so a batch accepted at m+1, m+2, ... all move); later seqs are kept as
  // accepted ahead; rejections other than clock_skew are kept and never uploaded again
  // (SYNC-011). Fails with kProtocolError, changing nothing, when a result names an operation
  // that is not pending or gives a seq inside the mirror.
  Result<UploadOutcome> record_upload_results(std::span<const OpResult> results);
  // HLC-020, HLC-021: replaces an outbox operation rejected for clock_skew by its re-stamped form
  // (same id, device, key id and plaintext; new hlc and newly sealed payload), moving its
  // object to the new timestamp, with the clock state after re-stamping (which may be below the
  // stored one: HLC-020 resets the clock).
  // REQUIRES: the id is in the outbox (never acknowledged, so never seen by anyone else,
  // HLC-022) and not rejected or accepted; id, device id and key id unchanged.
  Status restamp_outbox_op(const WireOp& restamped, const Hlc& clock_after);
  // The same for every operation one upload answer rejected, in one transaction.
  Status restamp_outbox_ops(std::span<const WireOp> restamped, const Hlc& clock_after);
  // The largest timestamp among operations the server has accepted (the mirror and the accepted
  // ahead), the floor HLC-020 resets the clock to; (0, 0) when there is none.
  Result<Hlc> largest_accepted_hlc();

  Result<std::vector<RejectedOp>> rejected_ops();
  Result<std::vector<UnreadableOp>> unreadable_ops();
  // Outbox and candidate operations in any state.
  Result<uint64_t> pending_count();

  // ---- the mirror ----------------------------------------------------------------------------

  // m: the mirror holds positions 1..m.
  Result<uint64_t> mirror_size();
  // prefix_hash(s) of the mirror (zeros for 0), one stored row. REQUIRES: s <= mirror_size().
  Result<Hash> prefix_hash(uint64_t s);
  // The hashes of the mirror's complete blocks of `block_size` operations (spec 7.4), to compare
  // with GET /blocks in the divergence search. For the binding's block size they are the stored
  // prefix hashes at block ends; another size is computed from the stored op hashes.
  Result<std::vector<Hash>> block_hashes(uint32_t block_size);
  // The operation at mirror position `seq`, or nullopt beyond the mirror.
  Result<std::optional<SequencedOp>> mirror_op(uint64_t seq);
  // Where the store holds operation `id`, for classify_page and diagnostics.
  Result<OpLocation> lookup(const OpId& id);

  // ---- objects (spec 10.2) -------------------------------------------------------------------

  // The key's heads; empty when the store holds no operation of the key, or only superseded
  // ones.
  Result<ObjectView> get(const std::string& key);
  // The keys whose winner is a put, ascending by bytes.
  Result<std::vector<std::string>> list();
  // Every key with a head, a delete winner included, ascending by bytes.
  Result<std::vector<std::string>> keys_with_heads();
  // What a local write to `key` names in bases (LWW-011): the ids of its heads, greatest first,
  // at most kBasesMax.
  Result<std::vector<OpId>> bases_for_write(const std::string& key);
  // The keys with at least one conflict (more than one head), ascending: what a user is shown
  // to resolve (LWW-014). Includes absent keys whose losing heads are puts.
  Result<std::vector<std::string>> conflicted_keys();

  // ---- files (spec 11) -----------------------------------------------------------------------

  // Every file id referenced by a head (winner or conflict) of any key, ascending: what a sync
  // reconciles (spec 11.4, FILE-034).
  Result<std::vector<FileId>> referenced_files();
  // Files the store knows that no head references any more (FILE-022: send DELETE, keep the
  // copy for the retention time of FILE-040, then remove it and forget_file).
  Result<std::vector<FileId>> unreferenced_files();
  Result<std::optional<LocalFile>> file(const FileId& id);
  // The file contents (blobs.h): StoreOptions::blobs, or DIR/files. Every change made through
  // this reference is a durable step (StoreOptions::after_durable_step).
  BlobStore& blobs();
  // DIR/files/<id as base64url>: where the default blob store keeps a verified local copy.
  std::filesystem::path file_path(const FileId& id) const;
  // DIR/files/<id>.part: where the default blob store keeps a download in progress.
  std::filesystem::path partial_file_path(const FileId& id) const;

  // A verified copy now exists at file_path (after FILE-023's check), or was discarded. Setting
  // it clears the download progress, which described the partial file.
  // REQUIRES (all setters below): the file is known (referenced by a stored operation).
  Status set_local_copy(const FileId& id, bool present);
  // The upload flag; setting it clears the upload progress (the server has every chunk).
  Status set_upload_flag(const FileId& id, bool committed);
  Status set_pending(const FileId& id, FilePending pending);
  // LocalFile::unreferenced_since_ms (nullopt clears it).
  Status set_unreferenced_since(const FileId& id, std::optional<uint64_t> since_ms);
  // Chunk `index` went through (the server answered 200, or its plaintext is in the partial
  // file), so that an interrupted transfer resumes with the others (FILE-031). For uploads the
  // server's chunks_missing still decides what to send; this is the device's own record.
  // REQUIRES: index < the file's chunk_count.
  Status record_chunk_done(const FileId& id, TransferDirection direction, uint32_t index);
  // The chunk indices recorded as done, ascending.
  Result<std::vector<uint32_t>> chunks_done(const FileId& id, TransferDirection direction);
  // Forgets the transfer (a restarted upload after the server lost the file, a download whose
  // hash did not match).
  Status clear_chunk_progress(const FileId& id, TransferDirection direction);
  // Drops a file no head references any more. Fails with kInvalidField if one still does.
  Status forget_file(const FileId& id);

  struct Impl;

 private:
  explicit LocalStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace opsync::client
