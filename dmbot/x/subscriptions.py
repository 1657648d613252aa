"""X Activity API subscriptions: which event types of which account reach the app.

On the Account Activity API an account is subscribed to a webhook as a
whole. On the X Activity API (``twitter.api: activity``) each (event type,
account) pair is a subscription of its own, bound to a webhook or, without
one, delivered on the activity stream only. A Direct Message bot needs two
per account: ``dm.received`` (what people write) and ``dm.sent`` (the echo
of what the account sends, which tells dmbot its sends arrived and the
owner's own messages from the X app apart).

:class:`ActivitySubscriptions` makes the calls for one account of one app;
the :class:`~dmbot.x.client.XClient` of that account owns one, as ``client.activity``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from dmbot.errors import PermanentError
from dmbot.types import JSON, JSONObject
from dmbot.x.call import Call, Run
from dmbot.x.paths import SubscriptionCount, Subscriptions
from dmbot.x.results import next_token

__all__ = ["BOT_EVENT_TYPES", "ActivitySubscription", "ActivitySubscriptions"]

BOT_EVENT_TYPES = ("dm.received", "dm.sent")
"""What a DM bot subscribes each account to."""

PATH = "/2/activity/subscriptions"
TAG = "dmbot"
"""The tag dmbot gives its subscriptions, so a listing shows whose they are."""
PAGE = 1000


@dataclass(frozen=True, slots=True)
class ActivitySubscription:
    """One XAA subscription: an event type of one account, to a webhook or the stream."""

    id: str
    event_type: str
    user_id: str
    webhook_id: str = ""
    tag: str = ""
    created_at: str = ""

    @classmethod
    def from_payload(cls, data: Any) -> ActivitySubscription:
        """Read X's subscription object (flat, or wrapped as ``{"subscription": {...}}``)."""
        if isinstance(data, dict) and isinstance(data.get("subscription"), dict):
            data = data["subscription"]
        if not isinstance(data, dict):
            data = {}
        filter_ = data.get("filter") if isinstance(data.get("filter"), dict) else {}
        return cls(
            id=str(data.get("subscription_id") or data.get("id") or ""),
            event_type=str(data.get("event_type", "")),
            user_id=str(filter_.get("user_id", "")),
            webhook_id=str(data.get("webhook_id") or ""),
            tag=str(data.get("tag") or ""),
            created_at=str(data.get("created_at") or ""),
        )

    @property
    def destination(self) -> str:
        """Where its events go: ``webhook <id>`` or ``the activity stream``."""
        return f"webhook {self.webhook_id}" if self.webhook_id else "the activity stream"


class ActivitySubscriptions:
    """The XAA subscriptions of one account.

    Args:
        run: makes one call to X and returns its decoded answer (the client's
            :meth:`~dmbot.x.client.XClient.run`).
        account_id: the account whose events are subscribed to.
    """

    def __init__(self, run: Run, account_id: str) -> None:
        self._run = run
        self.account_id = account_id

    async def add(
        self, webhook_id: str, event_types: Sequence[str] = BOT_EVENT_TYPES
    ) -> list[ActivitySubscription]:
        """Subscribe the account to ``event_types``, on ``webhook_id`` ("" for the stream only).

        A subscription that exists already is kept (X answers 409 for it).
        DM event types are private: the call is signed with the account's own tokens.
        """
        made = []
        existing = {(s.event_type, s.webhook_id): s for s in await self.mine()}
        for event_type in event_types:
            found = existing.get((event_type, webhook_id))
            if found is not None:
                made.append(found)
                continue
            body: JSONObject = {
                "event_type": event_type,
                "filter": {"user_id": self.account_id},
                "tag": TAG,
            }
            if webhook_id:
                body["webhook_id"] = webhook_id
            call = Call("POST", PATH, "POST activity/subscriptions", json=body)
            try:
                answer = await self._run(call)
            except PermanentError as exc:
                if exc.status != 409:
                    raise
                continue  # created meanwhile (another instance): X keeps one per type
            made.append(ActivitySubscription.from_payload(_data(answer)))
        return made

    async def all(self) -> list[ActivitySubscription]:
        """Every XAA subscription of the app, across its pages."""
        found: list[ActivitySubscription] = []
        token = ""
        while True:
            params = {"max_results": str(PAGE)}
            if token:
                params["pagination_token"] = token
            answer = await self._run(
                Call("GET", PATH, "GET activity/subscriptions", params=params, bearer=True)
            )
            items = _data(answer)
            if isinstance(items, list):
                found += [ActivitySubscription.from_payload(item) for item in items]
            token = next_token(answer)
            if not token:
                return found

    async def mine(self) -> list[ActivitySubscription]:
        """This account's subscriptions."""
        return [s for s in await self.all() if s.user_id == self.account_id]

    async def subscribed(self, webhook_id: str) -> bool:
        """Whether the account has every event type a bot needs on ``webhook_id``."""
        have = {s.event_type for s in await self.mine() if s.webhook_id == webhook_id}
        return set(BOT_EVENT_TYPES) <= have

    async def subscribers(self, webhook_id: str) -> Subscriptions:
        """The accounts with a subscription on ``webhook_id``, as the AAA listing gives them."""
        found = [s for s in await self.all() if s.webhook_id == webhook_id]
        users = tuple(dict.fromkeys(s.user_id for s in found))
        return Subscriptions(webhook_id, webhook_url="", application_id="", user_ids=users)

    async def count(self) -> SubscriptionCount:
        """The app's subscriptions and how many are for DMs (X gives no allowance on XAA)."""
        found = await self.all()
        dms = sum(s.event_type.startswith("dm.") for s in found)
        return SubscriptionCount("", len(found), dms, provisioned_count=0)

    async def remove(self, user_id: str, webhook_id: str | None) -> list[ActivitySubscription]:
        """Delete ``user_id``'s subscriptions (on ``webhook_id`` only, when given)."""
        gone = [
            s
            for s in await self.all()
            if s.user_id == user_id and (webhook_id is None or s.webhook_id == webhook_id)
        ]
        for subscription in gone:
            path = f"{PATH}/{quote(subscription.id, safe='')}"
            await self._run(Call("DELETE", path, "DELETE activity/subscriptions/:id", bearer=True))
        return gone


def _data(answer: JSON) -> Any:
    return answer.get("data") if isinstance(answer, dict) else None
