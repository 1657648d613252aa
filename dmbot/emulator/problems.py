"""X's v2 error answers: RFC 7807 problem objects ``{"title","type","status","detail"}``.

Every ``/2/`` endpoint answers its errors this way; v1.1 endpoints keep
``{"errors":[{"code","message"}]}`` (:class:`~dmbot.emulator.faults.ApiError`).
A :class:`Problem` is an ``ApiError``, so code shared by both generations
(authentication, faults, rate limits, the webhook registry) raises the v1.1
kind and :func:`as_problem` translates it, in this one place, when the
endpoint is a v2 one.

Problem types are named as X's OpenAPI spec (v2.167) names them, under
``https://api.x.com/2/problems/``; statuses with nothing more to say than the
HTTP status use ``about:blank``, as X does for 401 and 429.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from starlette.responses import JSONResponse

from dmbot.emulator.faults import MESSAGES, ApiError
from dmbot.types import JSONObject

PROBLEMS = "https://api.x.com/2/problems/"
"""Where X's problem types live, as the spec names them (older answers say api.twitter.com)."""
INVALID_REQUEST = PROBLEMS + "invalid-request"
RESOURCE_NOT_FOUND = PROBLEMS + "resource-not-found"
NOT_AUTHORIZED = PROBLEMS + "not-authorized-for-resource"
UNSUPPORTED_AUTHENTICATION = PROBLEMS + "unsupported-authentication"
INTERNAL_ERROR = PROBLEMS + "internal-error"
MEDIA_TYPE = "application/problem+json"

APP_ONLY = "OAuth 2.0 Application-Only"
USER_CONTEXT = ("OAuth 1.0a User Context", "OAuth 2.0 User Context")


class Problem(ApiError):
    """An RFC 7807 answer of a v2 endpoint.

    Args:
        status: the HTTP status.
        title: the problem type's short name.
        detail: what went wrong with this request, and how to fix it.
        type: the problem type URI (``about:blank`` when the status says it all).
        fields: extra members X adds for the type (``resource_type``,
            ``parameter``, ``value``, ``errors``...).
        headers: headers the answer must carry (``x-rate-limit-*`` on a 429).
    """

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        type: str = "about:blank",
        fields: JSONObject | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status, None, detail, headers=headers)
        self.title = title
        self.detail = detail
        self.type = type
        self.fields: JSONObject = fields or {}

    def to_json(self) -> JSONObject:
        """The problem object, as the body of the answer."""
        body: JSONObject = {"title": self.title, "type": self.type, "status": self.status}
        body["detail"] = self.detail
        body.update(self.fields)
        return body

    def response(self, headers: dict[str, str] | None = None) -> JSONResponse:
        """The HTTP answer; the problem's own headers win over ``headers``."""
        merged = {**(headers or {}), **self.headers}
        return JSONResponse(
            self.to_json(), status_code=self.status, headers=merged, media_type=MEDIA_TYPE
        )


def plain(status: int, detail: str | None = None, **kwargs: Any) -> Problem:
    """An ``about:blank`` problem: the HTTP status phrase is the title."""
    phrase = HTTPStatus(status).phrase
    return Problem(status, phrase, detail or phrase, **kwargs)


def invalid_request(detail: str, parameter: str | None = None, value: object = None) -> Problem:
    """400 ``invalid-request``; X lists the offending parameter under ``errors`` too."""
    fields: JSONObject = {}
    if parameter is not None:
        shown = "" if value is None else str(value)
        fields["errors"] = [{"parameters": {parameter: [shown]}, "message": detail}]
    return Problem(400, "Invalid Request", detail, type=INVALID_REQUEST, fields=fields)


def not_found(resource_type: str, resource_id: str, parameter: str, detail: str) -> Problem:
    """404 ``resource-not-found`` naming the resource and the parameter that named it."""
    fields: JSONObject = {
        "resource_type": resource_type,
        "resource_id": resource_id,
        "parameter": parameter,
        "value": resource_id,
    }
    return Problem(404, "Not Found Error", detail, type=RESOURCE_NOT_FOUND, fields=fields)


def not_authorized(resource_type: str, resource_id: str, parameter: str, detail: str) -> Problem:
    """403 ``not-authorized-for-resource``: these credentials may not act on that resource."""
    fields: JSONObject = {
        "resource_type": resource_type,
        "resource_id": resource_id,
        "parameter": parameter,
        "value": resource_id,
    }
    return Problem(403, "Authorization Error", detail, type=NOT_AUTHORIZED, fields=fields)


def unsupported_authentication(used: str, supported: tuple[str, ...]) -> Problem:
    """403: the endpoint does not take this kind of credentials (X's own wording)."""
    detail = (
        f"Authenticating with {used} is forbidden for this endpoint.  "
        f"Supported authentication types are [{', '.join(supported)}]."
    )
    return Problem(403, "Unsupported Authentication", detail, type=UNSUPPORTED_AUTHENTICATION)


def as_problem(error: ApiError) -> Problem:
    """The v2 answer for an error raised in v1.1 terms (status and X's error code)."""
    if isinstance(error, Problem):
        return error
    status, headers = error.status, error.headers
    if status == 401:
        # X's v2 401 says no more than "Unauthorized", whatever was wrong with the
        # credentials; only the emulator's own explanations (to test authors) are kept.
        stock = error.message == MESSAGES.get(error.code or 0)
        return plain(401, None if stock else error.message, headers=headers)
    if status == 429:
        return plain(429, headers=headers)
    if status == 403 and error.code in (220, 261):
        return unsupported_authentication(APP_ONLY, USER_CONTEXT)
    if status == 400:
        return invalid_request(error.message)
    if status == 404:
        return Problem(
            404,
            "Not Found Error",
            error.message,
            type=RESOURCE_NOT_FOUND,
            fields={"resource_type": "resource"},
        )
    if status == 500:
        return Problem(500, "Internal Error", error.message, type=INTERNAL_ERROR, headers=headers)
    return plain(status, error.message, headers=headers)
