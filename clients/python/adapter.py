#!/usr/bin/env python3
"""The Python client behind opsync-client-adapter/1 (spec/client-adapter.md), for
``opsync-sim certify-client``:

    opsync-sim certify-client --adapter "python3 clients/python/adapter.py"
    opsync-sim certify-client --adapter "env OPSYNC_PY_DEFECT=retry-fresh-ids python3 clients/python/adapter.py"

One process is one simulated device. It reads events from standard input and answers on standard
output, one JSON object per line, in turns (ADP-010): notices and asks, then exactly one yield.

The client (``opsync.client.Client``) is synchronous and takes everything nondeterministic from
injected objects (clients/python/README.md, "Driving it from outside"), so the adapter is one
thread that blocks where the client blocks:

  client calls                         adapter writes            and reads until
  -----------------------------------  ------------------------  ------------------------------
  transport.send(request)              a ``request`` yield       ``http_response`` (returned) or
                                                                 ``http_failure`` (TransportError)
  env.sleep_ms(ms)                     a ``wait`` yield          ``wake``
  env.random_bytes(n)                  ``random`` asks           their ``random`` answers
  fault_point(step) (durable steps)    a ``durable`` notice      ``continue`` (or it is killed)
  a local edit returns                 a ``commit`` notice       ``continue`` (or it is killed)
  env.wall_ms(), env.monotonic_ms()    --                        the ``now`` of the last event

While it waits for an answer or a wake, a ``dump`` command may come (ADP-014): it is answered with
``state`` at once, and the wait goes on. Every random byte comes from the simulator and every
clock reading from its events, so a run replays to the same trace hash (ADP-050, ADP-081).

Deliberate defects (opsync/env.py DEFECTS) are switched on with OPSYNC_PY_DEFECT=name[,name].

A line on standard input that breaks the protocol (not JSON, not an object, a member missing, an
event where it cannot come) ends the process with status 3 and a message on standard error; an
unknown defect name ends it with status 2. The simulator closing standard input ends it with 0.
"""

import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from opsync import __version__, b64, crypto  # noqa: E402
from opsync.client import Client  # noqa: E402
from opsync.env import DEFECTS, Environment  # noqa: E402
from opsync.errors import OpSyncError, TransportError  # noqa: E402
from opsync.transport import Response  # noqa: E402

PROTOCOL = "opsync-client-adapter/1"
CLIENT_NAME = f"opsync-python-client {__version__} (clients/python/adapter.py)"
EXIT_USAGE = 2
EXIT_PROTOCOL = 3
RANDOM_ASK_BYTES_MAX = 65_536  # the most one random ask may take (section 4.2)
# What ``ready`` says the adapter takes (section 4.3): the start options it uses, and the
# notices and asks it sends. Not ``overlap_work``: this client applies a page before it asks
# for the next one.
SUPPORTS = ["page_ops_max", "kdf_iterations", "durable", "random"]
# Where an attached file's content waits while the client copies it into its store (the client
# attaches from a path). Inside the device's directory, as ADP-020 asks; removed after the attach
# and at every start.
ATTACH_SOURCE = "adapter-attach-source.tmp"
# Codes of the client that the spec names otherwise (opsync-v1 2.3, and SYNC-022's local codes):
# what a failed result says instead. Every other code goes out as the client has it.
CODE_FOR_RESULT = {
    "usage": "invalid_field",          # a command the client refuses (a key too long, ...)
    "not_initialized": "invalid_field",
    "unsupported_server": "protocol_error",  # VER-002
}


def broken(what):
    """The simulator's side broke the protocol: said on standard error, and the process ends at
    once (nothing may catch this on its way up through the client)."""
    sys.stderr.write(f"opsync python adapter: {what}\n")
    sys.stderr.flush()
    os._exit(EXIT_PROTOCOL)


def _natural(value, what):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        broken(f"{what} is not a non-negative integer: {value!r}")
    return value


def _text(message, name):
    value = message.get(name)
    if not isinstance(value, str):
        broken(f"a {message.get('type')} message without the text member {name!r}: {_short(message)}")
    return value


def _bytes(message, name):
    value = b64.decode(_text(message, name))
    if value is None:
        broken(f"member {name!r} of a {message.get('type')} message is not canonical base64url")
    return value


