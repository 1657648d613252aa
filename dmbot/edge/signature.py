"""The ``x-twitter-webhooks-signature`` header: sign and verify.

X signs every POSTed delivery with HMAC-SHA256 over the raw request body,
keyed by the app's consumer secret, and sends ``sha256=<base64 digest>``.
Verification runs on the raw bytes, before any JSON parsing, and compares in
constant time. X signs no timestamp: replays are caught by event-id dedupe.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

HEADER = "x-twitter-webhooks-signature"
PREFIX = "sha256="


def digest(secret: str | bytes, message: bytes) -> str:
    """``sha256=<base64(HMAC-SHA256(secret, message))>``, as X writes it."""
    key = secret.encode() if isinstance(secret, str) else secret
    mac = hmac.new(key, message, hashlib.sha256).digest()
    return PREFIX + base64.b64encode(mac).decode("ascii")


def sign(secret: str | bytes, body: bytes) -> str:
    """The header value X would send with ``body``."""
    return digest(secret, body)


def verify(secret: str | bytes, body: bytes, header: str | None) -> bool:
    """True only if ``header`` is X's signature of ``body``.

    A missing or malformed header is simply not valid; the comparison takes
    the same time wherever the first difference is.
    """
    if not header or not header.startswith(PREFIX):
        return False
    expected = digest(secret, body)
    return hmac.compare_digest(expected.encode("ascii"), header.strip().encode("ascii", "replace"))
