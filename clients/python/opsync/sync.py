"""One sync (spec 9.1 and 11.4), step by step, each step durable before the next (SYNC-012).

    1. GET /v1/info: the version check (VER-002), the limits, the clock offset (HLC-010).
    2. GET /ops?after_seq=m: the prefix check (SYNC-001).
    3. Only if it fails: the divergence search over block hashes (SYNC-002); the mirror after the
       verified prefix p becomes candidates.
    4. Pages after p: each checked whole (SYNC-007, SYNC-014, VER-008), then applied and
       acknowledged in one transaction (SYNC-003, SYNC-004).
    5. Files the outbox references are uploaded and committed (FILE-021), then the operations,
       in batches within the limits (SYNC-013, LIM-003); clock_skew rejections re-stamped
       (HLC-020..HLC-022), other rejections kept and reported (SYNC-011).
    6. Catch-up: acknowledged operations enter the mirror at their positions, read from the
       server unless they directly follow the mirror's end.
    7. Files: every file a head references is reconciled by the table of 11.4; files no head
       references are deleted on the server and their copies kept for file_retention_ms
       (FILE-022, FILE-040).

A step interrupted anywhere (a kill, a lost answer after the retries) leaves the store at the
end of the last step that committed; the next sync starts again from step 1 and finds its way
from what the store holds.
"""

import hashlib
import json
import os
from dataclasses import dataclass, field

from . import b64, crypto, diff, filemath, hlc
from . import ops as opsmod
from .errors import CryptoError, OpSyncError, ProtocolError, ServerError, SyncAborted
from .strictjson import dumps

# Bounds on the loops of one sync (the style of the project: every loop bounded, by name).
DIVERGENCE_SEARCHES_MAX = 4   # a log that changes under every read would otherwise never settle
RESTAMP_ROUNDS_MAX = 3        # HLC-030: re-stamps of one operation in one sync; a server clock set
                              # back makes every re-stamp of it fail again
PAGES_MAX = 1_000_000         # far above any log this client can hold
JSON_BATCH_OVERHEAD_BYTES = 16


class _Diverged(Exception):
    """The server's log no longer extends what the device verified: search again."""


@dataclass
class SyncReport:
    ok: bool = False
    error: str = ""
    error_code: str = ""
    ops_up: int = 0
    ops_down: int = 0
    ops_acknowledged: int = 0
    ops_restamped: int = 0
    ops_rejected: list = field(default_factory=list)
    unreadable: int = 0
    diverged: bool = False
    verified_prefix: int = 0
    files_up: int = 0
    files_down: int = 0
    chunks_up: int = 0
    chunks_down: int = 0
    files_deleted: int = 0
    files_expired: int = 0
    files_pending: list = field(default_factory=list)
    conflicted_keys: int = 0
    clock_offset_ms: int = 0
    unsynced_ops: int = 0
    warnings: list = field(default_factory=list)
    exception: object = field(default=None, repr=False)

    def to_json(self):
        out = dict(self.__dict__)
        del out["exception"]
        return out


