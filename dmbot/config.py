"""config.yaml: load, interpolate, validate.

:func:`load_settings` reads the file into frozen :class:`Settings`;
:func:`settings_from_mapping` applies the same rules to a mapping built in code.

- ``${VAR}`` and ``${VAR:-default}`` are replaced from the environment in any
  string value, also mid-string; as in the shell, the default applies when VAR
  is unset or empty. ``$$`` is a literal dollar.
- Strings that spell a number or a boolean are accepted for numeric and boolean
  keys, so ``port: ${PORT:-8000}`` works.
- Unknown keys, wrong types and missing required values are collected and
  raised together as one :class:`~dmbot.errors.ConfigError`, one problem a line,
  each with file and line.
- Values of secret keys (consumer key and secret, tokens, and the store URL,
  which may hold a password) are never quoted in a message.
- ``bot:`` is relative to the config file's directory (:attr:`Settings.bot_path`);
  a relative ``sqlite:///PATH`` is relative to the current directory, where
  ``dmbot serve`` runs, as SQLite itself sees it.

Settings are plain frozen dataclasses: change them with :func:`dataclasses.replace`
or :meth:`Settings.with_overrides`.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml

from dmbot.errors import ConfigError

__all__ = [
    "AccountSettings",
    "EngineSettings",
    "LoggingSettings",
    "RedisSettings",
    "SenderSettings",
    "ServerSettings",
    "Settings",
    "SqliteSettings",
    "TwitterSettings",
    "WebhookSettings",
    "load_settings",
    "parse_duration",
    "settings_from_mapping",
    "webhook_url_problem",
]


# ---- rules: each settings field carries the rule that reads its YAML value ----


class _Bad(Exception):
    """A value breaks its key's rule; the text, if any, completes "<key> ..."."""


@dataclass(frozen=True, slots=True)
class _Scalar:
    value: Any  # the interpolated string, or what YAML made of the scalar (int, bool, ...)
    text: str  # the text as written, after interpolation: "0123" stays "0123" for a string key
    kind: str  # "a string", "a number", ... for messages


@dataclass(frozen=True, slots=True)
class _Rule:
    expect: str  # completes "<key> must be ..."
    convert: Callable[[_Scalar], Any]
    quote: bool = True  # False for secrets: never echo the value
    required: str = ""  # non-empty for a required key: how to set it


def _rule(
    expect: str, convert: Callable[[_Scalar], Any], *, quote: bool = True, required: str = ""
) -> dict[str, _Rule]:
    return {"rule": _Rule(expect, convert, quote, required)}


def _text(*, secret: bool = False, required: str = "", nonempty: bool = False) -> dict[str, _Rule]:
    def convert(v: _Scalar) -> str:
        if nonempty and not v.text.strip():
            raise _Bad("must not be empty")
        return v.text

    return _rule("a string", convert, quote=not secret, required=required)


def _user_id() -> dict[str, _Rule]:
    def convert(v: _Scalar) -> str:
        if v.text and not v.text.isdigit():
            raise _Bad
        return v.text

    return _rule('a numeric X user id, such as "1234567890"', convert)


def _integer(low: int, high: int | None = None) -> dict[str, _Rule]:
    def convert(v: _Scalar) -> int:
        n = v.value
        if isinstance(n, str):
            try:
                n = int(n.strip())
            except ValueError:
                raise _Bad from None
        if isinstance(n, bool) or not isinstance(n, int) or n < low or (high and n > high):
            raise _Bad
        return n

    expect = f"an integer from {low} to {high}" if high else f"an integer of at least {low}"
    return _rule(expect, convert)


def _flag() -> dict[str, _Rule]:
    words = {"true": True, "yes": True, "on": True, "1": True}
    words |= {"false": False, "no": False, "off": False, "0": False}

    def convert(v: _Scalar) -> bool:
        if isinstance(v.value, bool):
            return v.value
        if v.text.strip().lower() not in words:
            raise _Bad
        return words[v.text.strip().lower()]

    return _rule("true or false", convert)


