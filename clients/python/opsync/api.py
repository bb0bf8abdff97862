"""Calls to an OpSync server: requests built from the spec's endpoint table (section 14),
answers checked against their messages, retries with backoff, and the clock offset.

Retries (SYNC-008, SYNC-010, SYNC-020, ERR-020): a request that got no answer is sent again,
byte for byte, after 1, 2, 4 ... 64 s (measured on the monotonic clock), at most
``attempts_max`` times; the count starts again after any answer. A 503 or 429 answer is retried
the same way, waiting at least its ``Retry-After``; a 500 (a fault of the server) too. Other
error answers are raised as ``ServerError`` at once.

Clock offset (HLC-010): every answer's ``OpSync-Server-Time-Ms`` against the device's wall clock
at the midpoint of the round trip, the round trip measured on the monotonic clock; the sample of
the shortest round trip since ``reset_offset_samples`` is kept.
"""

import urllib.parse
from dataclasses import dataclass

from . import messages
from .errors import ProtocolError, ServerError, TransportError, InvalidMessage
from .strictjson import dumps
from .transport import Request

BACKOFF_S_MAX = 64
ATTEMPTS_MAX_DEFAULT = 7  # waits of 1, 2, 4, 8, 16, 32 s: about a minute before giving up
RETRY_AFTER_S_MAX = 3_600
RETRYABLE_STATUSES = (429, 500, 503)


@dataclass
class OffsetSample:
    offset_ms: int
    round_trip_ms: int
    server_time_ms: int


def backoff_ms(attempt):
    """SYNC-010: 2^attempt seconds, attempt counting from 0, capped at 64 s."""
    return min(2 ** attempt, BACKOFF_S_MAX) * 1000


class Api:
    def __init__(self, transport, env, token=None, attempts_max=ATTEMPTS_MAX_DEFAULT, observer=None):
        self.transport = transport
        self.env = env
        self.token = token
        self.attempts_max = attempts_max
        self.observer = observer  # called with (request, response or error): tests and traces
        self.best_offset = None
        self.last_server_time_ms = None
        self.waits_ms = []  # every wait, for reports and tests

    def reset_offset_samples(self):
        self.best_offset = None

    # ---- the exchange ----------------------------------------------------------------------

    def exchange(self, method, target, body=None, content_type=None, auth=True, on_retry=None):
        """Sends a request until it gets an answer that is not retryable; returns the Response.

        ``on_retry(request) -> request`` may rebuild the request before a retry (only the
        retry-fresh-ids defect does: a correct client resends the same bytes, SYNC-008).
        """
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        if auth:
            if not self.token:
                raise ServerError(401, "token_missing", "no token: run init first")
            headers["Authorization"] = f"Bearer {self.token}"
        request = Request(method, target, headers, body)
        attempt = 0
        while True:
            sent_mono = self.env.monotonic_ms()
            try:
                response = self.transport.send(request)
            except TransportError as error:
                self._observe(request, error)
                attempt += 1
                if attempt >= self.attempts_max:
                    raise
                self._wait(backoff_ms(attempt - 1))
                if on_retry is not None:
                    request = on_retry(request)
                continue
            received_mono = self.env.monotonic_ms()
            received_wall = self.env.wall_ms()
            self._observe(request, response)
            self._take_server_time(response, received_mono - sent_mono, received_wall)
            if response.status in RETRYABLE_STATUSES:
                attempt += 1
                if attempt >= self.attempts_max:
                    raise self._error(response)
                wait = backoff_ms(attempt - 1)
                retry_after = _retry_after_s(response)
                if retry_after is not None:
                    wait = max(wait, retry_after * 1000)  # ERR-020: at least Retry-After
                self._wait(wait)
                continue
            return response

    def _wait(self, duration_ms):
        self.waits_ms.append(duration_ms)
        self.env.wait_ms(duration_ms)

    def _observe(self, request, outcome):
        if self.observer is not None:
            self.observer(request, outcome)

    def _take_server_time(self, response, round_trip_ms, received_wall_ms):
        text = response.header("OpSync-Server-Time-Ms")
        if text is None or not text.isdigit() or len(text) > 16:
            return  # TRN-007 broken; the body's checks decide whether that matters
        server_ms = int(text)
        self.last_server_time_ms = server_ms
        midpoint_wall_ms = received_wall_ms - round_trip_ms // 2
        sample = OffsetSample(server_ms - midpoint_wall_ms, round_trip_ms, server_ms)
        if self.best_offset is None or sample.round_trip_ms <= self.best_offset.round_trip_ms:
            self.best_offset = sample

    # ---- answers ---------------------------------------------------------------------------

    def _error(self, response):
        """The ServerError of an error answer, or a ProtocolError if the answer is malformed."""
        try:
            body = messages.parse_message("ErrorBody", response.body)
        except InvalidMessage as error:
            raise ProtocolError("protocol_error",
                                f"HTTP {response.status} without a valid error body: {error.message}",
                                error.field) from None
        error = body["error"]
        return ServerError(response.status, error["code"], error["message"], error.get("field", ""),
                           error.get("details") or {}, _retry_after_s(response))

    def call(self, method, target, message, body=None, expect=(200,), auth=True, on_retry=None):
        """A JSON call: returns (parsed answer, Response). Raises ServerError for an error
        answer, ProtocolError for an answer that breaks the spec."""
        response = self.exchange(method, target, None if body is None else dumps(body),
                                 "application/json" if body is not None else None, auth, on_retry)
        return self.parse(response, message, expect), response

    def parse(self, response, message, expect=(200,)):
        if response.status >= 400:
            raise self._error(response)
        if response.status not in expect:
            raise ProtocolError("protocol_error", f"unexpected HTTP status {response.status}")
        _check_media_type(response, "application/json")
        try:
            return messages.parse_message(message, response.body)
        except InvalidMessage as error:
            code = error.code if error.code in ("unsupported_format", "page_gap") else "protocol_error"
            raise ProtocolError(code, f"{message}: {error.message}", error.field) from None

    # ---- endpoints (section 14) ------------------------------------------------------------

    def info(self):
        return self.call("GET", "/v1/info", "InfoResponse", auth=False)

    def create_workspace(self):
        return self.call("POST", "/v1/workspaces", "CreateWorkspaceResponse", body={},
                         expect=(201,), auth=False)


