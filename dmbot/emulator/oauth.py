"""OAuth 1.0a (HMAC-SHA1) verification, as X checks every v1.1 request.

The emulator rebuilds the signature base string from what arrived (RFC 5849
§3.4.1: method, base string URI, query and form parameters plus the
``oauth_*`` protocol parameters; a JSON body is not signed), signs it with
the secrets it knows, and compares. This is written independently of the
client side (authlib), so a test passing through both proves they agree.

The 3-legged flow (request token, authorize page, access token) and the
app-only bearer token live here too: they are how a caller gets credentials.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from dmbot.emulator.faults import ApiError
from dmbot.emulator.state import App, RequestToken, User, World

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


def form_response(values: dict[str, str]) -> Response:
    """A form-encoded answer, as X's OAuth endpoints give."""
    return Response(urlencode(values), media_type="application/x-www-form-urlencoded")


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


def verify(
    request: Request,
    body: bytes,
    *,
    app: App,
    token_secret: Callable[[str], str | None],
    now: float,
) -> OAuthParams:
    """Check the request's OAuth 1.0a signature the way X does.

    Args:
        request: the incoming request (its method, URL, headers).
        body: the raw body; form parameters in it are signed, JSON is not.
        app: the app whose consumer key and secret are expected.
        token_secret: the secret of a token, or None when the token is unknown.
        now: the emulator clock, for the timestamp window.

    Raises:
        ApiError: 401 code 32 (unknown key or token, bad signature) or 135
            (timestamp more than five minutes off).
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


def authorize_page(oauth_token: str, app_name: str, users: list[tuple[str, str]]) -> str:
    """The emulator's stand-in for X's "Authorize app" page.

    Args:
        oauth_token: the request token being authorized.
        app_name: the app asking for access.
        users: (user id, screen name) of everyone who may sign in.
    """
    options = "".join(
        f'<option value="{html.escape(uid)}">@{html.escape(name)}</option>' for uid, name in users
    )
    return (
        "<!doctype html><meta charset=utf-8><title>Authorize app</title>"
        f"<h1>Authorize {html.escape(app_name)} to use your account?</h1>"
        '<form method="post" action="/oauth/authorize">'
        f'<input type="hidden" name="oauth_token" value="{html.escape(oauth_token)}">'
        f'<label>Sign in as <select name="user_id">{options}</select></label> '
        '<button type="submit">Authorize app</button></form>'
    )


def pin_page(pin: str) -> str:
    """The page X shows after an out-of-band (PIN) authorization."""
    return (
        "<!doctype html><meta charset=utf-8><title>PIN</title>"
        "<p>Enter this PIN to complete the authorization:</p>"
        f'<p><code id="oauth_pin">{html.escape(pin)}</code></p>'
    )


class TokenFlow:
    """The 3-legged OAuth flow and the bearer token, over one world."""

    def __init__(self, world: World) -> None:
        self.world = world

    async def request_token(self, request: Request, caller: Caller) -> Response:
        """``POST /oauth/request_token``: a temporary token for the app alone."""
        if caller.params is None or caller.params.token is not None:
            raise ApiError(401, 32)
        callback = caller.params.callback or "oob"
        token = RequestToken(secrets.token_urlsafe(24), secrets.token_urlsafe(32), callback)
        self.world.request_tokens[token.token] = token
        answer = {"oauth_token": token.token, "oauth_token_secret": token.secret}
        return form_response({**answer, "oauth_callback_confirmed": "true"})

    def approve(self, oauth_token: str, user: User) -> str:
        """``user`` approves the app for a request token; the verifier (PIN).

        Raises:
            LookupError: an unknown request token.
        """
        token = self.world.request_tokens.get(oauth_token)
        if token is None:
            raise LookupError(f"No pending authorization for request token {oauth_token!r}.")
        verifier = f"{secrets.randbelow(10**7):07d}"
        self.world.request_tokens[oauth_token] = RequestToken(
            token.token, token.secret, token.callback, verifier, user.id
        )
        return verifier

    async def authorize_page(self, request: Request) -> Response:
        """``GET /oauth/authorize``: pick the account that grants access."""
        token = request.query_params.get("oauth_token", "")
        if token not in self.world.request_tokens:
            return HTMLResponse("<p>This authorization request is invalid or expired.</p>", 400)
        people = [(u.id, u.screen_name) for u in self.world.users.values()]
        return HTMLResponse(authorize_page(token, self.world.app.name, people))

    async def authorize_submit(self, request: Request) -> Response:
        """The page's form: show the PIN (``oob``) or redirect to the callback."""
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        user = self.world.user(form.get("user_id", ""))
        token = self.world.request_tokens.get(form.get("oauth_token", ""))
        if user is None or token is None:
            return HTMLResponse("<p>Choose an account and try again.</p>", 400)
        verifier = self.approve(token.token, user)
        if token.callback == "oob":
            return HTMLResponse(pin_page(verifier))
        query = urlencode({"oauth_token": token.token, "oauth_verifier": verifier})
        separator = "&" if "?" in token.callback else "?"
        return RedirectResponse(f"{token.callback}{separator}{query}", 302)

    async def access_token(self, request: Request, caller: Caller) -> Response:
        """``POST /oauth/access_token``: trade an approved request token for access tokens."""
        params = request_params(request, await request.body())
        pending = self.world.request_tokens.get(caller.key)
        verifier = (caller.params.verifier if caller.params else None) or params.get(
            "oauth_verifier"
        )
        if (
            pending is None
            or pending.user_id is None
            or not verifier
            or not same(verifier, pending.verifier or "")
        ):
            raise ApiError(401, 32, "Invalid or expired request token or verifier.")
        del self.world.request_tokens[pending.token]
        user = self.world.issue_tokens(pending.user_id)
        return form_response(
            {
                "oauth_token": user.token or "",
                "oauth_token_secret": user.token_secret or "",
                "user_id": user.id,
                "screen_name": user.screen_name,
            }
        )

    async def bearer(self, request: Request) -> Response:
        """App-only auth: ``POST /oauth2/token`` with the app's key and secret as Basic auth."""
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        try:
            key, _, secret = base64.b64decode(value).decode().partition(":")
        except ValueError:
            key = secret = ""
        app = self.world.app
        body = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        if (
            scheme.lower() != "basic"
            or not same(unquote(key), app.consumer_key)
            or not same(unquote(secret), app.consumer_secret)
            or body.get("grant_type") != "client_credentials"
        ):
            return ApiError(403, 99, "Unable to verify your credentials.").response()
        return JSONResponse({"token_type": "bearer", "access_token": self.world.bearer_token})
