"""OAuth 1.0a for the X API: signing requests, and the tokens of the PIN flow.

:class:`OAuth1` signs the way X expects (query and form parameters signed,
a JSON body sent as is) with authlib's RFC 5849 base string URI, and
percent-encodes the parameters and keys the HMAC-SHA1 itself, what is fixed
once per client (the key, the protocol parameters, each address's base
string URI): authlib's client renders the header, parses it back, encodes
every parameter three times and draws a nonce one random character at a
time, a third of the CPU of a send (bench/README.md). Nonces and the clock
are injectable for tests; tests/test_oauth.py checks every signature
against authlib's own client.
"""

from __future__ import annotations

import base64
import functools
import hmac
import secrets
import time
from collections.abc import Callable, Generator, Iterable
from typing import NamedTuple
from urllib.parse import parse_qsl, quote

import httpx
from authlib.oauth1.rfc5849.signature import normalize_base_string_uri

__all__ = ["AccessToken", "OAuth1", "RequestToken"]

FORM = "application/x-www-form-urlencoded"


@functools.lru_cache(maxsize=256)
def _base_uri(url: str) -> str:
    """The base string URI of an address (lower-case host, default port dropped, no
    query), percent-encoded for the signature base string."""
    return _escape(normalize_base_string_uri(url))


def _nonce() -> str:
    return secrets.token_hex(16)


def _escape(text: str) -> str:
    """RFC 5849's percent-encoding: everything but ALPHA, DIGIT, '-', '.', '_', '~'."""
    if text.isascii() and text.isalnum():
        return text  # nonces, timestamps, ids: nothing to encode
    return quote(text, safe="~")


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


class OAuth1(httpx.Auth):
    """Signs requests with OAuth 1.0a HMAC-SHA1 (with authlib's RFC 5849 functions).

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
        nonce: where nonces come from (default: 32 random hex digits).
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
        self._key = f"{_escape(consumer_secret)}&{_escape(token_secret)}".encode()
        """The HMAC-SHA1 key (RFC 5849 §3.4.2): both secrets encoded, joined by '&'."""
        fixed = [("oauth_consumer_key", consumer_key), ("oauth_signature_method", "HMAC-SHA1")]
        fixed.append(("oauth_version", "1.0"))
        if token:
            fixed.append(("oauth_token", token))
        if callback:
            fixed.append(("oauth_callback", callback))
        if verifier:
            fixed.append(("oauth_verifier", verifier))
        self._fixed = [(_escape(k), _escape(v)) for k, v in fixed]
        """The protocol parameters every request carries, percent-encoded once."""
        self._nonce = nonce or _nonce
        self._clock = clock

    def authorization(self, method: str, url: str, params: Iterable[tuple[str, str]] = ()) -> str:
        """The ``Authorization`` header of one request (RFC 5849 §3.4 and §3.5.1).

        Args:
            method: the HTTP method.
            url: the address without its query string.
            params: the query and form parameters, decoded.
        """
        oauth = [
            *self._fixed,
            ("oauth_nonce", _escape(self._nonce())),
            ("oauth_timestamp", str(int(self._clock()))),
        ]
        pairs = sorted([*oauth, *((_escape(k), _escape(v)) for k, v in params)])
        # The base string encodes the pairs once more: in an encoded name or value only
        # '%' needs it; the '=' and '&' that join them are written encoded.
        again = [(k.replace("%", "%25"), v.replace("%", "%25")) for k, v in pairs]
        normalized = "%26".join(f"{k}%3D{v}" for k, v in again)
        base = f"{method.upper()}&{_base_uri(url)}&{normalized}"
        mac = base64.b64encode(hmac.digest(self._key, base.encode(), "sha1")).decode("ascii")
        signature = mac.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")  # base64
        oauth.append(("oauth_signature", signature))
        return "OAuth " + ", ".join(f'{k}="{v}"' for k, v in oauth)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        url = request.url
        params = list(url.params.multi_items())
        if request.headers.get("content-type", "").startswith(FORM):
            params += parse_qsl(request.content.decode("utf-8"), keep_blank_values=True)
        address = str(url.copy_with(query=None, fragment=None))
        request.headers["Authorization"] = self.authorization(request.method, address, params)
        yield request