def _choice(*options: str) -> dict[str, _Rule]:
    def convert(v: _Scalar) -> str:
        if v.text.strip().lower() not in options:
            raise _Bad
        return v.text.strip().lower()

    return _rule(", ".join(options[:-1]) + " or " + options[-1], convert)


_DURATION = "a duration such as 250ms, 10s, 30m, 24h or 7d, or a number of seconds"


def _seconds(*, zero_ok: bool = False) -> dict[str, _Rule]:
    def convert(v: _Scalar) -> float:
        seconds = _duration(v.value)
        if seconds == 0 and not zero_ok:
            raise _Bad("must be longer than 0 seconds")
        return seconds

    return _rule(_DURATION, convert)


def _http_url(*, empty_ok: bool, strip_slash: bool = False) -> dict[str, _Rule]:
    def convert(v: _Scalar) -> str:
        text = v.text.strip()
        if not text and empty_ok:
            return ""
        try:
            parts = urlsplit(text)
        except ValueError:
            raise _Bad from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _Bad
        return text.rstrip("/") if strip_slash else text

    return _rule(
        "an absolute http(s) URL, such as https://bot.example.com/webhooks/twitter", convert
    )


def _webhook_path() -> dict[str, _Rule]:
    def convert(v: _Scalar) -> str:
        if not v.text.startswith("/"):
            raise _Bad
        return v.text

    return _rule('a path starting with "/", such as /webhooks/twitter', convert)


def _bot() -> dict[str, _Rule]:
    def convert(v: _Scalar) -> str:
        text = v.text.strip()
        if not text.endswith(".py") and not re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", text):
            raise _Bad
        return text

    return _rule("a script path ending in .py (its `bot` object) or module:attribute", convert)


_STORES = "memory://, sqlite:///PATH or redis://HOST:PORT/DB"


def _store() -> dict[str, _Rule]:
    def convert(v: _Scalar) -> str:
        text = v.text.strip()
        scheme, sep, rest = text.partition("://")
        scheme = scheme.lower()
        if not sep or scheme not in ("memory", "sqlite", "redis", "rediss"):
            raise _Bad(f"must be {_STORES} (got {'scheme ' + scheme if sep else 'no scheme'})")
        if scheme == "memory" and rest:
            raise _Bad("must be exactly memory:// (nothing follows the scheme)")
        if scheme == "sqlite" and not (rest.startswith("/") and len(rest) > 1):
            raise _Bad("must name a file after three slashes, such as sqlite:///dmbot.db")
        if scheme.startswith("redis"):
            try:
                parts = urlsplit(text)
                port, db = parts.port, parts.path.strip("/")
            except ValueError:
                raise _Bad("has a port that is not a number; write redis://HOST:PORT/DB") from None
            if not parts.hostname or port == 0 or (db and not db.isdigit()):
                raise _Bad("must look like redis://HOST:PORT/DB, such as redis://localhost:6379/0")
        return text

    # The URL may carry a Redis password: never quote it.
    return _rule(_STORES, convert, quote=False)


