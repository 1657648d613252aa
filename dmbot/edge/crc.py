"""X's Challenge-Response Check (CRC).

X proves that a webhook belongs to the app by sending ``GET ?crc_token=T``
and expecting ``{"response_token": "sha256=<base64(HMAC-SHA256(consumer
secret, T))>"}``. That HMAC is the same one that signs deliveries, so an
endpoint that signs any token would hand out signatures for forged bodies.
Only tokens of X's opaque shape are signed: base64 or base64url characters,
of a bounded length. Anything else is refused, unsigned.
"""

from __future__ import annotations

import re

from dmbot.edge.signature import digest

MAX_TOKEN_LENGTH = 256
"""X's tokens are a few dozen characters; anything this long is not one."""

_TOKEN = re.compile(rf"[A-Za-z0-9+/_-]{{8,{MAX_TOKEN_LENGTH}}}={{0,2}}")


def is_token(token: str | None) -> bool:
    """True for a string of X's CRC token shape (base64/base64url, 8..256 chars)."""
    return token is not None and _TOKEN.fullmatch(token) is not None


def response_token(consumer_secret: str | bytes, crc_token: str) -> str:
    """The ``response_token`` X expects for ``crc_token``.

    Raises:
        ValueError: ``crc_token`` is not of X's shape; it must not be signed.
    """
    if not is_token(crc_token):
        raise ValueError("crc_token is not a base64 token of at most 256 characters")
    return digest(consumer_secret, crc_token.encode("ascii"))
