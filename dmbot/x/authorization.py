"""PIN-based authorization: how an account's owner gives the app its access token.

X's 3-legged OAuth with ``oob`` as the callback: the app asks for a request token
(:meth:`Authorization.request_token`), the account's owner approves the app on
X's page (:meth:`Authorization.authorize_url`) and is shown a PIN, and the app
trades the request token and the PIN for the account's tokens
(:meth:`Authorization.access_token`). A client of the app without an account's
tokens owns one, as ``client.authorization``.
"""

from __future__ import annotations

from typing import Protocol
from urllib.parse import parse_qs, urlencode

import httpx

from dmbot.errors import PermanentError
from dmbot.x.oauth import AccessToken, RequestToken

__all__ = ["Authorization", "Credentials", "Request"]


class Request(Protocol):
    """Makes one call to X signed with ``auth`` and returns its successful answer."""

    async def __call__(
        self, method: str, path: str, *, auth: httpx.Auth | None = None
    ) -> httpx.Response: ...


class Credentials(Protocol):
    """The app's OAuth 1.0a signature with a temporary token (and the PIN, as verifier)."""

    def __call__(
        self, token: str, secret: str, *, callback: str | None = None, verifier: str | None = None
    ) -> httpx.Auth: ...


class Authorization:
    """The PIN flow of one app.

    Args:
        request: makes a signed call (the client's
            :meth:`~dmbot.x.client.XClient.request`).
        credentials: signs as the app with a temporary token.
        api_url: X's base URL, or the emulator's, for the page the owner opens.
    """

    def __init__(self, request: Request, credentials: Credentials, api_url: str) -> None:
        self._request = request
        self._credentials = credentials
        self._api_url = api_url

    async def request_token(self, callback: str = "oob") -> RequestToken:
        """Step 1 of the PIN flow: temporary credentials (``oob``: show a PIN)."""
        auth = self._credentials("", "", callback=callback)
        fields = await self._form("/oauth/request_token", auth)
        return RequestToken(fields.get("oauth_token", ""), fields.get("oauth_token_secret", ""))

    def authorize_url(self, token: str) -> str:
        """Step 2: the page where the account's owner approves the app."""
        return f"{self._api_url}/oauth/authorize?{urlencode({'oauth_token': token})}"

    async def access_token(self, token: str, secret: str, verifier: str) -> AccessToken:
        """Step 3: trade the request token and the PIN for the account's tokens."""
        auth = self._credentials(token, secret, verifier=verifier)
        fields = await self._form("/oauth/access_token", auth)
        return AccessToken(
            fields.get("oauth_token", ""),
            fields.get("oauth_token_secret", ""),
            fields.get("user_id", ""),
            fields.get("screen_name", ""),
        )

    async def _form(self, path: str, auth: httpx.Auth) -> dict[str, str]:
        # X answers these two steps form-encoded, not in JSON.
        response = await self._request("POST", path, auth=auth)
        fields = {k: v[0] for k, v in parse_qs(response.text).items()}
        if not fields.get("oauth_token"):
            raise PermanentError(
                f"X answered POST {path} without an oauth_token; "
                "check the consumer key and secret and that the PIN was typed correctly.",
                status=response.status_code,
            )
        return fields