def _retry_after_s(response):
    text = response.header("Retry-After")
    if text is not None and text.strip().isdigit():
        return min(int(text.strip()), RETRY_AFTER_S_MAX)
    return None


def _check_media_type(response, expected):
    value = (response.header("Content-Type") or "").split(";")[0].strip().lower()
    if value != expected:
        raise ProtocolError("protocol_error", f"answer of type {value or 'none'}, expected {expected}")


def query(path, **params):
    pairs = [(name, value) for name, value in params.items() if value is not None]
    return path + ("?" + urllib.parse.urlencode(pairs) if pairs else "")


class WorkspaceApi(Api):
    """The endpoints under /v1/workspaces/{workspace_id}."""

    def __init__(self, transport, env, workspace_id_text, token, **options):
        super().__init__(transport, env, token, **options)
        self.base = f"/v1/workspaces/{workspace_id_text}"

    def create_token(self, scope, expires_in_ms=None):
        body = {"scope": scope}
        if expires_in_ms is not None:
            body["expires_in_ms"] = expires_in_ms
        return self.call("POST", f"{self.base}/tokens", "TokenIssued", body=body, expect=(201,))[0]

    def revoke_token(self, token_id_text):
        """AUTH-016: revokes a token (owner tokens only); revoking it again answers the same."""
        return self.call("DELETE", f"{self.base}/tokens/{token_id_text}", "RevokeTokenResponse")[0]

    def token_self(self):
        return self.call("GET", f"{self.base}/tokens/self", "TokenEntry")[0]

    def list_keys(self, after=None, limit=None):
        return self.call("GET", query(f"{self.base}/keys", after=after, limit=limit), "KeyListResponse")[0]

    def put_key(self, key_id, expected_version, iterations, wrapped_key_text):
        body = {"expected_version": expected_version,
                "kdf": {"algorithm": "pbkdf2-hmac-sha256-prehashed", "iterations": iterations},
                "wrapped_key": wrapped_key_text}
        return self.call("PUT", f"{self.base}/keys/{key_id}", "KeyRecord", body=body)[0]

    def get_ops(self, after_seq, limit=None):
        return self.call("GET", query(f"{self.base}/ops", after_seq=after_seq, limit=limit),
                         "OpsPageResponse")

    def upload_ops(self, wire_ops, on_retry=None):
        return self.call("POST", f"{self.base}/ops", "UploadOpsResponse", body={"ops": wire_ops},
                         on_retry=on_retry)

    def get_blocks(self, start, limit=None):
        return self.call("GET", query(f"{self.base}/blocks", start=start, limit=limit), "BlocksResponse")[0]

    def file_status(self, file_id_texts):
        return self.call("POST", f"{self.base}/file-status", "FileStatusResponse",
                         body={"file_ids": list(file_id_texts)})[0]

    def create_file(self, file_id_text, chunk_count):
        return self.call("POST", f"{self.base}/files/{file_id_text}", "FileStatus",
                         body={"chunk_count": chunk_count}, expect=(200, 201))[0]

    def get_file(self, file_id_text):
        return self.call("GET", f"{self.base}/files/{file_id_text}", "FileStatus")[0]

    def commit_file(self, file_id_text, chunk_count):
        return self.call("POST", f"{self.base}/files/{file_id_text}/commit", "FileStatus",
                         body={"chunk_count": chunk_count})[0]

    def delete_file(self, file_id_text):
        return self.call("DELETE", f"{self.base}/files/{file_id_text}", "FileStatus")

    def put_chunk(self, file_id_text, index, envelope):
        response = self.exchange("PUT", f"{self.base}/files/{file_id_text}/chunks/{index}", envelope,
                                 "application/octet-stream")
        return self.parse(response, "ChunkStored")

    def get_chunk(self, file_id_text, index):
        response = self.exchange("GET", f"{self.base}/files/{file_id_text}/chunks/{index}")
        if response.status >= 400:
            raise self._error(response)
        if response.status != 200:
            raise ProtocolError("protocol_error", f"unexpected HTTP status {response.status}")
        _check_media_type(response, "application/octet-stream")
        return response.body
