"""One request to X as a value, and the function that runs it.

The client's helpers (:mod:`.paths`, :mod:`.subscriptions`, :mod:`.welcome`)
say which call to make as a :class:`Call`; the
:class:`~dmbot.x.client.XClient` hands them its :meth:`~dmbot.x.client.XClient.run`,
which signs the call, honours the rate limits and decodes the answer. So the
helpers know neither httpx nor the client.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from dmbot.types import JSON, JSONObject

__all__ = ["Call", "Run"]


@dataclass(frozen=True, slots=True)
class Call:
    """One request to X.

    Attributes:
        method: HTTP method.
        path: path under the API base URL, ids already filled in.
        name: the endpoint template (no ids), used for rate limits; default:
            the method and the path.
        params: query parameters.
        json: JSON body, if any.
        bearer: X documents this call with the app's bearer token; the
            client uses it when it has one and the user's tokens otherwise.
    """

    method: str
    path: str
    name: str = ""
    params: dict[str, str] = field(default_factory=dict)
    json: JSONObject | None = None
    bearer: bool = False


Run = Callable[[Call], Awaitable[JSON]]
"""Makes one call to X and returns its decoded answer (None for an empty one)."""
