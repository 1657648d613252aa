"""Settings that are valid but cannot work: placeholders left in, dev keys sent to X.

config.yaml runs offline as shipped: its keys default to dev values the
emulator accepts and its webhook URL to ``bot.example.com``. Copied to talk
to X, those pass every rule of :mod:`dmbot.config.settings` and fail only when X
refuses them. :func:`placeholder_warnings` says so first, for ``dmbot check``
and ``dmbot serve``. Secret values are never quoted.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from dmbot.config.settings import Settings

__all__ = ["X_HOSTS", "placeholder_warnings", "points_at_x"]

X_HOSTS = frozenset({"api.twitter.com", "api.x.com"})
"""The hosts of X's real API."""

_PLACEHOLDER = re.compile(
    r"(^|[-_])dev([-_]|$)|change[-_]?me|placeholder|your[-_ ]|^[x.*]+$|xxxx|^todo|^<.*>$",
    re.IGNORECASE,
)
_EXAMPLE_DOMAINS = ("example.com", "example.org", "example.net")


def points_at_x(api_url: str) -> bool:
    """True when ``api_url`` is X's real API (not the emulator or a test server)."""
    return (urlsplit(api_url).hostname or "") in X_HOSTS


def _is_placeholder(value: str) -> bool:
    return bool(value) and bool(_PLACEHOLDER.search(value))


def _is_example_url(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return any(host == d or host.endswith("." + d) for d in _EXAMPLE_DOMAINS)


def placeholder_warnings(settings: Settings) -> list[str]:
    """One sentence per setting that looks like a leftover placeholder, with the fix."""
    warnings: list[str] = []
    t = settings.twitter
    secrets = {
        "twitter.consumer_key": t.consumer_key,
        "twitter.consumer_secret": t.consumer_secret,
        "twitter.access_token": t.access_token,
        "twitter.access_token_secret": t.access_token_secret,
        "twitter.bearer_token": t.bearer_token,
    }
    for i, account in enumerate(settings.accounts):
        secrets[f"accounts[{i}].access_token"] = account.access_token
        secrets[f"accounts[{i}].access_token_secret"] = account.access_token_secret
    placeholders = [key for key, value in secrets.items() if _is_placeholder(value)]
    if placeholders and points_at_x(t.api_url):
        warnings.append(
            f"{', '.join(placeholders)} {'look' if len(placeholders) > 1 else 'looks'} like "
            f"placeholders (such as config.yaml's dev defaults), but twitter.api_url points at "
            f"X ({t.api_url}), which will refuse them: set the environment variables to your "
            "app's keys and the bot account's tokens, or point twitter.api_url at the emulator "
            "(`dmbot emulator`)"
        )
    url = settings.webhook.url
    if url and _is_example_url(url):
        warnings.append(
            f"webhook.url {url} is an example address nobody can reach: set it (WEBHOOK_URL "
            "in config.yaml) to the public https URL that reaches `dmbot serve`"
        )
    return warnings
