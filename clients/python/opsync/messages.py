"""The JSON messages of spec v1, checked member by member (spec 1.4, 2.2, ERR-014).

Each message type is described here as data, in the member order of its schema in
``spec/schema/`` (a test keeps the two in step). ``parse_message(name, text)`` applies the strict
text rules (``strictjson``), then the members depth-first in schema order, then the rules between
members, and returns plain Python values: objects as dicts, binary members as bytes.

Requests (and the payload plaintext, which is as strict) reject members they do not define;
responses ignore them (TRN-022, TRN-023). A response that breaks a rule between members (a page's
cursor against its operations, ERR-010's details) is a ``protocol_error``; a page that is not
consecutive is ``page_gap`` (SYNC-007).
"""

import re

from . import b64
from .errors import InvalidMessage
from .strictjson import JObject, parse

UINT_MAX = 2**53 - 1
U32_MAX = 2**32 - 1
WALL_MS_MAX = 2**48 - 1


class _Fault(Exception):
    def __init__(self, code, field, message):
        super().__init__(message)
        self.code = code
        self.field = field
        self.message = message


def _join(path, name):
    return f"{path}.{name}" if path else name


def _type_name(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, JObject):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    return "a number"


# ---- member types --------------------------------------------------------------------------


class Int:
    def __init__(self, minimum=0, maximum=UINT_MAX):
        self.minimum = minimum
        self.maximum = maximum

    def check(self, value, path, ctx):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Fault("invalid_field", path, f"{path}: must be an integer, not {_type_name(value)}")
        if not self.minimum <= value <= self.maximum:
            raise _Fault("invalid_field", path,
                         f"{path}: must be from {self.minimum} to {self.maximum}")
        return value


class Str:
    def __init__(self, min_chars=0, max_chars=None, pattern=None, max_utf8_bytes=None,
                 min_utf8_bytes=None, forbidden=()):
        self.min_chars = min_chars
        self.max_chars = max_chars
        self.pattern = re.compile(pattern) if pattern else None
        self.max_utf8_bytes = max_utf8_bytes
        self.min_utf8_bytes = min_utf8_bytes
        self.forbidden = forbidden

    def check(self, value, path, ctx):
        if not isinstance(value, str):
            raise _Fault("invalid_field", path, f"{path}: must be a string, not {_type_name(value)}")
        if len(value) < self.min_chars or (self.max_chars is not None and len(value) > self.max_chars):
            raise _Fault("invalid_field", path, f"{path}: length out of range")
        if self.max_utf8_bytes is not None or self.min_utf8_bytes is not None:
            size = len(value.encode("utf-8"))
            if (self.max_utf8_bytes is not None and size > self.max_utf8_bytes) or (
                    self.min_utf8_bytes is not None and size < self.min_utf8_bytes):
                raise _Fault("invalid_field", path, f"{path}: UTF-8 length out of range")
        if self.pattern and not self.pattern.fullmatch(value):
            raise _Fault("invalid_field", path, f"{path}: malformed")
        if value in self.forbidden:
            raise _Fault("invalid_field", path, f"{path}: {value!r} is not allowed")
        return value


class Enum:
    def __init__(self, *values):
        self.values = values

    def check(self, value, path, ctx):
        if not isinstance(value, str) or value not in self.values:
            raise _Fault("invalid_field", path, f"{path}: must be one of {', '.join(self.values)}")
        return value


class Binary:
    """Canonical base64url (TRN-025) decoding to ``min_bytes`` .. ``max_bytes`` bytes."""

    def __init__(self, min_bytes=0, max_bytes=None):
        self.min_bytes = min_bytes
        self.max_bytes = max_bytes

    def check(self, value, path, ctx):
        if not isinstance(value, str):
            raise _Fault("invalid_field", path, f"{path}: must be a string, not {_type_name(value)}")
        data = b64.decode(value)
        if data is None:
            raise _Fault("invalid_field", path, f"{path}: not canonical unpadded base64url")
        if len(data) < self.min_bytes or (self.max_bytes is not None and len(data) > self.max_bytes):
            raise _Fault("invalid_field", path, f"{path}: {len(data)} bytes, out of range")
        return data


