"""X's requests written straight onto the lean transport.

httpx's client layers (merging the URL, building a :class:`httpx.Request`,
the auth flow, redirects, hooks, decoding) cost more CPU per reply than the
transport and the OAuth signature together. With dmbot's own transport
(:mod:`dmbot.x.transport`, the default), :class:`Wire` builds the request
itself: the address from the client's ``api_url``, the query and form
encoded as httpx encodes them, the body as httpx encodes JSON, and the
signature over the same parameters. The answer comes back as an
:class:`httpx.Response` (without the :class:`httpx.Request` it would take as
long again to build), so everything after it (rate limits, errors, decoding)
is the same whichever way the request went.
"""

from __future__ import annotations

import json as jsonlib
from collections.abc import Mapping
from urllib.parse import quote, urlencode, urlsplit

import httpx

from dmbot.types import JSONObject
from dmbot.x.oauth import FORM, OAuth1
from dmbot.x.transport import LeanTransport, Origin

__all__ = ["Wire"]

USER_AGENT = "dmbot"


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
    ) -> httpx.Response:
        """Make one request; ``auth`` signs it, or ``authorization`` is its header.

        Raises:
            httpx.TransportError: no answer (see :meth:`LeanTransport.exchange`).
        """
        target = self.base_path + path
        signed: list[tuple[str, str]] = []
        if params:
            target += "?" + urlencode(params, quote_via=quote)
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
            target,
            headers,
            body,
            connect_timeout=self.timeout,
            answer_timeout=self.timeout,
        )
        return httpx.Response(answer.status, headers=answer.headers, content=answer.content)
