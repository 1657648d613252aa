"""Webhook and subscription management, one path set per API generation.

X has moved the Account Activity management endpoints twice (X-API.md §3):
v1.1 premium (``/1.1/account_activity/all/:env_name/...``), v1.1 enterprise
(``/1.1/account_activity/webhooks/...``) and v2 (``/2/webhooks``,
``/2/account_activity/...``). Each generation is a small class that says
which call to make (a :class:`~dmbot.x.call.Call`) and how to read its
answer; the client runs the calls and knows nothing of the differences.

Every method that names a webhook takes its id last, as the client does
(where it is optional: the app's only webhook).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

from dmbot.errors import ConfigError
from dmbot.types import JSON
from dmbot.x.call import Call

__all__ = [
    "GENERATIONS",
    "ActivityPaths",
    "EnterprisePaths",
    "ManagementPaths",
    "PremiumPaths",
    "ReplayJob",
    "SubscriptionCount",
    "Subscriptions",
    "V2Paths",
    "Webhook",
    "paths_for",
]

GENERATIONS = ("premium", "enterprise", "v2", "activity")
"""The values of ``twitter.api``: which of X's management APIs the app uses."""


@dataclass(frozen=True, slots=True)
class Webhook:
    """A webhook registered with X."""

    id: str
    url: str
    valid: bool
    created_at: str


@dataclass(frozen=True, slots=True)
class Subscriptions:
    """The accounts subscribed to a webhook."""

    webhook_id: str
    webhook_url: str
    application_id: str
    user_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SubscriptionCount:
    """How many subscriptions the app has, and how many it may have."""

    account_name: str
    subscriptions_count_all: int
    subscriptions_count_direct_messages: int
    provisioned_count: int


@dataclass(frozen=True, slots=True)
class ReplayJob:
    """A replay X accepted: the window's events come again through the webhook."""

    job_id: str
    created_at: str


class ManagementPaths(Protocol):
    """What each API generation provides to the client."""

    generation: str
    needs_webhook_id: bool
    """Subscription paths name the webhook (enterprise, v2)."""

    def register_webhook(self, url: str) -> Call: ...
    def list_webhooks(self) -> Call: ...
    def crc_check(self, webhook_id: str) -> Call: ...
    def delete_webhook(self, webhook_id: str) -> Call: ...
    def subscribe(self, webhook_id: str) -> Call: ...
    def check_subscription(self, webhook_id: str) -> Call: ...
    def list_subscriptions(self, webhook_id: str) -> Call: ...
    def remove_subscription(self, user_id: str, webhook_id: str) -> Call: ...
    def subscription_count(self) -> Call: ...
    def replay(self, from_date: str, to_date: str, webhook_id: str) -> Call: ...

    def webhook(self, data: JSON) -> Webhook: ...
    def webhooks(self, data: JSON) -> list[Webhook]: ...
    def crc_valid(self, data: JSON) -> bool: ...
    def subscribed(self, data: JSON) -> bool: ...
    def subscriptions(self, data: JSON) -> Subscriptions: ...
    def count(self, data: JSON) -> SubscriptionCount: ...
    def replay_job(self, data: JSON) -> ReplayJob: ...


def _seg(value: str) -> str:
    """An id as one path segment: nothing a caller passes can change the path."""
    return quote(value, safe="")


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _webhook(data: JSON) -> Webhook:
    if not isinstance(data, dict):
        data = {}
    return Webhook(
        id=str(data.get("id", "")),
        url=str(data.get("url", "")),
        valid=bool(data.get("valid", False)),
        created_at=str(data.get("created_at", "")),
    )


def _replay_job(data: JSON) -> ReplayJob:
    if not isinstance(data, dict):
        data = {}
    return ReplayJob(str(data.get("job_id", "")), str(data.get("created_at", "")))


class _V11:
    """Answers shared by premium and enterprise v1.1."""

    def replay_job(self, data: JSON) -> ReplayJob:
        return _replay_job(data)

    def webhook(self, data: JSON) -> Webhook:
        return _webhook(data)

    def webhooks(self, data: JSON) -> list[Webhook]:
        # Premium answers one environment's list; the all-environments form nests it.
        if isinstance(data, dict) and isinstance(data.get("environments"), list):
            return [_webhook(w) for env in data["environments"] for w in env.get("webhooks", [])]
        return [_webhook(w) for w in data] if isinstance(data, list) else []

    def crc_valid(self, data: JSON) -> bool:
        return True  # 204: the check passed; a failure is an error answer (214)

    def subscribed(self, data: JSON) -> bool:
        return True  # 204: subscribed; not subscribed is an error answer

    def subscriptions(self, data: JSON) -> Subscriptions:
        if not isinstance(data, dict):
            data = {}
        return Subscriptions(
            webhook_id=str(data.get("webhook_id", "")),
            webhook_url=str(data.get("webhook_url", "")),
            application_id=str(data.get("application_id", "")),
            user_ids=tuple(str(s.get("user_id", "")) for s in data.get("subscriptions", [])),
        )

    def count(self, data: JSON) -> SubscriptionCount:
        if not isinstance(data, dict):
            data = {}
        # X sends the counts as strings.
        return SubscriptionCount(
            account_name=str(data.get("account_name", "")),
            subscriptions_count_all=_int(data.get("subscriptions_count_all")),
            subscriptions_count_direct_messages=_int(
                data.get("subscriptions_count_direct_messages")
            ),
            provisioned_count=_int(data.get("provisioned_count")),
        )


