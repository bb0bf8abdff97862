"""Keys and envelopes (spec 5): the KEK, key wrapping, subkeys, payload and chunk envelopes.

AES-256-GCM and HKDF come from Debian's python3-cryptography (OpenSSL underneath); PBKDF2 and
SHA-256 from the standard library's hashlib (also OpenSSL).
"""

import hashlib
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import CryptoError

KDF_ALGORITHM = "pbkdf2-hmac-sha256-prehashed"
KDF_ITERATIONS_NEW = 600_000  # CRY-002: at least this many for a record this client creates.
KDF_ITERATIONS_MAX = 10_000_000
NONCE_BYTES = 12
TAG_BYTES = 16
ENVELOPE_OVERHEAD_BYTES = NONCE_BYTES + TAG_BYTES
DATA_KEY_BYTES = 32
WRAPPED_KEY_BYTES = NONCE_BYTES + DATA_KEY_BYTES + TAG_BYTES

_KEY_WRAP_TAG = b"opsync/v1 key wrap\x00"
_OP_PAYLOAD_TAG = b"opsync/v1 op payload\x00"
_FILE_CHUNK_TAG = b"opsync/v1 file chunk\x00"
_OP_KEY_INFO = b"opsync/v1 op payload key"
_CHUNK_KEY_INFO = b"opsync/v1 file chunk key"


def derive_kek(password: str, passphrase: str, iterations: int) -> bytes:
    """CRY-001: PBKDF2-HMAC-SHA256(SHA-256(password), SHA-256(passphrase), iterations, 32), over
    the UTF-8 bytes exactly as entered (no normalization, no trimming)."""
    if not 1 <= iterations <= KDF_ITERATIONS_MAX:
        raise CryptoError("invalid_field", f"{iterations} KDF iterations is out of range", "kdf.iterations")
    p = hashlib.sha256(password.encode("utf-8")).digest()
    s = hashlib.sha256(passphrase.encode("utf-8")).digest()
    return hashlib.pbkdf2_hmac("sha256", p, s, iterations, 32)


def key_wrap_ad(workspace_id: bytes, key_id: int) -> bytes:
    return _KEY_WRAP_TAG + workspace_id + struct.pack(">I", key_id)


def wrap_key(kek: bytes, data_key: bytes, workspace_id: bytes, key_id: int, nonce: bytes) -> bytes:
    """CRY-011: nonce (12) || AES-256-GCM(kek, nonce, data_key, ad) || tag (16), 60 bytes."""
    if len(data_key) != DATA_KEY_BYTES or len(nonce) != NONCE_BYTES:
        raise ValueError("a data key is 32 bytes and a nonce 12")
    return nonce + AESGCM(kek).encrypt(nonce, data_key, key_wrap_ad(workspace_id, key_id))


def unwrap_key(kek: bytes, wrapped: bytes, workspace_id: bytes, key_id: int) -> bytes:
    """Raises CryptoError ``wrong_password`` when the tag does not verify, ``invalid_field`` when
    the record is not 60 bytes."""
    if len(wrapped) != WRAPPED_KEY_BYTES:
        raise CryptoError("invalid_field", f"a wrapped key is 60 bytes, not {len(wrapped)}", "wrapped_key")
    try:
        data_key = AESGCM(kek).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:],
                                       key_wrap_ad(workspace_id, key_id))
    except InvalidTag:
        raise CryptoError("wrong_password",
                          "the key record does not open: wrong password or passphrase") from None
    return data_key


def _hkdf(data_key: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(data_key)


def op_key(data_key: bytes) -> bytes:
    return _hkdf(data_key, _OP_KEY_INFO)


def chunk_key(data_key: bytes) -> bytes:
    return _hkdf(data_key, _CHUNK_KEY_INFO)


def op_payload_ad(header: bytes) -> bytes:
    return _OP_PAYLOAD_TAG + header


def chunk_ad(file_id: bytes, chunk_index: int, chunk_count: int) -> bytes:
    return _FILE_CHUNK_TAG + file_id + struct.pack(">II", chunk_index, chunk_count)


def seal(key: bytes, nonce: bytes, plaintext: bytes, ad: bytes) -> bytes:
    """An envelope: nonce (12) || ciphertext || tag (16) (5.3). CRY-022: callers pass a fresh
    random nonce."""
    if len(nonce) != NONCE_BYTES:
        raise ValueError("a nonce is 12 bytes")
    return nonce + AESGCM(key).encrypt(nonce, plaintext, ad)


def open_envelope(key: bytes, envelope: bytes, ad: bytes) -> bytes:
    """CRY-023: raises CryptoError ``decrypt_failed`` for a short envelope or a tag that does not
    verify with ``ad``, and returns no plaintext then."""
    if len(envelope) < ENVELOPE_OVERHEAD_BYTES:
        raise CryptoError("decrypt_failed", f"an envelope of {len(envelope)} bytes is too short")
    try:
        return AESGCM(key).decrypt(envelope[:NONCE_BYTES], envelope[NONCE_BYTES:], ad)
    except InvalidTag:
        raise CryptoError("decrypt_failed", "the envelope does not open") from None


class Keyring:
    """The data keys a device holds, by key id, with their subkeys derived once."""

    def __init__(self, data_keys=None):
        self._data_keys = {}
        self._op_keys = {}
        self._chunk_keys = {}
        for key_id, data_key in (data_keys or {}).items():
            self.add(key_id, data_key)

    def add(self, key_id: int, data_key: bytes):
        self._data_keys[key_id] = data_key
        self._op_keys[key_id] = op_key(data_key)
        self._chunk_keys[key_id] = chunk_key(data_key)

    def __contains__(self, key_id):
        return key_id in self._data_keys

    def newest_key_id(self):
        """CRY-014: new data is encrypted under the highest key id held."""
        if not self._data_keys:
            raise CryptoError("wrong_password", "no data key: join or unlock the workspace first")
        return max(self._data_keys)

    def op_key(self, key_id):
        return self._op_keys[key_id]

    def chunk_key(self, key_id):
        return self._chunk_keys[key_id]

    def key_ids(self):
        return sorted(self._data_keys)
