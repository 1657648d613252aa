"""The X API edge: the client, its limits, its errors and the outbox sender.

The engine never imports this package; ``dmbot serve`` wires a
:class:`~dmbot.twitter.sender.Sender` to the store and one
:class:`~dmbot.twitter.client.XClient` per managed account.
"""

from __future__ import annotations

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
    "error_from_exception",
    "error_from_response",
]
