"""The device's durable state: one SQLite file, ``DIR/state.sqlite3``, and file copies in
``DIR/files/``.

Every change that must survive a kill is one transaction (``with store.transaction():``), so a
``kill -9`` at any point leaves either all of a step or none of it (SYNC-012, HLC-001, FILE-020).
The store holds no clock and draws no randomness; callers pass what they need.

Invariants (checked by ``check_invariants``, which the tests call after every step):
1. ``mirror`` holds positions 1..m without a gap, each with its prefix hash chained from the one
   before (spec 7.4).
2. An operation id is in at most one of ``mirror`` and ``pending``.
3. Every operation in ``mirror`` or ``pending`` whose payload opened is in ``object_ops``; the
   others are in ``unreadable``.

``fault_point`` (a function of a step name) lets the tests raise in the middle of a step, as a
kill would stop it, and reopen the store.
"""

import contextlib
import json
import os
import sqlite3

from . import b64
from . import ops as opsmod

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE meta(name TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE data_keys(key_id INTEGER PRIMARY KEY, data_key BLOB NOT NULL);
-- Positions 1..m of the server's log as this device last verified them (spec 9).
CREATE TABLE mirror(
  seq INTEGER PRIMARY KEY,
  id BLOB NOT NULL UNIQUE,
  hash BLOB NOT NULL,
  prefix_hash BLOB NOT NULL,
  wall_ms INTEGER NOT NULL,
  counter INTEGER NOT NULL,
  encoding BLOB NOT NULL);
-- The outbox (own operations the server has not acknowledged) and the candidates of a
-- divergence search (former mirror operations), in upload order (SYNC-013).
CREATE TABLE pending(
  ord INTEGER PRIMARY KEY AUTOINCREMENT,
  id BLOB NOT NULL UNIQUE,
  hash BLOB NOT NULL,
  wall_ms INTEGER NOT NULL,
  counter INTEGER NOT NULL,
  encoding BLOB NOT NULL,
  plaintext BLOB,                -- own operations: to seal again when re-stamped (HLC-021)
  former_seq INTEGER,            -- candidates: their position in the mirror before the search
  state TEXT NOT NULL CHECK (state IN ('pending', 'acked', 'rejected')),
  acked_seq INTEGER,
  reject_code TEXT,
  reject_message TEXT,
  restamped INTEGER NOT NULL DEFAULT 0);
-- Objects (spec 10.2): every readable operation held, and what each supersedes.
CREATE TABLE object_ops(
  op_id BLOB PRIMARY KEY,
  key TEXT NOT NULL,
  wall_ms INTEGER NOT NULL,
  counter INTEGER NOT NULL,
  type TEXT NOT NULL CHECK (type IN ('put', 'delete')),
  value BLOB,
  files TEXT NOT NULL DEFAULT '[]',
  key_id INTEGER NOT NULL);  -- rowid: the order of arrival (only the lww-strict-less defect reads it)
CREATE INDEX object_ops_by_key ON object_ops(key, wall_ms DESC, counter DESC, op_id DESC);
CREATE TABLE object_bases(key TEXT NOT NULL, base_id BLOB NOT NULL, op_id BLOB NOT NULL,
                          PRIMARY KEY (key, base_id, op_id)) WITHOUT ROWID;
-- Operations held but not applied: unknown payload format, invalid payload, no key, bad tag
-- (VER-007, LWW-003, SEC-002).
CREATE TABLE unreadable(op_id BLOB PRIMARY KEY, key_id INTEGER NOT NULL, code TEXT NOT NULL,
                        reason TEXT NOT NULL);
-- Files referenced by operations this device held (spec 11).
CREATE TABLE files(
  file_id BLOB PRIMARY KEY,
  name TEXT NOT NULL,
  size_bytes INTEGER NOT NULL,
  chunk_bytes INTEGER NOT NULL,
  chunk_count INTEGER NOT NULL,
  sha256 BLOB NOT NULL,
  key_id INTEGER NOT NULL,       -- the data key of the first operation that referenced it
  local_copy INTEGER NOT NULL DEFAULT 0,
  upload_flag INTEGER NOT NULL DEFAULT 0,
  delete_sent INTEGER NOT NULL DEFAULT 0,
  delete_answered_server_ms INTEGER,   -- FILE-040: the DELETE's answer, on the server's clock
  note TEXT);
CREATE TABLE file_chunks(file_id BLOB NOT NULL, idx INTEGER NOT NULL,
                         PRIMARY KEY (file_id, idx)) WITHOUT ROWID;
"""


class FaultInjected(Exception):
    """Raised by a test's fault point: the process 'dies' here."""


class Store:
    def __init__(self, directory, fault_point=None, durability="full"):
        self.directory = os.path.abspath(directory)
        self.files_directory = os.path.join(self.directory, "files")
        # A directory this store creates is the user's only (it will hold keys and plaintext);
        # one that exists already keeps the permissions its owner gave it.
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        os.makedirs(self.files_directory, mode=0o700, exist_ok=True)
        path = os.path.join(self.directory, "state.sqlite3")
        fresh = not os.path.exists(path)
        # The file holds the data keys (as the reference client's device.json does): only the
        # user may read it.
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        # full: every commit is on disk when it returns, so nothing acknowledged is lost to a power
        # failure (a re-stamped operation that was uploaded must not roll back to its old hash).
        # process: survives a kill of this process only, and is faster; the tests use it, as
        # the tests of opsync-server use its --durability process.
        if durability not in ("full", "process"):
            raise ValueError(f"durability is full or process, not {durability!r}")
        self.db.execute("PRAGMA synchronous=" + ("FULL" if durability == "full" else "NORMAL"))
        self.durability = durability
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.execute("PRAGMA busy_timeout=10000")
        self.fault_point = fault_point or (lambda name: None)
        self._in_transaction = False
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if fresh or version == 0:
            with self.transaction():
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        elif version > SCHEMA_VERSION:
            raise RuntimeError(f"the store was written by a newer client (schema {version})")

    def close(self):
        self.db.close()

    @contextlib.contextmanager
    def transaction(self):
        assert not self._in_transaction, "transactions do not nest"
        self.db.execute("BEGIN IMMEDIATE")
        self._in_transaction = True
        try:
            yield
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        finally:
            self._in_transaction = False

    def fault(self, name):
        self.fault_point(name)

    def sync_file(self, handle):
        """Makes a file copy's bytes durable before the store records them (as its commits)."""
        handle.flush()
        if self.durability == "full":
            os.fsync(handle.fileno())

    def sync_directory(self):
        if self.durability == "full":
            fd = os.open(self.files_directory, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    # ---- meta ------------------------------------------------------------------------------

    def get(self, name, default=None):
        row = self.db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return default if row is None else row[0]

    def set(self, name, value):
        self.db.execute("INSERT INTO meta(name, value) VALUES (?, ?) "
                        "ON CONFLICT(name) DO UPDATE SET value = excluded.value", (name, value))

    def get_json(self, name, default=None):
        text = self.get(name)
        return default if text is None else json.loads(text)

    def set_json(self, name, value):
        self.set(name, json.dumps(value, sort_keys=True))

    def initialized(self):
        return self.get("workspace_id") is not None

    # ---- data keys -------------------------------------------------------------------------

    def data_keys(self):
        return {key_id: data_key for key_id, data_key in
                self.db.execute("SELECT key_id, data_key FROM data_keys")}

    def add_data_key(self, key_id, data_key):
        self.db.execute("INSERT OR REPLACE INTO data_keys(key_id, data_key) VALUES (?, ?)",
                        (key_id, data_key))

    # ---- mirror ----------------------------------------------------------------------------

    def mirror_length(self):
        row = self.db.execute("SELECT MAX(seq) FROM mirror").fetchone()
        return row[0] or 0

    def prefix_hash(self, seq):
        if seq == 0:
            return opsmod.ZERO_HASH
        row = self.db.execute("SELECT prefix_hash FROM mirror WHERE seq = ?", (seq,)).fetchone()
        return None if row is None else row[0]

    def mirror_hash_of(self, op_id):
        row = self.db.execute("SELECT hash FROM mirror WHERE id = ?", (op_id,)).fetchone()
        return None if row is None else row[0]

    def prefix_hasher(self, block_size):
        """A hasher positioned at the mirror's end."""
        m = self.mirror_length()
        boundary = m - m % block_size
        hashes = [row[0] for row in self.db.execute(
            "SELECT hash FROM mirror WHERE seq > ? AND seq <= ? ORDER BY seq", (boundary, m))]
        return opsmod.PrefixHasher(block_size, m, self.prefix_hash(boundary), hashes)

    def own_block_hashes(self, block_size, start, count):
        """block_hash(b) for start <= b < start + count: the prefix hashes at block ends."""
        return [self.prefix_hash((b + 1) * block_size) for b in range(start, start + count)]

    def append_mirror(self, seq, op, op_hash, prefix_hash):
        self.db.execute("INSERT INTO mirror(seq, id, hash, prefix_hash, wall_ms, counter, encoding) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (seq, op.id, op_hash, prefix_hash, op.wall_ms, op.counter, op.encoding()))

    def truncate_mirror_to_candidates(self, verified_prefix):
        """Step 3: mirror operations after p become candidates, first in upload order."""
        rows = self.db.execute("SELECT seq, id, hash, wall_ms, counter, encoding FROM mirror "
                               "WHERE seq > ? ORDER BY seq", (verified_prefix,)).fetchall()
        for seq, op_id, op_hash, wall_ms, counter, encoding in rows:
            self.db.execute("INSERT INTO pending(id, hash, wall_ms, counter, encoding, former_seq, state) "
                            "VALUES (?, ?, ?, ?, ?, ?, 'pending')",
                            (op_id, op_hash, wall_ms, counter, encoding, seq))
        self.db.execute("DELETE FROM mirror WHERE seq > ?", (verified_prefix,))
        return len(rows)

    def max_accepted_timestamp(self):
        """The largest timestamp among operations the server has accepted that the device holds
        (HLC-020): the mirror's and the acknowledged ones of ``pending``."""
        best = (0, 0)
        for table, condition in (("mirror", ""), ("pending", "WHERE state = 'acked'")):
            row = self.db.execute(f"SELECT wall_ms, counter FROM {table} {condition} "
                                  "ORDER BY wall_ms DESC, counter DESC LIMIT 1").fetchone()
            if row is not None and tuple(row) > best:
                best = tuple(row)
        return best

    # ---- pending ---------------------------------------------------------------------------

    def pending_hash_of(self, op_id):
        row = self.db.execute("SELECT hash FROM pending WHERE id = ?", (op_id,)).fetchone()
        return None if row is None else row[0]

    def add_outbox(self, op, plaintext):
        self.db.execute("INSERT INTO pending(id, hash, wall_ms, counter, encoding, plaintext, state) "
                        "VALUES (?, ?, ?, ?, ?, ?, 'pending')",
                        (op.id, op.hash(), op.wall_ms, op.counter, op.encoding(), plaintext))

    def remove_pending(self, op_id):
        self.db.execute("DELETE FROM pending WHERE id = ?", (op_id,))

    def pending_to_upload(self, limit):
        """Candidates in their former order, then the outbox in creation order (SYNC-013)."""
        return self.db.execute(
            "SELECT ord, id, encoding, plaintext FROM pending WHERE state = 'pending' "
            "ORDER BY former_seq IS NULL, former_seq, ord LIMIT ?", (limit,)).fetchall()

    def pending_counts(self):
        return dict(self.db.execute("SELECT state, COUNT(*) FROM pending GROUP BY state").fetchall())

    def pending_rows(self, state):
        """(id, wall_ms, counter) of the operations in ``state`` (pending: not yet acknowledged,
        in upload order; rejected: kept after a rejection, SYNC-011)."""
        return self.db.execute("SELECT id, wall_ms, counter FROM pending WHERE state = ? "
                               "ORDER BY former_seq IS NULL, former_seq, ord", (state,)).fetchall()

    def mark_acked(self, op_id, seq):
        self.db.execute("UPDATE pending SET state = 'acked', acked_seq = ? WHERE id = ?", (seq, op_id))

    def mark_rejected(self, op_id, code, message):
        self.db.execute("UPDATE pending SET state = 'rejected', reject_code = ?, reject_message = ? "
                        "WHERE id = ?", (code, message, op_id))

    def acked_rows(self):
        return self.db.execute("SELECT id, acked_seq, encoding, hash FROM pending WHERE state = 'acked' "
                               "ORDER BY acked_seq").fetchall()

    def rejected_rows(self):
        return self.db.execute("SELECT id, reject_code, reject_message, plaintext FROM pending "
                               "WHERE state = 'rejected' ORDER BY ord").fetchall()

    def replace_pending_op(self, old_id, op, plaintext):
        """A re-stamped (HLC-021) or, under a defect, re-identified operation."""
        self.db.execute("UPDATE pending SET id = ?, hash = ?, wall_ms = ?, counter = ?, encoding = ?, "
                        "plaintext = ?, state = 'pending', restamped = restamped + 1 WHERE id = ?",
                        (op.id, op.hash(), op.wall_ms, op.counter, op.encoding(), plaintext, old_id))

    # ---- objects ---------------------------------------------------------------------------

    def apply_object_op(self, op_id, key_id, wall_ms, counter, payload):
        """Applies a decrypted, checked payload (SYNC-004: applying twice is applying once)."""
        files = [_file_ref_to_json(ref) for ref in payload.get("files", [])]
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO object_ops(op_id, key, wall_ms, counter, type, value, files, key_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (op_id, payload["key"], wall_ms, counter, payload["type"], payload.get("value"),
             json.dumps(files), key_id))
        if cursor.rowcount == 0:
            return False
        for base in payload["bases"]:
            self.db.execute("INSERT OR IGNORE INTO object_bases(key, base_id, op_id) VALUES (?, ?, ?)",
                            (payload["key"], base, op_id))
        for ref in payload.get("files", []):
            self.db.execute(
                "INSERT OR IGNORE INTO files(file_id, name, size_bytes, chunk_bytes, chunk_count, sha256, key_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (ref["id"], ref["name"], ref["size_bytes"], ref["chunk_bytes"], ref["chunk_count"],
                 ref["sha256"], key_id))
        return True

    def restamp_object_op(self, op_id, new_id, wall_ms, counter):
        self.db.execute("UPDATE object_ops SET op_id = ?, wall_ms = ?, counter = ? WHERE op_id = ?",
                        (new_id, wall_ms, counter, op_id))
        self.db.execute("UPDATE object_bases SET op_id = ? WHERE op_id = ?", (new_id, op_id))

    def mark_unreadable(self, op_id, key_id, code, reason):
        self.db.execute("INSERT OR REPLACE INTO unreadable(op_id, key_id, code, reason) VALUES (?, ?, ?, ?)",
                        (op_id, key_id, code, reason))

    def unreadable_rows(self):
        return self.db.execute("SELECT op_id, key_id, code, reason FROM unreadable ORDER BY op_id").fetchall()

    def heads(self, key, strict_less_defect=False):
        """The heads of ``key``, winner first (spec 10.2)."""
        order = "wall_ms DESC, counter DESC, rowid ASC" if strict_less_defect else \
            "wall_ms DESC, counter DESC, op_id DESC"
        return [_head_row(row) for row in self.db.execute(
            "SELECT op_id, key, wall_ms, counter, type, value, files, key_id FROM object_ops o "
            "WHERE key = ? AND NOT EXISTS (SELECT 1 FROM object_bases b "
            "WHERE b.key = o.key AND b.base_id = o.op_id) "
            f"ORDER BY {order}", (key,))]

    def keys(self):
        return [row[0] for row in self.db.execute("SELECT DISTINCT key FROM object_ops ORDER BY key")]

    def referenced_file_ids(self):
        """Files referenced by a head of any key (winner or conflict): spec 11.4."""
        out = []
        seen = set()
        for (files,) in self.db.execute(
                "SELECT files FROM object_ops o WHERE type = 'put' AND files != '[]' "
                "AND NOT EXISTS (SELECT 1 FROM object_bases b WHERE b.key = o.key AND b.base_id = o.op_id) "
                "ORDER BY key, op_id"):
            for ref in json.loads(files):
                file_id = b64.decode(ref["id"])
                if file_id not in seen:
                    seen.add(file_id)
                    out.append(file_id)
        return out

    # ---- files -----------------------------------------------------------------------------

    def file_row(self, file_id):
        row = self.db.execute(
            "SELECT file_id, name, size_bytes, chunk_bytes, chunk_count, sha256, key_id, local_copy, "
            "upload_flag, delete_sent, delete_answered_server_ms, note FROM files WHERE file_id = ?",
            (file_id,)).fetchone()
        return None if row is None else FileRow(*row)

    def file_rows(self):
        return [FileRow(*row) for row in self.db.execute(
            "SELECT file_id, name, size_bytes, chunk_bytes, chunk_count, sha256, key_id, local_copy, "
            "upload_flag, delete_sent, delete_answered_server_ms, note FROM files ORDER BY file_id")]

    def update_file(self, file_id, **columns):
        assignments = ", ".join(f"{name} = ?" for name in columns)
        self.db.execute(f"UPDATE files SET {assignments} WHERE file_id = ?", (*columns.values(), file_id))

    def forget_file(self, file_id):
        self.db.execute("DELETE FROM files WHERE file_id = ?", (file_id,))
        self.db.execute("DELETE FROM file_chunks WHERE file_id = ?", (file_id,))

    def chunks_written(self, file_id):
        return {row[0] for row in self.db.execute("SELECT idx FROM file_chunks WHERE file_id = ?", (file_id,))}

    def record_chunk(self, file_id, index):
        self.db.execute("INSERT OR IGNORE INTO file_chunks(file_id, idx) VALUES (?, ?)", (file_id, index))

    def clear_chunks(self, file_id):
        self.db.execute("DELETE FROM file_chunks WHERE file_id = ?", (file_id,))

    def copy_path(self, file_id):
        return os.path.join(self.files_directory, file_id.hex())

    def partial_path(self, file_id):
        return self.copy_path(file_id) + ".part"

    # ---- invariants ------------------------------------------------------------------------

    def check_invariants(self, block_size):
        rows = self.db.execute("SELECT seq, id, hash, prefix_hash, encoding FROM mirror ORDER BY seq").fetchall()
        hasher = opsmod.PrefixHasher(block_size)
        for expected_seq, (seq, op_id, op_hash, prefix_hash, encoding) in enumerate(rows, start=1):
            assert seq == expected_seq, f"mirror gap at {expected_seq}"
            op = opsmod.decode_op(encoding)
            assert op.id == op_id and op.hash() == op_hash, f"mirror row {seq} inconsistent"
            assert hasher.add(op_hash) == prefix_hash, f"prefix hash at {seq} is not chained"
        both = self.db.execute("SELECT COUNT(*) FROM mirror JOIN pending USING (id)").fetchone()[0]
        assert both == 0, "an operation both in the mirror and pending"
        missing = self.db.execute(
            "SELECT COUNT(*) FROM (SELECT id FROM mirror UNION ALL SELECT id FROM pending) h "
            "WHERE h.id NOT IN (SELECT op_id FROM object_ops) AND h.id NOT IN (SELECT op_id FROM unreadable)"
        ).fetchone()[0]
        assert missing == 0, f"{missing} operations neither applied nor unreadable"


class FileRow:
    __slots__ = ("file_id", "name", "size_bytes", "chunk_bytes", "chunk_count", "sha256", "key_id",
                 "local_copy", "upload_flag", "delete_sent", "delete_answered_server_ms", "note")

    def __init__(self, *values):
        for name, value in zip(self.__slots__, values):
            setattr(self, name, value)

    def ref(self):
        return {"id": self.file_id, "name": self.name, "size_bytes": self.size_bytes,
                "chunk_bytes": self.chunk_bytes, "chunk_count": self.chunk_count, "sha256": self.sha256}


class Head:
    __slots__ = ("op_id", "key", "wall_ms", "counter", "type", "value", "files", "key_id")

    def __init__(self, *values):
        for name, value in zip(self.__slots__, values):
            setattr(self, name, value)


def _head_row(row):
    head = Head(*row)
    head.files = [_file_ref_from_json(ref) for ref in json.loads(head.files)]
    return head


def _file_ref_to_json(ref):
    return {"id": b64.encode(ref["id"]), "name": ref["name"], "size_bytes": ref["size_bytes"],
            "chunk_bytes": ref["chunk_bytes"], "chunk_count": ref["chunk_count"],
            "sha256": b64.encode(ref["sha256"])}


def _file_ref_from_json(ref):
    return {"id": b64.decode(ref["id"]), "name": ref["name"], "size_bytes": ref["size_bytes"],
            "chunk_bytes": ref["chunk_bytes"], "chunk_count": ref["chunk_count"],
            "sha256": b64.decode(ref["sha256"])}