ID = Binary(16, 16)
HASH = Binary(32, 32)
ENVELOPE = Binary(28)
WRAPPED_KEY = Binary(60, 60)
TOKEN = Str(1, 512, r"[!-~]+")
SCOPE = Enum("read", "read_write", "owner")
KEY_ID = Int(1, U32_MAX)
CHUNK_COUNT = Int(1, U32_MAX)
SEQ = Int(1, UINT_MAX)
UINT = Int()


class Nullable:
    def __init__(self, inner):
        self.inner = inner

    def check(self, value, path, ctx):
        return None if value is None else self.inner.check(value, path, ctx)


class Arr:
    def __init__(self, items, min_items=0, max_items=None, distinct=False):
        self.items = items
        self.min_items = min_items
        self.max_items = max_items
        self.distinct = distinct

    def check(self, value, path, ctx):
        if not isinstance(value, list):
            raise _Fault("invalid_field", path, f"{path}: must be an array, not {_type_name(value)}")
        out = [self.items.check(item, f"{path}[{i}]", ctx) for i, item in enumerate(value)]
        if len(out) < self.min_items or (self.max_items is not None and len(out) > self.max_items):
            raise _Fault("invalid_field", path, f"{path}: {len(out)} items, out of range")
        if self.distinct:
            seen = set()
            for i, item in enumerate(out):
                if item in seen:
                    # A rule between members: checked after every member (ERR-014).
                    ctx.rules.append(_rule_fault("invalid_field", f"{path}[{i}]", "repeated"))
                    break
                seen.add(item)
        return out


class Ranges:
    """``chunks_missing``: ascending, non-empty, non-adjacent half-open ranges (11.2)."""

    def check(self, value, path, ctx):
        if not isinstance(value, list):
            raise _Fault("invalid_field", path, f"{path}: must be an array, not {_type_name(value)}")
        out = []
        for i, item in enumerate(value):
            item_path = f"{path}[{i}]"
            if not isinstance(item, list) or len(item) != 2:
                raise _Fault("invalid_field", item_path, f"{item_path}: must be [start, end)")
            start = Int(0, U32_MAX).check(item[0], f"{item_path}[0]", ctx)
            end = Int(0, U32_MAX).check(item[1], f"{item_path}[1]", ctx)
            if end <= start or (out and start <= out[-1][1]):
                raise _Fault("invalid_field", item_path,
                             f"{item_path}: ranges must be non-empty, ascending and not adjacent")
            out.append((start, end))
        return out


class Obj:
    """``props``: (name, type, required) in schema order; ``strict``: unknown members rejected."""

    def __init__(self, props, strict, rules=()):
        self.props = props
        self.strict = strict
        self.rules = rules
        self.names = {name for name, _, _ in props}

    def check(self, value, path, ctx):
        if not isinstance(value, JObject):
            raise _Fault("invalid_field", path or "", f"{path or 'body'}: must be an object, not {_type_name(value)}")
        members = value.map()
        out = {}
        for name, kind, required in self.props:
            member_path = _join(path, name)
            if callable(required):
                required = required(members)
            if name not in members:
                if required is True:
                    raise _Fault("missing_field", member_path, f"{member_path}: missing")
                continue
            if required == "forbidden":
                # LWW-004: a member that this variant of the message must not carry.
                raise _Fault("invalid_field", member_path, f"{member_path}: not allowed here")
            out[name] = kind.check(members[name], member_path, ctx)
        if self.strict:
            for name in value.keys():
                if name not in self.names:
                    member_path = _join(path, name)
                    raise _Fault("unknown_field", member_path, f"{member_path}: unknown member")
        for rule in self.rules:
            ctx.rules.append(_bound_rule(rule, out, path))
        return out


def _rule_fault(code, field, message):
    def run():
        raise _Fault(code, field, f"{field}: {message}")
    return run


def _bound_rule(rule, out, path):
    def run():
        rule(out, path)
    return run


class _Ctx:
    def __init__(self):
        self.rules = []


class Special:
    """A member checked by a function (value, path, ctx) -> value."""

    def __init__(self, function):
        self.function = function

    def check(self, value, path, ctx):
        return self.function(value, path, ctx)


# ---- rules between members -----------------------------------------------------------------


def _protocol(field, message):
    raise _Fault("protocol_error", field, f"{field}: {message}")


def _info_rules(o, path):
    versions = o["versions"]
    for i in range(1, len(versions)):
        if versions[i] <= versions[i - 1]:
            _protocol(f"versions[{i}]", "versions must ascend without repeats (INF-005)")