def _short(message):
    text = json.dumps(message)
    return text if len(text) <= 300 else text[:300] + "..."


class Pipe:
    """Line-delimited JSON on standard input and output (ADP-001)."""

    def __init__(self, stdin, stdout):
        self.stdin = stdin
        self.stdout = stdout

    def write(self, message):
        line = json.dumps(message, ensure_ascii=False, separators=(",", ":")) + "\n"
        self.stdout.write(line.encode("utf-8"))
        self.stdout.flush()

    def read(self):
        line = self.stdin.readline()
        if not line:
            sys.exit(0)  # the simulator closed the pipe: the run is over
        try:
            message = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as error:
            broken(f"a line that is not JSON ({error}): {line[:200]!r}")
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            broken(f"a line that is not a JSON object with a type: {line[:200]!r}")
        return message


class SimulatorTransport:
    """The client's transport (transport.py's interface): a request goes out as a ``request``
    yield, and its answer comes back as the next event."""

    def __init__(self, adapter):
        self.adapter = adapter

    def send(self, request):
        return self.adapter.exchange(request)

    def close(self):
        pass


class Adapter:
    def __init__(self, pipe, defects=None):
        self.pipe = pipe
        self.wall_ms = 0
        self.monotonic_ms = 0
        self.env = Environment(wall_ms=lambda: self.wall_ms, monotonic_ms=lambda: self.monotonic_ms,
                               sleep_ms=self.sleep, random_bytes=self.random, defects=defects)
        # Environment.wait_ms waits in slices so that real clocks are read again now and then.
        # Here one `wait` yield covers the whole wait: the `wake` comes at or after the reading
        # it asked for (ADP-014), so the monotonic deadline is met by one slice, and the
        # simulator judges a backoff (SYNC-010, SYNC-020) by the length the first wait after a
        # request asked for. (The backoff-wall-clock defect still waits again for as long as the
        # wall clock stands still: that is what it is caught by.)
        self.env.WAIT_SLICE_MS_MAX = 2**62
        self.dir = None
        self.options = {}
        self.client = None

    # ---- reading events ----------------------------------------------------------------------

    def next_event(self):
        """The next event; its clock readings become the device's clocks (ADP-012)."""
        message = self.pipe.read()
        now = message.get("now")
        if not isinstance(now, dict):
            broken(f"an event without its clocks (now): {_short(message)}")
        self.wall_ms = _natural(now.get("wall_ms"), "now.wall_ms")
        self.monotonic_ms = _natural(now.get("monotonic_ms"), "now.monotonic_ms")
        return message

    def answer(self, kind):
        """The simulator's one-line answer to an ask or a notice."""
        message = self.pipe.read()
        if message["type"] != kind:
            broken(f"expected the answer {kind!r}, got: {_short(message)}")
        return message

    def wait_for(self, wanted, doing):
        """Events until one of the types in ``wanted``, answering any ``dump`` in between with
        ``state`` (ADP-014): a command that waits for an answer or a wake goes on after it."""
        while True:
            event = self.next_event()
            if event["type"] in wanted:
                return event
            if event["type"] == "command" and event.get("command") == "dump":
                self.pipe.write(self.state())
                continue
            broken(f"while {doing}, expected {' or '.join(wanted)} (or a dump), got: {_short(event)}")

    # ---- what the client is given (Environment, transport, fault point) ---------------------

    def exchange(self, request):
        headers = [[name, value] for name, value in request.headers.items()]
        self.pipe.write({"type": "request", "method": request.method, "target": request.target,
                         "headers": headers, "body_b64": b64.encode(request.body or b"")})
        event = self.wait_for(("http_response", "http_failure"), f"{request.method} {request.target} was in flight")
        if event["type"] == "http_failure":
            what = event.get("what") if isinstance(event.get("what"), str) else "failure"
            message = event.get("message") if isinstance(event.get("message"), str) else ""
            raise TransportError(f"{request.method} {request.target}: {what}" + (f" ({message})" if message else ""))
        status = _natural(event.get("status"), "http_response.status")
        pairs = event.get("headers")
        if not isinstance(pairs, list) or not all(isinstance(p, list) and len(p) == 2 and
                                                  all(isinstance(x, str) for x in p) for p in pairs):
            broken(f"an http_response whose headers are not [[name, value], ...]: {_short(event)}")
        return Response(status, {name.lower(): value for name, value in pairs}, _bytes(event, "body_b64"))

    def sleep(self, duration_ms):
        self.pipe.write({"type": "wait", "until_monotonic_ms": self.monotonic_ms + max(int(duration_ms), 1)})
        self.wait_for(("wake",), "a wait was on")

    def random(self, count):
        out = bytearray()
        # Bounded: each ask takes at least one byte.
        while len(out) < count:
            ask = min(count - len(out), RANDOM_ASK_BYTES_MAX)
            self.pipe.write({"type": "random", "bytes": ask})
            got = _bytes(self.answer("random"), "bytes_b64")
            if len(got) != ask:
                broken(f"asked for {ask} random bytes, got {len(got)}")
            out += got
        return bytes(out)

    def durable(self, step):
        """The client's fault point, called at its durable steps (README, "Driving it from
        outside"): the simulator may kill the process here instead of answering (ADP-041,
        ADP-070)."""
        self.pipe.write({"type": "durable", "step": step})
        self.answer("continue")

    def client_options(self):
        return {"env": self.env, "transport_factory": lambda url: SimulatorTransport(self),
                "fault_point": self.durable,
                # The simulator kills the process, not the machine: a commit needs to reach the
                # system, not the disk (as the reference adapter's Durability::kProcess).
                "durability": "process"}

    # ---- the device's directory --------------------------------------------------------------

    def wipe(self):
        """Empties the device's directory: a device that holds no workspace starts from nothing."""
        if self.client is not None:
            self.client.close()
            self.client = None
        for name in os.listdir(self.dir):
            path = os.path.join(self.dir, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)

    def open_store(self):
        """The workspace the last process committed in the directory, or None.

        A store whose workspace creation did not finish (its key record not yet on the server)
        is discarded: the simulator never got the create's result, so for it the device holds no
        workspace and creates one again, as the reference client, which writes its directory
        only at the end of a create, does."""
        if not os.path.exists(os.path.join(self.dir, "state.sqlite3")):
            return None
        try:
            client = Client.open(self.dir, **self.client_options())
        except OpSyncError:
            return None
        if client.store.get("key_record_pending") is not None:
            client.close()
            return None
        return client

    # ---- events --------------------------------------------------------------------------------

    def run(self):
        event = self.next_event()
        if event["type"] != "start":
            broken(f"the first event is not start: {_short(event)}")
        self.pipe.write(self.on_start(event))
        # Bounded by the simulator: it closes the pipe (read() exits) or kills the process.
        while True:
            event = self.next_event()
            if event["type"] != "command":
                broken(f"expected a command between commands, got: {_short(event)}")
            self.pipe.write(self.on_command(event))

    def on_start(self, event):
        if event.get("protocol") != PROTOCOL:
            broken(f"the simulator speaks {event.get('protocol')!r}, this adapter {PROTOCOL}")
        self.dir = _text(event, "dir")
        options = event.get("options", {})
        if not isinstance(options, dict):
            broken("start's options are not an object")
        self.options = {"page_ops_max": _natural(options.get("page_ops_max", 0), "options.page_ops_max"),
                        # Without the option, the client's own count for new key records (CRY-002).
                        "kdf_iterations": _natural(options.get("kdf_iterations", crypto.KDF_ITERATIONS_NEW),
                                                   "options.kdf_iterations")}
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        if event.get("restarted") is True:
            source = os.path.join(self.dir, ATTACH_SOURCE)
            if os.path.exists(source):
                os.unlink(source)
            self.client = self.open_store()
        if self.client is None:
            self.wipe()  # nothing, a stale directory, or a create or join a kill cut short
        ready = {"type": "ready", "client": CLIENT_NAME, "supports": SUPPORTS}
        if self.client is not None:
            self.configure(self.client)
            ready["workspace_id"] = b64.encode(self.client.workspace_id())
        return ready

    def configure(self, client):
        client.page_limit = self.options["page_ops_max"] or None

    def on_command(self, event):
        name = _text(event, "command")
        if name == "dump":
            return self.state()
        handler = getattr(self, "command_" + name, None) if name.isidentifier() else None
        if handler is None:
            return failed("invalid_field", f"unknown command {name!r}")
        if name not in ("create", "join") and self.client is None:
            return failed("invalid_field", "the device holds no workspace yet (create or join first)")
        try:
            return handler(event)
        except OpSyncError as error:
            return failed(error.code, error.message)

    # ---- commands (section 3.2) ----------------------------------------------------------------

    def command_create(self, event):
        if self.client is not None:
            return failed("invalid_field", "the device holds a workspace already")
        try:
            client, passphrase = Client.create_workspace(
                self.dir, _text(event, "server_url"), _text(event, "password"),
                kdf_iterations=self.options["kdf_iterations"], **self.client_options())
        except OpSyncError as error:
            self.wipe()  # the simulator creates again, from nothing
            return failed(error.code, error.message)
        self.client = client
        self.configure(client)
        return ok(workspace_id=b64.encode(client.workspace_id()), passphrase=passphrase,
                  token=client.store.get("token"))

    def command_join(self, event):
        if self.client is not None:
            return failed("invalid_field", "the device holds a workspace already")
        try:
            client = Client.join(self.dir, _text(event, "server_url"), _text(event, "workspace_id"),
                                 _text(event, "token"), _text(event, "password"), _text(event, "passphrase"),
                                 **self.client_options())
        except OpSyncError as error:
            self.wipe()
            return failed(error.code, error.message)
        self.client = client
        self.configure(client)
        return ok()

    def command_invite(self, event):
        scope = event.get("scope", "read_write")
        invitation = self.client.invite(scope)
        return ok(token=invitation["token"], token_id=invitation["token_id"])

    def command_revoke(self, event):
        token_id = _bytes(event, "token_id")
        self.client.revoke(token_id)
        return ok()

    def command_set_token(self, event):
        token = _text(event, "token")
        with self.client.store.transaction():
            self.client.store.set("token", token)
        return ok()

    def command_put(self, event):
        key = _text(event, "key")
        heads_before = self.head_ids(key)
        op_id = self.client.put(key, _bytes(event, "value_b64"))
        self.announce(key, "put", op_id, heads_before)
        return ok()

    def command_delete(self, event):
        key = _text(event, "key")
        if not self.client.get(key).present:
            return ok(committed=False)  # nothing to delete: no operation
        heads_before = self.head_ids(key)
        op_id = self.client.delete(key)
        self.announce(key, "delete", op_id, heads_before)
        return ok()

    def command_attach(self, event):
        key = _text(event, "key")
        source = os.path.join(self.dir, ATTACH_SOURCE)
        with open(source, "wb") as handle:
            handle.write(_bytes(event, "content_b64"))
        heads_before = self.head_ids(key)
        try:
            ref = self.client.attach(key, source, _text(event, "name"))
        finally:
            os.unlink(source)
        new = [op_id for op_id in self.head_ids(key) if op_id not in heads_before]
        self.announce(key, "attach", new[0], heads_before, ref["id"])
        return ok(file_id=b64.encode(ref["id"]))

    def command_detach(self, event):
        key = _text(event, "key")
        view = self.client.get(key)
        if not view.present or not view.files:
            return ok(committed=False)  # no file to remove: no operation
        if "file_id" in event:
            file_id = _bytes(event, "file_id")
            if not any(ref["id"] == file_id for ref in view.files):
                return ok(committed=False)  # not one of the winner's files: none to remove
        elif "pick" in event:
            file_id = view.files[_natural(event["pick"], "pick") % len(view.files)]["id"]
        else:
            return ok(committed=False)
        heads_before = self.head_ids(key)
        op_id = self.client.detach(key, file_id)
        self.announce(key, "detach", op_id, heads_before)
        return ok()

    def command_sync(self, event):
        report = self.client.sync()
        self.pipe.write({"type": "log", "text": f"sync {'ok' if report.ok else 'failed: ' + report.error}; "
                         f"{report.ops_up} ops up, {report.ops_down} down, {report.ops_restamped} re-stamped, "
                         f"{len(report.ops_rejected)} rejected, {report.files_up} files up, "
                         f"{report.files_down} down" + "".join(f"; {w}" for w in report.warnings)})
        if not report.ok:
            return failed(report.error_code, report.error)
        return ok(mirror=self.mirror())

    # ---- notices and the state dump ------------------------------------------------------------

    def head_ids(self, key):
        return [b64.decode(side.op_id) for side in self.sides(key)]

    def announce(self, key, kind, op_id, heads_before, file_id=None):
        """The commit notice of an edit that just committed (ADP-040). It is also the edit's
        durable step: the simulator answers it, or kills the process here."""
        side = next(s for s in self.sides(key) if s.op_id == b64.encode(op_id))
        note = {"type": "commit", "op_id": b64.encode(op_id), "key": key, "kind": kind,
                "hlc": [side.wall_ms, side.counter], "heads_before": [b64.encode(h) for h in heads_before]}
        if file_id is not None:
            note["file_id"] = b64.encode(file_id)
        self.pipe.write(note)
        self.answer("continue")

    def sides(self, key):
        """The heads of ``key`` as the client shows them: its winner first, then its conflicts
        greatest first (spec 10.2 order; the simulator's checkers compare heads in this order)."""
        view = self.client.get(key)
        return ([view.winner] if view.winner else []) + view.conflicts

    def mirror(self):
        store = self.client.store
        length = store.mirror_length()
        return {"length": length, "prefix_hash_b64": b64.encode(store.prefix_hash(length))}

    def state(self):
        """The answer to ``dump`` (ADP-061)."""
        out = {"type": "state", "objects": {}, "files": {}, "pending": [], "rejected": []}
        client = self.client
        if client is None:
            return out
        store = client.store
        for key in store.keys():
            sides = self.sides(key)
            if sides:
                out["objects"][key] = [
                    {"op_id": side.op_id, "hlc": [side.wall_ms, side.counter], "deleted": side.type == "delete",
                     "value_b64": b64.encode(side.value or b""),
                     "files": [b64.encode(ref["id"]) for ref in side.files]}
                    for side in sides]
        referenced = store.referenced_file_ids()
        for file_id in referenced:
            entry = {"held": client.has_copy(file_id), "kept_after_delete": False}
            if entry["held"]:
                entry["content_b64"] = b64.encode(_read(store.copy_path(file_id)))
            out["files"][b64.encode(file_id)] = entry
        # Copies of files no head references: kept for the retention time after their DELETE
        # (FILE-040), or not yet deleted.
        rows = {row.file_id: row for row in store.file_rows()}
        for name in sorted(os.listdir(store.files_directory)):
            try:
                file_id = bytes.fromhex(name)
            except ValueError:
                continue  # a partial download (.part) or a copy being written (.tmp)
            if len(file_id) != 16 or file_id in referenced:
                continue
            row = rows.get(file_id)
            out["files"][b64.encode(file_id)] = {
                "held": True, "content_b64": b64.encode(_read(store.copy_path(file_id))),
                "kept_after_delete": bool(row is not None and row.delete_sent)}
        for state in ("pending", "rejected"):
            out[state] = [{"op_id": b64.encode(op_id), "hlc": [wall_ms, counter]}
                          for op_id, wall_ms, counter in store.pending_rows(state)]
        out["mirror"] = self.mirror()
        return out


def ok(committed=True, **members):
    out = {"type": "result", "ok": True}
    out.update({name: value for name, value in members.items() if value is not None})
    if not committed:
        out["committed"] = False
    return out


def failed(code, message):
    return {"type": "result", "ok": False,
            "error": {"code": CODE_FOR_RESULT.get(code, code), "message": message or code}}


def _read(path):
    with open(path, "rb") as handle:
        return handle.read()


def main():
    try:
        environment = Environment(defects=None)  # reads OPSYNC_PY_DEFECT
    except ValueError as error:
        sys.stderr.write(f"opsync python adapter: OPSYNC_PY_DEFECT: {error}\n")
        return EXIT_USAGE
    if environment.defects:
        sys.stderr.write(f"opsync python adapter: deliberate defects on: {', '.join(sorted(environment.defects))} "
                         f"({'; '.join(DEFECTS[d] for d in sorted(environment.defects))})\n")
    Adapter(Pipe(sys.stdin.buffer, sys.stdout.buffer), environment.defects).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
