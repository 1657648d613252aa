"""X's error answers, translated into dmbot's exception tree in one place.

Every failed call of :class:`~dmbot.x.client.XClient` goes through
:func:`error_from_response` (X answered with an error) or
:func:`error_from_exception` (no answer at all), so the sender and the
command line only ever see :class:`~dmbot.errors.RateLimited`,
:class:`~dmbot.errors.TransientError` or :class:`~dmbot.errors.PermanentError`.

Bodies come in three shapes: v1.1 ``{"errors": [{"code", "message"}]}``,
v2 RFC 7807 problem objects ``{"title", "detail", "type", "status"}``, and
plain text or HTML (OAuth endpoints, proxies). Messages name the endpoint,
the HTTP status and X's code, and say what to do. They never quote request
headers, so no token or secret can leak into them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from dmbot.errors import PermanentError, RateLimited, TransientError, XApiError

__all__ = [
    "HINTS",
    "PROBLEM_HINTS",
    "XErrorBody",
    "error_from_exception",
    "error_from_response",
    "parse_error_body",
]

RATE_LIMIT_CODE = 88
INTERNAL_ERROR_CODE = 131
OVER_CAPACITY_CODE = 130
BAD_REQUEST_CODE = 214
BAD_REQUEST_HINT = (
    "X found the request malformed: check the values sent (user ids are numeric, "
    "texts and options within X's limits); it will fail the same way again"
)
DEFAULT_RATE_WINDOW = 15 * 60.0
"""X's rate windows are 15 minutes; wait that long when a 429 names no reset."""

HINTS: dict[int, str] = {
    32: (
        "X could not authenticate the request: check twitter.consumer_key, "
        "twitter.consumer_secret and the account's access token and secret, "
        "and that twitter.env_name matches the environment label exactly, case included"
    ),
    34: (
        "X does not know that resource: check the webhook or user id "
        "(`dmbot webhooks list`, `dmbot subscriptions list`)"
    ),
    64: "the account is suspended: resolve it at x.com before sending",
    89: (
        "the access token is invalid or expired: generate new tokens for this account "
        "(`dmbot accounts authorize`, or the app's Keys and tokens page)"
    ),
    93: (
        "the app may not send Direct Messages: enable Read, Write and Direct Messages "
        "for the app and regenerate the tokens"
    ),
    135: (
        "X rejected the OAuth timestamp: fix this machine's clock (enable NTP time sync) and retry"
    ),
    150: (
        "the recipient does not accept Direct Messages from this account "
        "(they must follow it or allow DMs from everyone); this message will not be retried"
    ),
    151: "X refused to send this message for the reason it gave; it will not be retried",
    170: (
        "X's token endpoint got no grant_type: it must be asked with "
        "grant_type=client_credentials in the query string (a proxy in between may drop it)"
    ),
    200: (
        "the app has no Account Activity API access: request it for the app or "
        "its developer environment in the X developer portal"
    ),
    214: (
        "the webhook URL was refused: it must be https, public, without a port, and answer "
        "the CRC within 3 seconds (`dmbot doctor`); X also says this when the app already "
        "has its maximum of webhooks (`dmbot webhooks delete`)"
    ),
    215: "X found no usable authentication data: check the consumer key and tokens",
    220: "these credentials may not use this endpoint: check the app's access level",
    226: (
        "X thinks this request looks automated: slow down and do not retry it; "
        "send fewer messages to people who have not written first"
    ),
    261: (
        "the app cannot perform write actions: sign with the account's user tokens "
        "(not app-only auth) and give the app Read and Write permission"
    ),
    324: (
        "X does not accept that media: upload it again with a dm_image, dm_gif or dm_video "
        "media_category, by the sending account, less than 24 hours before the send (a "
        "media id goes into one DM only unless uploaded with shared=true)"
    ),
    326: "the account is locked: log in at x.com to unlock it, then retry",
    348: (
        "the app may not read that user's subscriptions: "
        "use the app owner's tokens or the app's bearer token"
    ),
    349: "this user does not accept Direct Messages from this account; it will not be retried",
    354: "the text is longer than X's 10,000 characters: shorten it",
    355: "the subscription already exists: nothing to do",
}


PROBLEM_HINTS: dict[str, str] = {
    "invalid-request": (
        "X found the request malformed: check the values sent (ids, dates, event types); "
        "it will fail the same way again"
    ),
    "resource-not-found": (
        "X does not know that resource: check the webhook, subscription or user id "
        "(`dmbot webhooks list`, `dmbot subscriptions list`)"
    ),
    "not-authorized-for-resource": (
        "these credentials may not use that resource: DM subscriptions and sends need the "
        "account's own tokens, and the app needs Read, Write and Direct Messages permission"
    ),
    "client-forbidden": (
        "the app may not use this endpoint: attach it to a Project with access to it "
        "(developer portal), or pick the twitter.api your access level has"
    ),
    "unsupported-authentication": (
        "this endpoint takes another kind of authentication: v2 webhooks and listings take "
        "the app's bearer token (twitter.bearer_token, or dmbot gets one from the consumer "
        "key and secret), subscriptions and sends the account's OAuth 1.0a tokens"
    ),
    "usage-capped": (
        "the app's usage cap is reached (pay-per-use credits or the monthly cap): add "
        "credits or raise the plan in the developer portal"
    ),
    "conflict": "it conflicts with something that already exists on X: nothing to do",
    "duplicate-rules": "it exists already on X: nothing to do",
    "disallowed-resource": "X does not allow this request on that resource",
    "resource-unavailable": (
        "that resource is unavailable (a suspended or protected account, a deleted webhook)"
    ),
    "field-unauthorized": "these credentials may not read a field of the answer",
}
"""What to do about v2's RFC 7807 problems, by the last segment of their ``type``."""


