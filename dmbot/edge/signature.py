"""The ``x-twitter-webhooks-signature`` header: sign and verify.

X signs every POSTed delivery with HMAC-SHA256 over the raw request body,
keyed by the app's consumer secret, and sends ``sha256=<base64 digest>``.
Verification runs on the raw bytes, before any JSON parsing, and compares in
constant time. X signs no timestamp: replays are caught by event-id dedupe.

:func:`verify` answers yes or no, which is all the webhook's hot path needs;
:func:`refusal` says why a header was refused (the webhook logs it), and
:func:`require` raises that :class:`~dmbot.errors.SignatureError`, for code
that receives deliveries its own way and handles a refusal as an error.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from dmbot.errors import SignatureError

__all__ = ["HEADER", "PREFIX", "digest", "refusal", "require", "sign", "verify"]

HEADER = "x-twitter-webhooks-signature"
PREFIX = "sha256="


def digest(secret: str | bytes, message: bytes) -> str:
    """``sha256=<base64(HMAC-SHA256(secret, message))>``, as X writes it."""
    key = secret.encode() if isinstance(secret, str) else secret
    mac = hmac.digest(key, message, hashlib.sha256)  # one call into OpenSSL
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


def refusal(header: str | None) -> SignatureError:
    """Why ``header`` was refused, once :func:`verify` said no.

    Only the header's shape is looked at, never the expected signature, so
    the message tells a caller nothing that would help forge one.
    """
    if not header:
        return SignatureError(
            f"the delivery has no {HEADER} header: X signs every delivery, so it did not "
            "come from X (or a proxy dropped the header)"
        )
    if not header.startswith(PREFIX):
        return SignatureError(f"{HEADER} is not of the form {PREFIX}<base64 HMAC-SHA256>")
    return SignatureError(
        f"{HEADER} does not match the body: the sender signs with another consumer secret "
        "than twitter.consumer_secret, or the body changed on the way"
    )


def require(secret: str | bytes, body: bytes, header: str | None) -> None:
    """Return only if ``header`` is X's signature of ``body``.

    Raises:
        SignatureError: the header is missing, malformed or wrong; the message says which.
    """
    if not verify(secret, body, header):
        raise refusal(header)
