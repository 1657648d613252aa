"""The rules of config keys: how one YAML scalar becomes a typed setting.

Each field of a settings dataclass carries its rule in its metadata
(``field(metadata=integer(1, 65535))``); :class:`~dmbot.config.validation.Validator`
applies it to the value written in the file. A rule raises :class:`Bad` for a
value it refuses; the reader turns that into a problem naming key and line.

Strings that spell a number or a boolean are accepted for numeric and boolean
keys, so ``port: ${PORT:-8000}`` works. Values of secret rules are never quoted.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from dmbot.errors import ConfigError


class Bad(Exception):
    """A value breaks its key's rule; the text, if any, completes "<key> ..."."""


@dataclass(frozen=True, slots=True)
class Scalar:
    """A YAML scalar as a rule sees it."""

    value: Any  # the interpolated string, or what YAML made of the scalar (int, bool, ...)
    text: str  # the text as written, after interpolation: "0123" stays "0123" for a string key
    kind: str  # "a string", "a number", ... for messages


@dataclass(frozen=True, slots=True)
class Rule:
    """How one key's value is read."""

    expect: str  # completes "<key> must be ..."
    convert: Callable[[Scalar], Any]
    quote: bool = True  # False for secrets: never echo the value
    required: str = ""  # non-empty for a required key: how to set it


def _rule(
    expect: str, convert: Callable[[Scalar], Any], *, quote: bool = True, required: str = ""
) -> dict[str, Rule]:
    return {"rule": Rule(expect, convert, quote, required)}


def text(*, secret: bool = False, required: str = "", nonempty: bool = False) -> dict[str, Rule]:
    """A string; ``secret`` values are never quoted, ``required`` says how to set a missing one."""

    def convert(v: Scalar) -> str:
        if nonempty and not v.text.strip():
            raise Bad("must not be empty")
        return v.text

    return _rule("a string", convert, quote=not secret, required=required)


def user_id() -> dict[str, Rule]:
    """A numeric X user id (or nothing)."""

    def convert(v: Scalar) -> str:
        if v.text and not v.text.isdigit():
            raise Bad
        return v.text

    return _rule('a numeric X user id, such as "1234567890"', convert)


def integer(low: int, high: int | None = None) -> dict[str, Rule]:
    """An integer from ``low`` to ``high`` (no upper bound when None)."""

    def convert(v: Scalar) -> int:
        n = v.value
        if isinstance(n, str):
            try:
                n = int(n.strip())
            except ValueError:
                raise Bad from None
        if isinstance(n, bool) or not isinstance(n, int) or n < low or (high and n > high):
            raise Bad
        return n

    expect = f"an integer from {low} to {high}" if high else f"an integer of at least {low}"
    return _rule(expect, convert)


def flag() -> dict[str, Rule]:
    """A boolean, also spelled yes/no, on/off or 1/0."""
    words = {"true": True, "yes": True, "on": True, "1": True}
    words |= {"false": False, "no": False, "off": False, "0": False}

    def convert(v: Scalar) -> bool:
        if isinstance(v.value, bool):
            return v.value
        if v.text.strip().lower() not in words:
            raise Bad
        return words[v.text.strip().lower()]

    return _rule("true or false", convert)


def choice(*options: str) -> dict[str, Rule]:
    """One of ``options``, in any case."""

    def convert(v: Scalar) -> str:
        if v.text.strip().lower() not in options:
            raise Bad
        return v.text.strip().lower()

    return _rule(", ".join(options[:-1]) + " or " + options[-1], convert)


_DURATION = "a duration such as 250ms, 10s, 30m, 24h or 7d, or a number of seconds"


def seconds(*, zero_ok: bool = False) -> dict[str, Rule]:
    """A duration (see :func:`parse_duration`), in seconds."""

    def convert(v: Scalar) -> float:
        result = _duration(v.value)
        if result == 0 and not zero_ok:
            raise Bad("must be longer than 0 seconds")
        return result

    return _rule(_DURATION, convert)


def http_url(*, empty_ok: bool, strip_slash: bool = False) -> dict[str, Rule]:
    """An absolute http(s) URL."""

    def convert(v: Scalar) -> str:
        url = v.text.strip()
        if not url and empty_ok:
            return ""
        try:
            parts = urlsplit(url)
        except ValueError:
            raise Bad from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Bad
        return url.rstrip("/") if strip_slash else url

    return _rule(
        "an absolute http(s) URL, such as https://bot.example.com/webhooks/twitter", convert
    )


def url_path() -> dict[str, Rule]:
    """A URL path starting with a slash."""

    def convert(v: Scalar) -> str:
        if not v.text.startswith("/"):
            raise Bad
        return v.text

    return _rule('a path starting with "/", such as /webhooks/twitter', convert)


