"""Files (spec 11): chunk arithmetic, missing ranges, and the reconciliation table of 11.4."""

CHUNK_BYTES_MIN = 65_536
CHUNK_BYTES_MAX = 16_777_216


def chunk_count(size_bytes: int, chunk_bytes: int) -> int:
    """LWW-002: max(1, ceil(size_bytes / chunk_bytes)); an empty file is one empty chunk."""
    return max(1, -(-size_bytes // chunk_bytes))


def chunk_size(size_bytes: int, chunk_bytes: int, index: int) -> int:
    """Plaintext bytes of chunk ``index``: all but the last are full."""
    count = chunk_count(size_bytes, chunk_bytes)
    if not 0 <= index < count:
        raise ValueError("chunk index out of range")
    if index < count - 1:
        return chunk_bytes
    return size_bytes - chunk_bytes * (count - 1)


def missing_ranges(count: int, present) -> list:
    """The missing indexes of a file of ``count`` chunks as ascending half-open ranges."""
    present = sorted(set(present))
    ranges = []
    start = 0
    for index in present:
        if index > start:
            ranges.append((start, index))
        start = index + 1
    if start < count:
        ranges.append((start, count))
    return ranges


def indexes_of(ranges):
    for start, end in ranges:
        yield from range(start, end)


# 11.4: (local copy present, server state) -> action. The upload flag never decides (FILE-030).
_ACTIONS = {
    (True, "committed"): "none",
    (True, "absent"): "upload",
    (True, "uploading"): "resume_upload",
    (True, "deleted"): "restore",
    (False, "committed"): "download",
    (False, "deleted"): "restore_then_download",
    (False, "uploading"): "wait",
    (False, "absent"): "missing",
}


def file_action(local_copy_present: bool, upload_flag: bool, server_state: str) -> str:
    """FILE-030, FILE-035. ``upload_flag`` is accepted to make plain that it does not count."""
    del upload_flag
    return _ACTIONS[(bool(local_copy_present), server_state)]