class PremiumPaths(_V11):
    """v1.1 premium: ``/1.1/account_activity/all/:env_name/...``."""

    generation = "premium"
    needs_webhook_id = False

    def __init__(self, env_name: str) -> None:
        self.env_name = env_name
        self.base = f"/1.1/account_activity/all/{_seg(env_name)}"

    def register_webhook(self, url: str) -> Call:
        return Call("POST", f"{self.base}/webhooks.json", "POST webhooks", params={"url": url})

    def list_webhooks(self) -> Call:
        return Call("GET", f"{self.base}/webhooks.json", "GET webhooks", bearer=True)

    def crc_check(self, webhook_id: str) -> Call:
        return Call("PUT", f"{self.base}/webhooks/{_seg(webhook_id)}.json", "PUT webhooks/:id")

    def delete_webhook(self, webhook_id: str) -> Call:
        path = f"{self.base}/webhooks/{_seg(webhook_id)}.json"
        return Call("DELETE", path, "DELETE webhooks/:id")

    def subscribe(self, webhook_id: str) -> Call:
        return Call("POST", f"{self.base}/subscriptions.json", "POST subscriptions")

    def check_subscription(self, webhook_id: str) -> Call:
        return Call("GET", f"{self.base}/subscriptions.json", "GET subscriptions")

    def list_subscriptions(self, webhook_id: str) -> Call:
        path = f"{self.base}/subscriptions/list.json"
        return Call("GET", path, "GET subscriptions/list", bearer=True)

    def remove_subscription(self, user_id: str, webhook_id: str) -> Call:
        path = f"{self.base}/subscriptions/{_seg(user_id)}.json"
        return Call("DELETE", path, "DELETE subscriptions/:user_id", bearer=True)

    def subscription_count(self) -> Call:
        path = "/1.1/account_activity/all/subscriptions/count.json"
        return Call("GET", path, "GET subscriptions/count", bearer=True)

    def replay(self, from_date: str, to_date: str, webhook_id: str) -> Call:
        raise ConfigError(
            "X's premium Account Activity API has no replay: set twitter.api to "
            "enterprise, v2 or activity (the replay of v2 webhooks covers the last 24 hours)"
        )


class EnterprisePaths(_V11):
    """v1.1 enterprise: ``/1.1/account_activity/webhooks/...``."""

    generation = "enterprise"
    needs_webhook_id = True
    base = "/1.1/account_activity/webhooks"

    def register_webhook(self, url: str) -> Call:
        return Call("POST", f"{self.base}.json", "POST webhooks", params={"url": url})

    def list_webhooks(self) -> Call:
        return Call("GET", f"{self.base}.json", "GET webhooks", bearer=True)

    def crc_check(self, webhook_id: str) -> Call:
        return Call("PUT", f"{self.base}/{_seg(webhook_id)}.json", "PUT webhooks/:id")

    def delete_webhook(self, webhook_id: str) -> Call:
        return Call("DELETE", f"{self.base}/{_seg(webhook_id)}.json", "DELETE webhooks/:id")

    def subscribe(self, webhook_id: str) -> Call:
        path = f"{self.base}/{_seg(webhook_id)}/subscriptions/all.json"
        return Call("POST", path, "POST subscriptions")

    def check_subscription(self, webhook_id: str) -> Call:
        path = f"{self.base}/{_seg(webhook_id)}/subscriptions/all.json"
        return Call("GET", path, "GET subscriptions")

    def list_subscriptions(self, webhook_id: str) -> Call:
        path = f"{self.base}/{_seg(webhook_id)}/subscriptions/all/list.json"
        return Call("GET", path, "GET subscriptions/list", bearer=True)

    def remove_subscription(self, user_id: str, webhook_id: str) -> Call:
        path = f"{self.base}/{_seg(webhook_id)}/subscriptions/{_seg(user_id)}/all.json"
        return Call("DELETE", path, "DELETE subscriptions/:user_id", bearer=True)

    def subscription_count(self) -> Call:
        path = "/1.1/account_activity/subscriptions/count.json"
        return Call("GET", path, "GET subscriptions/count", bearer=True)

    def replay(self, from_date: str, to_date: str, webhook_id: str) -> Call:
        path = f"/1.1/account_activity/replay/webhooks/{_seg(webhook_id)}/subscriptions/all.json"
        params = {"from_date": from_date, "to_date": to_date}
        return Call("POST", path, "POST replay", params=params)


