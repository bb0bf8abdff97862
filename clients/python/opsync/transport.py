"""HTTP: the request and answer types, and the default transport (http.client).

A transport is any object with ``send(request) -> Response`` that raises
``errors.TransportError`` when no answer came (a refused or broken connection, a timeout). The
client never talks to sockets itself, so a test or a simulator's adapter can answer requests.
"""

import http.client
import socket
import ssl
import urllib.parse
from dataclasses import dataclass, field

from .errors import TransportError

# Larger answers than this are refused: the biggest legitimate one is a page of page_bytes_max
# payload bytes as base64url text plus the operations' other members.
RESPONSE_BYTES_MAX = 64 * 1024 * 1024


@dataclass
class Request:
    method: str
    target: str  # path and query, as on the request line
    headers: dict = field(default_factory=dict)
    body: bytes = None


@dataclass
class Response:
    status: int
    headers: dict  # names in lower case
    body: bytes

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)


class HttpTransport:
    """One kept-alive connection to ``base_url`` (http or https), reopened after a failure."""

    def __init__(self, base_url, timeout_s=30.0, ssl_context=None):
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        if parsed.path not in ("", "/") or parsed.query or parsed.fragment:
            raise ValueError(f"the server URL has no path: {base_url!r}")
        self.scheme = parsed.scheme
        self.host = parsed.hostname
        self.port = parsed.port or (443 if parsed.scheme == "https" else 80)
        self.timeout_s = timeout_s
        self.ssl_context = ssl_context
        self._connection = None

    def _connect(self):
        if self.scheme == "https":
            return http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout_s,
                                               context=self.ssl_context or ssl.create_default_context())
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)

    def close(self):
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def send(self, request):
        # A kept-alive connection the server closed meanwhile fails at once; one fresh attempt
        # then tells a stale connection from a real failure without waiting.
        for fresh in (self._connection is None, True):
            if fresh:
                self.close()
                self._connection = self._connect()
            try:
                return self._exchange(request)
            except (OSError, http.client.HTTPException, socket.timeout) as error:
                self.close()
                if fresh:
                    raise TransportError(f"{request.method} {request.target}: {error!r}") from None
        raise AssertionError("unreachable")

    def _exchange(self, request):
        headers = dict(request.headers)
        if request.body is not None:
            headers["Content-Length"] = str(len(request.body))
        self._connection.request(request.method, request.target, body=request.body, headers=headers)
        answer = self._connection.getresponse()
        body = answer.read(RESPONSE_BYTES_MAX + 1)
        if len(body) > RESPONSE_BYTES_MAX:
            raise http.client.HTTPException("answer larger than the client accepts")
        headers = {name.lower(): value for name, value in answer.getheaders()}
        if answer.will_close:
            self.close()
        return Response(answer.status, headers, body)
