"""The sections of config.yaml, one frozen dataclass each, and :class:`Settings`, all of them.

Each field carries its default and the rule that reads its value
(:mod:`dmbot.config.rules`); :mod:`dmbot.config.settings` loads them. The code
that uses a section takes its class, so the defaults are written here once: the
worker takes :class:`EngineSettings`, the sender :class:`SenderSettings` (whose
daily budgets the rate limiter gets), the activity stream :class:`StreamSettings`.

Settings are plain frozen dataclasses: change them with :func:`dataclasses.replace`
or :meth:`Settings.with_overrides`.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from dmbot.config import rules as rule
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
]

_CONSUMER_SECRET_HINT = (
    "it is the API key secret of your X app (developer portal, Keys and tokens); write "
    "consumer_secret: ${TWITTER_CONSUMER_SECRET} under twitter: and set TWITTER_CONSUMER_SECRET "
    "in the environment"
)
TOKEN_HINT = (
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
        default="", repr=False, metadata=rule.text(secret=True, required=TOKEN_HINT)
    )
    access_token_secret: str = field(
        default="", repr=False, metadata=rule.text(secret=True, required=TOKEN_HINT)
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineSettings:
    """The conversation engine (``engine:``), durations in seconds; the worker takes it."""

    handoff: float = field(default=1800.0, metadata=rule.seconds(zero_ok=True))
    """After the account's owner writes from another client, the bot stays quiet this long."""
    claim_ttl: float = field(default=7 * 86400.0, metadata=rule.seconds())
    """How long handled event ids are remembered, against retries and duplicates."""
    flow_expiry: float = field(default=86400.0, metadata=rule.seconds())
    """A flow left unanswered this long ends."""
    reorder_window: float = field(default=0.02, metadata=rule.seconds(zero_ok=True))
    """How long a DM waits for earlier DMs of its conversation delivered late."""
    concurrency: int = field(default=64, metadata=rule.integer(1))
    """Conversations handled at once."""
    max_queued: int = field(default=4096, metadata=rule.integer(1))
    """Events read but not yet committed; past this the worker stops reading the inbox."""
    poll_interval: float = field(default=1.0, metadata=rule.seconds())
    """How long an idle worker waits before reading the inbox again (a store shared by
    several instances wakes it at once), and after a failed read."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SenderSettings:
    """Sending replies to X (``sender:``), durations in seconds.

    The sender takes it; the daily budgets are the rate limiter's.
    """

    deadline: float = field(default=86400.0, metadata=rule.seconds())
    """A send failing transiently is retried until this long after it was committed."""
    concurrency: int = field(default=16, metadata=rule.integer(1))
    """Conversations sent at the same time."""
    backoff_base: float = field(default=1.0, metadata=rule.seconds())
    """The first retry delay after a transient error; each later one doubles it."""
    backoff_max: float = field(default=300.0, metadata=rule.seconds())
    """The longest retry delay."""
    account_daily: int = field(default=1000, metadata=rule.integer(1))
    """DMs one account may send in 24 hours (X's replies to received DMs excepted)."""
    app_daily: int = field(default=15000, metadata=rule.integer(1))
    """DMs all accounts of the app may send in 24 hours."""
    settle_grace: float = field(default=5.0, metadata=rule.seconds(zero_ok=True))
    """How long a send whose answer was lost waits for its echo before X is asked."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamSettings:
    """The X Activity API stream (``stream:``, for ``delivery: stream``), in seconds.

    The activity stream takes it.
    """

    silence: float = field(default=60.0, metadata=rule.seconds())
    """A connection with no byte (event or keep-alive) for this long is replaced."""
    backoff_base: float = field(default=1.0, metadata=rule.seconds())
    """The first wait after the stream dropped."""
    backoff_max: float = field(default=320.0, metadata=rule.seconds())
    """The longest wait between attempts."""
    lease_ttl: float = field(default=15.0, metadata=rule.seconds())
    """A dead holder's lease lapses after this (shared stores only)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LoggingSettings:
    """What dmbot logs (``logging:``), and how."""

    level: Literal["debug", "info", "warning", "error"] = field(
        default="info", metadata=rule.choice("debug", "info", "warning", "error")
    )
    format: Literal["text", "json"] = field(default="text", metadata=rule.choice("text", "json"))
    """``text``: readable lines; ``json``: one JSON object per line, for log pipelines."""


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
            user_id=t.user_id or token_user_id(t.access_token),
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


def token_user_id(token: str) -> str:
    """The user id an OAuth 1.0a access token starts with ("<user id>-<rest>"), or ""."""
    match = re.match(r"(\d+)-", token)
    return match.group(1) if match else ""
