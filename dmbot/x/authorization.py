"""PIN-based authorization: how an account's owner gives the app its access token.

X's 3-legged OAuth with ``oob`` as the callback: the app asks for a request token
(:func:`request_token`), the account's owner approves the app on X's page
(:func:`authorize_url`) and is shown a PIN, and the app trades the request token
and the PIN for the account's tokens (:func:`access_token`). The calls take a
client of the app without an account's tokens;
:class:`~dmbot.x.client.XClient` offers them as methods.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlencode

import httpx

from dmbot.errors import PermanentError
from dmbot.x.oauth import AccessToken, RequestToken

if TYPE_CHECKING:
    from dmbot.x.client import XClient

__all__ = ["access_token", "authorize_url", "request_token"]


async def request_token(client: XClient, callback: str = "oob") -> RequestToken:
    """Step 1 of the PIN flow: temporary credentials (``oob``: show a PIN)."""
    auth = client._oauth("", "", callback=callback)
    fields = await _form(client, "POST", "/oauth/request_token", auth)
    return RequestToken(fields.get("oauth_token", ""), fields.get("oauth_token_secret", ""))


def authorize_url(client: XClient, token: str) -> str:
    """Step 2: the page where the account's owner approves the app."""
    return f"{client.api_url}/oauth/authorize?{urlencode({'oauth_token': token})}"


async def access_token(client: XClient, token: str, secret: str, verifier: str) -> AccessToken:
    """Step 3: trade the request token and the PIN for the account's tokens."""
    auth = client._oauth(token, secret, verifier=verifier)
    fields = await _form(client, "POST", "/oauth/access_token", auth)
    return AccessToken(
        fields.get("oauth_token", ""),
        fields.get("oauth_token_secret", ""),
        fields.get("user_id", ""),
        fields.get("screen_name", ""),
    )


async def _form(client: XClient, method: str, path: str, auth: httpx.Auth) -> dict[str, str]:
    response = await client.request(method, path, auth=auth)
    fields = {k: v[0] for k, v in parse_qs(response.text).items()}
    if not fields.get("oauth_token"):
        raise PermanentError(
            f"X answered {method} {path} without an oauth_token; "
            "check the consumer key and secret and that the PIN was typed correctly.",
            status=response.status_code,
        )
    return fields
