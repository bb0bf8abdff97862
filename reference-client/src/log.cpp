// LocalStore's Mirror and Outbox (store_parts.h): the device's copy of the log (spec 9). The mirror
// holds positions 1..m, dense; the pending table holds the outbox and the candidates. An operation
// is in exactly one of the two (the id is unique in each, and every move deletes from one side as
// it inserts into the other, in one transaction).
#include <algorithm>
#include <limits>

#include "objects.h"
#include "opsync/client/store.h"
#include "opsync/protocol/blocks.h"
#include "opsync/protocol/limits.h"
#include "store_impl.h"

namespace opsync::client {
namespace {

constexpr int64_t kPlaceOutbox = static_cast<int64_t>(Held::kOutbox);
constexpr int64_t kPlaceCandidate = static_cast<int64_t>(Held::kCandidate);

constexpr int64_t kStateToUpload = 0;
constexpr int64_t kStateAcceptedAhead = 1;
constexpr int64_t kStateRejected = 2;

Held place_of(int64_t code) {
  OPSYNC_CHECK_MSG(code == kPlaceOutbox || code == kPlaceCandidate, "unknown stored place");
  return static_cast<Held>(code);
}

WireOp decode_stored(const Bytes& encoding) {
  Result<WireOp> op = decode_op(encoding);
  OPSYNC_CHECK_MSG(op.ok(), "a stored operation encoding does not decode");
  return std::move(*op);
}

// `pending_possible` false skips the pending table, for callers that know it is empty.
OpLocation locate(LocalStore::Impl& impl, const OpId& id, bool pending_possible = true) {
  sql::Connection& db = *impl.db;
  if (const std::optional<uint64_t> seq = impl.ids().find(db, id)) {
    sql::Statement& mirror = db.prepare("SELECT id, hash FROM mirror WHERE seq = ?");
    mirror.bind(1, *seq);
    OPSYNC_CHECK_MSG(mirror.step() && mirror.fixed<16>(0) == id,
                     "the mirror's id index names a position that holds another id");
    OpLocation found{Held::kMirror, mirror.fixed<32>(1), *seq};
    mirror.reset();
    return found;
  }
  if (!pending_possible) return OpLocation{};
  sql::Statement& pending = db.prepare("SELECT place, hash FROM pending WHERE id = ?");
  pending.bind(1, id);
  if (pending.step()) {
    OpLocation found{place_of(pending.i64(0)), pending.fixed<32>(1), 0};
    pending.reset();
    return found;
  }
  return OpLocation{};
}

bool any_pending(sql::Connection& db) {
  sql::Statement& s = db.prepare("SELECT EXISTS (SELECT 1 FROM pending)");
  OPSYNC_CHECK(s.step());
  const bool any = s.i64(0) != 0;
  s.reset();
  return any;
}

uint64_t stored_mirror_size(sql::Connection& db) {
  sql::Statement& s = db.prepare("SELECT COALESCE(MAX(seq), 0) FROM mirror");
  OPSYNC_CHECK(s.step());
  const uint64_t size = s.u64(0);
  s.reset();
  return size;
}

// Appends operations to the mirror inside one transaction, chaining prefix hashes as spec 7.4
// defines them. It reads the open block's operation hashes once; after that an append costs one
// hash update (PrefixChainer) and never re-reads payloads.
class MirrorAppender {
 public:
  MirrorAppender(LocalStore::Impl& impl, uint32_t block_size)
      : db_(*impl.db),
        ids_(impl.ids()),
        size_(stored_mirror_size(db_)),
        chainer_(resume_chain(db_, block_size, size_)),
        pending_possible_(any_pending(db_)) {
    OPSYNC_CHECK_MSG(ids_.end() == size_,
                     "the mirror's id index does not end where the mirror does");
  }

  uint64_t size() const { return size_; }
  // False when the pending table was empty as this transaction began: nothing can be
  // acknowledged and no claim can be wrong, so appends skip those lookups (the common case of a
  // device catching up, and all of a bootstrap). Appending never adds pending rows.
  bool pending_possible() const { return pending_possible_; }