def _data(data: JSON) -> Any:
    return data.get("data") if isinstance(data, dict) else None


class V2Paths:
    """v2: ``/2/webhooks`` and ``/2/account_activity/...``; answers wrapped in ``data``."""

    generation = "v2"
    needs_webhook_id = True
    base = "/2/account_activity/webhooks"

    def register_webhook(self, url: str) -> Call:
        return Call("POST", "/2/webhooks", "POST webhooks", json={"url": url}, bearer=True)

    def list_webhooks(self) -> Call:
        return Call("GET", "/2/webhooks", "GET webhooks", bearer=True)

    def crc_check(self, webhook_id: str) -> Call:
        return Call("PUT", f"/2/webhooks/{_seg(webhook_id)}", "PUT webhooks/:id", bearer=True)

    def delete_webhook(self, webhook_id: str) -> Call:
        path = f"/2/webhooks/{_seg(webhook_id)}"
        return Call("DELETE", path, "DELETE webhooks/:id", bearer=True)

    def subscribe(self, webhook_id: str) -> Call:
        path = f"{self.base}/{_seg(webhook_id)}/subscriptions/all"
        # The spec requires a JSON body, even an empty one.
        return Call("POST", path, "POST subscriptions", json={})

    def check_subscription(self, webhook_id: str) -> Call:
        path = f"{self.base}/{_seg(webhook_id)}/subscriptions/all"
        return Call("GET", path, "GET subscriptions")

    def list_subscriptions(self, webhook_id: str) -> Call:
        path = f"{self.base}/{_seg(webhook_id)}/subscriptions/all/list"
        return Call("GET", path, "GET subscriptions/list", bearer=True)

    def remove_subscription(self, user_id: str, webhook_id: str) -> Call:
        path = f"{self.base}/{_seg(webhook_id)}/subscriptions/{_seg(user_id)}/all"
        return Call("DELETE", path, "DELETE subscriptions/:user_id", bearer=True)

    def subscription_count(self) -> Call:
        path = "/2/account_activity/subscriptions/count"
        return Call("GET", path, "GET subscriptions/count", bearer=True)

    def replay(self, from_date: str, to_date: str, webhook_id: str) -> Call:
        body = {"webhook_id": webhook_id, "from_date": from_date, "to_date": to_date}
        return Call("POST", "/2/webhooks/replay", "POST webhooks/replay", json=body, bearer=True)

    def replay_job(self, data: JSON) -> ReplayJob:
        return _replay_job(_data(data))

    def webhook(self, data: JSON) -> Webhook:
        return _webhook(_data(data))

    def webhooks(self, data: JSON) -> list[Webhook]:
        items = _data(data)
        return [_webhook(w) for w in items] if isinstance(items, list) else []

    def crc_valid(self, data: JSON) -> bool:
        inner = _data(data)
        return bool(inner.get("valid", False)) if isinstance(inner, dict) else False

    def subscribed(self, data: JSON) -> bool:
        inner = _data(data)
        return bool(inner.get("subscribed", False)) if isinstance(inner, dict) else False

    def subscriptions(self, data: JSON) -> Subscriptions:
        return _V11().subscriptions(_data(data))

    def count(self, data: JSON) -> SubscriptionCount:
        return _V11().count(_data(data))


class ActivityPaths(V2Paths):
    """The X Activity API: v2 webhooks; subscriptions per event type (:mod:`.subscriptions`)."""

    generation = "activity"


def paths_for(api: str, env_name: str = "production") -> ManagementPaths:
    """The management path set of ``api``: ``premium``, ``enterprise``, ``v2`` or ``activity``.

    Raises:
        ConfigError: ``api`` names no known generation.
    """
    if api == "premium":
        return PremiumPaths(env_name)
    if api == "enterprise":
        return EnterprisePaths()
    if api == "v2":
        return V2Paths()
    if api == "activity":
        return ActivityPaths()
    raise ConfigError(
        f"twitter.api is {api!r}, which names no X API generation; "
        "use 'premium' (with env_name), 'enterprise', 'v2' or 'activity'"
    )
