#include "objects.h"

#include "opsync/protocol/limits.h"

namespace opsync::client::detail {
namespace {

constexpr int64_t kTypePut = 0;
constexpr int64_t kTypeDelete = 1;

int64_t type_code(OpType type) { return type == OpType::kPut ? kTypePut : kTypeDelete; }
OpType type_of(int64_t code) {
  OPSYNC_CHECK_MSG(code == kTypePut || code == kTypeDelete, "unknown stored operation type");
  return code == kTypePut ? OpType::kPut : OpType::kDelete;
}

std::vector<OpId> bases_of(sql::Connection& db, const std::string& key, const OpId& id) {
  sql::Statement& s =
      db.prepare("SELECT base FROM object_bases WHERE object_key = ? AND op = ? ORDER BY position");
  s.bind(1, std::string_view(key)).bind(2, id);
  std::vector<OpId> out;
  while (s.step()) out.push_back(s.fixed<16>(0));
  return out;
}

std::vector<FileRef> files_of(sql::Connection& db, const std::string& key, const OpId& id) {
  sql::Statement& s = db.prepare(
      "SELECT file, name, size_bytes, chunk_bytes, chunk_count, sha256 FROM object_files "
      "WHERE object_key = ? AND op = ? ORDER BY position");
  s.bind(1, std::string_view(key)).bind(2, id);
  std::vector<FileRef> out;
  while (s.step())
    out.push_back(FileRef{s.fixed<16>(0), s.text(1), s.u64(2), s.u32(3), s.u32(4), s.fixed<32>(5)});
  return out;
}

// The file references of head operations, `f` (what FILE-022 keeps), as the FROM and WHERE of a
// query. A macro, so that each query stays one literal the statement cache can key on.
#define HEAD_FILE_REFS                                                        \
  "FROM object_files f JOIN object_ops o ON o.object_key = f.object_key AND " \
  "o.id = f.op WHERE o.is_head = 1"

}  // namespace

bool apply_object_op(sql::Connection& db, const ObjectOp& op, const FaultPoint& fault) {
  const std::string& key = op.payload.key;
  OPSYNC_CHECK_MSG(!key.empty(), "an object operation without a key");
  // A head unless an operation of the same key already names it (LWW-013: the superseding
  // operation may have arrived first). The primary key turns a repeat into an ignored insert, so
  // a new operation costs one statement here, not a lookup and an insert.
  db.prepare(
        "INSERT OR IGNORE INTO object_ops (id, object_key, wall_ms, counter, type, is_head, value) "
        "VALUES (?1, ?2, ?3, ?4, ?5, "
        "NOT EXISTS (SELECT 1 FROM object_bases WHERE object_key = ?2 AND base = ?1), ?6)")
      .bind(1, op.id)
      .bind(2, std::string_view(key))
      .bind(3, op.hlc.wall_ms)
      .bind(4, op.hlc.counter)
      .bind(5, type_code(op.payload.type))
      .bind(6, ByteView(op.payload.value))
      .run();
  if (db.changes() == 0) {
    sql::Statement& held =
        db.prepare("SELECT wall_ms, counter FROM object_ops WHERE object_key = ? AND id = ?");
    held.bind(1, std::string_view(key)).bind(2, op.id);
    OPSYNC_CHECK_MSG(held.step(), "an object insert was ignored without a row of that id");
    // Applying twice is applying once (LWW-010). The same id with another meaning would be two
    // operations under one id, which the caller rules out by hash first (OP-021).
    OPSYNC_CHECK_MSG(held.u64(0) == op.hlc.wall_ms && held.u32(1) == op.hlc.counter,
                     "an operation id applied twice with different contents");
    held.reset();
    return false;
  }
  if (fault) fault("apply:after_object_row");

  for (size_t i = 0; i < op.payload.bases.size(); ++i) {
    const OpId& base = op.payload.bases[i];
    db.prepare(
          "INSERT OR IGNORE INTO object_bases (object_key, base, op, position) VALUES (?, ?, ?, ?)")
        .bind(1, std::string_view(key))
        .bind(2, base)
        .bind(3, op.id)
        .bind(4, static_cast<uint64_t>(i))
        .run();
    // Only an operation of the same key loses its place as a head.
    db.prepare("UPDATE object_ops SET is_head = 0 WHERE object_key = ? AND id = ? AND is_head = 1")
        .bind(1, std::string_view(key))
        .bind(2, base)
        .run();
  }

  for (size_t i = 0; i < op.payload.files.size(); ++i) {
    const FileRef& ref = op.payload.files[i];
    db.prepare(
          "INSERT INTO object_files "
          "(object_key, op, position, file, name, size_bytes, chunk_bytes, chunk_count, sha256) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
        .bind(1, std::string_view(key))
        .bind(2, op.id)
        .bind(3, static_cast<uint64_t>(i))
        .bind(4, ref.id)
        .bind(5, std::string_view(ref.name))
        .bind(6, ref.size_bytes)
        .bind(7, ref.chunk_bytes)
        .bind(8, ref.chunk_count)
        .bind(9, ref.sha256)
        .run();
    // The first reference seen describes the file: a file id names one immutable content.
    db.prepare(
          "INSERT OR IGNORE INTO files "
          "(id, name, size_bytes, chunk_bytes, chunk_count, sha256, local_copy, upload_flag, "
          "pending) VALUES (?, ?, ?, ?, ?, ?, 0, 0, 0)")
        .bind(1, ref.id)
        .bind(2, std::string_view(ref.name))
        .bind(3, ref.size_bytes)
        .bind(4, ref.chunk_bytes)
        .bind(5, ref.chunk_count)
        .bind(6, ref.sha256)
        .run();
  }
  return true;
}

bool restamp_object_op(sql::Connection& db, const std::string& key, const OpId& id,
                       const Hlc& hlc) {
  db.prepare("UPDATE object_ops SET wall_ms = ?, counter = ? WHERE object_key = ? AND id = ?")
      .bind(1, hlc.wall_ms)
      .bind(2, hlc.counter)
      .bind(3, std::string_view(key))
      .bind(4, id)
      .run();
  // Heads do not depend on clocks; which head wins does, and object_heads orders by the new one.
  return db.changes() != 0;
}

ObjectView object_view(sql::Connection& db, const std::string& key) {
  ObjectView view;
  sql::Statement& heads = db.prepare(
      "SELECT id, wall_ms, counter, type, value FROM object_ops "
      "WHERE object_key = ? AND is_head = 1 ORDER BY wall_ms DESC, counter DESC, id DESC");
  heads.bind(1, std::string_view(key));
  while (heads.step()) {
    ObjectOp op;
    op.id = heads.fixed<16>(0);
    op.hlc = Hlc{heads.u64(1), heads.u32(2)};
    op.payload.type = type_of(heads.i64(3));
    op.payload.key = key;
    op.payload.value = heads.blob(4);
    view.heads.push_back(std::move(op));
  }
  heads.reset();
  for (ObjectOp& op : view.heads) {
    op.payload.bases = bases_of(db, key, op.id);
    op.payload.files = files_of(db, key, op.id);
  }
  return view;
}

std::vector<OpId> head_ids(sql::Connection& db, const std::string& key, uint32_t limit) {
  sql::Statement& s = db.prepare(
      "SELECT id FROM object_ops WHERE object_key = ? AND is_head = 1 "
      "ORDER BY wall_ms DESC, counter DESC, id DESC LIMIT ?");
  s.bind(1, std::string_view(key)).bind(2, limit);
  std::vector<OpId> out;
  while (s.step()) out.push_back(s.fixed<16>(0));
  return out;
}

std::vector<std::string> present_keys(sql::Connection& db) {
  // The winner is each key's first head in object_heads order; the key is present if it is a put.
  sql::Statement& s = db.prepare(
      "SELECT object_key FROM ("
      "  SELECT object_key, type, row_number() OVER ("
      "    PARTITION BY object_key ORDER BY wall_ms DESC, counter DESC, id DESC) AS place"
      "  FROM object_ops WHERE is_head = 1) "
      "WHERE place = 1 AND type = ? ORDER BY object_key");
  s.bind(1, kTypePut);
  std::vector<std::string> out;
  while (s.step()) out.push_back(s.text(0));
  return out;
}

std::vector<std::string> keys_with_heads(sql::Connection& db) {
  sql::Statement& s = db.prepare(
      "SELECT DISTINCT object_key FROM object_ops WHERE is_head = 1 ORDER BY object_key");
  std::vector<std::string> out;
  while (s.step()) out.push_back(s.text(0));
  return out;
}

std::vector<std::string> conflicted_keys(sql::Connection& db) {
  sql::Statement& s = db.prepare(
      "SELECT object_key FROM object_ops WHERE is_head = 1 "
      "GROUP BY object_key HAVING COUNT(*) > 1 ORDER BY object_key");
  std::vector<std::string> out;
  while (s.step()) out.push_back(s.text(0));
  return out;
}

std::vector<FileId> referenced_files(sql::Connection& db) {
  sql::Statement& s = db.prepare("SELECT DISTINCT f.file " HEAD_FILE_REFS " ORDER BY f.file");
  std::vector<FileId> out;
  while (s.step()) out.push_back(s.fixed<16>(0));
  return out;
}

std::vector<FileId> unreferenced_files(sql::Connection& db) {
  sql::Statement& s = db.prepare(
      "SELECT id FROM files WHERE id NOT IN (SELECT f.file " HEAD_FILE_REFS ") ORDER BY id");
  std::vector<FileId> out;
  while (s.step()) out.push_back(s.fixed<16>(0));
  return out;
}

bool is_file_referenced(sql::Connection& db, const FileId& id) {
  sql::Statement& s = db.prepare("SELECT 1 " HEAD_FILE_REFS " AND f.file = ? LIMIT 1");
  s.bind(1, id);
  const bool referenced = s.step();
  s.reset();
  return referenced;
}

#undef HEAD_FILE_REFS

}  // namespace opsync::client::detail
