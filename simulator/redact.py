"""API keys in what is printed or written: enough to tell them apart, never the key.

A scenario's ``api_key`` may be a real staging key. Whatever shows one (an error, a log
line, a report) shows :func:`redact_key` instead: its first characters and a short hash,
``paid…#3fa2``. Two different keys with the same beginning still look different (the
hash), and the same key looks the same everywhere, so a reader can match a redacted key
with the scenario file that holds it.
"""

from __future__ import annotations

import hashlib

__all__ = ["redact_key"]

#: Characters of the key shown, at most (and never more than half of a short key).
SHOWN_CHARS = 4
#: Hexadecimal digits of the key's SHA-256 shown.
HASH_DIGITS = 4


def redact_key(key: str) -> str:
    """*key* as ``paid…#3fa2``: its first characters, ``…#`` and 4 hex digits of its SHA-256.

    >>> redact_key("paid-key-0000")
    'paid…#085f'
    """
    shown = key[: min(SHOWN_CHARS, len(key) // 2)]
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:HASH_DIGITS]
    return f"{shown}…#{digest}"
