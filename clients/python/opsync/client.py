"""The client an application uses: one device's copy of one workspace, in one directory.

    client, passphrase = Client.create_workspace("laptop", "http://127.0.0.1:8420", password)
    client = Client.join("phone", url, workspace_id, token, password, passphrase)
    client = Client.open("phone")
    client.put("greeting", b"hello")        # works offline: committed locally, synced later
    client.attach("greeting", "photo.jpg")
    report = client.sync()
    client.get("greeting")                  # KeyView: value, files, conflicts

Time, randomness and the network come from an ``Environment`` and a transport factory, both
injectable (``env.py``, ``transport.py``). A ``Client`` is not thread-safe; two processes may
open one directory (SQLite serializes them) and only one of them syncs at a time (SYNC-009).
"""

import fcntl
import hashlib
import os
import shutil
from dataclasses import dataclass, field

from . import api as apimod
from . import b64, crypto, filemath, hlc, messages
from . import ops as opsmod
from .env import Environment
from .errors import CryptoError, InvalidMessage, OpSyncError, ServerError
from .store import Store
from .strictjson import dumps
from .sync import run_sync
from .transport import HttpTransport

BASES_MAX = 64
FILES_PER_PUT_MAX = 64
KEY_BYTES_MAX = 1024
# Chunk size of files this client attaches: the server's advertised chunk_bytes, but no more than
# this, since a chunk is held in memory whole (FILE-032); the floor when no server was asked yet.
ATTACH_CHUNK_BYTES_MAX = 1 << 20
PASSPHRASE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32: no I, L, O, U
PASSPHRASE_SYMBOLS = 32  # 160 bits (CRY-003 asks for at least 128)


@dataclass
class Side:
    """One head of a key: the winner or a conflict."""

    op_id: str
    type: str
    value: bytes
    files: list
    wall_ms: int
    counter: int


@dataclass
class KeyView:
    key: str
    present: bool
    value: bytes = None
    files: list = field(default_factory=list)
    winner: Side = None
    conflicts: list = field(default_factory=list)