  // Puts an operation at `seq`. The mirror is a dense prefix of the server's log (spec 9): an
  // append anywhere but directly after its end is a bug in the caller's bookkeeping.
  void append(uint64_t seq, const OpId& id, const Hash& hash, const Hlc& hlc, ByteView encoding) {
    OPSYNC_CHECK_MSG(seq == size_ + 1, "mirror append out of order: the mirror must stay dense");
    const Hash prefix = chainer_.append(hash);
    db_.prepare(
           "INSERT INTO mirror (seq, id, hash, prefix_hash, wall_ms, counter, encoding) "
           "VALUES (?, ?, ?, ?, ?, ?, ?)")
        .bind(1, seq)
        .bind(2, id)
        .bind(3, hash)
        .bind(4, prefix)
        .bind(5, hlc.wall_ms)
        .bind(6, hlc.counter)
        .bind(7, encoding)
        .run();
    ids_.append(id, seq);
    // The position is now known: any other claim on it, from an earlier upload answer, was
    // wrong (the server changed its mind or lied); that operation goes back to the upload queue.
    if (pending_possible_)
      db_.prepare(
             "UPDATE pending SET state = 0, accepted_seq = NULL "
             "WHERE state = 1 AND accepted_seq = ?")
          .bind(1, seq)
          .run();
    size_ = seq;
  }

  // Moves a pending operation into the mirror at `seq` (an acknowledgement).
  void move_from_pending(const OpId& id, uint64_t seq) {
    sql::Statement& row =
        db_.prepare("SELECT hash, wall_ms, counter, encoding FROM pending WHERE id = ?");
    row.bind(1, id);
    OPSYNC_CHECK_MSG(row.step(), "acknowledging an operation that is not pending");
    const Hash hash = row.fixed<32>(0);
    const Hlc hlc{row.u64(1), row.u32(2)};
    const Bytes encoding = row.blob(3);
    row.reset();
    db_.prepare("DELETE FROM pending WHERE id = ?").bind(1, id).run();
    append(seq, id, hash, hlc, encoding);
  }

 private:
  // Reads where the chain stands at the mirror's end: the last complete block's hash and the
  // operation hashes of the open block.
  static PrefixChainer resume_chain(sql::Connection& db, uint32_t block_size, uint64_t size) {
    OPSYNC_CHECK(block_size > 0);
    const uint64_t block_start = size - size % block_size;
    Hash last_block_hash;  // zeros before the first block
    if (block_start > 0) {
      sql::Statement& previous = db.prepare("SELECT prefix_hash FROM mirror WHERE seq = ?");
      previous.bind(1, block_start);
      OPSYNC_CHECK_MSG(previous.step(), "the mirror has a gap");
      last_block_hash = previous.fixed<32>(0);
      previous.reset();
    }
    std::vector<Hash> open_block;
    sql::Statement& open = db.prepare("SELECT seq, hash FROM mirror WHERE seq > ? ORDER BY seq");
    open.bind(1, block_start);
    while (open.step()) {
      OPSYNC_CHECK_MSG(open.u64(0) == block_start + open_block.size() + 1, "the mirror has a gap");
      open_block.push_back(open.fixed<32>(1));
    }
    OPSYNC_CHECK(open_block.size() == size - block_start);
    return PrefixChainer(block_size, last_block_hash, open_block);
  }

