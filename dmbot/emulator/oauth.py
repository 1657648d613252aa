"""OAuth 1.0a (HMAC-SHA1) verification, as X checks every v1.1 request.

The emulator rebuilds the signature base string from what arrived (RFC 5849
§3.4.1: method, base string URI, query and form parameters plus the
``oauth_*`` protocol parameters; a JSON body is not signed), signs it with
the secrets it knows, and compares. This is written independently of the
client side (authlib), so a test passing through both proves they agree.

X's answers: 401 with code 32 for a bad signature or unknown consumer key,
89 for an access token X does not know (never issued, or revoked), 135 for a
timestamp more than five minutes off, and 32 for a request replayed with a
nonce already used within those five minutes (:class:`Nonces`). How a caller
gets credentials (the 3-legged flow, the bearer token) is :mod:`dmbot.emulator.tokens`'.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote

from starlette.requests import Request

from dmbot.emulator.faults import ApiError
from dmbot.emulator.state import App, User

MAX_SKEW = 300.0
"""X refuses timestamps more than five minutes away from its clock (code 135)."""

_HEADER_PARAM = re.compile(r'([A-Za-z0-9_\-.~%]+)="([^"]*)"')
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class OAuthParams:
    """The verified protocol parameters of one request.

    Attributes:
        consumer_key: the app's key.
        token: the access (or request) token, None for consumer-only requests.
        verifier: ``oauth_verifier``, sent to the access-token endpoint.
        callback: ``oauth_callback``, sent to the request-token endpoint.
    """

    consumer_key: str
    token: str | None
    verifier: str | None = None
    callback: str | None = None


@dataclass(frozen=True)
class Caller:
    """Who made a verified call: the account (None for app-only) and its OAuth params.

    Attributes:
        user: the acting account, None for the app alone.
        params: the verified OAuth parameters (None for the bearer token).
        key: what the rate limiter counts calls under (the token, or the app).
    """

    user: User | None
    params: OAuthParams | None
    key: str

    @property
    def account(self) -> User:
        """The acting account; app-only credentials cannot act as one."""
        if self.user is None:
            raise ApiError(403, 220, "Your credentials do not allow access to this resource.")
        return self.user


def request_params(request: Request, body: bytes) -> dict[str, str]:
    """Query and form parameters of a request (X reads both)."""
    params = dict(parse_qsl(request.url.query, keep_blank_values=True))
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return params


def same(given: str, expected: str) -> bool:
    """Constant-time equality of two strings (any characters, unlike ``compare_digest`` on str)."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def percent_encode(value: str) -> str:
    """RFC 3986 percent-encoding: everything but ``A-Z a-z 0-9 - . _ ~``."""
    return quote(value, safe="~")


def parse_authorization(header: str) -> dict[str, str]:
    """The decoded parameters of an ``Authorization: OAuth ...`` header ({} if not OAuth)."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "oauth":
        return {}
    params = {unquote(k): unquote(v) for k, v in _HEADER_PARAM.findall(rest)}
    params.pop("realm", None)
    return params


def base_string_uri(scheme: str, host: str, path: str) -> str:
    """``scheme://host[:port]/path``, lowercased, default port dropped (RFC 5849 §3.4.1.2)."""
    scheme = scheme.lower()
    host = host.lower()
    name, _, port = host.rpartition(":")
    if name and port.isdigit() and int(port) == _DEFAULT_PORTS.get(scheme):
        host = name
    return f"{scheme}://{host}{path or '/'}"


def signature_base_string(method: str, uri: str, params: list[tuple[str, str]]) -> str:
    """``METHOD&enc(uri)&enc(sorted, encoded params)`` (RFC 5849 §3.4.1)."""
    pairs = sorted(
        (percent_encode(k), percent_encode(v)) for k, v in params if k != "oauth_signature"
    )
    normalized = "&".join(f"{k}={v}" for k, v in pairs)
    return "&".join(percent_encode(part) for part in (method.upper(), uri, normalized))


