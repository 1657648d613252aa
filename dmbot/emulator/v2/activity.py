"""``/2/activity/subscriptions``: X Activity API subscriptions over HTTP.

The bodies are checked against the spec's schemas (no members it does not
define); the rules of a subscription are
:class:`~dmbot.emulator.activity.ActivityRegistry`'s. A list pages with
``max_results`` (at most 1,000) and an opaque ``pagination_token``.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from dmbot.emulator.oauth import Caller
from dmbot.emulator.problems import Problem, invalid_request
from dmbot.emulator.v2 import answer
from dmbot.emulator.validation import ID, only_members, v2_body, v2_id, v2_string
from dmbot.types import JSONObject

if TYPE_CHECKING:
    from dmbot.emulator.activity import ActivityRegistry

MAX_RESULTS = 1000
"""The largest page of ``GET /2/activity/subscriptions``."""
DEFAULT_RESULTS = 100
"""A page's size when ``max_results`` is not given."""
MAX_IDS = 100
"""Ids in one ``DELETE /2/activity/subscriptions?ids=``."""


def page_token(offset: int) -> str:
    """An opaque, base32hex ``pagination_token`` (16 characters, the spec's minimum)."""
    return base64.b32hexencode(offset.to_bytes(10, "big")).decode("ascii")


def page_offset(token: str) -> int:
    """The offset a :func:`page_token` stands for.

    Raises:
        Problem: 400 for a token this API did not hand out.
    """
    try:
        raw = base64.b32hexdecode(token)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 10:
        raise invalid_request(
            "pagination_token is not one this API handed out; use meta.next_token as given.",
            "pagination_token",
            token,
        )
    return int.from_bytes(raw, "big")


class ActivityApi:
    """The handlers of ``/2/activity/subscriptions...`` over one emulator."""

    def __init__(self, registry: ActivityRegistry) -> None:
        self.registry = registry

    async def create(self, request: Request, caller: Caller) -> Response:
        """``POST /2/activity/subscriptions``."""
        members = ("event_type", "filter", "tag", "webhook_id")
        body = v2_body(await request.body(), members, ("event_type", "filter"))
        found = body["filter"]
        if not isinstance(found, dict):
            raise invalid_request("$.filter: must be an object with user_id.", "filter")
        only_members(found, ("user_id", "direction", "keyword"), "$.filter.")
        user_id = v2_id(v2_string(found, "user_id", "$.filter."), "filter.user_id")
        webhook_id = v2_string(body, "webhook_id")
        sub = self.registry.subscribe(
            v2_string(body, "event_type") or "",
            user_id,
            acting=caller.user,
            direction=v2_string(found, "direction", "$.filter."),
            keyword=v2_string(found, "keyword", "$.filter."),
            tag=v2_string(body, "tag"),
            webhook_id=None if webhook_id is None else v2_id(webhook_id, "webhook_id"),
        )
        return answer({"subscription": sub.to_json()})

    async def list_subscriptions(self, request: Request, caller: Caller) -> Response:
        """``GET /2/activity/subscriptions?max_results=&pagination_token=``."""
        query = request.query_params
        size = _max_results(query.get("max_results"))
        token = query.get("pagination_token")
        start = 0 if token is None else page_offset(token)
        subs = self.registry.all()
        page = subs[start : start + size]
        meta: JSONObject = {"result_count": len(page)}
        if start + size < len(subs):
            meta["next_token"] = page_token(start + size)
        return JSONResponse({"data": [s.to_json() for s in page], "meta": meta})

    async def update(self, request: Request, caller: Caller) -> Response:
        """``PUT /2/activity/subscriptions/:id``: only ``tag`` and ``webhook_id`` change."""
        subscription_id = v2_id(request.path_params["subscription_id"], "subscription_id")
        body = v2_body(await request.body(), ("tag", "webhook_id"))
        if not body:
            raise invalid_request("Give tag or webhook_id (or both) to change.")
        webhook_id = v2_string(body, "webhook_id")
        sub = self.registry.update(
            subscription_id,
            tag=v2_string(body, "tag"),
            webhook_id=None if webhook_id is None else v2_id(webhook_id, "webhook_id"),
        )
        total = len(self.registry.all())
        return answer({"subscription": sub.to_json(), "total_subscriptions": total})

    async def delete(self, request: Request, caller: Caller) -> Response:
        """``DELETE /2/activity/subscriptions/:id``."""
        self.registry.unsubscribe(v2_id(request.path_params["subscription_id"], "subscription_id"))
        return answer({"deleted": True})

    async def delete_many(self, request: Request, caller: Caller) -> Response:
        """``DELETE /2/activity/subscriptions?ids=a,b``: each id deleted or reported."""
        ids = [i for i in request.query_params.get("ids", "").split(",") if i]
        if not 1 <= len(ids) <= MAX_IDS:
            raise invalid_request(
                f"ids: give 1 to {MAX_IDS} subscription ids, separated by commas.", "ids"
            )
        deleted: list[JSONObject] = []
        errors: list[JSONObject] = []
        for subscription_id in ids:
            if not ID.fullmatch(subscription_id):
                raise invalid_request(f"ids: {subscription_id!r} is not an id.", "ids")
            try:
                self.registry.unsubscribe(subscription_id)
            except Problem as problem:
                errors.append(
                    {
                        "subscription_id": subscription_id,
                        "reason": "not_found",
                        "message": problem.detail,
                    }
                )
            else:
                deleted.append({"subscription_id": subscription_id, "deleted": True})
        body: JSONObject = {"data": deleted}
        if errors:
            body["errors"] = errors
        body["meta"] = {"total_subscriptions": len(self.registry.all())}
        return JSONResponse(body)


def _max_results(value: str | None) -> int:
    if value is None:
        return DEFAULT_RESULTS
    if not value.isdigit() or not 1 <= int(value) <= MAX_RESULTS:
        raise invalid_request(
            f"max_results must be a whole number from 1 to {MAX_RESULTS}.", "max_results", value
        )
    return int(value)
