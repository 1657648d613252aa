"""The app-only bearer token: configured, or obtained once from the app's keys.

v2 webhooks, their replay and the X Activity API's listings take the app's
bearer token (X-API.md §8). ``twitter.bearer_token`` gives it; when it is
empty, dmbot asks X for one with the consumer key and secret (OAuth 2.0
client credentials, ``POST /oauth2/token``) and keeps it: X's app-only
tokens do not expire. One :class:`AppToken` is shared by the clients of all
accounts of an app, so the token is asked for once.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import httpx
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749.parameters import prepare_token_request

from dmbot.errors import ConfigError, PermanentError
from dmbot.x.errors import error_from_exception, error_from_response

__all__ = ["TOKEN_PATH", "AppToken", "fetch_app_token"]

TOKEN_PATH = "/oauth2/token"


class AppToken:
    """The app's bearer token, fetched at most once however many clients ask.

    Args:
        configured: ``twitter.bearer_token``; used as it is when set.

    Raises:
        ConfigError: ``configured`` has characters no bearer token has; httpx
            could not even send it.
    """

    def __init__(self, configured: str = "") -> None:
        if not (configured.isascii() and configured.isprintable()):
            raise ConfigError(
                "twitter.bearer_token has characters no bearer token has (it is plain ASCII): "
                "copy it again from the developer portal (Keys and tokens), or leave it empty "
                "for dmbot to ask X for it"
            )
        self._token = configured
        self._lock = asyncio.Lock()

    @property
    def known(self) -> str:
        """The token, if configured or fetched already ("" otherwise)."""
        return self._token

    async def get(self, fetch: Callable[[], Awaitable[str]]) -> str:
        """The token; ``fetch`` obtains it the first time it is needed."""
        if self._token:
            return self._token
        async with self._lock:
            if not self._token:
                self._token = await fetch()
        return self._token


async def fetch_app_token(http: httpx.AsyncClient, consumer_key: str, consumer_secret: str) -> str:
    """Ask X for the app's bearer token (client credentials, HTTP Basic with the app's keys).

    Raises:
        XApiError: X refused the keys, or could not be reached; the message says what to set.
    """
    body = prepare_token_request("client_credentials")
    auth = ClientAuth(consumer_key, consumer_secret, "client_secret_basic")
    headers = {"content-type": "application/x-www-form-urlencoded"}
    _, headers, body = auth.prepare("POST", TOKEN_PATH, headers, body)
    endpoint = f"POST {TOKEN_PATH}"
    try:
        response = await http.post(TOKEN_PATH, content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise error_from_exception(exc, endpoint=endpoint) from exc
    if not response.is_success:
        error = error_from_response(response, endpoint=endpoint)
        error.args = (
            f"{error} X gives the app's bearer token for its consumer key and secret: "
            "check twitter.consumer_key and twitter.consumer_secret, or set "
            "twitter.bearer_token (developer portal, Keys and tokens).",
        )
        raise error
    try:
        answer = json.loads(response.content)
        token = answer["access_token"] if answer.get("token_type", "").lower() == "bearer" else ""
    except (ValueError, KeyError, TypeError, AttributeError):
        token = ""
    if not isinstance(token, str) or not token:
        raise PermanentError(
            f"X answered {endpoint} without a bearer token; set twitter.bearer_token "
            "(developer portal, Keys and tokens) instead",
            status=response.status_code,
        )
    return token
