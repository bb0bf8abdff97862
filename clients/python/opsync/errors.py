"""Errors of the client, each carrying a code.

Codes are the spec's error codes (section 2.3) when a server sent them, and otherwise the local
codes the spec and the test vectors name: ``protocol_error`` (a server answer that breaks the
spec), ``page_gap`` (a page of operations that is not consecutive, SYNC-007),
``op_id_conflict`` (OP-021), ``unsupported_format`` (VER-006, VER-008), ``wrong_password``
(CRY-011), ``decrypt_failed`` (CRY-023), ``truncated`` (OP-011), ``unsupported_server``
(VER-002), ``transport`` (no answer after the retries, SYNC-022), ``not_initialized``, ``usage``.
"""


class OpSyncError(Exception):
    """Base class: ``code`` is what callers act on (ERR-005); ``field`` names the member at fault."""

    def __init__(self, code, message, field=""):
        super().__init__(f"{code}: {message}" + (f" (at {field})" if field else ""))
        self.code = code
        self.message = message
        self.field = field


class InvalidMessage(OpSyncError):
    """A JSON text that breaks the strict rules (TRN-020..TRN-025) or its message's schema."""


class ProtocolError(OpSyncError):
    """A server answer that breaks the spec. The sync stops and records nothing of it."""


class CryptoError(OpSyncError):
    """An envelope or key record that does not open (``decrypt_failed``, ``wrong_password``)."""


class ServerError(OpSyncError):
    """A well-formed error answer of the server (status 400 or above, ERR-001)."""

    def __init__(self, status, code, message, field="", details=None, retry_after_s=None):
        super().__init__(code, message, field)
        self.status = status
        self.details = details or {}
        self.retry_after_s = retry_after_s


class TransportError(OpSyncError):
    """No answer: the connection failed, was closed, or timed out (SYNC-008)."""

    def __init__(self, message):
        super().__init__("transport", message)


class SyncAborted(OpSyncError):
    """A sync that stopped; the store holds everything done before the stop (SYNC-012)."""