def bot_reference() -> dict[str, Rule]:
    """A bot script ending in .py, or module:attribute."""

    def convert(v: Scalar) -> str:
        ref = v.text.strip()
        if not ref.endswith(".py") and not re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", ref):
            raise Bad
        return ref

    return _rule("a script path ending in .py (its `bot` object) or module:attribute", convert)


_STORES = "memory://, sqlite:///PATH or redis://HOST:PORT/DB"


def store_url() -> dict[str, Rule]:
    """A store URL: memory://, sqlite:///PATH or redis://HOST:PORT/DB."""

    def convert(v: Scalar) -> str:
        url = v.text.strip()
        scheme, sep, rest = url.partition("://")
        scheme = scheme.lower()
        if not sep or scheme not in ("memory", "sqlite", "redis", "rediss"):
            raise Bad(f"must be {_STORES} (got {'scheme ' + scheme if sep else 'no scheme'})")
        if scheme == "memory" and rest:
            raise Bad("must be exactly memory:// (nothing follows the scheme)")
        if scheme == "sqlite" and not (rest.startswith("/") and len(rest) > 1):
            raise Bad("must name a file after three slashes, such as sqlite:///dmbot.db")
        if scheme.startswith("redis"):
            try:
                parts = urlsplit(url)
                port, db = parts.port, parts.path.strip("/")
            except ValueError:
                raise Bad("has a port that is not a number; write redis://HOST:PORT/DB") from None
            if not parts.hostname or port == 0 or (db and not db.isdigit()):
                raise Bad("must look like redis://HOST:PORT/DB, such as redis://localhost:6379/0")
        return url

    # The URL may carry a Redis password: never quote it.
    return _rule(_STORES, convert, quote=False)


def _duration(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise Bad
    if isinstance(value, str):
        spelled = value.strip().lower()
        if re.fullmatch(_NUMBER, spelled):
            return float(spelled)
        if not re.fullmatch(rf"(?:(?:{_NUMBER})\s*(?:ms|s|m|h|d)\s*)+", spelled):
            raise Bad
        return sum(
            float(n) * _UNITS[u] for n, u in re.findall(rf"({_NUMBER})\s*(ms|s|m|h|d)", spelled)
        )
    if not math.isfinite(value):
        raise Bad
    if value < 0:
        raise Bad("must not be negative")
    return float(value)


_NUMBER = r"\d+(?:\.\d*)?|\.\d+"
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: str | int | float, *, where: str) -> float:
    """Read a duration: ``"250ms"``, ``"10s"``, ``"30m"``, ``"24h"``, ``"7d"``,
    combinations such as ``"1h30m"``, or a number of seconds.

    Args:
        value: the duration as written.
        where: what the value is, for the message, e.g. ``"config.yaml:7: engine.handoff"``.

    Returns:
        The duration in seconds.

    Raises:
        ConfigError: the value is not a duration, or is negative.
    """
    try:
        return _duration(value)
    except Bad as bad:
        raise ConfigError(f"{where} {str(bad) or f'must be {_DURATION} (got {value!r})'}") from None


def rules(cls: type) -> dict[str, Rule]:
    """The rules of the plain keys of a settings class, by field name."""
    return {f.name: f.metadata["rule"] for f in dataclasses.fields(cls) if "rule" in f.metadata}


# ---- X's webhook URL rule ----

_URL_RULE = (
    "X accepts only https webhook URLs without a port, at most 200 characters long "
    '("https only, no port in the URL")'
)


def webhook_url_problem(url: str) -> str | None:
    """Check a URL against X's rules for webhook URLs.

    X also requires the URL to be publicly reachable, which cannot be checked here.

    Returns:
        None if X would accept the URL, else a sentence quoting the rule and what breaks it.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return f"{_URL_RULE}; {url} is not a valid URL."
    issues, fixes = [], []
    host_port = parts.netloc.rpartition("@")[2].rpartition("]")[2]
    if parts.scheme != "https":
        issues.append(f"uses {parts.scheme}" if parts.scheme else "has no https:// scheme")
    if port is not None or ":" in host_port:
        issues.append(f"has port {port}" if port is not None else "has a port separator")
    if issues:
        fixes.append(
            "serve dmbot behind an https proxy or tunnel on port 443 and register that URL"
        )
    if not parts.hostname:
        issues.append("has no host")
    if len(url) > 200:
        issues.append(f"is {len(url)} characters long")
        fixes.append("choose a shorter path")
    if not issues:
        return None
    return f"{_URL_RULE}; {url} {' and '.join(issues)}{''.join('; ' + f for f in fixes)}."