def _error_rules(o, path):
    error = o["error"]
    details = error.get("details")
    needs = {
        "chunk_index_out_of_range": ("chunk_count",),
        "file_chunk_count_mismatch": ("chunk_count",),
        "version_conflict": ("current_version",),
        "after_seq_beyond_head": ("head_seq",),
        "file_incomplete": ("chunks_missing",),
        "body_too_large": ("limit_bytes",),
        "too_many_ops": ("limit",),
        "too_many_ids": ("limit",),
    }
    code = error["code"]
    if code in needs:
        for member in needs[code]:
            if details is None or member not in details:
                _protocol(f"error.details.{member}", f"{code} requires details.{member} (ERR-010)")
        if code == "file_incomplete" and not details["chunks_missing"]:
            _protocol("error.details.chunks_missing", "file_incomplete names at least one range")
    if code == "quota_exceeded" and (details is None or
                                     ("limit" not in details and "limit_bytes" not in details)):
        _protocol("error.details.limit", "quota_exceeded requires details.limit or limit_bytes")


def _token_list_rules(o, path):
    tokens = o["tokens"]
    for i in range(1, len(tokens)):
        if tokens[i]["token_id"] <= tokens[i - 1]["token_id"]:
            _protocol(f"tokens[{i}].token_id", "tokens must ascend by token_id bytes (AUTH-024)")
    cursor = o["next_after"]
    if cursor is not None and (not tokens or cursor != tokens[-1]["token_id"]):
        _protocol("next_after", "next_after must be the last token listed (AUTH-024)")


def _key_list_rules(o, path):
    keys = o["keys"]
    for i in range(1, len(keys)):
        if keys[i]["key_id"] <= keys[i - 1]["key_id"]:
            _protocol(f"keys[{i}].key_id", "key records must ascend by key id (KEY-001)")
    cursor = o["next_after"]
    if cursor is not None and (not keys or cursor != keys[-1]["key_id"]):
        _protocol("next_after", "next_after must be the last key id listed (KEY-006)")


def _upload_response_rules(o, path):
    for i, result in enumerate(o["results"]):
        if result.get("seq") is not None and result["seq"] > o["head_seq"]:
            _protocol(f"results[{i}].seq", "a result's seq is beyond head_seq (LOG-009)")


def _result_rules(r, path):
    if r["status"] == "rejected":
        for member in ("code", "message"):
            if member not in r:
                raise _Fault("missing_field", _join(path, member), f"{path}: rejected without {member}")
        if "seq" in r:
            _protocol(_join(path, "seq"), "a rejected result has no seq (LOG-025)")
    else:
        if "seq" not in r:
            raise _Fault("missing_field", _join(path, "seq"), f"{path}: {r['status']} without seq")
        for member in ("code", "message"):
            if member in r:
                _protocol(_join(path, member), f"an {r['status']} result has no {member} (LOG-025)")


def _ops_page_rules(o, path):
    after_seq, head_seq, ops, cursor = o["after_seq"], o["head_seq"], o["ops"], o["next_after_seq"]
    for i, op in enumerate(ops):
        if op["seq"] != after_seq + 1 + i:
            raise _Fault("page_gap", f"ops[{i}].seq",
                         f"ops[{i}].seq is {op['seq']}, expected {after_seq + 1 + i} (SYNC-007)")
        if op["seq"] > head_seq:
            _protocol(f"ops[{i}].seq", "an operation beyond head_seq (LOG-028)")
    if after_seq > head_seq:
        _protocol("after_seq", "after_seq beyond head_seq")
    if not ops and after_seq != head_seq:
        _protocol("ops", "an empty page although the log goes on (LOG-020)")
    last = ops[-1]["seq"] if ops else after_seq
    if cursor is None:
        if last != head_seq:
            _protocol("next_after_seq", "next_after_seq is null but the log goes on (LOG-022)")
    elif cursor != last or last >= head_seq:
        _protocol("next_after_seq", "next_after_seq must be the last seq, below head_seq (LOG-022)")


