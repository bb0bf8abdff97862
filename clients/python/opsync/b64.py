"""Canonical unpadded base64url (spec 1.3, TRN-025)."""

import base64
import binascii
import re

_ALPHABET = re.compile(r"[A-Za-z0-9_-]*\Z")


def encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def decode(text: str):
    """Returns the bytes, or None when ``text`` is not canonical unpadded base64url."""
    if not isinstance(text, str) or not _ALPHABET.match(text) or len(text) % 4 == 1:
        return None
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    # The unused low bits of the last character must be zero: only then does encoding the bytes
    # give the same text back.
    if encode(data) != text:
        return None
    return data


def is_canonical(text: str) -> bool:
    return decode(text) is not None
