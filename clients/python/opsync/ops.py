"""Operations: canonical encoding, hash (spec 6.2, 6.3), prefix and block hashes (7.4)."""

import hashlib
import struct
from dataclasses import dataclass

from . import b64
from .errors import OpSyncError

ENVELOPE_OVERHEAD_BYTES = 28
HEADER_BYTES = 49
_HEADER = struct.Struct(">B16s16sQII")
_BLOCK_TAG = b"opsync/v1 block\x00"
ZERO_HASH = bytes(32)
WALL_MS_MAX = 2**48 - 1
U32_MAX = 2**32 - 1


@dataclass(frozen=True)
class Op:
    """An operation in its wire form (6.1), binary members as bytes."""

    id: bytes
    device_id: bytes
    wall_ms: int
    counter: int
    key_id: int
    payload: bytes
    v: int = 1

    def header(self) -> bytes:
        return op_header(self.v, self.id, self.device_id, self.wall_ms, self.counter, self.key_id)

    def encoding(self) -> bytes:
        return self.header() + struct.pack(">I", len(self.payload)) + self.payload

    def hash(self) -> bytes:
        return hashlib.sha256(self.encoding()).digest()

    def to_wire(self) -> dict:
        return {"v": self.v, "id": b64.encode(self.id), "device_id": b64.encode(self.device_id),
                "hlc": {"wall_ms": self.wall_ms, "counter": self.counter},
                "key_id": self.key_id, "payload": b64.encode(self.payload)}

    @staticmethod
    def from_wire(member: dict) -> "Op":
        """From a member already checked by ``messages`` (binary members are bytes)."""
        return Op(id=member["id"], device_id=member["device_id"], wall_ms=member["hlc"]["wall_ms"],
                  counter=member["hlc"]["counter"], key_id=member["key_id"],
                  payload=member["payload"], v=member["v"])


def op_header(v, op_id, device_id, wall_ms, counter, key_id) -> bytes:
    if len(op_id) != 16 or len(device_id) != 16:
        raise ValueError("ids are 16 bytes")
    return _HEADER.pack(v, op_id, device_id, wall_ms, counter, key_id)


def decode_op(data: bytes) -> Op:
    """Decodes an op_encoding (OP-011). Raises OpSyncError with ``truncated``,
    ``unsupported_format`` or ``invalid_field``."""
    if len(data) < HEADER_BYTES + 4:
        raise OpSyncError("truncated", f"{len(data)} bytes cannot hold an operation")
    v, op_id, device_id, wall_ms, counter, key_id = _HEADER.unpack_from(data, 0)
    if v != 1:
        raise OpSyncError("unsupported_format", f"operation format {v}", "v")
    (length,) = struct.unpack_from(">I", data, HEADER_BYTES)
    payload = data[HEADER_BYTES + 4:]
    if len(payload) < length:
        raise OpSyncError("truncated", "the payload is cut short", "")
    if len(payload) > length:
        # Named like a cut-short input, as the vectors' reference codes do: either way the bytes
        # are not one operation's encoding.
        raise OpSyncError("truncated", "bytes after the payload", "")
    if wall_ms > WALL_MS_MAX:
        raise OpSyncError("invalid_field", "wall_ms is 2^48 or more", "hlc.wall_ms")
    if key_id == 0:
        raise OpSyncError("invalid_field", "key_id 0", "key_id")
    if length < ENVELOPE_OVERHEAD_BYTES:
        raise OpSyncError("invalid_field", "a payload shorter than an envelope", "payload")
    return Op(op_id, device_id, wall_ms, counter, key_id, bytes(payload), v)


class PrefixHasher:
    """Computes prefix_hash(s) for consecutive positions (7.4) at O(1) per operation.

    To continue a log at ``position``, pass ``block_start_hash`` = prefix_hash(q) where q is the
    last block boundary at or before ``position`` (q = position - len(ops_in_block)), and the
    hashes of the operations q+1 .. position.
    """

    def __init__(self, block_size, position=0, block_start_hash=ZERO_HASH, ops_in_block=()):
        if block_size < 1:
            raise ValueError("block size is at least 1")
        ops_in_block = list(ops_in_block)
        if len(ops_in_block) >= block_size or (position - len(ops_in_block)) % block_size:
            raise ValueError("block_start_hash must be the prefix hash at a block boundary")
        self.block_size = block_size
        self.position = position
        self._in_block = len(ops_in_block)
        self._hasher = hashlib.sha256(_BLOCK_TAG + block_start_hash)
        for op_hash in ops_in_block:
            self._hasher.update(op_hash)
        self._current = self._hasher.digest() if ops_in_block else block_start_hash

    def add(self, op_hash) -> bytes:
        """Takes in the next operation's hash; returns prefix_hash at the new position."""
        if self._in_block == self.block_size:
            self._hasher = hashlib.sha256(_BLOCK_TAG + self._current)
            self._in_block = 0
        self._hasher.update(op_hash)
        self._in_block += 1
        self.position += 1
        self._current = self._hasher.digest()
        return self._current

    @property
    def current(self) -> bytes:
        return self._current


def prefix_hashes(op_hashes, block_size):
    """[prefix_hash(0), prefix_hash(1), ..., prefix_hash(len)]."""
    hasher = PrefixHasher(block_size)
    out = [ZERO_HASH]
    for op_hash in op_hashes:
        out.append(hasher.add(op_hash))
    return out


def block_hashes(op_hashes, block_size):
    """Hashes of the complete blocks: block_hash(b) = prefix_hash((b + 1) * N)."""
    prefixes = prefix_hashes(op_hashes, block_size)
    return [prefixes[(b + 1) * block_size] for b in range(len(op_hashes) // block_size)]