def _blocks_rules(o, path):
    size, head, count, blocks, cursor = (o["block_size"], o["head_seq"], o["block_count"],
                                         o["blocks"], o["next_start"])
    if count != head // size:
        _protocol("block_count", "block_count is not floor(head_seq / block_size) (LOG-033)")
    for i in range(1, len(blocks)):
        if blocks[i]["index"] != blocks[i - 1]["index"] + 1:
            _protocol(f"blocks[{i}].index", "block indexes must be consecutive (LOG-033)")
    for i, block in enumerate(blocks):
        if block["index"] >= count:
            _protocol(f"blocks[{i}].index", "a block that is not complete (LOG-033)")
    if blocks:
        after_last = blocks[-1]["index"] + 1
        if cursor is None and after_last < count:
            _protocol("next_start", "next_start is null although complete blocks follow (LOG-033)")
        if cursor is not None and (cursor != after_last or cursor >= count):
            _protocol("next_start", "next_start must follow the last block listed (LOG-033)")
    elif cursor is not None:
        _protocol("next_start", "next_start set on an empty list (LOG-033)")


def _file_status_rules(o, path):
    if o["state"] != "uploading" and o["chunks_missing"]:
        raise _Fault("invalid_field", "chunks_missing", "chunks_missing: only an uploading file misses chunks (11.2)")
    for i, (start, end) in enumerate(o["chunks_missing"]):
        if end > o["chunk_count"]:
            field = f"chunks_missing[{i}]"
            raise _Fault("invalid_field", field, f"{field}: a range beyond the chunk count")


def _token_request_rules(o, path):
    if o.get("scope") == "owner" and "expires_in_ms" in o:
        raise _Fault("invalid_field", "expires_in_ms", "expires_in_ms: an owner token never expires (AUTH-014)")


