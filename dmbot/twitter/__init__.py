"""The X API edge: the client, its limits, its errors and the outbox sender.

The engine never imports this package; ``dmbot serve`` wires a
:class:`~dmbot.twitter.sender.Sender` to the store and one
:class:`~dmbot.twitter.client.XClient` per managed account.
"""

from __future__ import annotations

import httpx

from dmbot.config import AccountSettings, Settings
from dmbot.twitter.bearer import AppToken
from dmbot.twitter.client import (
    AccessToken,
    RequestToken,
    SentDM,
    User,
    WelcomeMessage,
    WelcomeMessageRule,
    XClient,
)
from dmbot.twitter.errors import error_from_exception, error_from_response
from dmbot.twitter.paths import SubscriptionCount, Subscriptions, Webhook
from dmbot.twitter.ratelimit import Budget, RateLimiter
from dmbot.twitter.sender import Sender

__all__ = [
    "AccessToken",
    "Budget",
    "RateLimiter",
    "RequestToken",
    "Sender",
    "SentDM",
    "SubscriptionCount",
    "Subscriptions",
    "User",
    "Webhook",
    "WelcomeMessage",
    "WelcomeMessageRule",
    "XClient",
    "client_from_settings",
    "clients_from_settings",
    "error_from_exception",
    "error_from_response",
]


def client_from_settings(
    settings: Settings,
    account: AccountSettings | None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    limiter: RateLimiter | None = None,
    app_token: AppToken | None = None,
) -> XClient:
    """An X client of the configured app, acting for ``account``.

    Args:
        settings: the loaded configuration (its ``twitter:`` section).
        account: the account whose tokens sign; None for the app alone (the PIN flow).
        transport: the httpx transport to X (the emulator's, in tests).
        limiter: the app's shared rate limiter; a private one by default.
        app_token: the app's shared bearer token holder; a private one by default.

    Raises:
        ConfigError: the consumer key or secret is not set.
    """
    t = settings.twitter
    return XClient(
        consumer_key=t.consumer_key,
        consumer_secret=t.consumer_secret,
        token=account.access_token if account else "",
        token_secret=account.access_token_secret if account else "",
        api_url=t.api_url,
        env_name=t.env_name,
        api=t.api,
        bearer_token=t.bearer_token,
        transport=transport,
        limiter=limiter
        or RateLimiter(
            account_daily=settings.sender.account_daily, app_daily=settings.sender.app_daily
        ),
        account_id=account.user_id if account else "",
        app_token=app_token,
    )


def clients_from_settings(
    settings: Settings, transport: httpx.AsyncBaseTransport | None = None
) -> dict[str, XClient]:
    """One client per managed account (the bot account first), sharing one rate limiter
    and one bearer token.

    Without a consumer key there is no X app to act for, and no clients.
    """
    if not settings.twitter.consumer_key:
        return {}
    limiter = RateLimiter(
        account_daily=settings.sender.account_daily, app_daily=settings.sender.app_daily
    )
    token = AppToken(settings.twitter.bearer_token)
    return {
        account.user_id: client_from_settings(
            settings, account, transport=transport, limiter=limiter, app_token=token
        )
        for account in settings.all_accounts
    }