def hmac_sha1(base_string: str, consumer_secret: str, token_secret: str | None) -> str:
    """The base64 HMAC-SHA1 signature, keyed ``enc(consumer)&enc(token)``."""
    key = f"{percent_encode(consumer_secret)}&{percent_encode(token_secret or '')}"
    mac = hmac.new(key.encode(), base_string.encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode("ascii")


def bearer_token(request: Request) -> str | None:
    """The app-only bearer token of the request, if it carries one."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


class Nonces:
    """The nonces of the verified requests of the last five minutes.

    OAuth 1.0a makes a request unique by its nonce and timestamp; one sent again
    within the timestamp window is a replay, and X refuses it (401). Older ones
    need no memory: the window refuses them (135).
    """

    def __init__(self) -> None:
        self._seen: set[tuple[str, ...]] = set()
        self._order: deque[tuple[float, tuple[str, ...]]] = deque()

    def use(self, key: tuple[str, ...], timestamp: int, now: float) -> bool:
        """Remember ``key`` (consumer, token, nonce, timestamp); False if already seen."""
        while self._order and self._order[0][0] < now:
            self._seen.discard(self._order.popleft()[1])
        if key in self._seen:
            return False
        self._seen.add(key)
        self._order.append((max(timestamp, now) + MAX_SKEW, key))
        return True


def verify(
    request: Request,
    body: bytes,
    *,
    app: App,
    token_secret: Callable[[str], str | None],
    now: float,
    nonces: Nonces | None = None,
) -> OAuthParams:
    """Check the request's OAuth 1.0a signature the way X does.

    Args:
        request: the incoming request (its method, URL, headers).
        body: the raw body; form parameters in it are signed, JSON is not.
        app: the app whose consumer key and secret are expected.
        token_secret: the secret of a token, or None when the token is unknown
            (it may raise the error X gives for that kind of token instead).
        now: the emulator clock, for the timestamp window.
        nonces: the nonces already used; None checks none.

    Raises:
        ApiError: 401 code 32 (unknown key or token, bad signature, a replayed
            nonce) or 135 (timestamp more than five minutes off).
    """
    query = parse_qsl(request.url.query, keep_blank_values=True)
    form: list[tuple[str, str]] = []
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        form = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    protocol = parse_authorization(request.headers.get("authorization", ""))
    if not protocol:
        # RFC 5849 also allows the protocol parameters in the query or the form.
        protocol = {k: v for k, v in query + form if k.startswith("oauth_")}
    params = [(k, v) for k, v in query + form if not (protocol and k in protocol)]
    params += list(protocol.items())

    required = ("oauth_consumer_key", "oauth_signature", "oauth_timestamp", "oauth_nonce")
    if any(not protocol.get(name) for name in required):
        raise ApiError(401, 32)
    if protocol.get("oauth_signature_method", "").upper() != "HMAC-SHA1":
        raise ApiError(401, 32)
    if not same(protocol["oauth_consumer_key"], app.consumer_key):
        raise ApiError(401, 32)
    token = protocol.get("oauth_token") or None
    secret = token_secret(token) if token else ""
    if secret is None:
        raise ApiError(401, 32)
    try:
        timestamp = int(protocol["oauth_timestamp"])
    except ValueError:
        raise ApiError(401, 32) from None
    if abs(timestamp - now) > MAX_SKEW:
        raise ApiError(401, 135)

    host = request.headers.get("host") or request.url.netloc
    uri = base_string_uri(request.url.scheme, host, _raw_path(request))
    expected = hmac_sha1(
        signature_base_string(request.method, uri, params), app.consumer_secret, secret
    )
    if not same(protocol["oauth_signature"], expected):
        raise ApiError(401, 32)
    body_hash = protocol.get("oauth_body_hash")
    if body_hash is not None:
        actual = base64.b64encode(hashlib.sha1(body).digest()).decode("ascii")
        if not same(body_hash, actual):
            raise ApiError(401, 32)
    replay = (protocol["oauth_consumer_key"], token or "", protocol["oauth_nonce"])
    if nonces is not None and not nonces.use((*replay, str(timestamp)), timestamp, now):
        raise ApiError(401, 32)
    return OAuthParams(
        consumer_key=protocol["oauth_consumer_key"],
        token=token,
        verifier=protocol.get("oauth_verifier"),
        callback=protocol.get("oauth_callback"),
    )


def _raw_path(request: Request) -> str:
    """The path exactly as the client sent it (still percent-encoded)."""
    raw = request.scope.get("raw_path")
    if isinstance(raw, bytes) and raw:
        return raw.decode("latin-1").partition("?")[0]
    return quote(request.url.path)
