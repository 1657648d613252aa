"""The 3-legged OAuth flow and the app-only bearer token: how a caller gets credentials.

The request token, X's "Authorize app" page (a PIN for out-of-band
callers), the access token, and ``POST /oauth2/token``, which takes
``grant_type=client_credentials`` in the form or in the query string, as X
does. Checking the credentials on each call is :mod:`dmbot.emulator.oauth`'s.
"""

from __future__ import annotations

import base64
import html
import secrets
from urllib.parse import parse_qsl, unquote, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from dmbot.emulator.faults import ApiError
from dmbot.emulator.oauth import Caller, request_params, same
from dmbot.emulator.state import RequestToken, User, World


def form_response(values: dict[str, str]) -> Response:
    """A form-encoded answer, as X's OAuth endpoints give."""
    return Response(urlencode(values), media_type="application/x-www-form-urlencoded")


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
        # X reads grant_type from the query string as well as from the form.
        params = dict(parse_qsl(request.url.query))
        params.update(parse_qsl((await request.body()).decode("utf-8", "replace")))
        if "grant_type" not in params:
            return ApiError(403, 170, "Missing required parameter: grant_type").response()
        if (
            scheme.lower() != "basic"
            or not same(unquote(key), app.consumer_key)
            or not same(unquote(secret), app.consumer_secret)
            or params["grant_type"] != "client_credentials"
        ):
            return ApiError(403, 99, "Unable to verify your credentials.").response()
        return JSONResponse({"token_type": "bearer", "access_token": self.world.bearer_token})