class Syncer:
    def __init__(self, client, report):
        self.client = client
        self.store = client.store
        self.env = client.env
        self.api = client.workspace_api()
        self.report = report
        self.block_size = int(self.store.get("block_size"))
        self.info = None
        self.limits = None
        self.files_enabled = False
        self.committed_this_sync = set()
        # Smaller pages than the server's limits: tests use it to exercise paging on short logs.
        self.page_limit = client.page_limit

    # ---- step 1 ----------------------------------------------------------------------------

    def read_info(self):
        info, _ = self.api.info()
        self.client.check_server(info)  # VER-002
        self.info = info
        self.limits = info["limits"]
        self.files_enabled = "files" in info["capabilities"]
        with self.store.transaction():
            self.store.set_json("info", {
                "limits": info["limits"], "capabilities": info["capabilities"],
                "max_clock_skew_ms": info["max_clock_skew_ms"],
                "file_retention_ms": info["file_retention_ms"]})
            self._save_offset()

    def _save_offset(self):
        sample = self.api.best_offset
        if sample is not None:
            self.store.set("clock_offset_ms", sample.offset_ms)
            self.report.clock_offset_ms = sample.offset_ms
            skew_max = self.info["max_clock_skew_ms"] if self.info else None
            if skew_max and abs(sample.offset_ms) > skew_max // 2:  # HLC-011
                warning = (f"this device's clock differs from the server's by {sample.offset_ms} ms, "
                           f"more than half of the {skew_max} ms the server accepts")
                if warning not in self.report.warnings:
                    self.report.warnings.append(warning)

    # ---- steps 2 to 4 ----------------------------------------------------------------------

    def reconcile_log(self):
        for _ in range(DIVERGENCE_SEARCHES_MAX + 1):
            try:
                self._prefix_check_and_pages()
                return
            except _Diverged:
                continue
        raise ProtocolError("protocol_error",
                            f"the server's log changed under {DIVERGENCE_SEARCHES_MAX + 1} reads in a row")

    def _prefix_check_and_pages(self):
        m = self.store.mirror_length()
        page = None
        try:
            page, _ = self.api.get_ops(m, self.page_limit)
        except ServerError as error:
            if error.code != "after_seq_beyond_head":
                raise
        if page is None or page["after_hash"] != self.store.prefix_hash(m):
            p = self._divergence_search()
            page, _ = self.api.get_ops(p, self.page_limit)
        self.report.verified_prefix = self.store.mirror_length()
        self._read_pages(page)

    def _divergence_search(self):
        """Step 3. Returns p, the verified prefix; the mirror after it became candidates."""
        self.report.diverged = True
        m = self.store.mirror_length()
        size = self.block_size
        own_count = m // size
        matched = 0
        start = 0
        while start < own_count:
            page = self.api.get_blocks(start, min(self.page_limit or self.limits["page_blocks_max"],
                                                  self.limits["page_blocks_max"], own_count - start))
            if page["block_size"] != size:
                raise ProtocolError("protocol_error", f"the server reports block size {page['block_size']}, "
                                    f"the workspace has {size}", "block_size")
            blocks = page["blocks"]
            if not blocks:
                break
            if blocks[0]["index"] != start:
                raise ProtocolError("protocol_error", "the block list does not start where asked",
                                    "blocks[0].index")
            own = self.store.own_block_hashes(size, start, len(blocks))
            same = diff.matching_blocks(own, [block["hash"] for block in blocks])
            matched += same
            if same < len(blocks) or page["next_start"] is None:
                break
            start = page["next_start"]
        p = min(matched * size, m)
        with self.store.transaction():
            self.store.truncate_mirror_to_candidates(p)
            # FILE-040: the restore may have undone the DELETEs of kept copies; send them again.
            self.store.db.execute("UPDATE files SET delete_sent = 0, delete_answered_server_ms = NULL "
                                  "WHERE delete_sent = 1")
        self.store.fault("after-divergence-search")
        return p

    def _read_pages(self, page):
        """Steps 4 and 6: ``page`` was read at the mirror's end; reads on until the log's end."""
        for _ in range(PAGES_MAX):
            m = self.store.mirror_length()
            if page["after_seq"] != m:
                raise ProtocolError("protocol_error", f"asked for the operations after {m}, "
                                    f"the answer starts after {page['after_seq']}", "after_seq")
            if page["after_hash"] != self.store.prefix_hash(m):
                raise _Diverged()
            self._apply_page(page)
            if page["next_after_seq"] is None:
                return page["head_seq"]
            page, _ = self.api.get_ops(page["next_after_seq"], self.page_limit)
        raise ProtocolError("protocol_error", "too many pages")

    def _apply_page(self, page):
        ops = [opsmod.Op.from_wire(member) for member in page["ops"]]
        hashes = [op.hash() for op in ops]
        classifier = diff.PageClassifier(self.store.mirror_hash_of, self.store.pending_hash_of)
        # The whole page is judged before anything of it is recorded (SYNC-014).
        decisions = [classifier.classify(op.id, op_hash, f"ops[{i}].id")
                     for i, (op, op_hash) in enumerate(zip(ops, hashes))]
        opened = [self.client.open_op(op) if decision == diff.APPLY else None
                  for op, decision in zip(ops, decisions)]
        clock = self.client.clock()
        physical = self.client.physical_ms()
        with self.store.transaction():
            hasher = self.store.prefix_hasher(self.block_size)
            for member, op, op_hash, decision, payload in zip(page["ops"], ops, hashes, decisions, opened):
                seq = hasher.position + 1
                if seq != member["seq"]:  # checked with the page; kept as an always-on invariant
                    raise ProtocolError("page_gap", f"operation at {member['seq']} where {seq} was due", "seq")
                self.store.append_mirror(seq, op, op_hash, hasher.add(op_hash))
                if decision == diff.ACKNOWLEDGE:
                    self.store.remove_pending(op.id)
                    self.report.ops_acknowledged += 1
                else:
                    self.client.apply_opened(op, payload)
                    if not isinstance(payload, OpSyncError):
                        # HLC-002: take in the timestamp of every operation applied.
                        clock = hlc.observe(clock, hlc.Timestamp(op.wall_ms, op.counter), physical)
                    else:
                        self.report.unreadable += 1
                    self.report.ops_down += 1
                self.store.fault("page-op")
            self.client.set_clock(clock)
        self.store.fault("after-page")

    # ---- step 5 ----------------------------------------------------------------------------

    def upload_outbox_files(self):
        """FILE-021: the files the outbox references are committed before the operations."""
        if not self.files_enabled:
            return
        wanted = []
        for (plaintext,) in self.store.db.execute(
                "SELECT plaintext FROM pending WHERE state = 'pending' AND plaintext IS NOT NULL ORDER BY ord"):
            payload = json.loads(plaintext)
            for ref in payload.get("files", []):
                file_id = b64.decode(ref["id"])
                row = self.store.file_row(file_id)
                if row is not None and row.local_copy and file_id not in wanted:
                    wanted.append(file_id)
        if wanted:
            self._reconcile(wanted, True)

    def upload(self):
        skewed_without_restamp = set()
        # How often each operation was rejected for clock_skew in this sync. The bound is per
        # operation, not per sync: an outbox of many batches written under a clock far ahead has
        # every batch rejected once, and each is accepted after its one re-stamp.
        skew_rejections = {}
        while True:
            rows = [row for row in self.store.pending_to_upload(self.limits["batch_ops_max"] + len(skewed_without_restamp))
                    if row[1] not in skewed_without_restamp]
            batch = self._fit_batch(rows)
            if not batch:
                return
            wire = [opsmod.decode_op(encoding).to_wire() for _, _, encoding, _ in batch]
            ids = [op_id for _, op_id, _, _ in batch]
            retry = self._fresh_ids_on_retry(batch) if self.env.has_defect("retry-fresh-ids") else None
            answer, _ = self.api.upload_ops(wire, on_retry=retry)
            if retry is not None:
                ids = retry.current_ids
            self.store.fault("after-upload-answer")
            results = answer["results"]
            if len(results) != len(ids) or any(r["id"] != op_id for r, op_id in zip(results, ids)):
                raise ProtocolError("protocol_error", "the upload's results do not match its operations "
                                    "one for one (LOG-025)", "results")
            skewed = []
            with self.store.transaction():
                for result in results:
                    if result["status"] in ("accepted", "duplicate"):  # SYNC-006
                        self.store.mark_acked(result["id"], result["seq"])
                        self.report.ops_up += 1
                    elif result["code"] == "clock_skew":
                        skewed.append(result["id"])
                    else:  # SYNC-011: kept, no longer uploaded, reported
                        self.store.mark_rejected(result["id"], result["code"], result["message"])
                        self.report.ops_rejected.append({"id": b64.encode(result["id"]), "code": result["code"],
                                                         "message": result["message"]})
            self.store.fault("after-upload-recorded")
            if skewed:
                for op_id in skewed:
                    skew_rejections[op_id] = skew_rejections.get(op_id, 0) + 1
                if max(skew_rejections[op_id] for op_id in skewed) > RESTAMP_ROUNDS_MAX:
                    raise SyncAborted("clock_skew", "the server keeps rejecting re-stamped operations as "
                                      "ahead of its clock; is its clock set back? (HLC-030)")
                skewed_without_restamp |= self._restamp(skewed)

    def _fit_batch(self, rows):
        """As many operations, in order, as the batch and body limits allow (LIM-003)."""
        body_max = self.limits["request_body_bytes_max"]
        size = JSON_BATCH_OVERHEAD_BYTES
        batch = []
        for row in rows[:self.limits["batch_ops_max"]]:
            op_bytes = len(dumps(opsmod.decode_op(row[2]).to_wire())) + 1
            if batch and size + op_bytes > body_max:
                break
            size += op_bytes
            batch.append(row)
        return batch

    def _restamp(self, skewed_ids):
        """HLC-020..HLC-022. Returns the ids that may not be re-stamped (seen by others)."""
        self.api.reset_offset_samples()
        self.read_info()  # refresh the offset first
        physical = self.client.physical_ms()
        rows = self.store.db.execute(
            f"SELECT id, encoding, plaintext, former_seq FROM pending WHERE id IN "
            f"({','.join('?' * len(skewed_ids))}) ORDER BY wall_ms, counter, ord", skewed_ids).fetchall()
        cannot = set()
        with self.store.transaction():
            clock = hlc.Timestamp(*self.store.max_accepted_timestamp())
            for op_id, encoding, plaintext, former_seq in rows:
                if plaintext is None or former_seq is not None:
                    # A candidate: other devices have seen it (HLC-022). It waits for the
                    # server's clock; it is reported, not changed.
                    cannot.add(op_id)
                    self.report.warnings.append(f"operation {b64.encode(op_id)} was accepted before and is "
                                                "now rejected as ahead of the server's clock")
                    continue
                old = opsmod.decode_op(encoding)
                clock = hlc.stamp(clock, physical)
                op = self.client.seal_op(old.id, old.key_id, clock, plaintext)
                self.store.replace_pending_op(old.id, op, plaintext)
                self.store.restamp_object_op(old.id, old.id, op.wall_ms, op.counter)
                self.report.ops_restamped += 1
            self.client.set_clock(max(clock, self.client.clock()) if cannot else clock)
        self.store.fault("after-restamp")
        return cannot

    def _fresh_ids_on_retry(self, batch):
        """The retry-fresh-ids defect: a lost answer taken for a failure, and the operations
        made again under new ids. A correct client sends the same bytes again (SYNC-008)."""
        client = self.client
        store = self.store
        state = {"ids": [row[1] for row in batch]}

        def rebuild(request):
            new_ids = []
            wire = []
            with store.transaction():
                for op_id in state["ids"]:
                    row = store.db.execute("SELECT encoding, plaintext FROM pending WHERE id = ?",
                                           (op_id,)).fetchone()
                    old = opsmod.decode_op(row[0])
                    if row[1] is None:
                        new_ids.append(op_id)
                        wire.append(old.to_wire())
                        continue
                    new_id = client.env.random_bytes(16)
                    op = client.seal_op(new_id, old.key_id, hlc.Timestamp(old.wall_ms, old.counter), row[1])
                    store.replace_pending_op(op_id, op, row[1])
                    store.restamp_object_op(op_id, new_id, op.wall_ms, op.counter)
                    new_ids.append(new_id)
                    wire.append(op.to_wire())
            state["ids"] = new_ids
            request.body = dumps({"ops": wire})
            return request

        return _Rebuild(rebuild, state)

    # ---- step 6 ----------------------------------------------------------------------------

    def catch_up(self):
        acked = self.store.acked_rows()
        if not acked:
            return
        m = self.store.mirror_length()
        if [seq for _, seq, _, _ in acked] == list(range(m + 1, m + 1 + len(acked))):
            # They directly follow the mirror's end: no read needed.
            with self.store.transaction():
                hasher = self.store.prefix_hasher(self.block_size)
                for op_id, seq, encoding, op_hash in acked:
                    op = opsmod.decode_op(encoding)
                    self.store.append_mirror(seq, op, op_hash, hasher.add(op_hash))
                    self.store.remove_pending(op_id)
            self.store.fault("after-catch-up")
            return
        for _ in range(DIVERGENCE_SEARCHES_MAX + 1):
            try:
                page, _ = self.api.get_ops(self.store.mirror_length(), self.page_limit)
                self._read_pages(page)
                break
            except _Diverged:
                self.reconcile_log()
                break
        leftover = self.store.acked_rows()
        if leftover:
            # The server named positions the log does not show them at: upload them again
            # (uploads are idempotent, LOG-004) rather than trust either answer.
            with self.store.transaction():
                for op_id, seq, _, _ in leftover:
                    self.store.db.execute("UPDATE pending SET state = 'pending', acked_seq = NULL WHERE id = ?",
                                          (op_id,))
            self.report.warnings.append(f"{len(leftover)} acknowledged operations were not at the positions "
                                        "the server gave; they will be uploaded again")

    # ---- step 7 ----------------------------------------------------------------------------

    def reconcile_files(self):
        if not self.files_enabled:
            referenced = self.store.referenced_file_ids()
            missing = [f for f in referenced if not self._has_copy(self.store.file_row(f))]
            for file_id in missing:
                self.report.files_pending.append({"id": b64.encode(file_id), "reason": "server_without_files"})
            return
        referenced = self.store.referenced_file_ids()
        self._reconcile(referenced, False)
        self._delete_unreferenced(set(referenced))

    def _file_states(self, file_ids):
        states = {}
        step = self.limits["file_status_ids_max"]
        for start in range(0, len(file_ids), step):
            chunk = file_ids[start:start + step]
            answer = self.api.file_status([b64.encode(f) for f in chunk])
            listed = answer["files"]
            if [entry["file_id"] for entry in listed] != chunk:
                raise ProtocolError("protocol_error", "the file status list does not follow the request "
                                    "(FILE-007)", "files")
            for entry in listed:
                states[entry["file_id"]] = entry["state"]
        return states

    def _has_copy(self, row):
        return row is not None and row.local_copy and os.path.exists(self.store.copy_path(row.file_id))

    def _reconcile(self, file_ids, outbox_only):
        states = self._file_states(file_ids)
        for file_id in file_ids:
            row = self.store.file_row(file_id)
            if row is None:
                continue
            present = self._has_copy(row)
            if row.local_copy and not present:
                with self.store.transaction():
                    self.store.update_file(file_id, local_copy=0)
            if row.delete_sent and not outbox_only:
                # Referenced again: the kept copy is a present local copy (FILE-040).
                with self.store.transaction():
                    self.store.update_file(file_id, delete_sent=0, delete_answered_server_ms=None)
            if file_id in self.committed_this_sync:
                continue
            action = filemath.file_action(present, bool(row.upload_flag), states[file_id])
            try:
                self._act(row, action)
            except (ServerError, CryptoError, ProtocolError) as error:
                if isinstance(error, ServerError) and error.status in (401, 403) or \
                        isinstance(error, ServerError) and error.status >= 500:
                    raise
                # This file cannot be transferred now (a refusal, a chunk that does not open or
                # has the wrong length); the operations go ahead (FILE-021), the other files are
                # reconciled, and this one is reported pending with the reason.
                self.report.files_pending.append({"id": b64.encode(file_id), "reason": error.code})
                self.report.warnings.append(f"file {b64.encode(file_id)}: {action}: {error}")
                with self.store.transaction():
                    self.store.update_file(file_id, note=f"{action}: {error.code}")

    def _act(self, row, action):
        file_id = row.file_id
        text = b64.encode(file_id)
        if action == "none":
            self._mark_committed(row)
        elif action == "upload":
            status = self.api.create_file(text, row.chunk_count)
            self._upload_chunks(row, status)
        elif action == "resume_upload":
            self._upload_chunks(row, self.api.get_file(text))
        elif action == "restore":
            try:
                status = self.api.commit_file(text, row.chunk_count)
                self._after_commit(row, status)
            except ServerError as error:
                if error.code != "file_not_found":
                    raise
                self._upload_chunks(row, self.api.create_file(text, row.chunk_count))
        elif action == "download":
            self._download(row)
        elif action == "restore_then_download":
            self.api.commit_file(text, row.chunk_count)
            self._download(row)
        elif action in ("wait", "missing"):
            self.report.files_pending.append({"id": text, "reason": action})  # FILE-033
        else:
            raise AssertionError(action)

    def _mark_committed(self, row):
        self.committed_this_sync.add(row.file_id)
        if not row.upload_flag:
            with self.store.transaction():
                self.store.update_file(row.file_id, upload_flag=1, note=None)

    def _after_commit(self, row, status):
        if status["state"] != "committed":
            raise ProtocolError("protocol_error", f"a commit answered state {status['state']}", "state")
        self._mark_committed(row)

    def _upload_chunks(self, row, status):
        text = b64.encode(row.file_id)
        if status["chunk_count"] != row.chunk_count:
            raise ProtocolError("protocol_error", "the server holds the file with another chunk count",
                                "chunk_count")
        if status["state"] == "committed":
            return self._mark_committed(row)
        if status["state"] == "deleted":
            return self._after_commit(row, self.api.commit_file(text, row.chunk_count))
        missing = list(filemath.indexes_of(status["chunks_missing"]))
        if self.env.has_defect("no-resume"):
            missing = list(range(row.chunk_count))  # the defect: every chunk, every time
        key = self.client.keyring().chunk_key(row.key_id)
        path = self.store.copy_path(row.file_id)
        with open(path, "rb") as copy:
            for index in missing:
                # FILE-032: one chunk in memory at a time.
                copy.seek(index * row.chunk_bytes)
                plaintext = copy.read(filemath.chunk_size(row.size_bytes, row.chunk_bytes, index))
                envelope = crypto.seal(key, self.env.random_bytes(crypto.NONCE_BYTES), plaintext,
                                       crypto.chunk_ad(row.file_id, index, row.chunk_count))
                stored = self.api.put_chunk(text, index, envelope)
                if stored["index"] != index or stored["file_id"] != row.file_id:
                    raise ProtocolError("protocol_error", "the chunk answer names another chunk", "index")
                self.report.chunks_up += 1
                self.store.fault("after-chunk-upload")
        status = self.api.commit_file(text, row.chunk_count)
        self._after_commit(row, status)
        self.report.files_up += 1

    def _download(self, row):
        text = b64.encode(row.file_id)
        part = self.store.partial_path(row.file_id)
        written = self.store.chunks_written(row.file_id)
        if written and not os.path.exists(part):
            written = set()
            with self.store.transaction():
                self.store.clear_chunks(row.file_id)
        keyring = self.client.keyring()
        key_ids = [row.key_id] + [k for k in reversed(keyring.key_ids()) if k != row.key_id]
        mode = "r+b" if os.path.exists(part) else "w+b"
        with open(part, mode) as out:
            for index in range(row.chunk_count):
                if index in written:
                    continue
                envelope = self.api.get_chunk(text, index)
                plaintext = _open_chunk(keyring, key_ids, envelope, row.file_id, index, row.chunk_count)
                if len(plaintext) != filemath.chunk_size(row.size_bytes, row.chunk_bytes, index):
                    raise ProtocolError("protocol_error", f"chunk {index} has the wrong length", "body")
                out.seek(index * row.chunk_bytes)
                out.write(plaintext)
                self.store.sync_file(out)
                with self.store.transaction():
                    self.store.record_chunk(row.file_id, index)
                self.report.chunks_down += 1
                self.store.fault("after-chunk-download")
            out.truncate(row.size_bytes)
        if _sha256_of(part) != row.sha256:
            # FILE-023: a copy that does not match its reference is discarded.
            os.unlink(part)
            with self.store.transaction():
                self.store.clear_chunks(row.file_id)
            self.report.files_pending.append({"id": text, "reason": "sha256_mismatch"})
            return
        os.replace(part, self.store.copy_path(row.file_id))
        self.store.sync_directory()
        with self.store.transaction():
            self.store.update_file(row.file_id, local_copy=1, upload_flag=1, note=None)
            self.store.clear_chunks(row.file_id)
        self.committed_this_sync.add(row.file_id)
        self.report.files_down += 1

    def _delete_unreferenced(self, referenced):
        """FILE-022 and FILE-040."""
        retention_ms = self.info["file_retention_ms"]
        for row in self.store.file_rows():
            if row.file_id in referenced:
                continue
            text = b64.encode(row.file_id)
            if not row.delete_sent:
                try:
                    _, response = self.api.delete_file(text)
                    answered = _server_time(response, self.api.last_server_time_ms)
                except ServerError as error:
                    # file_not_found: nothing to delete. file_not_committed: an upload nobody
                    # finished, which the server lets expire (upload_expiry_ms); sending the
                    # DELETE again at every sync until then would keep the device from ever
                    # being quiet. Either way the DELETE was answered.
                    if error.code not in ("file_not_found", "file_not_committed"):
                        raise
                    answered = self.api.last_server_time_ms
                with self.store.transaction():
                    self.store.update_file(row.file_id, delete_sent=1, delete_answered_server_ms=answered)
                self.report.files_deleted += 1
                continue
            now = self.api.last_server_time_ms
            if row.delete_answered_server_ms is not None and now is not None and \
                    now >= row.delete_answered_server_ms + retention_ms:
                for path in (self.store.copy_path(row.file_id), self.store.partial_path(row.file_id)):
                    if os.path.exists(path):
                        os.unlink(path)
                with self.store.transaction():
                    self.store.forget_file(row.file_id)
                self.report.files_expired += 1


