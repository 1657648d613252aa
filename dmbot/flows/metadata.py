"""Signed Quick Reply metadata: which flow, step, option and prompt a tap answers.

X hands an option's ``metadata`` back, unchanged, in the ``quick_reply_response`` of the
tap. dmbot puts there what the tap means and signs it, so a tap can be routed even when
the user has moved on, and metadata dmbot did not issue (another app's, a forged or a
corrupted one) is recognised and treated as plain text.

Format (ASCII, at most a few hundred characters for real flows; X allows 1,000)::

    dm1.<payload>.<tag>

- ``dm1`` names this format; anything else is not ours.
- ``<payload>`` is base64url, without padding, of the UTF-8 compact JSON array
  ``[flow, step, value, prompt]`` when the label equals the value, else
  ``[flow, step, value, label, prompt]``. ``prompt`` is the conversation's prompt counter,
  a non-negative integer; ``flow`` is ``""`` for plain quick replies sent by handlers.
- ``<tag>`` is the first 12 base64url characters (72 bits) of
  HMAC-SHA256(key, ``"dm1." + payload``), with ``key = derive_key(consumer secret)``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dmbot.flows.model import Flow

MAX_METADATA = 1000
"""X's limit on the metadata of one Quick Reply option, in characters."""

MAX_PROMPT = 10**9
"""The largest prompt counter :func:`max_length` plans for."""

_VERSION = "dm1"
_TAG_CHARS = 12
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
# Nothing longer than a Direct Message can be metadata we issued; don't hash more.
_MAX_DECODE = 10_000
_KEY_LABEL = b"dmbot quick-reply metadata v1"


def derive_key(consumer_secret: str) -> bytes:
    """The metadata signing key: HMAC-SHA256(consumer secret, a fixed label).

    Deriving a separate key keeps the consumer secret itself out of yet another use, and
    changing the label would invalidate every outstanding tap at once.
    """
    return hmac.new(consumer_secret.encode("utf-8"), _KEY_LABEL, hashlib.sha256).digest()


@dataclass(frozen=True, slots=True)
class Tap:
    """What a Quick Reply option stands for.

    Attributes:
        flow: the flow's name; ``""`` for plain quick replies sent by handlers.
        step: the step's name (``""`` outside flows).
        value: the answer the option saves.
        label: the option's label as shown on the button.
        prompt: the conversation's prompt counter when the question was asked.
    """

    flow: str
    step: str
    value: str
    label: str
    prompt: int


def encode(tap: Tap, key: bytes) -> str:
    """The signed metadata string for ``tap``.

    Raises:
        ValueError: ``tap.prompt`` is negative.
    """
    if tap.prompt < 0:
        raise ValueError(f"prompt counter must be 0 or more, not {tap.prompt}")
    fields: list[str | int] = [tap.flow, tap.step, tap.value]
    if tap.label != tap.value:
        fields.append(tap.label)
    fields.append(tap.prompt)
    body = json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    signed = f"{_VERSION}.{_b64(body)}"
    return f"{signed}.{_tag(signed, key)}"


def decode(metadata: str | None, key: bytes) -> Tap | None:
    """The :class:`Tap` that ``metadata`` stands for, if dmbot issued it with ``key``.

    Returns ``None``, never raising, for anything else: missing, foreign, truncated,
    altered, signed with another key or written in another format version.
    """
    try:
        return _decode(metadata, key)
    except (ValueError, TypeError, UnicodeError, binascii.Error):
        return None


def _decode(metadata: str | None, key: bytes) -> Tap | None:
    if not isinstance(metadata, str) or len(metadata) > _MAX_DECODE:
        return None
    parts = metadata.split(".")
    if len(parts) != 3 or parts[0] != _VERSION:
        return None
    _, payload, tag = parts
    if not _BASE64URL.fullmatch(payload):
        return None
    # The tag covers the text as sent, so any changed character fails here.
    if not hmac.compare_digest(tag, _tag(f"{_VERSION}.{payload}", key)):
        return None
    fields = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    if not isinstance(fields, list) or len(fields) not in (4, 5):
        return None
    *texts, prompt = fields
    if not all(isinstance(t, str) for t in texts):
        return None
    if isinstance(prompt, bool) or not isinstance(prompt, int) or prompt < 0:
        return None
    flow, step, value = texts[:3]
    label = texts[3] if len(texts) == 4 else value
    return Tap(flow=flow, step=step, value=value, label=label, prompt=prompt)


def length(flow: str, step: str, value: str, label: str, prompt: int = MAX_PROMPT) -> int:
    """How long the metadata of one option is, whatever the key."""
    return len(encode(Tap(flow, step, value, label, prompt), b""))


def max_length(flow: Flow) -> int:
    """The longest metadata any option of ``flow`` produces, with prompt counters up to 10**9.

    ``0`` for a flow without options.
    """
    return max(
        (
            length(flow.name, step.name, option.saved, option.label)
            for step in flow.steps
            for option in step.options
        ),
        default=0,
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _tag(signed: str, key: bytes) -> str:
    digest = hmac.new(key, signed.encode("ascii"), hashlib.sha256).digest()
    return _b64(digest)[:_TAG_CHARS]
