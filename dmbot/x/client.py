"""The X API client: httpx, with OAuth 1.0a user context (:mod:`dmbot.x.oauth`).

One :class:`XClient` acts for one account (its access token) of one app
(its consumer key). Every answer passes through the app's
:class:`~dmbot.x.ratelimit.RateLimiter`, and every failure is turned
into :class:`~dmbot.errors.RateLimited`, :class:`~dmbot.errors.TransientError`
or :class:`~dmbot.errors.PermanentError` by :mod:`dmbot.x.errors`.

The HTTP transport is injectable: tests and ``dmbot dev`` pass
``httpx.ASGITransport(app=emulator.app)`` and talk to the X emulator in process.
On dmbot's own transport (the default, :mod:`dmbot.x.transport`) the client
writes its requests itself (:mod:`dmbot.x.wire`), skipping httpx's client layers.

The client composes its helpers, each handed the client's call interface
(:meth:`XClient.run`, or :meth:`XClient.request` for the PIN flow) rather
than the client itself: ``client.welcome`` (:mod:`dmbot.x.welcome`),
``client.authorization`` (:mod:`dmbot.x.authorization`) and
``client.activity`` (:mod:`dmbot.x.subscriptions`).
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from urllib.parse import quote

import httpx

from dmbot.errors import ConfigError, PermanentError
from dmbot.types import JSON, JSONObject
from dmbot.x.authorization import Authorization
from dmbot.x.bearer import AppToken, fetch_app_token
from dmbot.x.call import Call
from dmbot.x.errors import error_from_exception, error_from_response
from dmbot.x.oauth import OAuth1
from dmbot.x.paths import (
    ManagementPaths,
    ReplayJob,
    SubscriptionCount,
    Subscriptions,
    Webhook,
    paths_for,
)
from dmbot.x.ratelimit import RateLimiter
from dmbot.x.results import SentDM, User
from dmbot.x.subscriptions import ActivitySubscriptions
from dmbot.x.transport import LeanTransport, default_transport
from dmbot.x.welcome import WelcomeMessages
from dmbot.x.wire import Reply, Wire

__all__ = ["XClient"]

log = logging.getLogger("dmbot.x.client")

DM_SEND = "/1.1/direct_messages/events/new.json"


class XClient:
    """Calls the X API for one account of one app.

    Args:
        consumer_key: the app's API key.
        consumer_secret: the app's API key secret (never logged).
        token: the account's access token; empty for the PIN flow only.
        token_secret: the account's access token secret.
        api_url: X's base URL, or the emulator's.
        env_name: the premium environment label (exact case matters to X).
        api: management generation: ``premium``, ``enterprise``, ``v2`` or ``activity``.
        bearer_token: the app's bearer token, used for calls X documents with
            it. Without one, v2 and activity clients obtain it from the
            consumer key and secret (:mod:`.bearer`); premium and enterprise
            ones sign those calls with the account's tokens.
        transport: the httpx transport (``httpx.ASGITransport`` for the emulator).
        timeout: seconds to wait for X.
        limiter: the app's shared limiter; a private one by default.
        account_id: the account's user id (default: the prefix of ``token``).
        max_wait: wait for a rate-limit reset at most this many seconds
            before raising :class:`~dmbot.errors.RateLimited`.
        clock: the time source for OAuth timestamps.
        nonce: the source of OAuth nonces (default: random).
        app_token: the app's bearer token holder, shared by its clients (a
            private one by default).
    """

    def __init__(
        self,
        *,
        consumer_key: str,
        consumer_secret: str,
        token: str = "",
        token_secret: str = "",
        api_url: str = "https://api.twitter.com",
        env_name: str = "production",
        api: str = "premium",
        bearer_token: str = "",
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        limiter: RateLimiter | None = None,
        account_id: str = "",
        max_wait: float = 0.0,
        clock: Callable[[], float] = time.time,
        nonce: Callable[[], str] | None = None,
        app_token: AppToken | None = None,
    ) -> None:
        if not consumer_key or not consumer_secret:
            raise ConfigError(
                "The X client needs the app's consumer key and secret: set "
                "twitter.consumer_key and twitter.consumer_secret"
            )
        self.api_url = api_url.rstrip("/")
        self.paths: ManagementPaths = paths_for(api, env_name)
        self.limiter = limiter if limiter is not None else RateLimiter()
        # X access tokens start with the owner's user id: "12345-abc...".
        self.account_id = account_id or (token.split("-", 1)[0] if "-" in token else "")
        self.max_wait = max_wait
        self._consumer = (consumer_key, consumer_secret)
        self._app_token = app_token if app_token is not None else AppToken(bearer_token)
        # v2 webhooks and XAA listings take nothing but the bearer token.
        self._fetch_bearer = self.paths.generation in ("v2", "activity")
        # The app's signature with any token: the account's, or the PIN flow's temporary ones.
        self._credentials = functools.partial(
            OAuth1, consumer_key, consumer_secret, nonce=nonce, clock=clock
        )
        self._user = self._credentials(token, token_secret)
        transport = transport if transport is not None else default_transport()
        self._http = httpx.AsyncClient(base_url=self.api_url, transport=transport, timeout=timeout)
        # With dmbot's own transport, the client's requests skip httpx's client layers.
        lean = transport if isinstance(transport, LeanTransport) else None
        self._wire = Wire(lean, self.api_url, timeout) if lean is not None else None
        self.activity = ActivitySubscriptions(self.run, self.account_id)
        """This account's X Activity API subscriptions (``twitter.api: activity``)."""
        self.welcome = WelcomeMessages(self.run)
        """This account's welcome messages and their rule."""
        self.authorization = Authorization(self.request, self._credentials, self.api_url)
        """The app's PIN flow, which makes an account's tokens (a client without any)."""

    def __repr__(self) -> str:
        return f"XClient(account_id={self.account_id!r}, api_url={self.api_url!r})"

    async def __aenter__(self) -> XClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections."""
        await self._http.aclose()

    # -- the one way out -----------------------------------------------------
    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        json: JSONObject | None = None,
        bearer: bool = False,
        name: str = "",
        auth: httpx.Auth | None = None,
    ) -> httpx.Response:
        """Make one call to X and return its successful answer.

        Args:
            method: HTTP method.
            path: the path under ``api_url``.
            params: query parameters (signed).
            data: form parameters (signed).
            json: a JSON body (not signed, as X expects).
            bearer: use the app's bearer token if the client has one.
            name: the endpoint template for rate limits (default: method and path).
            auth: other OAuth credentials (the PIN flow).

        Raises:
            RateLimited: the window is used up, by X's answer or our own count.
            TransientError: 5xx, code 131, or no answer.
            PermanentError: any other 4xx.
        """
        call = Call(method, path, name, dict(params or {}), json, bearer)
        answer = await self._answer(call, data=data, auth=auth)
        return answer.response() if isinstance(answer, Reply) else answer

    async def _answer(
        self,
        call: Call,
        *,
        data: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
    ) -> Reply | httpx.Response:
        """:meth:`request` of ``call``, its successful answer as the wire read it (no
        httpx.Response built for it)."""
        method, path, params, json = call.method, call.path, call.params or None, call.json
        endpoint = f"{method} {path}"
        key = call.name or endpoint
        use_bearer = (
            call.bearer and auth is None and (bool(self._app_token.known) or self._fetch_bearer)
        )
        account = "" if use_bearer else self.account_id
        await self.limiter.acquire(account, key, max_wait=self.max_wait)
        headers = None
        if use_bearer:
            token = await self._app_token.get(self._fetch_app_token)
            headers = {"Authorization": f"Bearer {token}"}
        signer = None if use_bearer else (auth or self._user)
        try:
            response: Reply | httpx.Response
            if self._wire is not None and isinstance(signer, OAuth1 | None):
                authorization = headers["Authorization"] if headers else ""
                response = await self._wire.request(
                    method,
                    path,
                    params=params,
                    data=data,
                    json=json,
                    auth=signer,
                    authorization=authorization,
                )
            else:
                response = await self._http.request(
                    method, path, params=params, data=data, json=json, headers=headers, auth=signer
                )
        except httpx.HTTPError as exc:
            raise error_from_exception(exc, endpoint=endpoint) from exc
        self.limiter.observe(account, key, response.status_code, response.headers)
        log.debug("%s -> %d", endpoint, response.status_code)
        if not response.is_success:
            failed = response.response() if isinstance(response, Reply) else response
            raise error_from_response(failed, endpoint=endpoint)
        return response

    async def _fetch_app_token(self) -> str:
        return await fetch_app_token(self._http, *self._consumer)

    async def app_bearer_token(self) -> str:
        """The app's bearer token: ``twitter.bearer_token``, or obtained from the app's keys."""
        return await self._app_token.get(self._fetch_app_token)

    async def run(self, call: Call) -> JSON:
        """Make ``call`` (see :meth:`request`) and return its decoded answer.

        Returns:
            The decoded JSON; None for an empty answer, or one that is not JSON.
        """
        response = await self._answer(call)
        if not response.content:
            return None
        try:
            return json.loads(response.content)
        except ValueError:
            # X-API.md §6: any 2xx is success. Retrying a send whose answer we
            # cannot read would deliver the DM twice.
            log.warning(
                "X answered %s %s with HTTP %d and a body that is not JSON; taking it as done",
                call.method,
                call.path,
                response.status_code,
            )
            return None

    # -- Direct Messages -----------------------------------------------------
    async def send_dm(
        self, recipient_id: str, message_data: JSONObject, *, custom_profile_id: str | None = None
    ) -> SentDM:
        """Send a Direct Message (text, quick replies, buttons, media).

        Args:
            recipient_id: the user to write to.
            message_data: the ``message_data`` object of X-API.md §6.
            custom_profile_id: send as this custom profile.
        """
        create: JSONObject = {
            "target": {"recipient_id": recipient_id},
            "message_data": message_data,
        }
        if custom_profile_id:
            create["custom_profile_id"] = custom_profile_id
        body = {"event": {"type": "message_create", "message_create": create}}
        self.limiter.check_budget(self.account_id, recipient_id)
        answer = await self.run(Call("POST", DM_SEND, json=body))
        self.limiter.sent_dm(self.account_id, recipient_id)
        return SentDM.from_v11(answer)

    async def send_dm_v2(
        self, participant_id: str, text: str, media_id: str | None = None
    ) -> SentDM:
        """Send text and at most one media through v2 (no quick replies, no buttons)."""
        body: JSONObject = {"text": text}
        if media_id:
            body["attachments"] = [{"media_id": media_id}]
        path = f"/2/dm_conversations/with/{quote(participant_id, safe='')}/messages"
        self.limiter.check_budget(self.account_id, participant_id)
        answer = await self.run(Call("POST", path, "POST /2/dm_conversations/messages", json=body))
        self.limiter.sent_dm(self.account_id, participant_id)
        return SentDM.from_v2(answer)

    async def indicate_typing(self, recipient_id: str) -> None:
        """Show "typing…" to ``recipient_id`` for about 3 seconds."""
        path = "/1.1/direct_messages/indicate_typing.json"
        await self._answer(Call("POST", path), data={"recipient_id": recipient_id})

    async def mark_read(self, recipient_id: str, last_read_event_id: str) -> None:
        """Mark the conversation with ``recipient_id`` read up to an event."""
        data = {"last_read_event_id": last_read_event_id, "recipient_id": recipient_id}
        await self._answer(Call("POST", "/1.1/direct_messages/mark_read.json"), data=data)

    # -- webhooks and subscriptions --------------------------------------------
    async def register_webhook(self, url: str) -> Webhook:
        """Register ``url``; X runs a CRC against it first (code 214 if it fails)."""
        return self.paths.webhook(await self.run(self.paths.register_webhook(url)))

    async def list_webhooks(self) -> list[Webhook]:
        """The app's webhooks (for premium: of the environment)."""
        return self.paths.webhooks(await self.run(self.paths.list_webhooks()))

    async def crc_check(self, webhook_id: str) -> bool:
        """Ask X to run a CRC now; True when the webhook is valid again."""
        return self.paths.crc_valid(await self.run(self.paths.crc_check(webhook_id)))

    async def delete_webhook(self, webhook_id: str) -> None:
        """Delete a webhook; its subscriptions go with it."""
        await self.run(self.paths.delete_webhook(webhook_id))

    async def webhook_id(self, webhook_id: str | None = None) -> str:
        """``webhook_id``, or the app's only webhook when the paths need one."""
        if webhook_id or not self.paths.needs_webhook_id:
            return webhook_id or ""
        hooks = await self.list_webhooks()
        if len(hooks) == 1:
            return hooks[0].id
        raise PermanentError(
            f"The app has {len(hooks)} webhooks, so dmbot cannot tell which one to use: "
            "name it (`dmbot webhooks list` shows their ids)"
            if hooks
            else "The app has no webhook yet: register one with `dmbot webhooks register`"
        )

    async def subscribe(self, webhook_id: str | None = None) -> None:
        """Subscribe the acting account (its own tokens) to the webhook.

        On the X Activity API: to ``dm.received`` and ``dm.sent`` on the webhook.
        """
        hook = await self.webhook_id(webhook_id)
        if self.paths.generation == "activity":
            await self.activity.add(hook)
            return
        await self.run(self.paths.subscribe(hook))

    async def check_subscription(self, webhook_id: str | None = None) -> bool:
        """True if the acting account is subscribed (XAA: to every DM event type a bot needs)."""
        hook = await self.webhook_id(webhook_id)
        if self.paths.generation == "activity":
            return await self.activity.subscribed(hook)
        call = self.paths.check_subscription(hook)
        try:
            return self.paths.subscribed(await self.run(call))
        except PermanentError as exc:
            # v1.1 says "not subscribed" as an error answer.
            if exc.status == 404 or exc.code == 34:
                return False
            raise

    async def list_subscriptions(self, webhook_id: str | None = None) -> Subscriptions:
        """The accounts subscribed to the webhook."""
        hook = await self.webhook_id(webhook_id)
        if self.paths.generation == "activity":
            return await self.activity.subscribers(hook)
        return self.paths.subscriptions(await self.run(self.paths.list_subscriptions(hook)))

    async def remove_subscription(self, user_id: str, webhook_id: str | None = None) -> None:
        """Unsubscribe ``user_id`` (XAA: delete its subscriptions on the webhook)."""
        hook = await self.webhook_id(webhook_id)
        if self.paths.generation == "activity":
            if not await self.activity.remove(user_id, hook):
                raise PermanentError(
                    f"Account {user_id} has no X Activity API subscription on webhook {hook}: "
                    "nothing to remove (`dmbot subscriptions list` shows them)",
                    status=404,
                )
            return
        await self.run(self.paths.remove_subscription(user_id, hook))

    async def subscription_count(self) -> SubscriptionCount:
        """How many subscriptions the app has, and its allowance (XAA: no allowance given)."""
        if self.paths.generation == "activity":
            return await self.activity.count()
        return self.paths.count(await self.run(self.paths.subscription_count()))

    async def replay(
        self, from_date: str, to_date: str, webhook_id: str | None = None
    ) -> ReplayJob:
        """Ask X to deliver the window again (``yyyymmddhhmm``, UTC) through the webhook."""
        hook = await self.webhook_id(webhook_id)
        return self.paths.replay_job(await self.run(self.paths.replay(from_date, to_date, hook)))

    # -- accounts --------------------------------------------------------------
    async def verify_credentials(self) -> User:
        """The account the client's tokens belong to (v1.1, or ``/2/users/me`` on v2 APIs)."""
        if self.paths.generation in ("v2", "activity"):
            return User.from_v2(await self.run(Call("GET", "/2/users/me")))
        call = Call("GET", "/1.1/account/verify_credentials.json", params={"skip_status": "true"})
        return User.from_v11(await self.run(call))