class _Rebuild:
    """The on_retry callback of the retry-fresh-ids defect, with the ids it last sent."""

    def __init__(self, function, state):
        self._function = function
        self._state = state

    def __call__(self, request):
        return self._function(request)

    @property
    def current_ids(self):
        return self._state["ids"]


def _open_chunk(keyring, key_ids, envelope, file_id, index, count):
    ad = crypto.chunk_ad(file_id, index, count)
    for key_id in key_ids:
        if key_id not in keyring:
            continue
        try:
            return crypto.open_envelope(keyring.chunk_key(key_id), envelope, ad)
        except CryptoError:
            continue
    raise CryptoError("decrypt_failed", f"chunk {index} of file {b64.encode(file_id)} does not open")


def _sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while True:
            block = handle.read(1 << 20)
            if not block:
                return digest.digest()
            digest.update(block)


def _server_time(response, fallback):
    text = response.header("OpSync-Server-Time-Ms")
    return int(text) if text is not None and text.isdigit() else fallback


def run_sync(client):
    """Runs one whole sync; returns its SyncReport (``ok`` False with the error if it stopped)."""
    report = SyncReport()
    syncer = Syncer(client, report)
    try:
        client._finish_key_record()
        syncer.read_info()
        syncer.reconcile_log()
        syncer.upload_outbox_files()
        syncer.upload()
        syncer.catch_up()
        syncer.reconcile_files()
        with client.store.transaction():
            syncer._save_offset()
        report.ok = True
    except OpSyncError as error:
        # Anything else (a fault a test injects, a bug) propagates: like a kill, it leaves the
        # store at the last committed step.
        report.error = str(error)
        report.error_code = error.code
        report.exception = error
    report.conflicted_keys = client.conflicted_key_count()
    counts = client.store.pending_counts()
    report.unsynced_ops = counts.get("pending", 0) + counts.get("acked", 0)
    with client.store.transaction():
        client.store.set("last_sync_wall_ms", client.env.wall_ms())
        client.store.set("last_sync_ok", 1 if report.ok else 0)
        client.store.set("last_sync_error", report.error)
    return report
