"""What the tests share: a real ``opsync-server`` on a free port, a simulated clock, and a
transport that wraps the real one to lose, tamper with or count exchanges.

The binaries come from the environment (``OPSYNC_SERVER_BIN``, ``OPSYNC_CLIENT_BIN``, set by
``run_tests.py`` from CTest's arguments) or, for a manual run, from ``build/release``.
"""

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))

from opsync import b64  # noqa: E402
from opsync.client import Client  # noqa: E402
from opsync.env import Environment  # noqa: E402
from opsync.errors import TransportError  # noqa: E402
from opsync.transport import HttpTransport, Response  # noqa: E402

PASSWORD = "correct horse battery staple"
# Key records of the engine tests use few KDF iterations so that setting up a workspace is cheap;
# the interoperability tests use the real count (CRY-002).
TEST_KDF_ITERATIONS = 1_000


def binary(variable, relative):
    path = os.environ.get(variable) or os.path.join(ROOT, relative)
    if not os.path.exists(path):
        raise RuntimeError(f"{path} does not exist: build it (scripts/lib.sh opsync_build) or set {variable}")
    return path


def server_binary():
    return binary("OPSYNC_SERVER_BIN", "build/release/reference-server/opsync-server")


def client_binary():
    return binary("OPSYNC_CLIENT_BIN", "build/release/reference-client/opsync-client")


def _read(path):
    if not os.path.exists(path):
        return ""
    with open(path) as handle:
        return handle.read().strip()


class ServerProcess:
    """``opsync-server`` on 127.0.0.1 with a free port and a data directory of its own."""

    STARTUP_S_MAX = 60  # generous: a loaded machine starts it slowly, a broken one not at all

    def __init__(self, block_size=4, max_skew_ms=60_000, extra=()):
        self.directory = tempfile.mkdtemp(prefix="opsync-py-server-")
        self.data = os.path.join(self.directory, "data")
        self.options = ["--log-format", "none", "--durability", "process", "--block-size", str(block_size),
                        "--max-skew-ms", str(max_skew_ms), *extra]
        self.log = open(os.path.join(self.directory, "server.log"), "ab")
        self.port = 0
        self._start()
        self.url = f"http://127.0.0.1:{self.port}"

    def _start(self):
        port_file = os.path.join(self.directory, "port")
        if os.path.exists(port_file):
            os.unlink(port_file)
        self.process = subprocess.Popen(
            [server_binary(), "--data-dir", self.data, "--port", str(self.port), "--port-file", port_file,
             *self.options], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.STARTUP_S_MAX
        while not _read(port_file):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"opsync-server did not start; see {self.log.name}")
            time.sleep(0.02)
        self.port = int(_read(port_file))

    def _halt(self):
        self.process.terminate()
        self.process.wait(10)

    def snapshot(self):
        """A backup of the server's data, taken with the server stopped, then restarted."""
        self._halt()
        target = tempfile.mkdtemp(prefix="opsync-py-backup-", dir=self.directory)
        shutil.copytree(self.data, os.path.join(target, "data"))
        self._start()
        return os.path.join(target, "data")

    def restore(self, backup):
        """The server's data replaced by an older backup (same port), as an operator would."""
        self._halt()
        shutil.rmtree(self.data)
        shutil.copytree(backup, self.data)
        self._start()

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        shutil.rmtree(self.directory, ignore_errors=True)


class SimulatedTime:
    """A wall clock and a monotonic clock that move only when told to, and waits that move
    them: backoffs take no real time and can be measured exactly."""

    def __init__(self, wall_ms=None, seed=7):
        self.wall = wall_ms if wall_ms is not None else int(time.time() * 1000)
        self.mono = 1_000_000
        self.slept_ms = []
        self.during_sleep = None  # called with (ms) before the clocks move: a test's hook
        self.random = random.Random(seed)

    def env(self, defects=()):
        return Environment(wall_ms=lambda: self.wall, monotonic_ms=lambda: self.mono,
                           sleep_ms=self.sleep, random_bytes=self.random_bytes, defects=defects)

    def random_bytes(self, n):
        return self.random.randbytes(n)

    def sleep(self, ms):
        self.slept_ms.append(ms)
        if self.during_sleep is not None:
            self.during_sleep(ms)
        self.wall += ms
        self.mono += ms