@dataclass(frozen=True, slots=True)
class XErrorBody:
    """What an error body says, whatever its shape.

    Attributes:
        code: X's v1.1 error code, if any.
        message: X's words.
        problem: a v2 problem's kind: the last segment of its ``type``
            (``invalid-request``, ``resource-not-found``, ...), if any.
    """

    code: int | None
    message: str
    problem: str | None = None


def parse_error_body(response: httpx.Response) -> XErrorBody:
    """Read X's code and message from a v1.1, v2 or non-JSON error body."""
    try:
        data = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        text = " ".join(response.text.split())
        return XErrorBody(None, text[:200])
    if isinstance(data, dict):
        problem = _problem(data)
        errors = data.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            code = first.get("code")
            message = str(first.get("message") or first.get("detail") or "")
            if not message and "title" in data:
                message = str(data.get("detail") or data["title"])
            problem = problem or _problem(first)
            return XErrorBody(code if isinstance(code, int) else None, message, problem)
        if "title" in data or "detail" in data:
            # v2 problem object: the title names the problem type, detail the instance.
            parts = [str(data[k]) for k in ("title", "detail") if data.get(k)]
            return XErrorBody(None, ": ".join(parts), problem)
        if "error" in data:
            return XErrorBody(None, str(data["error"]))
    return XErrorBody(None, " ".join(response.text.split())[:200])


def _problem(data: dict[str, object]) -> str | None:
    """``https://api.x.com/2/problems/invalid-request`` -> ``invalid-request``."""
    kind = data.get("type")
    if not isinstance(kind, str) or "/problems/" not in kind:
        return None
    return kind.rstrip("/").rpartition("/")[2] or None


def _reset_at(response: httpx.Response, now: float) -> float:
    reset = response.headers.get("x-rate-limit-reset")
    if reset:
        try:
            return float(reset)
        except ValueError:
            pass
    retry_after = response.headers.get("retry-after")
    if retry_after:
        try:
            return now + float(retry_after)
        except ValueError:
            pass
    return now + DEFAULT_RATE_WINDOW


def error_from_response(
    response: httpx.Response,
    *,
    endpoint: str,
    clock: Callable[[], float] = time.time,
) -> XApiError:
    """The dmbot error for an X answer that is not a success.

    Args:
        response: X's answer (its body already read).
        endpoint: the call as ``METHOD /path`` (no query string), for the message.
        clock: the time source for a reset that X gave relatively.

    Returns:
        :class:`RateLimited` for 429, 420 or code 88 (``reset_at`` from
        ``x-rate-limit-reset``); :class:`TransientError` for 5xx and codes
        130/131; :class:`PermanentError` for every other status.
    """
    status = response.status_code
    body = parse_error_body(response)
    code = body.code
    said = f"HTTP {status}" + (f", code {code}" if code is not None else "")
    if body.problem:
        said += f" ({body.problem})"
    what = f"X answered {endpoint} with {said}"
    if body.message:
        what += f": {body.message.rstrip('.')}"

    if status in (420, 429) or code == RATE_LIMIT_CODE:
        reset_at = _reset_at(response, clock())
        when = time.strftime("%H:%M:%S", time.localtime(reset_at))
        capped = PROBLEM_HINTS.get(body.problem or "") if body.problem == "usage-capped" else None
        advice = f"{capped[0].upper()}{capped[1:]}; " if capped else "Rate limit reached: "
        return RateLimited(
            f"{what}. {advice}wait until {when} before calling it again.",
            reset_at=reset_at,
            status=status,
            code=code,
        )
    if status >= 500 or code in (INTERNAL_ERROR_CODE, OVER_CAPACITY_CODE):
        return TransientError(
            f"{what}. X had a temporary problem; retry later.", status=status, code=code
        )
    hint = HINTS.get(code) if code is not None else PROBLEM_HINTS.get(body.problem or "")
    if code == BAD_REQUEST_CODE and "webhooks" not in endpoint:
        # X says 214 for any malformed request; only on a webhook is the URL to blame.
        hint = BAD_REQUEST_HINT
    if hint is None:
        hint = _hint_for_status(status)
    return PermanentError(f"{what}. {hint[0].upper()}{hint[1:]}.", status=status, code=code)


def _hint_for_status(status: int) -> str:
    if status == 401:
        return (
            "X could not authenticate the request: check the consumer key and secret, "
            "the account's tokens, and this machine's clock"
        )
    if status == 403:
        return "X refused the request: check the app's permissions and access level"
    if status == 404:
        return "X does not know that resource or endpoint: check ids, env name and api_url"
    if status == 409:
        return "it conflicts with something that already exists on X"
    if status < 400:
        return "a redirect or informational answer was not expected here: check twitter.api_url"
    return "the same request will fail again; fix it before retrying"


def error_from_exception(exc: Exception, *, endpoint: str) -> TransientError:
    """The dmbot error for a request that got no answer (network, timeout, TLS).

    Args:
        exc: the :mod:`httpx` or OS error.
        endpoint: the call as ``METHOD /path``.
    """
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
    detail = str(exc) or type(exc).__name__
    return TransientError(
        f"Calling X at {endpoint} {kind} before an answer ({detail}); "
        "check the network and twitter.api_url. It will be retried.",
        status=0,
    )