def _all_key_records(api, page_keys_max):
    """Every key record, page by page (KEY-001); bounded by the number of key ids."""
    records = []
    after = None
    for _ in range(1 + 2**32 // max(page_keys_max, 1)):
        page = api.list_keys(after)
        records.extend(page["keys"])
        after = page["next_after"]
        if after is None:
            return records
    raise OpSyncError("protocol_error", "the key list does not end")


def generate_passphrase(random_bytes):
    """CRY-003: 160 bits from the secure source, as 8 groups of 4 base32 symbols."""
    number = int.from_bytes(random_bytes(PASSPHRASE_SYMBOLS * 5 // 8), "big")
    symbols = []
    for _ in range(PASSPHRASE_SYMBOLS):
        symbols.append(PASSPHRASE_ALPHABET[number & 31])
        number >>= 5
    text = "".join(symbols)
    return "-".join(text[i:i + 4] for i in range(0, len(text), 4))


def check_key(key):
    if not isinstance(key, str) or not key or "\x00" in key or len(key.encode("utf-8")) > KEY_BYTES_MAX:
        raise OpSyncError("usage", "a key is 1 to 1,024 bytes of UTF-8 without U+0000 (LWW-001)")


def check_file_name(name):
    size = len(name.encode("utf-8"))
    if not 1 <= size <= 255 or any(c in name for c in "/\\\x00") or name in (".", ".."):
        raise OpSyncError("usage", f"{name!r} cannot be a file name: 1 to 255 bytes of UTF-8 without "
                          "/, \\ or U+0000, neither . nor .. (LWW-002)")


class Client:
    def __init__(self, directory, env=None, transport_factory=None, attempts_max=None, fault_point=None,
                 durability="full"):
        self.env = env or Environment()
        self.store = Store(directory, fault_point, durability)
        self.directory = self.store.directory
        self.transport_factory = transport_factory or (lambda url: HttpTransport(url))
        self.attempts_max = attempts_max or apimod.ATTEMPTS_MAX_DEFAULT
        self._keyring = None
        self._transport = None
        self.observer = None  # (request, response or error) -> None, for traces and tests
        self.page_limit = None  # a `limit` for pages of operations and blocks (None: the server's)
        self.attach_chunk_bytes = None  # chunk size of attached files (None: see ATTACH_CHUNK_BYTES_MAX)

    # ---- opening, creating, joining --------------------------------------------------------

    @classmethod
    def open(cls, directory, **options):
        if not os.path.exists(os.path.join(directory, "state.sqlite3")):
            raise OpSyncError("not_initialized", f"{directory} holds no workspace: run init first")
        client = cls(directory, **options)
        if not client.store.initialized():
            client.close()
            raise OpSyncError("not_initialized", f"{directory} holds no workspace: run init first")
        return client

    @classmethod
    def create_workspace(cls, directory, server_url, password, passphrase=None,
                         kdf_iterations=crypto.KDF_ITERATIONS_NEW, **options):
        """Creates a workspace on the server and this device's copy of it; returns
        (client, passphrase). The passphrase is shown once: every other device needs it.

        ``kdf_iterations`` stays at its default (CRY-002) in real use; the tests lower it so that
        each of their workspaces costs milliseconds, not a third of a second, to set up."""
        client = cls._fresh(directory, **options)
        try:
            passphrase = passphrase or generate_passphrase(client.env.random_bytes)
            plain = client._plain_api(server_url)
            info, _ = plain.info()
            client.check_server(info)
            created, _ = plain.create_workspace()
            data_key = client.env.random_bytes(crypto.DATA_KEY_BYTES)
            kek = crypto.derive_kek(password, passphrase, kdf_iterations)
            wrapped = crypto.wrap_key(kek, data_key, created["workspace_id"], 1,
                                      client.env.random_bytes(crypto.NONCE_BYTES))
            with client.store.transaction():
                client._save_identity(server_url, created["workspace_id"], created["owner_token"],
                                      created["block_size"], "owner", info)
                client.store.add_data_key(1, data_key)
                # Written before the key record is sent, so that a kill between the two is
                # finished by the next command without the password (the record is ciphertext).
                client.store.set("key_record_pending", b64.encode(wrapped))
                client.store.set("key_record_iterations", kdf_iterations)
            client._finish_key_record()
            return client, passphrase
        except BaseException:
            client.close()
            raise

    @classmethod
    def join(cls, directory, server_url, workspace_id, token, password, passphrase, **options):
        """Joins a workspace with an invitation (workspace id and token) and the password and
        passphrase its owner chose; unwraps every key record (CRY-011)."""
        workspace_bytes = b64.decode(workspace_id) if isinstance(workspace_id, str) else None
        if workspace_bytes is None or len(workspace_bytes) != 16:
            raise OpSyncError("usage", "a workspace id is 22 characters of base64url")
        client = cls._fresh(directory, **options)
        try:
            plain = client._plain_api(server_url)
            info, _ = plain.info()
            client.check_server(info)
            api = apimod.WorkspaceApi(client._transport_for(server_url), client.env, workspace_id, token,
                                      attempts_max=client.attempts_max, observer=client._observe)
            entry = api.token_self()
            records = _all_key_records(api, info["limits"]["page_keys_max"])
            if not records:
                raise OpSyncError("no_key", "the workspace has no key record: its creator has not "
                                  "finished setting it up")
            keks = {}
            data_keys = {}
            for record in records:
                iterations = record["kdf"]["iterations"]
                if iterations not in keks:
                    keks[iterations] = crypto.derive_kek(password, passphrase, iterations)
                data_keys[record["key_id"]] = crypto.unwrap_key(keks[iterations], record["wrapped_key"],
                                                                workspace_bytes, record["key_id"])
            block_size = api.get_blocks(0, 1)["block_size"]
            with client.store.transaction():
                client._save_identity(server_url, workspace_bytes, token, block_size, entry["scope"], info)
                for key_id, data_key in data_keys.items():
                    client.store.add_data_key(key_id, data_key)
            return client
        except BaseException:
            client.close()
            raise

    @classmethod
    def _fresh(cls, directory, **options):
        if os.path.exists(os.path.join(directory, "state.sqlite3")):
            probe = Store(directory)
            initialized = probe.initialized()
            probe.close()
            if initialized:
                raise OpSyncError("usage", f"{directory} already holds a workspace")
        return cls(directory, **options)

    def _save_identity(self, server_url, workspace_id, token, block_size, scope, info):
        store = self.store
        store.set("server_url", server_url)
        store.set("workspace_id", workspace_id)
        store.set("token", token)
        store.set("scope", scope)
        store.set("device_id", self.env.random_bytes(16))  # OP-003: drawn once, kept
        store.set("block_size", block_size)
        store.set("hlc_wall_ms", 0)
        store.set("hlc_counter", 0)
        store.set_json("info", {"limits": info["limits"], "capabilities": info["capabilities"],
                                "max_clock_skew_ms": info["max_clock_skew_ms"],
                                "file_retention_ms": info["file_retention_ms"]})

    def _finish_key_record(self):
        wrapped_text = self.store.get("key_record_pending")
        if wrapped_text is None:
            return
        api = self.workspace_api()
        try:
            api.put_key(1, 0, int(self.store.get("key_record_iterations")), wrapped_text)
        except ServerError as error:
            # A retry whose first answer was lost finds the record there already: it must be ours.
            if error.code != "version_conflict":
                raise
            records = api.list_keys()["keys"]
            if not any(r["key_id"] == 1 and b64.encode(r["wrapped_key"]) == wrapped_text for r in records):
                raise
        with self.store.transaction():
            self.store.db.execute("DELETE FROM meta WHERE name = 'key_record_pending'")

    def close(self):
        if self._transport is not None and hasattr(self._transport, "close"):
            self._transport.close()
        self.store.close()

    # ---- plumbing the sync engine uses -----------------------------------------------------

    def _observe(self, request, outcome):
        if self.observer is not None:
            self.observer(request, outcome)

    def _transport_for(self, url):
        if self._transport is None:
            self._transport = self.transport_factory(url)
        return self._transport

    def _plain_api(self, url):
        return apimod.Api(self._transport_for(url), self.env, attempts_max=self.attempts_max,
                          observer=self._observe)

    def workspace_api(self):
        url = self.store.get("server_url")
        return apimod.WorkspaceApi(self._transport_for(url), self.env,
                                   b64.encode(self.store.get("workspace_id")), self.store.get("token"),
                                   attempts_max=self.attempts_max, observer=self._observe)

    @staticmethod
    def check_server(info):
        """VER-002: only an OpSync server serving version 1."""
        if info["protocol"] != "opsync" or 1 not in info["versions"]:
            raise OpSyncError("unsupported_server", "the server does not serve OpSync version 1")

    def keyring(self):
        if self._keyring is None:
            self._keyring = crypto.Keyring(self.store.data_keys())
        return self._keyring

    def device_id(self):
        return self.store.get("device_id")

    def workspace_id(self):
        return self.store.get("workspace_id")

    def clock(self):
        return hlc.Timestamp(int(self.store.get("hlc_wall_ms", 0)), int(self.store.get("hlc_counter", 0)))

    def set_clock(self, timestamp):
        self.store.set("hlc_wall_ms", timestamp.wall_ms)
        self.store.set("hlc_counter", timestamp.counter)

    def physical_ms(self):
        """pt of spec 8.1: the device clock corrected by the last offset estimate (HLC-010,
        HLC-012: zero without one)."""
        return self.env.wall_ms() + int(self.store.get("clock_offset_ms", 0))

    def limits(self):
        info = self.store.get_json("info") or {}
        return info.get("limits") or {}

    def seal_op(self, op_id, key_id, timestamp, plaintext):
        """An operation stamped ``timestamp`` whose payload seals ``plaintext`` (CRY-020)."""
        device_id = self.device_id()
        header = opsmod.op_header(1, op_id, device_id, timestamp.wall_ms, timestamp.counter, key_id)
        payload = crypto.seal(self.keyring().op_key(key_id), self.env.random_bytes(crypto.NONCE_BYTES),
                              plaintext, crypto.op_payload_ad(header))
        return opsmod.Op(op_id, device_id, timestamp.wall_ms, timestamp.counter, key_id, payload)

    def open_op(self, op):
        """The checked payload of an operation, or the OpSyncError that keeps it unread."""
        if op.key_id not in self.keyring():
            return OpSyncError("unknown_key", f"no data key {op.key_id}: run `unlock` with the password")
        try:
            # SEC-002: the associated data comes from the operation in hand.
            plaintext = crypto.open_envelope(self.keyring().op_key(op.key_id), op.payload,
                                             crypto.op_payload_ad(op.header()))
            return messages.parse_message("Payload", plaintext)
        except (CryptoError, InvalidMessage) as error:
            return error

    def apply_opened(self, op, payload):
        if isinstance(payload, OpSyncError):
            # VER-007, LWW-003: held in the log, not applied, reported.
            self.store.mark_unreadable(op.id, op.key_id, payload.code, str(payload))
        else:
            self.store.apply_object_op(op.id, op.key_id, op.wall_ms, op.counter, payload)

    def conflicted_key_count(self):
        return sum(1 for key in self.store.keys() if len(self.store.heads(key)) > 1)

    def _strict_less(self):
        return self.env.has_defect("lww-strict-less")

    # ---- local writes ----------------------------------------------------------------------

    def put(self, key, value, files=None):
        """Sets ``key`` to ``value`` (bytes), keeping the files of the current winner unless
        ``files`` (a list of refs) is given. Returns the new operation's id."""
        check_key(key)
        if isinstance(value, str):
            value = value.encode("utf-8")
        with self.store.transaction():
            if files is None:
                heads = self._heads(key)
                files = heads[0].files if heads and heads[0].type == "put" else []
            return self._write(key, "put", value, files)

    def delete(self, key):
        check_key(key)
        with self.store.transaction():
            return self._write(key, "delete")

    def attach(self, key, path, name=None):
        """Attaches the file at ``path`` to ``key`` (a put keeping the value and files). The
        device keeps its own copy (FILE-020). Returns the file reference."""
        check_key(key)
        name = name if name is not None else os.path.basename(os.path.abspath(path))
        check_file_name(name)
        limits = self.limits()
        chunk_bytes = max(filemath.CHUNK_BYTES_MIN,
                          min(limits.get("chunk_bytes", filemath.CHUNK_BYTES_MIN),
                              self.attach_chunk_bytes or ATTACH_CHUNK_BYTES_MAX))
        file_id = self.env.random_bytes(16)
        copy = self.store.copy_path(file_id)
        digest = hashlib.sha256()
        size = 0
        with open(path, "rb") as source, open(copy + ".tmp", "wb") as target:
            while True:
                block = source.read(chunk_bytes)
                if not block:
                    break
                digest.update(block)
                target.write(block)
                size += len(block)
            self.store.sync_file(target)
        count = filemath.chunk_count(size, chunk_bytes)
        if count > limits.get("file_chunks_max", 1024):
            os.unlink(copy + ".tmp")
            raise OpSyncError("usage", f"the file needs {count} chunks; the server takes at most "
                              f"{limits.get('file_chunks_max', 1024)}")
        os.replace(copy + ".tmp", copy)
        self.store.sync_directory()
        ref = {"id": file_id, "name": name, "size_bytes": size, "chunk_bytes": chunk_bytes,
               "chunk_count": count, "sha256": digest.digest()}
        with self.store.transaction():
            heads = self._heads(key)
            winner = heads[0] if heads and heads[0].type == "put" else None
            files = (winner.files if winner else []) + [ref]
            if len(files) > FILES_PER_PUT_MAX:
                raise OpSyncError("usage", f"a key holds at most {FILES_PER_PUT_MAX} files")
            self._write(key, "put", winner.value if winner else b"", files)
            self.store.update_file(file_id, local_copy=1)
        return ref

    def detach(self, key, file_id):
        """Removes one file from ``key`` (a put without it)."""
        check_key(key)
        with self.store.transaction():
            heads = self._heads(key)
            winner = heads[0] if heads and heads[0].type == "put" else None
            if winner is None or not any(ref["id"] == file_id for ref in winner.files):
                raise OpSyncError("not_found", f"{key!r} has no file {b64.encode(file_id)}")
            return self._write(key, "put", winner.value,
                               [ref for ref in winner.files if ref["id"] != file_id])

    def _heads(self, key):
        return self.store.heads(key, self._strict_less())

    def _write(self, key, kind, value=None, files=None):
        """One local operation, in the caller's transaction: stamped (HLC-001), naming every
        head it saw (LWW-011), sealed, applied by the same rule as remote ones (LWW-012)."""
        heads = self.store.heads(key)  # greatest first: the 64 greatest if more
        bases = [head.op_id for head in heads][:BASES_MAX]
        payload = {"v": 1, "type": kind, "key": key}
        if kind == "put":
            payload["value"] = b64.encode(value)
        payload["bases"] = [b64.encode(base) for base in bases]
        if kind == "put":
            payload["files"] = [{"id": b64.encode(ref["id"]), "name": ref["name"],
                                 "size_bytes": ref["size_bytes"], "chunk_bytes": ref["chunk_bytes"],
                                 "chunk_count": ref["chunk_count"], "sha256": b64.encode(ref["sha256"])}
                                for ref in files]
        plaintext = dumps(payload)
        checked = messages.parse_message("Payload", plaintext)  # never send what we would refuse
        if self.env.has_defect("stamp-wall-clock"):
            # The defect: the device's clock as it reads, whatever the HLC says (the clock itself
            # still only moves forward).
            timestamp = hlc.Timestamp(min(max(self.physical_ms(), 0), hlc.WALL_MS_MAX), 0)
        else:
            timestamp = hlc.stamp(self.clock(), self.physical_ms())
        key_id = self.keyring().newest_key_id()  # CRY-014
        op = self.seal_op(self.env.random_bytes(16), key_id, timestamp, plaintext)
        payload_max = self.limits().get("op_payload_bytes_max", 16_384)
        if len(op.payload) > payload_max:
            raise OpSyncError("usage", f"the value is too large: its payload would be {len(op.payload)} "
                              f"bytes, the server takes {payload_max} (LIM-003)")
        self.store.add_outbox(op, plaintext)
        self.store.apply_object_op(op.id, key_id, op.wall_ms, op.counter, checked)
        self.set_clock(max(self.clock(), timestamp))  # HLC-001: in the same transaction as the operation
        return op.id

    # ---- reading ---------------------------------------------------------------------------

    def get(self, key):
        heads = self._heads(key)
        if not heads:
            return KeyView(key, False)
        sides = [Side(b64.encode(h.op_id), h.type, h.value, h.files, h.wall_ms, h.counter) for h in heads]
        winner = sides[0]
        present = winner.type == "put"
        return KeyView(key, present, winner.value if present else None, winner.files if present else [],
                       winner, sides[1:])

    def keys(self):
        """Keys that are present (their winner is a put)."""
        return [key for key in self.store.keys() if self.get(key).present]

    def conflicts(self):
        out = []
        for key in self.store.keys():
            view = self.get(key)
            if view.conflicts:
                out.append(view)
        return out

    def has_copy(self, file_id):
        row = self.store.file_row(file_id)
        return row is not None and bool(row.local_copy) and os.path.exists(self.store.copy_path(file_id))

    def export(self, key, out_dir):
        """Writes the winner's files into ``out_dir``; returns [(name, path or None if no copy)]."""
        view = self.get(key)
        if not view.present:
            raise OpSyncError("not_found", f"{key!r} is absent")
        os.makedirs(out_dir, exist_ok=True)
        out = []
        used = set()
        for ref in view.files:
            name = ref["name"]
            if name in used:
                name = f"{b64.encode(ref['id'])[:8]}-{name}"
            used.add(name)
            if not self.has_copy(ref["id"]):
                out.append((name, None))
                continue
            target = os.path.join(out_dir, name)
            shutil.copyfile(self.store.copy_path(ref["id"]), target)
            out.append((name, target))
        return out

    def status(self):
        counts = self.store.pending_counts()
        referenced = self.store.referenced_file_ids()
        pending_files = [b64.encode(f) for f in referenced if not self.has_copy(f)]
        return {
            "server": self.store.get("server_url"),
            "workspace_id": b64.encode(self.workspace_id()),
            "device_id": b64.encode(self.device_id()),
            "scope": self.store.get("scope"),
            "unsynced_ops": counts.get("pending", 0) + counts.get("acked", 0),
            "rejected_ops": [{"id": b64.encode(op_id), "code": code, "message": message}
                             for op_id, code, message, _ in self.store.rejected_rows()],
            "unreadable_ops": [{"id": b64.encode(op_id), "key_id": key_id, "code": code, "reason": reason}
                               for op_id, key_id, code, reason in self.store.unreadable_rows()],
            "mirror_length": self.store.mirror_length(),
            "pending_files": pending_files,
            "kept_deleted_files": sum(1 for row in self.store.file_rows() if row.delete_sent),
            "clock_offset_ms": int(self.store.get("clock_offset_ms", 0)),
            "hlc": {"wall_ms": self.clock().wall_ms, "counter": self.clock().counter},
            "last_sync_wall_ms": self.store.get("last_sync_wall_ms"),
            "last_sync_ok": bool(self.store.get("last_sync_ok", 0)),
            "last_sync_error": self.store.get("last_sync_error", ""),
            "defects": sorted(self.env.defects),
        }

    def state_dump(self):
        """Every key's winner, presence, value, files and conflicts, in a canonical form (keys
        sorted, binary as base64url, conflicts greatest first): what a checker compares."""
        keys = {}
        for key in self.store.keys():
            view = self.get(key)
            keys[key] = {
                "winner": view.winner.op_id if view.winner else None,
                "present": view.present,
                "value": b64.encode(view.value) if view.present else None,
                "files": [b64.encode(ref["id"]) for ref in view.files],
                "conflicts": [{"id": side.op_id, "type": side.type,
                               "value": b64.encode(side.value) if side.type == "put" else None,
                               "files": [b64.encode(ref["id"]) for ref in side.files]}
                              for side in view.conflicts],
            }
        files = {b64.encode(row.file_id): {"local_copy": self.has_copy(row.file_id),
                                           "sha256": b64.encode(row.sha256), "size_bytes": row.size_bytes,
                                           "deleted_kept": bool(row.delete_sent)}
                 for row in self.store.file_rows()}
        return {"keys": keys, "files": files}

    # ---- the server ------------------------------------------------------------------------

    def sync(self):
        """One whole sync (SYNC-009: one at a time per directory, across processes)."""
        lock_path = os.path.join(self.directory, "sync.lock")
        with open(lock_path, "a+") as lock:
            try:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise OpSyncError("sync_running", "another sync of this directory is running") from None
            try:
                return run_sync(self)
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def invite(self, scope="read_write", expires_in_ms=None):
        """Issues a token for another device (owner tokens only, AUTH-013)."""
        issued = self.workspace_api().create_token(scope, expires_in_ms)
        return {"workspace_id": b64.encode(self.workspace_id()), "token": issued["token"],
                "token_id": b64.encode(issued["token_id"]), "scope": issued["scope"],
                "expires_at_ms": issued["expires_at_ms"]}

    def revoke(self, token_id):
        """Revokes another device's token (owner tokens only, AUTH-016); ``token_id`` is bytes.
        Returns the server's revocation time."""
        answer = self.workspace_api().revoke_token(b64.encode(token_id))
        return answer["revoked_at_ms"]

    def unlock(self, password, passphrase):
        """Reads the key records again and unwraps those this device lacks (a key rotated in
        by another device); operations left unread for want of their key are then applied."""
        records = _all_key_records(self.workspace_api(), self.limits().get("page_keys_max", 16))
        keks = {}
        added = {}
        for record in records:
            if record["key_id"] in self.keyring():
                continue
            iterations = record["kdf"]["iterations"]
            if iterations not in keks:
                keks[iterations] = crypto.derive_kek(password, passphrase, iterations)
            added[record["key_id"]] = crypto.unwrap_key(keks[iterations], record["wrapped_key"],
                                                        self.workspace_id(), record["key_id"])
        with self.store.transaction():
            for key_id, data_key in added.items():
                self.store.add_data_key(key_id, data_key)
        self._keyring = None
        reapplied = 0
        with self.store.transaction():
            for op_id, key_id, code, _ in self.store.unreadable_rows():
                if code != "unknown_key" or key_id not in self.keyring():
                    continue
                row = self.store.db.execute("SELECT encoding FROM mirror WHERE id = ? UNION ALL "
                                            "SELECT encoding FROM pending WHERE id = ?", (op_id, op_id)).fetchone()
                if row is None:
                    continue
                op = opsmod.decode_op(row[0])
                payload = self.open_op(op)
                self.store.db.execute("DELETE FROM unreadable WHERE op_id = ?", (op_id,))
                self.apply_opened(op, payload)
                reapplied += not isinstance(payload, OpSyncError)
        return {"keys_added": sorted(added), "ops_applied": reapplied}