class FaultyTransport:
    """Wraps a real transport. ``plan`` is a list of functions (request) -> action, consulted in
    order for each exchange until one returns an action:
      "lose-request"  -- the request never reaches the server (TransportError)
      "lose-answer"   -- the server handles it, the answer is lost (TransportError)
      callable(resp)  -- the server handles it, the answer is replaced by callable(resp)
    Every exchange is recorded in ``log`` as (method, target, body, status or 'lost')."""

    def __init__(self, inner):
        self.inner = inner
        self.plan = []
        self.log = []

    def close(self):
        self.inner.close()

    def send(self, request):
        action = None
        for rule in list(self.plan):
            action = rule(request)
            if action is not None:
                break
        if action == "lose-request":
            self.log.append((request.method, request.target, request.body, "lost"))
            raise TransportError("injected: request lost")
        response = self.inner.send(request)
        if action == "lose-answer":
            self.log.append((request.method, request.target, request.body, "answer-lost"))
            raise TransportError("injected: answer lost")
        if callable(action):
            response = action(response)
        self.log.append((request.method, request.target, request.body, response.status))
        return response

    def count(self, method, fragment):
        return sum(1 for m, target, _, status in self.log if m == method and fragment in target)


def once(predicate, action):
    """A plan rule that fires on the first request matching ``predicate``, then never again."""
    state = {"fired": False}

    def rule(request):
        if not state["fired"] and predicate(request):
            state["fired"] = True
            return action
        return None
    return rule


def rewrite_json(function):
    """An answer rewriter: applies ``function`` to the decoded JSON body."""
    def rewrite(response):
        body = json.loads(response.body)
        function(body)
        return Response(response.status, response.headers, json.dumps(body).encode())
    return rewrite


class Devices:
    """Python clients in temporary directories, on one server, with shared simulated time."""

    def __init__(self, server, time_source=None, defects=()):
        self.server = server
        self.root = tempfile.mkdtemp(prefix="opsync-py-devices-")
        self.time = time_source or SimulatedTime()
        self.defects = defects
        self.transports = {}
        self.clients = []
        self.chunk_bytes = 65_536  # the floor: files of a few hundred KiB make several chunks

    def factory(self, name):
        def make(url):
            # One wrapper per device name, kept across reopenings: its plan and log go on.
            if name in self.transports:
                self.transports[name].inner = HttpTransport(url, timeout_s=10)
            else:
                self.transports[name] = FaultyTransport(HttpTransport(url, timeout_s=10))
            return self.transports[name]
        return make

    def path(self, name):
        return os.path.join(self.root, name)

    def create(self, name, **options):
        client, passphrase = Client.create_workspace(
            self.path(name), self.server.url, PASSWORD, env=self.time.env(self.defects),
            transport_factory=self.factory(name), kdf_iterations=TEST_KDF_ITERATIONS, durability="process",
            **options)
        self.passphrase = passphrase
        client.attach_chunk_bytes = self.chunk_bytes
        self.clients.append(client)
        return client

    def join(self, name, owner, **options):
        invitation = owner.invite()
        client = Client.join(self.path(name), self.server.url, invitation["workspace_id"],
                             invitation["token"], PASSWORD, self.passphrase,
                             env=self.time.env(self.defects), transport_factory=self.factory(name),
                             durability="process", **options)
        client.attach_chunk_bytes = self.chunk_bytes
        self.clients.append(client)
        return client

    def reopen(self, client, name, **options):
        """As after a kill: the store is reopened from disk, nothing kept in memory."""
        try:
            client.close()
        except Exception:
            pass
        reopened = Client.open(self.path(name), env=self.time.env(self.defects),
                               transport_factory=self.factory(name), durability="process", **options)
        reopened.attach_chunk_bytes = self.chunk_bytes
        self.clients.append(reopened)
        return reopened

    def close(self):
        for client in self.clients:
            try:
                client.close()
            except Exception:
                pass
        shutil.rmtree(self.root, ignore_errors=True)


def wire_ids(body):
    return [op["id"] for op in json.loads(body)["ops"]]


def encode(data):
    return b64.encode(data)
