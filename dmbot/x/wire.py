"""X's requests written straight onto the lean transport.

httpx's client layers (merging the URL, building a :class:`httpx.Request`,
the auth flow, redirects, hooks, decoding) cost more CPU per reply than the
transport and the OAuth signature together. With dmbot's own transport
(:mod:`dmbot.x.transport`, the default), :class:`Wire` builds the request
itself: the address from the client's ``api_url``, the query and form
encoded as httpx encodes them, the body as httpx encodes JSON, and the
signature over the same parameters. The answer comes back as a
:class:`Reply`: status, headers by lower-case name and body, which is all the
client reads of a successful answer. Building an :class:`httpx.Response`
(and its :class:`httpx.Request`) would cost a fifth of a reply's send; the
client builds one only for an error or for a caller of
:meth:`~dmbot.x.client.XClient.request`, which promises one.
"""

from __future__ import annotations

import json as jsonlib
from collections.abc import Mapping
from urllib.parse import quote, urlencode, urlsplit

import httpx

from dmbot.types import JSONObject
from dmbot.x.oauth import FORM, OAuth1
from dmbot.x.transport import LeanTransport, Origin

__all__ = ["Reply", "Wire"]

USER_AGENT = "dmbot"


class Reply:
    """X's answer to one request made by :class:`Wire`, read whole."""

    __slots__ = ("content", "headers", "method", "raw_headers", "status_code", "url")

    def __init__(
        self, method: str, url: str, status: int, headers: list[tuple[str, str]], content: bytes
    ) -> None:
        self.method = method
        self.url = url
        self.status_code = status
        self.raw_headers = headers
        self.headers: Mapping[str, str] = {name.lower(): value for name, value in headers}
        """The headers by lower-case name (the last of a repeated one)."""
        self.content = content

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    def response(self) -> httpx.Response:
        """The same answer as an :class:`httpx.Response`, its request attached."""
        return httpx.Response(
            self.status_code,
            headers=self.raw_headers,
            content=self.content,
            request=httpx.Request(self.method, self.url),
        )


class Wire:
    """Requests to one X base address over a :class:`LeanTransport`.

    Args:
        transport: the lean transport the client owns.
        api_url: X's base address (``twitter.api_url``).
        timeout: seconds to connect, and seconds for the whole answer.
    """

    def __init__(self, transport: LeanTransport, api_url: str, timeout: float) -> None:
        parts = urlsplit(api_url)
        scheme = parts.scheme.lower()
        port = parts.port or (443 if scheme == "https" else 80)
        self.transport = transport
        self.origin = Origin(scheme, (parts.hostname or "").lower(), port)
        self.base_path = parts.path.rstrip("/")
        self.address = f"{scheme}://{self.origin.host_header}{self.base_path}"
        self.timeout = timeout

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None,
        data: Mapping[str, str] | None,
        json: JSONObject | None,
        auth: OAuth1 | None,
        authorization: str = "",
    ) -> Reply:
        """Make one request; ``auth`` signs it, or ``authorization`` is its header.

        Raises:
            httpx.TransportError: no answer (see :meth:`LeanTransport.exchange`).
        """
        query = ""
        signed: list[tuple[str, str]] = []
        if params:
            query = "?" + urlencode(params, quote_via=quote)
            signed += params.items()
        headers = [("Accept", "*/*"), ("User-Agent", USER_AGENT)]
        body = b""
        if data is not None:
            body = urlencode(data).encode()
            signed += data.items()
            headers.append(("Content-Type", FORM))
        elif json is not None:
            text = jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
            body = text.encode()
            headers.append(("Content-Type", "application/json"))
        if auth is not None:
            authorization = auth.authorization(method, self.address + path, signed)
        if authorization:
            headers.append(("Authorization", authorization))
        answer = await self.transport.exchange(
            method,
            self.origin,
            self.base_path + path + query,
            headers,
            body,
            connect_timeout=self.timeout,
            answer_timeout=self.timeout,
        )
        return Reply(
            method, self.address + path + query, answer.status, answer.headers, answer.content
        )