  sql::Connection& db_;
  detail::MirrorIds& ids_;
  uint64_t size_;
  PrefixChainer chainer_;
  bool pending_possible_;
};

std::vector<PendingOp> read_pending(sql::Statement& s) {
  std::vector<PendingOp> out;
  while (s.step())
    out.push_back(PendingOp{place_of(s.i64(0)), decode_stored(s.blob(2)), s.fixed<32>(1)});
  return out;
}

// Renames "ops[0]..." in an error from a one-operation classification to the page index.
Error at_page_index(Error error, size_t index) {
  const std::string single = "ops[0]";
  if (error.field.rfind(single, 0) == 0)
    error.field = "ops[" + std::to_string(index) + "]" + error.field.substr(single.size());
  return error;
}

}  // namespace

detail::MirrorIds& LocalStore::Impl::ids() {
  if (!mirror_ids)
    mirror_ids =
        detail::MirrorIds::load(*db, stored_mirror_size(*db), options.mirror_recent_ids_min);
  return *mirror_ids;
}

// ---- local edits ------------------------------------------------------------------------------

Status store_parts::Outbox::commit_local_edit(const LocalStore::LocalEdit& edit) {
  OPSYNC_CHECK_MSG(edit.object.id == edit.op.id && edit.object.hlc == edit.op.hlc,
                   "a local edit whose object and wire operation disagree");
  OPSYNC_CHECK_MSG(edit.op.device_id == impl_.binding.device_id,
                   "a local edit stamped with another device's id");
  OPSYNC_CHECK_MSG(validate_op(edit.op, std::numeric_limits<uint64_t>::max()).ok(),
                   "a local edit that breaks OP-001");
  OPSYNC_CHECK_MSG(edit.clock_after >= edit.op.hlc, "the clock state is below the edit's stamp");
  for (const FileId& attached : edit.attached_here)
    OPSYNC_CHECK_MSG(std::any_of(edit.object.payload.files.begin(), edit.object.payload.files.end(),
                                 [&](const FileRef& ref) { return ref.id == attached; }),
                     "an attached file the edit does not reference");
  const Bytes encoding = encode_op(edit.op);
  const Hash hash = op_hash(edit.op);

  return impl_.write("commit_local_edit", [&]() -> Result<Done> {
    sql::Connection& db = *impl_.db;
    OPSYNC_CHECK_MSG(locate(impl_, edit.op.id).where == Held::kNowhere,
                     "a local edit reuses a held operation id (OP-002)");
    OPSYNC_CHECK_MSG(edit.clock_after >= impl_.stored_hlc(), "the HLC state went backwards");
    db.prepare(
          "INSERT INTO pending (id, place, state, hash, wall_ms, counter, encoding, object_key) "
          "VALUES (?, ?, 0, ?, ?, ?, ?, ?)")
        .bind(1, edit.op.id)
        .bind(2, kPlaceOutbox)
        .bind(3, hash)
        .bind(4, edit.op.hlc.wall_ms)
        .bind(5, edit.op.hlc.counter)
        .bind(6, ByteView(encoding))
        .bind(7, std::string_view(edit.object.payload.key))
        .run();
    impl_.fault("local_edit:after_outbox");
    detail::apply_object_op(db, edit.object, impl_.options.fault_point);
    impl_.fault("local_edit:after_objects");
    for (const FileId& attached : edit.attached_here)
      db.prepare("UPDATE files SET local_copy = 1 WHERE id = ?").bind(1, attached).run();
    impl_.save_hlc(edit.clock_after);
    return Done{};
  });
}

// ---- pages --------------------------------------------------------------------------------------

Result<PageOutcome> store_parts::Mirror::apply_page(uint64_t after_seq,
                                                    std::span<const PageOp> page, uint64_t head_seq,
                                                    const Hlc& clock_after) {
  // Hash outside the transaction: it depends only on the input (SYNC-003: computed here, never
  // taken from anyone).
  std::vector<Hash> hashes;
  hashes.reserve(page.size());
  for (const PageOp& entry : page) hashes.push_back(op_hash(entry.op.op));

  return impl_.transact<PageOutcome>("apply_page", [&]() -> Result<PageOutcome> {
    sql::Connection& db = *impl_.db;
    MirrorAppender mirror(impl_, impl_.binding.block_size);
    OPSYNC_CHECK_MSG(after_seq == mirror.size(),
                     "a page must start at the mirror's end: the mirror is a dense prefix");
    OPSYNC_CHECK_MSG(clock_after >= impl_.stored_hlc(), "the HLC state went backwards");
    PageOutcome outcome;
    for (size_t i = 0; i < page.size(); ++i) {
      const PageOp& entry = page[i];
      // The protocol's own decision, one operation at a time against the store as it is now, so
      // an id listed twice in one page is caught like any other repeat.
      Result<PageVerdict> verdict = classify_page(
          mirror.size(), std::span(&entry.op, 1), std::span(&hashes[i], 1),
          [&](const OpId& id) { return locate(impl_, id, mirror.pending_possible()).held(); });
      if (!verdict.ok()) return at_page_index(verdict.error(), i);
      const uint64_t seq = entry.op.seq;
      if (!verdict->acknowledge.empty()) {
        mirror.move_from_pending(entry.op.op.id, seq);
        outcome.acknowledged.push_back(entry.op.op.id);
      } else {
        mirror.append(seq, entry.op.op.id, hashes[i], entry.op.op.hlc, encode_op(entry.op.op));
        impl_.fault("page:after_mirror");
        if (entry.object) {
          OPSYNC_CHECK_MSG(
              entry.object->id == entry.op.op.id && entry.object->hlc == entry.op.op.hlc,
              "a page operation whose object and wire form disagree");
          detail::apply_object_op(db, *entry.object, impl_.options.fault_point);
          for (const FileRef& ref : entry.object->payload.files)
            outcome.files_referenced.push_back(ref.id);
          outcome.applied.push_back(entry.op.op.id);
        } else {
          db.prepare("INSERT OR IGNORE INTO unreadable (id, key_id) VALUES (?, ?)")
              .bind(1, entry.op.op.id)
              .bind(2, entry.op.op.key_id)
              .run();
          outcome.unreadable.push_back(entry.op.op.id);
        }
      }
      impl_.fault("page:after_operation");
    }
    // A claim the server's log is too short for was lost with the server's state: upload again.
    db.prepare(
          "UPDATE pending SET state = 0, accepted_seq = NULL WHERE state = 1 AND accepted_seq > ?")
        .bind(1, std::max(head_seq, mirror.size()))
        .run();
    impl_.save_hlc(clock_after);
    std::sort(outcome.files_referenced.begin(), outcome.files_referenced.end());
    outcome.files_referenced.erase(
        std::unique(outcome.files_referenced.begin(), outcome.files_referenced.end()),
        outcome.files_referenced.end());
    return outcome;
  });
}

Status store_parts::Mirror::truncate_mirror(uint64_t verified_prefix) {
  return impl_.write("truncate_mirror", [&]() -> Result<Done> {
    sql::Connection& db = *impl_.db;
    OPSYNC_CHECK_MSG(verified_prefix <= stored_mirror_size(db),
                     "truncating the mirror beyond its end");
    // INSERT ... SELECT ... ORDER BY assigns ranks in seq order, so candidates keep their old
    // order for upload.
    db.prepare(
          "INSERT INTO pending (id, place, state, hash, wall_ms, counter, encoding) "
          "SELECT id, ?, 0, hash, wall_ms, counter, encoding FROM mirror WHERE seq > ? "
          "ORDER BY seq")
        .bind(1, kPlaceCandidate)
        .bind(2, verified_prefix)
        .run();
    // The id index first: it loads against the mirror as it stands.
    impl_.ids().truncate(db, verified_prefix);
    db.prepare("DELETE FROM mirror WHERE seq > ?").bind(1, verified_prefix).run();
    // Positions reported by the server the device no longer trusts mean nothing now.
    db.prepare("UPDATE pending SET state = 0, accepted_seq = NULL WHERE state = 1").run();
    // A server restored from a backup may hold again files this device deleted and forgot
    // (FILE-022). Every file its operations ever referenced is known again; those no head
    // references are deleted again by the next cleanup, including those whose copies are kept
    // (FILE-040): the restore may have undone their DELETE.
    db.prepare(
          "INSERT OR IGNORE INTO files (id, name, size_bytes, chunk_bytes, chunk_count, sha256, "
          "local_copy, upload_flag, pending) "
          "SELECT file, name, size_bytes, chunk_bytes, chunk_count, sha256, 0, 0, 0 FROM "
          "object_files")
        .run();
    db.prepare(
          "UPDATE files SET unreferenced_since_ms = NULL WHERE unreferenced_since_ms IS NOT NULL")
        .run();
    return Done{};
  });
}

// ---- uploads ------------------------------------------------------------------------------------

Result<std::vector<PendingOp>> store_parts::Outbox::ops_to_upload(size_t limit) {
  return impl_.read([&] {
    sql::Statement& s = impl_.db->prepare(
        "SELECT place, hash, encoding FROM pending WHERE state = 0 "
        "ORDER BY place DESC, rank LIMIT ?");
    static_assert(kPlaceCandidate > kPlaceOutbox, "candidates upload before the outbox");
    s.bind(1, static_cast<uint64_t>(std::min<size_t>(limit, INT64_MAX)));
    return read_pending(s);
  });
}

Result<UploadOutcome> store_parts::Outbox::record_upload_results(
    std::span<const OpResult> results) {
  return impl_.transact<UploadOutcome>("record_upload_results", [&]() -> Result<UploadOutcome> {
    sql::Connection& db = *impl_.db;
    MirrorAppender mirror(impl_, impl_.binding.block_size);
    UploadOutcome outcome;
    std::vector<OpId> accepted;
    for (size_t i = 0; i < results.size(); ++i) {
      const OpResult& result = results[i];
      const std::string field = "results[" + std::to_string(i) + "]";
      const OpLocation where = locate(impl_, result.id);
      if (where.where != Held::kOutbox && where.where != Held::kCandidate)
        return Error(Code::kProtocolError, field + ".id",
                     "an upload result for an operation this device is not uploading");
      if (result.status == OpStatus::kRejected) {
        if (result.code == Code::kClockSkew) {
          outcome.clock_skew.push_back(result.id);
          continue;
        }
        db.prepare(
              "UPDATE pending SET state = ?, accepted_seq = NULL, rejected_code = ?, "
              "rejected_message = ? WHERE id = ?")
            .bind(1, kStateRejected)
            .bind(2, code_name(result.code))
            .bind(3, std::string_view(result.message))
            .bind(4, result.id)
            .run();
        outcome.rejected.push_back(result.id);
        continue;
      }
      // Accepted and duplicate alike (SYNC-006).
      if (result.seq <= mirror.size())
        return Error(Code::kProtocolError, field + ".seq",
                     "the server placed the operation at " + std::to_string(result.seq) +
                         ", inside the verified mirror");
      db.prepare("UPDATE pending SET state = ?, accepted_seq = ? WHERE id = ?")
          .bind(1, kStateAcceptedAhead)
          .bind(2, result.seq)
          .bind(3, result.id)
          .run();
      accepted.push_back(result.id);
    }
    impl_.fault("upload:after_results");
    // Move every accepted operation that directly follows the mirror; each move may make the next
    // one follow. Bounded by the number of accepted operations.
    for (size_t moved = 0; moved < accepted.size(); ++moved) {
      sql::Statement& next =
          db.prepare("SELECT id FROM pending WHERE state = 1 AND accepted_seq = ? LIMIT 1");
      next.bind(1, mirror.size() + 1);
      if (!next.step()) break;
      const OpId id = next.fixed<16>(0);
      next.reset();
      mirror.move_from_pending(id, mirror.size() + 1);
      outcome.acknowledged.push_back(id);
    }
    for (const OpId& id : accepted)
      if (std::find(outcome.acknowledged.begin(), outcome.acknowledged.end(), id) ==
          outcome.acknowledged.end())
        outcome.accepted_ahead.push_back(id);
    return outcome;
  });
}

Status store_parts::Outbox::restamp_outbox_ops(std::span<const WireOp> restamped,
                                               const Hlc& clock_after) {
  std::vector<Bytes> encodings;
  std::vector<Hash> hashes;
  for (const WireOp& op : restamped) {
    OPSYNC_CHECK_MSG(validate_op(op, std::numeric_limits<uint64_t>::max()).ok(),
                     "a re-stamped operation that breaks OP-001");
    OPSYNC_CHECK_MSG(clock_after >= op.hlc, "the clock state is below a new stamp");
    encodings.push_back(encode_op(op));
    hashes.push_back(op_hash(op));
  }
  return impl_.write("restamp_outbox_ops", [&]() -> Result<Done> {
    sql::Connection& db = *impl_.db;
    for (size_t i = 0; i < restamped.size(); ++i) {
      const WireOp& op = restamped[i];
      sql::Statement& row =
          db.prepare("SELECT place, state, encoding, object_key FROM pending WHERE id = ?");
      row.bind(1, op.id);
      OPSYNC_CHECK_MSG(row.step(), "re-stamping an operation that is not pending");
      // HLC-022: only an operation nobody else has seen; a candidate was in the server's log.
      OPSYNC_CHECK_MSG(place_of(row.i64(0)) == Held::kOutbox && row.i64(1) == kStateToUpload,
                       "re-stamping an operation that is not waiting in the outbox");
      const WireOp before = decode_stored(row.blob(2));
      OPSYNC_CHECK_MSG(!row.is_null(3), "an outbox operation without its object key");
      const std::string key = row.text(3);
      row.reset();
      OPSYNC_CHECK_MSG(before.device_id == op.device_id && before.key_id == op.key_id,
                       "re-stamping changed the device or key id (HLC-021)");
      db.prepare("UPDATE pending SET hash = ?, wall_ms = ?, counter = ?, encoding = ? WHERE id = ?")
          .bind(1, hashes[i])
          .bind(2, op.hlc.wall_ms)
          .bind(3, op.hlc.counter)
          .bind(4, ByteView(encodings[i]))
          .bind(5, op.id)
          .run();
      OPSYNC_CHECK_MSG(detail::restamp_object_op(db, key, op.id, op.hlc),
                       "an outbox operation without its object row");
    }
    // HLC-020 resets the clock, so it may move backwards here and only here. Re-stamping is one
    // transaction: a device killed halfway would otherwise keep old stamps above its reset clock,
    // and stamp its next edit below an operation it wrote earlier (HLC-004).
    impl_.save_hlc(clock_after);
    return Done{};
  });
}

Result<Hlc> store_parts::Outbox::largest_accepted_hlc() {
  // Accepted: in the mirror, accepted ahead of it, or a candidate (an operation the server's log
  // held until a restore took it out, HLC-020): a re-stamp below a candidate this device held
  // would let its later write lose to its earlier one once the candidate is uploaded again.
  return impl_.read([&] {
    Hlc largest;
    for (const char* sql :
         {"SELECT wall_ms, counter FROM mirror ORDER BY wall_ms DESC, counter DESC LIMIT 1",
          "SELECT wall_ms, counter FROM pending WHERE state = 1 OR place = ? "
          "ORDER BY wall_ms DESC, counter DESC LIMIT 1"}) {
      sql::Statement& s = impl_.db->prepare(sql);
      if (std::string_view(sql).find('?') != std::string_view::npos) s.bind(1, kPlaceCandidate);
      if (s.step()) largest = std::max(largest, Hlc{s.u64(0), s.u32(1)});
    }
    return largest;
  });
}

Result<std::vector<RejectedOp>> store_parts::Outbox::rejected_ops() {
  return impl_.read([&] {
    sql::Statement& s = impl_.db->prepare(
        "SELECT place, hash, encoding, rejected_code, rejected_message FROM pending "
        "WHERE state = 2 ORDER BY rank");
    std::vector<RejectedOp> out;
    while (s.step()) {
      const std::optional<Code> code = code_from_name(s.text(3));
      OPSYNC_CHECK_MSG(code.has_value(), "an unknown stored rejection code");
      out.push_back(
          RejectedOp{PendingOp{place_of(s.i64(0)), decode_stored(s.blob(2)), s.fixed<32>(1)}, *code,
                     s.text(4)});
    }
    return out;
  });
}

Result<std::vector<UnreadableOp>> store_parts::Mirror::unreadable_ops() {
  return impl_.read([&] {
    sql::Statement& s = impl_.db->prepare("SELECT id, key_id FROM unreadable");
    std::vector<UnreadableOp> out;
    while (s.step()) out.push_back(UnreadableOp{0, s.fixed<16>(0), s.u32(1)});
    s.reset();
    for (UnreadableOp& op : out) op.seq = impl_.ids().find(*impl_.db, op.id).value_or(0);
    // In the log's order; any not in the mirror (yet) last.
    std::sort(out.begin(), out.end(), [](const UnreadableOp& a, const UnreadableOp& b) {
      if ((a.seq == 0) != (b.seq == 0)) return b.seq == 0;
      return a.seq != b.seq ? a.seq < b.seq : a.id < b.id;
    });
    return out;
  });
}

Result<uint64_t> store_parts::Outbox::pending_count() {
  return impl_.read([&] {
    sql::Statement& s = impl_.db->prepare("SELECT COUNT(*) FROM pending");
    OPSYNC_CHECK(s.step());
    return s.u64(0);
  });
}

// ---- the mirror ---------------------------------------------------------------------------------

Result<uint64_t> store_parts::Mirror::mirror_size() {
  return impl_.read([&] { return stored_mirror_size(*impl_.db); });
}

Result<Hash> store_parts::Mirror::prefix_hash(uint64_t s) {
  return impl_.read([&] {
    if (s == 0) return Hash{};
    sql::Statement& row = impl_.db->prepare("SELECT prefix_hash FROM mirror WHERE seq = ?");
    row.bind(1, s);
    OPSYNC_CHECK_MSG(row.step(), "prefix_hash beyond the mirror's end");
    return row.fixed<32>(0);
  });
}

Result<std::vector<Hash>> store_parts::Mirror::block_hashes(uint32_t block_size) {
  OPSYNC_CHECK(block_size >= kBlockSizeMin && block_size <= kBlockSizeMax);
  return impl_.read([&] {
    sql::Connection& db = *impl_.db;
    if (block_size != impl_.binding.block_size) {
      // Another chaining than the stored one: recompute from the stored op hashes.
      sql::Statement& s = db.prepare("SELECT hash FROM mirror ORDER BY seq");
      std::vector<Hash> op_hashes;
      while (s.step()) op_hashes.push_back(s.fixed<32>(0));
      return compute_block_hashes(op_hashes, block_size);
    }
    // block_hash(b) = prefix_hash((b + 1) * N): one indexed row per complete block.
    const uint64_t block_count = stored_mirror_size(db) / block_size;
    std::vector<Hash> out;
    out.reserve(block_count);
    for (uint64_t b = 0; b < block_count; ++b) {
      sql::Statement& row = db.prepare("SELECT prefix_hash FROM mirror WHERE seq = ?");
      row.bind(1, (b + 1) * block_size);
      OPSYNC_CHECK_MSG(row.step(), "the mirror has a gap");
      out.push_back(row.fixed<32>(0));
    }
    return out;
  });
}

Result<std::optional<SequencedOp>> store_parts::Mirror::mirror_op(uint64_t seq) {
  return impl_.read([&]() -> std::optional<SequencedOp> {
    sql::Statement& row = impl_.db->prepare("SELECT encoding FROM mirror WHERE seq = ?");
    row.bind(1, seq);
    if (!row.step()) return std::nullopt;
    return SequencedOp{seq, decode_stored(row.blob(0))};
  });
}

Result<OpLocation> store_parts::Mirror::lookup(const OpId& id) {
  return impl_.read([&] { return locate(impl_, id); });
}

}  // namespace opsync::client
