"""dmbot's OAuth 1.0a signatures are authlib's client's, parameter for parameter.

dmbot encodes the parameters itself (authlib's client costs a third of a
send's CPU); authlib's own client is the reference it must agree with, for
any method, address, query and form, with or without a token.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlencode

import httpx
from authlib.oauth1 import ClientAuth
from authlib.oauth1.rfc5849.wrapper import OAuth1Request
from hypothesis import given, settings
from hypothesis import strategies as st

from dmbot.x.oauth import FORM, OAuth1

NONCE = "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg"
STAMP = 1318622958


class Reference(ClientAuth):  # type: ignore[misc]
    """authlib's client with the nonce and timestamp fixed, signing plain http too."""

    def get_oauth_params(self, nonce: str, timestamp: str) -> list[tuple[str, str]]:
        params: list[tuple[str, str]] = super().get_oauth_params(NONCE, str(STAMP))
        return params

    def get_oauth_signature(self, method: str, uri: str, headers: Any, body: Any) -> str:
        # authlib refuses http outside loopback: parse as https, sign the address used.
        request = OAuth1Request(method, uri.replace("http://", "https://", 1), body, headers)
        request.uri = uri
        return str(self.SIGNATURE_METHODS[self.signature_method](self, request))


def header_params(header: str) -> dict[str, str]:
    scheme, _, rest = header.partition(" ")
    assert scheme == "OAuth"
    pairs = (item.strip().split("=", 1) for item in rest.split(","))
    return {k: unquote(v.strip('"')) for k, v in pairs}


text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
# Names X keeps for the protocol are no request's parameters (authlib refuses oauth_*
# outside the header, and leaves "realm" out of the signature wherever it is).
name = text.filter(lambda k: bool(k) and not k.startswith("oauth_") and k != "realm")
params = st.lists(st.tuples(name, text), max_size=4)


@settings(max_examples=150, deadline=None)
@given(
    method=st.sampled_from(["GET", "POST", "DELETE", "PUT"]),
    address=st.sampled_from(
        [
            "https://api.twitter.com/1.1/direct_messages/events/new.json",
            "http://127.0.0.1:8080/2/dm_conversations/with/42/messages",
            "https://API.x.com:443/1.1/account_activity/all/prod/webhooks.json",
            "http://x.test/oauth/request_token",
        ]
    ),
    query=params,
    form=params,
    token=st.sampled_from(["", "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb"]),
    secrets=st.tuples(text, text),
    extra=st.sampled_from([{}, {"callback": "oob"}, {"verifier": "1234 56"}]),
)
def test_every_signature_is_authlibs(
    method: str,
    address: str,
    query: list[tuple[str, str]],
    form: list[tuple[str, str]],
    token: str,
    secrets: tuple[str, str],
    extra: dict[str, str],
) -> None:
    consumer_secret, token_secret = secrets
    ours = OAuth1(
        "xvz1evFS4wEEPTGEFPHBog",
        consumer_secret,
        token,
        token_secret,
        nonce=lambda: NONCE,
        clock=lambda: STAMP + 0.9,
        **extra,
    )
    reference = Reference(
        "xvz1evFS4wEEPTGEFPHBog",
        consumer_secret,
        token=token or None,
        token_secret=token_secret or None,
        redirect_uri=extra.get("callback"),
        verifier=extra.get("verifier"),
    )
    uri = address + ("?" + urlencode(query) if query else "")
    body = urlencode(form) if form else ""
    headers = {"Content-Type": FORM} if form else {}
    _, signed, _ = reference.sign(method, uri, headers, body)
    expected = header_params(signed["Authorization"])

    header = ours.authorization(method, address, [*query, *form])
    assert header_params(header) == expected

    # The same signature when httpx hands the request over (query in the URL, form body).
    request = httpx.Request(method, uri, content=body.encode(), headers=headers)
    flow = ours.auth_flow(request)
    assert header_params(next(flow).headers["Authorization"]) == expected