def _duration(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _Bad
    if isinstance(value, str):
        text = value.strip().lower()
        if re.fullmatch(_NUMBER, text):
            return float(text)
        if not re.fullmatch(rf"(?:(?:{_NUMBER})\s*(?:ms|s|m|h|d)\s*)+", text):
            raise _Bad
        return sum(
            float(n) * _UNITS[u] for n, u in re.findall(rf"({_NUMBER})\s*(ms|s|m|h|d)", text)
        )
    if not math.isfinite(value):
        raise _Bad
    if value < 0:
        raise _Bad("must not be negative")
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
    except _Bad as bad:
        raise ConfigError(f"{where} {str(bad) or f'must be {_DURATION} (got {value!r})'}") from None


# ---- the settings ----

_CONSUMER_SECRET_HINT = (
    "it is the API key secret of your X app (developer portal, Keys and tokens); write "
    "consumer_secret: ${TWITTER_CONSUMER_SECRET} under twitter: and set TWITTER_CONSUMER_SECRET "
    "in the environment"
)
_TOKEN_HINT = (
    "get the account's tokens with `dmbot accounts authorize` and write them as ${VAR}, "
    "reading the environment"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class TwitterSettings:
    """The X app (consumer keys) and the bot account (access tokens)."""

    consumer_key: str = field(default="", repr=False, metadata=_text(secret=True))
    consumer_secret: str = field(
        repr=False, metadata=_text(secret=True, required=_CONSUMER_SECRET_HINT)
    )
    access_token: str = field(default="", repr=False, metadata=_text(secret=True))
    access_token_secret: str = field(default="", repr=False, metadata=_text(secret=True))
    env_name: str = field(default="production", metadata=_text(nonempty=True))
    api_url: str = field(
        default="https://api.twitter.com", metadata=_http_url(empty_ok=False, strip_slash=True)
    )
    api: Literal["premium", "enterprise"] = field(
        default="premium", metadata=_choice("premium", "enterprise")
    )
    send_api: Literal["v1.1", "v2"] = field(default="v1.1", metadata=_choice("v1.1", "v2"))
    app_id: str = field(default="", metadata=_text())
    bearer_token: str = field(default="", repr=False, metadata=_text(secret=True))
    user_id: str = field(default="", metadata=_user_id())


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookSettings:
    """The public webhook URL registered with X and the path served locally."""

    url: str = field(default="", metadata=_http_url(empty_ok=True))
    path: str = field(default="/webhooks/twitter", metadata=_webhook_path())
    max_body_bytes: int = field(default=1_048_576, metadata=_integer(1))


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerSettings:
    """Where ``dmbot serve`` listens."""

    host: str = field(default="127.0.0.1", metadata=_text(nonempty=True))
    port: int = field(default=8000, metadata=_integer(1, 65535))
    access_log: bool = field(default=False, metadata=_flag())


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountSettings:
    """A subscribed account this app answers for."""

    user_id: str = field(default="", metadata=_user_id())
    access_token: str = field(
        default="", repr=False, metadata=_text(secret=True, required=_TOKEN_HINT)
    )
    access_token_secret: str = field(
        default="", repr=False, metadata=_text(secret=True, required=_TOKEN_HINT)
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineSettings:
    """Timings of the conversation engine, in seconds."""

    handoff: float = field(default=1800.0, metadata=_seconds(zero_ok=True))
    claim_ttl: float = field(default=7 * 86400.0, metadata=_seconds())
    flow_expiry: float = field(default=86400.0, metadata=_seconds())
    reorder_window: float = field(default=0.02, metadata=_seconds(zero_ok=True))
    concurrency: int = field(default=64, metadata=_integer(1))


@dataclass(frozen=True, slots=True, kw_only=True)
class SenderSettings:
    """Retrying sends to X, in seconds."""

    deadline: float = field(default=86400.0, metadata=_seconds())
    concurrency: int = field(default=16, metadata=_integer(1))
    backoff_base: float = field(default=1.0, metadata=_seconds())
    backoff_max: float = field(default=300.0, metadata=_seconds())


@dataclass(frozen=True, slots=True, kw_only=True)
class LoggingSettings:
    level: Literal["debug", "info", "warning", "error"] = field(
        default="info", metadata=_choice("debug", "info", "warning", "error")
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class SqliteSettings:
    # normal survives kill -9 (WAL); full also survives a power loss, at some speed.
    synchronous: Literal["normal", "full"] = field(
        default="normal", metadata=_choice("normal", "full")
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class RedisSettings:
    prefix: str = field(default="dmbot", metadata=_text(nonempty=True))
    partitions: int = field(default=16, metadata=_integer(1))
    reclaim_idle: float = field(default=30.0, metadata=_seconds())
    lock_ttl: float = field(default=30.0, metadata=_seconds())


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Everything config.yaml says, validated. ``source`` names the file (or ``<settings>``)."""

    twitter: TwitterSettings = field(metadata={"section": TwitterSettings})
    source: str = "<settings>"
    webhook: WebhookSettings = field(
        default_factory=WebhookSettings, metadata={"section": WebhookSettings}
    )
    server: ServerSettings = field(
        default_factory=ServerSettings, metadata={"section": ServerSettings}
    )
    accounts: tuple[AccountSettings, ...] = field(default=(), metadata={"accounts": True})
    bot: str | None = field(default=None, metadata=_bot())
    store: str = field(default="sqlite:///dmbot.db", metadata=_store())
    engine: EngineSettings = field(
        default_factory=EngineSettings, metadata={"section": EngineSettings}
    )
    sender: SenderSettings = field(
        default_factory=SenderSettings, metadata={"section": SenderSettings}
    )
    logging: LoggingSettings = field(
        default_factory=LoggingSettings, metadata={"section": LoggingSettings}
    )
    sqlite: SqliteSettings = field(
        default_factory=SqliteSettings, metadata={"section": SqliteSettings}
    )
    redis: RedisSettings = field(default_factory=RedisSettings, metadata={"section": RedisSettings})

    @property
    def all_accounts(self) -> tuple[AccountSettings, ...]:
        """The bot account from ``twitter:`` (when it has tokens) first, then ``accounts:``."""
        t = self.twitter
        if not (t.access_token and t.access_token_secret):
            return self.accounts
        own = AccountSettings(
            user_id=t.user_id or _token_user_id(t.access_token),
            access_token=t.access_token,
            access_token_secret=t.access_token_secret,
        )
        return (own, *self.accounts)

    @property
    def account_ids(self) -> frozenset[str]:
        """The user ids of every account this app answers for."""
        return frozenset(a.user_id for a in self.all_accounts)

    @property
    def bot_path(self) -> Path | None:
        """The bot script, resolved against the config file's directory; None for module:attr."""
        if self.bot is None or not self.bot.endswith(".py"):
            return None
        base = Path.cwd() if self.source.startswith("<") else Path(self.source).parent
        return (base / self.bot).resolve()

    def with_overrides(self, *, host: str | None = None, port: int | None = None) -> Settings:
        """A copy with the server's host and port replaced (``--host``/``--port``).

        Raises:
            ConfigError: the port is outside 1..65535.
        """
        server = self.server
        if host is not None:
            server = dataclasses.replace(server, host=host)
        if port is not None:
            if isinstance(port, bool) or not 1 <= port <= 65535:
                raise ConfigError(f"--port must be an integer from 1 to 65535 (got {port})")
            server = dataclasses.replace(server, port=port)
        return dataclasses.replace(self, server=server)


def _rules(cls: type) -> dict[str, _Rule]:
    return {f.name: f.metadata["rule"] for f in dataclasses.fields(cls) if "rule" in f.metadata}


_SECTIONS: dict[str, type] = {
    f.name: f.metadata["section"] for f in dataclasses.fields(Settings) if "section" in f.metadata
}
_TOP_KEYS = [f.name for f in dataclasses.fields(Settings) if f.name != "source"]


def _token_user_id(token: str) -> str:
    """The user id an OAuth 1.0a access token starts with ("<user id>-<rest>"), or ""."""
    match = re.match(r"(\d+)-", token)
    return match.group(1) if match else ""


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


# ---- reading YAML nodes ----

_MISSING: Any = object()  # null or absent: the default applies
_INVALID: Any = object()  # a problem was reported: no further checks on this key
_TAG = "tag:yaml.org,2002:"
_KINDS = {
    "null": "nothing",
    "int": "a number",
    "float": "a number",
    "bool": "true/false",
    "timestamp": "a date",
}
_REFERENCE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}|\$\{")


def _line(node: yaml.Node | None) -> int | None:
    return node.start_mark.line + 1 if node is not None and node.start_mark is not None else None


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return _KINDS.get(node.tag.removeprefix(_TAG), "a string")


def _is_null(node: yaml.Node | None) -> bool:
    return node is None or (isinstance(node, yaml.ScalarNode) and node.tag == _TAG + "null")


def _suggest(key: str, path: str, known: Collection[str]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    if close:
        return f" (did you mean {path + '.' if path else ''}{close[0]}?)"
    homes = [f"{name}.{key}" for name, cls in _SECTIONS.items() if key in _rules(cls)]
    if path and key in _TOP_KEYS:
        homes.insert(0, f"the top-level key {key}")
    return f" (did you mean {homes[0]}?)" if homes else ""


class _Reader:
    """Walks the YAML nodes and collects every problem, with its line."""

    def __init__(self, source: str, env: Mapping[str, str]) -> None:
        self.source = source
        self.env = env
        self.problems: list[tuple[int, str]] = []
        self.invalid: set[str] = set()  # keys already reported: no follow-up problems

    def add(self, line: int | None, text: str) -> None:
        where = f"{self.source}:{line}" if line else self.source
        self.problems.append((line or 0, f"{where}: {text}"))

    def entries(
        self, node: yaml.Node | None, path: str, known: Collection[str]
    ) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """The known keys of a mapping node; reports unknown and repeated keys."""
        if node is None or _is_null(node):
            return {}
        if not isinstance(node, yaml.MappingNode):
            what = path or "the top level"
            self.add(_line(node), f"{what} must be a mapping of keys to values (got {_kind(node)})")
            return {}
        found: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
            full = f"{path}.{key}" if path else key
            if key in found:
                first = _line(found[key][0])
                where = f" (first at line {first})" if first else ""
                self.add(_line(key_node), f"{full} is set twice{where}; keep one")
            elif key not in known:
                self.add(_line(key_node), f"unknown key {full}{_suggest(key, path, known)}")
            else:
                found[key] = (key_node, value_node)
        return found

    def interpolate(self, text: str, key: str, line: int | None) -> str | None:
        ok = True

        def replace(match: re.Match[str]) -> str:
            nonlocal ok
            name, default = match.group(1), match.group(2)
            if match.group(0) == "$$":
                return "$"
            if name is None or (default is not None and "${" in default):
                self.add(
                    line,
                    f"{key} has a malformed ${{...}}: write ${{NAME}} or "
                    "${NAME:-default} (no nesting), or $$ for a literal dollar",
                )
                ok = False
                return ""
            value = self.env.get(name)
            if default is not None:
                return value or default[2:]
            if value is None:
                self.add(
                    line,
                    f"{key} uses ${{{name}}}, which is not set; set {name} in the "
                    f"environment or write ${{{name}:-value}}",
                )
                ok = False
                return ""
            return value

        result = _REFERENCE.sub(replace, text)
        return result if ok else None

    def value(self, node: yaml.Node, key: str, rule: _Rule) -> Any:
        """The converted value, _MISSING for null, or _INVALID once reported."""
        result = self._convert(node, key, rule)
        if result is _INVALID:
            self.invalid.add(key)
        return result

    def _convert(self, node: yaml.Node, key: str, rule: _Rule) -> Any:
        line = _line(node)
        if not isinstance(node, yaml.ScalarNode):
            self.add(line, f"{key} must be {rule.expect} (got {_kind(node)})")
            return _INVALID
        if _is_null(node):
            return _MISSING
        if node.tag == _TAG + "str":
            text = self.interpolate(str(node.value), key, line)
            if text is None:
                return _INVALID
            scalar = _Scalar(text, text, "a string")
        else:
            try:
                native = yaml.constructor.SafeConstructor().construct_object(node)
            except yaml.YAMLError:
                self.add(line, f"{key} has the YAML tag {node.tag}, which dmbot cannot read")
                return _INVALID
            scalar = _Scalar(native, str(node.value), _kind(node))
        try:
            return rule.convert(scalar)
        except _Bad as bad:
            quoted = repr(scalar.text) if scalar.kind == "a string" else scalar.text
            got = f"{scalar.kind}: {quoted}" if rule.quote else scalar.kind
            self.add(
                line, f"{key} {bad}" if str(bad) else f"{key} must be {rule.expect} (got {got})"
            )
            return _INVALID

    def section(
        self, node: yaml.Node | None, cls: type, path: str, at: int | None
    ) -> tuple[dict[str, Any], dict[str, int | None]]:
        """Keyword arguments for ``cls`` and the line of each key given."""
        rules = _rules(cls)
        values: dict[str, Any] = {}
        lines: dict[str, int | None] = {}
        for key, (key_node, value_node) in self.entries(node, path, rules).items():
            lines[key] = _line(key_node)
            result = self.value(value_node, f"{path}.{key}", rules[key])
            if result not in (_INVALID, _MISSING) and not (rules[key].required and result == ""):
                values[key] = result
        for key, rule in rules.items():
            if rule.required and key not in values and f"{path}.{key}" not in self.invalid:
                self.add(lines.get(key, at), f"{path}.{key} is required: {rule.required}")
        return values, lines

    def accounts(self, node: yaml.Node | None) -> list[tuple[dict[str, Any], int | None]]:
        """Keyword arguments and line of each item of ``accounts:``."""
        if node is None or _is_null(node):
            return []
        keys = "user_id, access_token and access_token_secret"
        if not isinstance(node, yaml.SequenceNode):
            self.add(
                _line(node), f"accounts must be a list of accounts with {keys} (got {_kind(node)})"
            )
            return []
        found = []
        for i, item in enumerate(node.value):
            path, line = f"accounts[{i}]", _line(item)
            if not isinstance(item, yaml.MappingNode):
                self.add(line, f"{path} must be a mapping with {keys} (got {_kind(item)})")
                continue
            values, lines = self.section(item, AccountSettings, path, line)
            values["user_id"] = self.account_id(values, path, lines.get("user_id", line))
            found.append((values, line))
        return found

    def account_id(self, values: dict[str, Any], path: str, line: int | None) -> str:
        """The account's user id: given, or the prefix of its access token."""
        from_token = _token_user_id(values.get("access_token", ""))
        given: str = values.get("user_id", "")
        if given and from_token and given != from_token:
            self.add(
                line,
                f"{path}.user_id {given} does not match the user id that "
                f"{path}.access_token starts with; fix whichever is wrong",
            )
        elif not given and not from_token and values.get("access_token"):
            self.add(
                line,
                f"{path}.user_id is required because {path}.access_token does not "
                'start with "<user id>-"; write the account\'s id, such as user_id: "1234"',
            )
        return given or from_token


def _build(root: yaml.Node | None, source: str, env: Mapping[str, str], at: int | None) -> Settings:
    r = _Reader(source, env)
    top = r.entries(root, "", _TOP_KEYS)
    kwargs: dict[str, Any] = {}
    lines: dict[str, dict[str, int | None]] = {}
    for name, cls in _SECTIONS.items():
        key_node, node = top.get(name, (None, None))
        kwargs[name], lines[name] = r.section(node, cls, name, _line(key_node) or at)
    for name, rule in _rules(Settings).items():
        if name in top and (value := r.value(top[name][1], name, rule)) not in (_INVALID, _MISSING):
            kwargs[name] = value
    accounts = r.accounts(top["accounts"][1] if "accounts" in top else None)

    twitter, where = kwargs["twitter"], lines["twitter"]
    for have, lack in (
        ("access_token", "access_token_secret"),
        ("access_token_secret", "access_token"),
    ):
        if twitter.get(have) and not twitter.get(lack) and f"twitter.{lack}" not in r.invalid:
            r.add(
                where.get(lack, where[have]),
                f"twitter.{lack} is required when twitter.{have} is set: {_TOKEN_HINT}",
            )
    if twitter.get("access_token"):
        twitter["user_id"] = r.account_id(
            twitter, "twitter", where.get("user_id", where["access_token"])
        )

    webhook = kwargs["webhook"]
    if "path" not in webhook:
        webhook["path"] = urlsplit(webhook.get("url", "")).path or WebhookSettings().path

    sender, defaults = kwargs["sender"], SenderSettings()
    base = sender.get("backoff_base", defaults.backoff_base)
    cap = sender.get("backoff_max", defaults.backoff_max)
    if cap < base:
        r.add(
            lines["sender"].get("backoff_max", lines["sender"].get("backoff_base")),
            f"sender.backoff_max ({cap:g} s) is shorter than sender.backoff_base ({base:g} s); "
            "raise backoff_max or lower backoff_base",
        )

    seen: dict[str, int | None] = {}
    if twitter.get("user_id") and twitter.get("access_token"):
        seen[twitter["user_id"]] = where.get("user_id", where.get("access_token"))
    for i, (values, line) in enumerate(accounts):
        uid = values["user_id"]
        if uid in seen:
            first = f" (first at line {seen[uid]})" if seen[uid] else ""
            r.add(line, f"accounts[{i}] repeats account {uid}{first}; list each account once")
        seen.setdefault(uid, line)

    if r.problems:
        texts = [text for _, text in sorted(r.problems, key=lambda p: p[0])]
        if len(texts) == 1:
            raise ConfigError(texts[0])
        raise ConfigError(f"{source} has {len(texts)} problems:\n" + "\n".join(texts))
    sections = {name: cls(**kwargs.pop(name)) for name, cls in _SECTIONS.items()}
    return Settings(
        source=source,
        accounts=tuple(AccountSettings(**values) for values, _ in accounts),
        **sections,
        **kwargs,
    )


# ---- entry points ----


def load_settings(
    path: str | os.PathLike[str] | None = None, *, env: Mapping[str, str] | None = None
) -> Settings:
    """Load and validate a config file.

    Args:
        path: the file; ``config.yaml`` in the current directory when None.
        env: the variables ``${VAR}`` reads; ``os.environ`` when None.

    Raises:
        ConfigError: the file is missing, not YAML, or breaks a rule; the message
            lists every problem with its line.
    """
    source = "config.yaml" if path is None else os.fspath(path)
    file = Path(source)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        where = "" if file.is_absolute() else f" in {Path.cwd()}"
        raise ConfigError(
            f"config file {source} not found{where}; "
            "copy the example from the README or pass --config PATH"
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file {source} is not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {source}: {exc.strerror}") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        # Only the parser's problem: its snippet of the line could show a secret.
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}" if mark else source
        raise ConfigError(
            f"{where}: invalid YAML: {exc.problem or exc.context or 'syntax error'}"
        ) from None
    except yaml.YAMLError:
        raise ConfigError(f"{source}: invalid YAML; check the file's syntax") from None
    return _build(root, source, os.environ if env is None else env, _line(root) or 1)


def settings_from_mapping(
    data: Mapping[str, Any], *, source: str = "<settings>", env: Mapping[str, str] | None = None
) -> Settings:
    """Validate settings built in code, with the same rules as :func:`load_settings`.

    Args:
        data: what config.yaml would hold: sections as mappings, ``accounts`` as a list.
            Paths and settings dataclasses are accepted as values too.
        source: names the settings in messages (and is :attr:`Settings.source`).
        env: the variables ``${VAR}`` reads; ``os.environ`` when None.

    Raises:
        ConfigError: the settings break a rule; the message lists every problem.
    """
    node = yaml.representer.SafeRepresenter(sort_keys=False).represent_data(
        _plain(data, "", source)
    )
    return _build(node, source, os.environ if env is None else env, None)


def _plain(value: object, path: str, source: str) -> object:
    """Turn ``value`` into what YAML could have produced, so one reader checks both."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {k: _plain(v, f"{path}.{k}" if path else str(k), source) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v, f"{path}[{i}]", source) for i, v in enumerate(value)]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise ConfigError(
        f"{source}: {path} cannot be a {type(value).__name__}; "
        "use strings, numbers, booleans, lists and mappings"
    )
