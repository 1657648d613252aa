"""config.yaml: load, interpolate, validate.

:func:`load_settings` reads the file into frozen :class:`Settings`;
:func:`settings_from_mapping` applies the same rules to a mapping built in code.
How a file is read (``${VAR}`` interpolation, the rule of each key, problems
collected with their lines) is :mod:`dmbot.config.reader`; this module holds what
the settings are, and the rules that span several keys.

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
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml

from dmbot.config import rules as rule
from dmbot.config import validation as cf
from dmbot.config.reader import line_of
from dmbot.config.rules import parse_duration
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
    "StreamSettings",
    "TwitterSettings",
    "WebhookSettings",
    "load_settings",
    "parse_duration",
    "settings_from_mapping",
    "webhook_url_problem",
]

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

    consumer_key: str = field(default="", repr=False, metadata=rule.text(secret=True))
    consumer_secret: str = field(
        repr=False, metadata=rule.text(secret=True, required=_CONSUMER_SECRET_HINT)
    )
    access_token: str = field(default="", repr=False, metadata=rule.text(secret=True))
    access_token_secret: str = field(default="", repr=False, metadata=rule.text(secret=True))
    env_name: str = field(default="production", metadata=rule.text(nonempty=True))
    api_url: str = field(
        default="https://api.twitter.com", metadata=rule.http_url(empty_ok=False, strip_slash=True)
    )
    api: Literal["premium", "enterprise", "v2", "activity"] = field(
        default="premium", metadata=rule.choice("premium", "enterprise", "v2", "activity")
    )
    send_api: Literal["v1.1", "v2"] = field(default="v1.1", metadata=rule.choice("v1.1", "v2"))
    app_id: str = field(default="", metadata=rule.text())
    bearer_token: str = field(default="", repr=False, metadata=rule.text(secret=True))
    user_id: str = field(default="", metadata=rule.user_id())


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookSettings:
    """The public webhook URL registered with X and the path served locally."""

    url: str = field(default="", metadata=rule.http_url(empty_ok=True))
    path: str = field(default="/webhooks/twitter", metadata=rule.url_path())
    max_body_bytes: int = field(default=1_048_576, metadata=rule.integer(1))


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerSettings:
    """Where ``dmbot serve`` listens."""

    host: str = field(default="127.0.0.1", metadata=rule.text(nonempty=True))
    port: int = field(default=8000, metadata=rule.integer(1, 65535))
    access_log: bool = field(default=False, metadata=rule.flag())


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountSettings:
    """A subscribed account this app answers for."""

    user_id: str = field(default="", metadata=rule.user_id())
    access_token: str = field(
        default="", repr=False, metadata=rule.text(secret=True, required=_TOKEN_HINT)
    )
    access_token_secret: str = field(
        default="", repr=False, metadata=rule.text(secret=True, required=_TOKEN_HINT)
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineSettings:
    """Timings of the conversation engine, in seconds."""

    handoff: float = field(default=1800.0, metadata=rule.seconds(zero_ok=True))
    claim_ttl: float = field(default=7 * 86400.0, metadata=rule.seconds())
    flow_expiry: float = field(default=86400.0, metadata=rule.seconds())
    reorder_window: float = field(default=0.02, metadata=rule.seconds(zero_ok=True))
    concurrency: int = field(default=64, metadata=rule.integer(1))


@dataclass(frozen=True, slots=True, kw_only=True)
class SenderSettings:
    """Retrying sends to X, in seconds."""

    deadline: float = field(default=86400.0, metadata=rule.seconds())
    concurrency: int = field(default=16, metadata=rule.integer(1))
    backoff_base: float = field(default=1.0, metadata=rule.seconds())
    backoff_max: float = field(default=300.0, metadata=rule.seconds())
    account_daily: int = field(default=1000, metadata=rule.integer(1))
    """DMs one account may send in 24 hours (X's replies to received DMs excepted)."""
    app_daily: int = field(default=15000, metadata=rule.integer(1))
    """DMs all accounts of the app may send in 24 hours."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamSettings:
    """The X Activity API stream (``delivery: stream``), in seconds."""

    silence: float = field(default=60.0, metadata=rule.seconds())
    backoff_base: float = field(default=1.0, metadata=rule.seconds())
    backoff_max: float = field(default=320.0, metadata=rule.seconds())
    lease_ttl: float = field(default=15.0, metadata=rule.seconds())


@dataclass(frozen=True, slots=True, kw_only=True)
class LoggingSettings:
    level: Literal["debug", "info", "warning", "error"] = field(
        default="info", metadata=rule.choice("debug", "info", "warning", "error")
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class SqliteSettings:
    # normal survives kill -9 (WAL); full also survives a power loss, at some speed.
    synchronous: Literal["normal", "full"] = field(
        default="normal", metadata=rule.choice("normal", "full")
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class RedisSettings:
    prefix: str = field(default="dmbot", metadata=rule.text(nonempty=True))
    partitions: int = field(default=16, metadata=rule.integer(1))
    reclaim_idle: float = field(default=30.0, metadata=rule.seconds())
    lock_ttl: float = field(default=30.0, metadata=rule.seconds())


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
    accounts: tuple[AccountSettings, ...] = field(default=(), metadata={"items": AccountSettings})
    bot: str | None = field(default=None, metadata=rule.bot_reference())
    store: str = field(default="sqlite:///dmbot.db", metadata=rule.store_url())
    delivery: Literal["webhook", "stream"] = field(
        default="webhook", metadata=rule.choice("webhook", "stream")
    )
    stream: StreamSettings = field(
        default_factory=StreamSettings, metadata={"section": StreamSettings}
    )
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
        # normpath, not resolve(): a bot reached through a symlink keeps the path it was given.
        return Path(os.path.normpath((base / self.bot).absolute()))

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


# ---- the rules that span several keys ----


def _build(root: yaml.Node | None, source: str, env: Mapping[str, str], at: int | None) -> Settings:
    r = cf.Validator(source, env, Settings)
    top, kwargs, lines = r.top(root, at)

    def check_account(values: dict[str, Any], path: str, where: cf.Lines, line: int | None) -> None:
        values["user_id"] = _account_id(r, values, path, where.get("user_id", line))

    accounts = r.items(
        top["accounts"][1] if "accounts" in top else None,
        AccountSettings,
        "accounts",
        check_account,
    )

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
        twitter["user_id"] = _account_id(
            r, twitter, "twitter", where.get("user_id", where["access_token"])
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

    stream = kwargs.get("delivery") == "stream"
    if stream and twitter.get("api", "premium") != "activity" and "twitter.api" not in r.invalid:
        r.add(
            where.get("api") or (line_of(top["delivery"][0]) if "delivery" in top else None),
            "delivery: stream is the X Activity API's stream: set twitter.api: activity "
            "(`dmbot subscriptions add` then subscribes the accounts for the stream)",
        )
    token_known = twitter.get("bearer_token") or twitter.get("consumer_key")
    if stream and not token_known:
        r.add(
            line_of(top["delivery"][0]) if "delivery" in top else None,
            "delivery: stream needs the app's bearer token: set twitter.bearer_token, or "
            "twitter.consumer_key (with the secret) for dmbot to obtain it",
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

    r.raise_problems()
    sections = {name: cls(**kwargs.pop(name)) for name, cls in r.sections.items()}
    return Settings(
        source=source,
        accounts=tuple(AccountSettings(**values) for values, _ in accounts),
        **sections,
        **kwargs,
    )


def _account_id(r: cf.Validator, values: dict[str, Any], path: str, line: int | None) -> str:
    """The account's user id: given, or the prefix of its access token."""
    from_token = _token_user_id(values.get("access_token", ""))
    given: str = values.get("user_id", "")
    if given and from_token and given != from_token:
        r.add(
            line,
            f"{path}.user_id {given} does not match the user id that "
            f"{path}.access_token starts with; fix whichever is wrong",
        )
    elif not given and not from_token and values.get("access_token"):
        r.add(
            line,
            f"{path}.user_id is required because {path}.access_token does not "
            'start with "<user id>-"; write the account\'s id, such as user_id: "1234"',
        )
    return given or from_token


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
    root = cf.compose_file(source)
    return _build(root, source, os.environ if env is None else env, line_of(root) or 1)


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
    node = cf.compose_mapping(data, source)
    return _build(node, source, os.environ if env is None else env, None)
