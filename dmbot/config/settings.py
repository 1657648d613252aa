"""config.yaml: load, interpolate, validate.

:func:`load_settings` reads the file into frozen :class:`Settings`;
:func:`settings_from_mapping` applies the same rules to a mapping built in code.
What the settings are, with the rule and default of each key, is
:mod:`dmbot.config.sections` (re-exported here); how a file is read is
:mod:`dmbot.config.reader` (YAML) and :mod:`dmbot.config.validation` (``${VAR}``
interpolation, the rule of each key, problems collected with their lines). This
module holds the rules that span several keys.

- Unknown keys, wrong types and missing required values are collected and
  raised together as one :class:`~dmbot.errors.ConfigError`, one problem a line,
  each with file and line.
- Values of secret keys (consumer key and secret, tokens, and the store URL,
  which may hold a password) are never quoted in a message.
- ``bot:`` is relative to the config file's directory (:attr:`Settings.bot_path`);
  a relative ``sqlite:///PATH`` is relative to the current directory, where
  ``dmbot serve`` runs, as SQLite itself sees it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import yaml

from dmbot.config import validation as cf
from dmbot.config.reader import line_of
from dmbot.config.rules import parse_duration, webhook_url_problem
from dmbot.config.sections import (
    TOKEN_HINT,
    AccountSettings,
    EngineSettings,
    LoggingSettings,
    RedisSettings,
    SenderSettings,
    ServerSettings,
    Settings,
    SqliteSettings,
    StreamSettings,
    TwitterSettings,
    WebhookSettings,
    token_user_id,
)

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
                f"twitter.{lack} is required when twitter.{have} is set: {TOKEN_HINT}",
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
    from_token = token_user_id(values.get("access_token", ""))
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
