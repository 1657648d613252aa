"""OAuth 1.0a for the X API: signing requests, and the tokens of the PIN flow.

The signing itself is authlib's; :class:`OAuth1` adapts it to httpx the way X
expects it (query and form parameters signed, a JSON body sent as is), and
makes its nonces and clock injectable for tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from typing import Any, NamedTuple

import httpx
from authlib.oauth1 import ClientAuth
from authlib.oauth1.rfc5849.wrapper import OAuth1Request

__all__ = ["AccessToken", "OAuth1", "RequestToken"]

FORM = "application/x-www-form-urlencoded"


class RequestToken(NamedTuple):
    """The temporary credentials of the 3-legged OAuth flow."""

    token: str
    secret: str


class AccessToken(NamedTuple):
    """An account's access token, as the PIN flow returns it."""

    token: str
    secret: str
    user_id: str
    screen_name: str


class _Signer(ClientAuth):  # type: ignore[misc]
    """authlib's OAuth 1.0a client, with the nonce and clock it draws from made injectable."""

    def __init__(
        self, *args: Any, nonce: Callable[[], str] | None, clock: Callable[[], float], **kw: Any
    ) -> None:
        super().__init__(*args, **kw)
        self._nonce = nonce
        self._clock = clock

    def get_oauth_signature(self, method: str, uri: str, headers: Any, body: Any) -> str:
        if not uri.startswith("http://"):
            return str(super().get_oauth_signature(method, uri, headers, body))
        # authlib refuses plain http outside loopback, but the emulator is served over
        # http (in process or on a LAN): parse as https, then sign the URL actually used.
        request = OAuth1Request(method, "https://" + uri[7:], body=body, headers=headers)
        request.uri = uri
        return str(self.SIGNATURE_METHODS[self.signature_method](self, request))

    def get_oauth_params(self, nonce: str, timestamp: str) -> list[tuple[str, str]]:
        if self._nonce is not None:
            nonce = self._nonce()
        params: list[tuple[str, str]] = super().get_oauth_params(nonce, str(int(self._clock())))
        return params


class OAuth1(httpx.Auth):
    """Signs httpx requests with OAuth 1.0a HMAC-SHA1 (the signing is authlib's).

    Query and form parameters are signed; a JSON body is sent as is and left
    out of the signature, as X expects (authlib's own httpx integration would
    either drop the body or add ``oauth_body_hash``).

    Args:
        consumer_key: the app's API key.
        consumer_secret: the app's API key secret.
        token: the acting account's access token (or a request token); empty
            for the first step of the PIN flow.
        token_secret: its secret.
        callback: ``oauth_callback``, for the request-token step.
        verifier: ``oauth_verifier``, for the access-token step.
        nonce: where nonces come from (default: authlib's random tokens).
        clock: where timestamps come from (default: :func:`time.time`).
    """

    requires_request_body = True

    def __init__(
        self,
        consumer_key: str,
        consumer_secret: str,
        token: str = "",
        token_secret: str = "",
        *,
        callback: str | None = None,
        verifier: str | None = None,
        nonce: Callable[[], str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._signer = _Signer(
            consumer_key,
            consumer_secret,
            token=token or None,
            token_secret=token_secret or None,
            redirect_uri=callback,
            verifier=verifier,
            nonce=nonce,
            clock=clock,
        )

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        form = request.headers.get("content-type", "").startswith(FORM)
        headers = {"Content-Type": FORM} if form else {}
        body = request.content.decode("utf-8") if form else ""
        _, signed, _ = self._signer.sign(request.method, str(request.url), headers, body)
        request.headers["Authorization"] = signed["Authorization"]
        yield request
