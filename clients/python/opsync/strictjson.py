"""Strict JSON text rules of spec 2.2 (TRN-020, TRN-021, TRN-024, TRN-026, TRN-027, TRN-028).

``parse(data)`` returns a tree of ``JObject`` (the members in text order, repeats kept), lists,
str, bool, None, int and the markers ``NonInteger`` (a number written with a fraction, an
exponent or as ``-0``: never an integer here, TRN-024). Python's C JSON scanner does the
tokenizing, so parsing stays linear and fast for large pages; what it lets through is checked
here: the byte order mark, invalid UTF-8, lone surrogate escapes, depth above 16, and repeated
member names, reported as the first repetition in the order of the text.
"""

import json

from .errors import InvalidMessage

DEPTH_MAX = 16
# Longer digit strings than this cannot be in range anywhere (2^53 - 1 has 16 digits); keeping
# them as markers also avoids Python's limit on converting huge digit strings.
_INT_DIGITS_MAX = 24


class NonInteger:
    """A number that is not written as an integer (``1.0``, ``1e3``, ``-0``)."""

    __slots__ = ("text",)

    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return f"NonInteger({self.text!r})"


class HugeInteger:
    """An integer written with more digits than any field allows."""

    __slots__ = ("text",)

    def __init__(self, text):
        self.text = text


class JObject:
    """A JSON object as written: ``pairs`` in text order, repeated names kept."""

    __slots__ = ("pairs", "_map")

    def __init__(self, pairs):
        self.pairs = pairs
        self._map = None

    def map(self):
        if self._map is None:
            self._map = dict(self.pairs)
        return self._map

    def get(self, name, default=None):
        return self.map().get(name, default)

    def __contains__(self, name):
        return name in self.map()

    def keys(self):
        return [k for k, _ in self.pairs]


def _parse_int(text):
    if text == "-0":
        return NonInteger(text)
    if len(text) > _INT_DIGITS_MAX:
        return HugeInteger(text)
    return int(text)


def _parse_constant(text):
    raise ValueError(f"{text} is not JSON")


_DECODER = json.JSONDecoder(
    object_pairs_hook=JObject,
    parse_float=NonInteger,
    parse_int=_parse_int,
    parse_constant=_parse_constant,
    strict=True,
)


def _malformed(message):
    return InvalidMessage("malformed_json", message, "")


def _has_surrogate(text):
    # The decoder joins an escaped pair into one character, so any surrogate code point left in
    # a decoded string came from a lone escape (TRN-028).
    return any(0xD800 <= ord(c) <= 0xDFFF for c in text)


def parse(data):
    """Parses a JSON text (bytes or str). Raises InvalidMessage with code malformed_json or
    duplicate_field (whose ``field`` is the path of the first repetition, TRN-027)."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
        if raw.startswith(b"\xef\xbb\xbf"):
            raise _malformed("the text starts with a byte order mark")
        try:
            text = raw.decode("utf-8", errors="strict")
        except UnicodeDecodeError as error:
            raise _malformed(f"not UTF-8 at byte {error.start}") from None
    else:
        text = data
        if text.startswith("\ufeff"):
            raise _malformed("the text starts with a byte order mark")
    if text.strip(" \t\r\n") == "" or text.lstrip(" \t\r\n")[:1] != "{":
        # Only an object is a message; checking the first character also keeps the scanner
        # from recursing into a deep array at the top level.
        raise _malformed("the text is not a JSON object")
    try:
        tree = _DECODER.decode(text)
    except (ValueError, RecursionError) as error:
        raise _malformed(f"not well-formed JSON: {error}") from None
    _check(tree)
    return tree


def _check(tree):
    """Depth, lone surrogates, then the first repeated member in text order."""
    # Depth and surrogates first: they are faults of the text as a whole (ERR-014).
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > DEPTH_MAX:
            raise _malformed(f"nested deeper than {DEPTH_MAX} levels")
        if isinstance(node, JObject):
            for name, value in node.pairs:
                if _has_surrogate(name):
                    raise _malformed("a lone surrogate escape in a member name")
                stack.append((value, depth + 1))
        elif isinstance(node, list):
            for value in node:
                stack.append((value, depth + 1))
        elif isinstance(node, str) and _has_surrogate(node):
            raise _malformed("a lone surrogate escape in a string")
    repeat = _first_repeat(tree, "")
    if repeat is not None:
        raise InvalidMessage("duplicate_field", f"{repeat}: member repeated", repeat)


def _join(path, name):
    return f"{path}.{name}" if path else name


def _first_repeat(node, path):
    # A member's name precedes its value in the text, and its value precedes the next member,
    # so a pre-order walk meets repetitions in text order.
    if isinstance(node, JObject):
        seen = set()
        for name, value in node.pairs:
            if name in seen:
                return _join(path, name)
            seen.add(name)
            found = _first_repeat(value, _join(path, name))
            if found is not None:
                return found
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found = _first_repeat(value, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def dumps(value) -> bytes:
    """The compact UTF-8 JSON text the client sends."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
