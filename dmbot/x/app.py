"""The X app as configured: one client per managed account, sharing what the app shares.

The clients of one app share its rate limiter (the app-wide DM budget adds
up) and its bearer token (asked for once); ``dmbot serve`` and the
management commands build them here from the settings.
"""

from __future__ import annotations

import httpx

from dmbot.config.settings import AccountSettings, SenderSettings, Settings
from dmbot.x.bearer import AppToken
from dmbot.x.client import XClient
from dmbot.x.ratelimit import RateLimiter

__all__ = ["client_from_settings", "clients_from_settings"]


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
        limiter=limiter or _limiter(settings.sender),
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
    limiter = _limiter(settings.sender)
    token = AppToken(settings.twitter.bearer_token)
    return {
        account.user_id: client_from_settings(
            settings, account, transport=transport, limiter=limiter, app_token=token
        )
        for account in settings.all_accounts
    }


def _limiter(sender: SenderSettings) -> RateLimiter:
    """The app's rate limiter, with the daily DM budgets of ``sender:``."""
    return RateLimiter(account_daily=sender.account_daily, app_daily=sender.app_daily)