def _file_ref_rules(ref, path):
    expected = max(1, -(-ref["size_bytes"] // ref["chunk_bytes"]))
    if ref["chunk_count"] != expected:
        field = _join(path, "chunk_count")
        raise _Fault("invalid_field", field, f"{field}: must be {expected} (LWW-002)")


def _payload_rules(o, path):
    files = o.get("files") or []
    seen = set()
    for i, ref in enumerate(files):
        if ref["id"] in seen:
            raise _Fault("invalid_field", f"files[{i}].id", f"files[{i}].id: repeated (LWW-001)")
        seen.add(ref["id"])


def _op_format(value, path, ctx):
    """The ``v`` of an operation in a page: an integer, and 1 (VER-006, VER-008)."""
    version = Int(0, 255).check(value, path, ctx)
    if version != 1:
        raise _Fault("unsupported_format", path,
                     f"{path}: operation format {version} is unknown; upgrade this client (VER-006)")
    return version


def _payload_format(value, path, ctx):
    """A payload's ``v`` (VER-009): an integer from 0 to 255, else malformed; other than 1, unknown."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Fault("invalid_field", path, f"{path}: must be an integer, not {_type_name(value)}")
    if not 0 <= value <= 255:
        raise _Fault("invalid_field", path, f"{path}: a payload format is an integer from 0 to 255, not {value} (VER-009)")
    if value != 1:
        raise _Fault("unsupported_format", path, f"{path}: payload format {value} is unknown (VER-007)")
    return value


def _const_one(value, path, ctx):
    Int(0, UINT_MAX).check(value, path, ctx)
    if value != 1:
        raise _Fault("invalid_field", path, f"{path}: only format 1 exists (VER-005)")
    return value


def _const_str(expected):
    def check(value, path, ctx):
        if value != expected:
            raise _Fault("invalid_field", path, f"{path}: must be {expected!r}")
        return value
    return Special(check)


# ---- the messages --------------------------------------------------------------------------

HLC_REQUEST = Obj([("wall_ms", Int(0, WALL_MS_MAX), True), ("counter", Int(0, U32_MAX), True)], True)
HLC_RESPONSE = Obj([("wall_ms", Int(0, WALL_MS_MAX), True), ("counter", Int(0, U32_MAX), True)], False)
KDF_REQUEST = Obj([("algorithm", _const_str("pbkdf2-hmac-sha256-prehashed"), True),
                   ("iterations", Int(1, 10_000_000), True)], True)
KDF_RESPONSE = Obj([("algorithm", _const_str("pbkdf2-hmac-sha256-prehashed"), True),
                    ("iterations", Int(1, 10_000_000), True)], False)

INFO_LIMITS = [
    ("request_body_bytes_max", 1_048_576), ("batch_ops_max", 100), ("op_payload_bytes_max", 16_384),
    ("page_ops_max", 100), ("page_bytes_max", 1_048_576), ("page_blocks_max", 256),
    ("page_tokens_max", 20), ("page_keys_max", 16), ("key_records_max", 16),
    ("file_status_ids_max", 100), ("chunk_bytes", 65_536), ("file_chunks_max", 1_024),
]
HTTP_LIMITS = [("request_target_bytes_max", 2_048), ("header_fields_max", 32),
               ("header_section_bytes_max", 8_192)]
_LIMIT_MAXIMUM = {"chunk_bytes": 16_777_216, "file_chunks_max": U32_MAX}

TOKEN_ENTRY = Obj([("token_id", ID, True), ("scope", SCOPE, True), ("created_at_ms", UINT, True),
                   ("expires_at_ms", Nullable(UINT), True), ("revoked_at_ms", Nullable(UINT), True)],
                  False)
KEY_RECORD = Obj([("key_id", KEY_ID, True), ("version", Int(1, UINT_MAX), True),
                  ("kdf", KDF_RESPONSE, True), ("wrapped_key", WRAPPED_KEY, True),
                  ("updated_at_ms", UINT, True)], False)
FILE_REF = Obj([("id", ID, True), ("name", Str(1, None, r"[^/\\\x00]+", max_utf8_bytes=255,
                                               forbidden=(".", "..")), True),
                ("size_bytes", UINT, True), ("chunk_bytes", Int(65_536, 16_777_216), True),
                ("chunk_count", CHUNK_COUNT, True), ("sha256", HASH, True)], True, [_file_ref_rules])


def _put_only(members):
    return True if members.get("type") == "put" else "forbidden" if members.get("type") == "delete" else False


MESSAGES = {
    "InfoResponse": Obj([
        ("protocol", _const_str("opsync"), True),
        ("versions", Arr(Int(1, U32_MAX), 1, 64), True),
        ("server", Obj([("name", Str(0, 256), True), ("version", Str(0, 256), True)], False), True),
        ("capabilities", Arr(Str(1, 64), 0, 256), True),
        ("registration", Enum("open", "closed"), True),
        ("server_time_ms", UINT, True),
        ("max_clock_skew_ms", Int(1_000, 3_600_000), True),
        ("block_size", Int(1, 65_536), True),
        ("upload_expiry_ms", Int(3_600_000, UINT_MAX), True),
        ("file_retention_ms", Int(3_600_000, UINT_MAX), True),
        ("limits", Obj([(name, Int(floor, _LIMIT_MAXIMUM.get(name, UINT_MAX)), True)
                        for name, floor in INFO_LIMITS], False), True),
        ("http_limits", Obj([(name, Int(floor, UINT_MAX), True) for name, floor in HTTP_LIMITS],
                            False), False),
    ], False, [_info_rules]),
    "ErrorBody": Obj([("error", Obj([
        ("code", Str(1, 64), True),
        ("message", Str(0, 65_536), True),
        ("field", Str(0, 4_096), False),
        ("details", Obj([("chunk_count", CHUNK_COUNT, False), ("current_version", UINT, False),
                         ("head_seq", UINT, False), ("chunks_missing", Ranges(), False),
                         ("limit_bytes", UINT, False), ("limit", UINT, False)], False), False),
    ], False), True)], False, [_error_rules]),
    "CreateWorkspaceRequest": Obj([], True),
    "CreateWorkspaceResponse": Obj([("workspace_id", ID, True), ("owner_token", TOKEN, True),
                                    ("owner_token_id", ID, True), ("block_size", Int(1, 65_536), True),
                                    ("created_at_ms", UINT, True)], False),
    "DeleteWorkspaceResponse": Obj([("workspace_id", ID, True), ("deleted_at_ms", UINT, True)], False),
    "CreateTokenRequest": Obj([("scope", SCOPE, True),
                               ("expires_in_ms", Int(1_000, 315_360_000_000), False)], True,
                              [_token_request_rules]),
    "TokenIssued": Obj([("token_id", ID, True), ("token", TOKEN, True), ("scope", SCOPE, True),
                        ("created_at_ms", UINT, True), ("expires_at_ms", Nullable(UINT), True)], False),
    "TokenEntry": TOKEN_ENTRY,
    "TokenListResponse": Obj([("tokens", Arr(TOKEN_ENTRY), True), ("next_after", Nullable(ID), True)],
                             False, [_token_list_rules]),
    "RevokeTokenResponse": Obj([("token_id", ID, True), ("revoked_at_ms", UINT, True)], False),
    "KeyRecord": KEY_RECORD,
    "PutKeyRequest": Obj([("expected_version", UINT, True), ("kdf", KDF_REQUEST, True),
                          ("wrapped_key", WRAPPED_KEY, True)], True),
    "KeyListResponse": Obj([("keys", Arr(KEY_RECORD), True), ("next_after", Nullable(KEY_ID), True)],
                           False, [_key_list_rules]),
    "UploadOpsRequest": Obj([("ops", Arr(Obj([
        ("v", Special(_const_one), True), ("id", ID, True), ("device_id", ID, True),
        ("hlc", HLC_REQUEST, True), ("key_id", KEY_ID, True), ("payload", ENVELOPE, True),
    ], True), 1), True)], True),
    "UploadOpsResponse": Obj([
        ("results", Arr(Obj([("id", ID, True), ("status", Enum("accepted", "duplicate", "rejected"), True),
                             ("seq", SEQ, False), ("code", Str(1, 64), False),
                             ("message", Str(0, 65_536), False)], False, [_result_rules]), 1), True),
        ("head_seq", UINT, True)], False, [_upload_response_rules]),
    "OpsPageResponse": Obj([
        ("after_seq", UINT, True), ("after_hash", HASH, True), ("head_seq", UINT, True),
        ("ops", Arr(Obj([("seq", SEQ, True), ("v", Special(_op_format), True), ("id", ID, True),
                         ("device_id", ID, True), ("hlc", HLC_RESPONSE, True), ("key_id", KEY_ID, True),
                         ("payload", ENVELOPE, True)], False)), True),
        ("next_after_seq", Nullable(SEQ), True)], False, [_ops_page_rules]),
    "BlocksResponse": Obj([
        ("block_size", Int(1, 65_536), True), ("head_seq", UINT, True), ("block_count", UINT, True),
        ("blocks", Arr(Obj([("index", UINT, True), ("hash", HASH, True)], False)), True),
        ("next_start", Nullable(SEQ), True)], False, [_blocks_rules]),
    "CreateFileRequest": Obj([("chunk_count", CHUNK_COUNT, True)], True),
    "CommitFileRequest": Obj([("chunk_count", CHUNK_COUNT, True)], True),
    "FileStatus": Obj([("file_id", ID, True), ("state", Enum("uploading", "committed", "deleted"), True),
                       ("chunk_count", CHUNK_COUNT, True), ("chunks_missing", Ranges(), True),
                       ("stored_bytes", UINT, True), ("updated_at_ms", UINT, True)], False,
                      [_file_status_rules]),
    "ChunkStored": Obj([("file_id", ID, True), ("index", Int(0, U32_MAX), True),
                        ("size_bytes", Int(28, UINT_MAX), True)], False),
    "FileStatusRequest": Obj([("file_ids", Arr(ID, 1, distinct=True), True)], True),
    "FileStatusResponse": Obj([("files", Arr(Obj([
        ("file_id", ID, True), ("state", Enum("absent", "uploading", "committed", "deleted"), True)],
        False)), True)], False),
    "Payload": Obj([
        ("v", Special(_payload_format), True),
        ("type", Enum("put", "delete"), True),
        ("key", Str(1, None, r"[^\x00]+", max_utf8_bytes=1024), True),
        ("value", Binary(0), _put_only),
        ("bases", Arr(ID, 0, 64, distinct=True), True),
        ("files", Arr(FILE_REF, 0, 64), _put_only),
    ], True, [_payload_rules]),
}

# The one operation, as in a page or an upload, for HlcInputTest-style checks.
OP = Obj([("v", Special(_const_one), True), ("id", ID, True), ("device_id", ID, True),
          ("hlc", HLC_REQUEST, True), ("key_id", KEY_ID, True), ("payload", ENVELOPE, True)], True)


def check_tree(kind, tree):
    """Checks an already parsed tree against ``kind`` (an Obj); returns the converted value."""
    ctx = _Ctx()
    try:
        out = kind.check(tree, "", ctx)
        for rule in ctx.rules:
            rule()
    except _Fault as fault:
        raise InvalidMessage(fault.code, fault.message, fault.field) from None
    return out


def parse_message(name, data):
    """Parses and checks the JSON text ``data`` as message ``name``. Raises InvalidMessage."""
    return check_tree(MESSAGES[name], parse(data))


def is_request(name):
    return MESSAGES[name].strict
