"""The worker: from stored delivery to handler, once and in order.

For each delivery read from the inbox (or handed over by the webhook that
stored it), every event is classified (:mod:`dmbot.engine.origin`), then
queued on its conversation's lane. A lane handles its events one at a time,
lowest DM id first, while other lanes run concurrently (up to
``concurrency`` handlers at once). Handling an event
means: skip it if its id is claimed already; load the conversation; route;
commit the claim, the new state and the replies in one transaction. The
delivery is acknowledged once all its events are committed, so a crash at
any point replays it, and the claims make the replay harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Container, Set
from typing import Protocol

from dmbot.config.sections import EngineSettings
from dmbot.edge.envelope import parse_delivery
from dmbot.edge.events import DirectMessage, Event, User
from dmbot.edge.payload import json_object
from dmbot.engine.bot import Bot
from dmbot.engine.context import LiveActions
from dmbot.engine.conversation import Conversation
from dmbot.engine.echoes import Echoes
from dmbot.engine.lanes import Job, Lane, Pending
from dmbot.engine.origin import Origin, classify, conversation_of, refusal
from dmbot.errors import StorageError
from dmbot.flows.metadata import decode
from dmbot.metrics import Metrics
from dmbot.pressure import Pressure
from dmbot.store import Commit, InboxItem, NewAction, Store
from dmbot.types import ConversationKey, JSONObject

log = logging.getLogger("dmbot.engine.worker")


class Outbox(Protocol):
    """Who sends what the worker commits (the sender): told of each commit with actions
    before it is written (it may add to it) and once it is written."""

    def planned(self, commit: Commit) -> None: ...
    def committed(self, commit: Commit) -> None: ...


class Worker:
    """Reads the inbox and runs the bot, one conversation at a time.

    ``options`` is the ``engine:`` section of config.yaml; its defaults when None.
    """

    def __init__(
        self,
        store: Store,
        bot: Bot | None,
        *,
        accounts: Set[str] = frozenset(),
        app_id: str = "",
        options: EngineSettings | None = None,
        live: LiveActions | None = None,
        outbox: Outbox | None = None,
        on_received: Callable[[str, str], None] | None = None,
        sent_ids: Container[str] = (),
        pressure: Pressure | None = None,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.bot = bot
        self.accounts = frozenset(accounts)
        self.echoes = Echoes(store, app_id, sent_ids)
        self.options = options or EngineSettings()
        self.live = live
        self.outbox = outbox
        self.on_received = on_received
        self.pressure = pressure
        self.metrics = metrics
        self.clock = clock
        self._wake = asyncio.Event()
        self._lanes: dict[ConversationKey, Lane] = {}
        self._slots = asyncio.Semaphore(self.options.concurrency)
        self._seq = itertools.count()
        self._caught_up = asyncio.Event()
        self._queued = 0
        self._room = asyncio.Event()
        self._room.set()
        self._read_empty = False
        self._last_expiry = 0.0
        self._acks: set[asyncio.Future[None]] = set()
        self._parsed: OrderedDict[str, JSONObject] = OrderedDict()
        """Bodies the webhook parsed, by inbox id, until the worker reads them."""

    # -- the loop ----------------------------------------------------------------------
    def notify(self, item: InboxItem | None = None, body: JSONObject | None = None) -> None:
        """A delivery was stored (``item``, ``body`` as the webhook parsed it): handle it
        at once when the inbox is read to its end and the store counts it as the next
        row (:meth:`~dmbot.store.Store.take`); otherwise keep ``body`` until the row is
        read (a shared store may hand it to another instance: it ages out)."""
        if item is not None and body is not None:
            if self._read_empty and self._room.is_set() and self.store.take(item):
                self._caught_up.clear()
                self._dispatch(item, body)
                return
            parsed = self._parsed
            parsed[item.id] = body
            if len(parsed) > self.options.max_queued:
                # O(1): a dict's first key after many deletions is found by a scan.
                parsed.popitem(last=False)
        self._read_empty = False
        self._caught_up.clear()
        self._wake.set()

    async def caught_up(self) -> None:
        """Wait until the inbox is read to its end and every event is handled."""
        await self._caught_up.wait()

    def _check_caught_up(self) -> None:
        if self._read_empty and not self._lanes and not self._wake.is_set():
            self._caught_up.set()

    async def run(self) -> None:
        """Read and dispatch until cancelled."""
        await self.echoes.recall()
        try:
            while True:
                # Backpressure: a backlog stays in the store, not in memory.
                await self._room.wait()
                self._wake.clear()
                try:
                    room = max(1, self.options.max_queued - self._queued)
                    items = await self.store.read(min(256, room))
                except StorageError as exc:
                    wait = self.options.poll_interval
                    log.error("cannot read the inbox, retrying in %g s: %s", wait, exc)
                    await asyncio.sleep(wait)
                    continue
                for item in items:
                    self._dispatch(item)
                await self._expire_claims()
                if not items:
                    self._read_empty = not self._wake.is_set()
                    self._check_caught_up()
                    if self.store.shared:
                        # A shared store's read already waited for other instances' appends.
                        continue
                    # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a
                    # cancellation that lands with the wake-up, and stop() would hang.
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.options.poll_interval):
                            await self._wake.wait()
        finally:
            for lane in list(self._lanes.values()):
                if lane.task is not None:
                    lane.task.cancel()

    async def _expire_claims(self) -> None:
        now = self.clock()
        if now - self._last_expiry < 3600:
            return
        self._last_expiry = now
        try:
            removed = await self.store.expire_claims(now - self.options.claim_ttl)
        except StorageError as exc:
            log.warning("could not expire old claims: %s", exc)
            return
        if removed:
            log.info("forgot %d event ids older than the claim ttl", removed)

    def _dispatch(self, item: InboxItem, parsed: JSONObject | None = None) -> None:
        decoded = parsed or self._parsed.pop(item.id, None) or json_object(item.body)
        if decoded is None:
            # The webhook stores only JSON objects; this is a damaged row.
            log.error("delivery %s is not a JSON object; dropping it", item.id)
            self._ack(Pending(item, 0))
            return
        delivery = parse_delivery(decoded)
        accepted: list[Event] = []
        outcomes: list[str] = []
        for event in delivery.events:
            problem = refusal(event, event.for_user_id)
            if problem is None:
                accepted.append(event)
            else:
                outcomes.append(f"{event.kind} refused: {problem}, so X never sent it")
                if self.metrics is not None:
                    self.metrics.event(event.kind, "refused")
        pending = Pending(item, len(accepted), outcomes, refused=len(outcomes))
        if not accepted:
            if not delivery.events:
                pending.outcomes.append("no events")
            self._ack(pending)
            return
        users = dict(delivery.users)
        for event in accepted:
            # Per event: an X Activity API delivery may hold envelopes of several accounts.
            job = Job(event, event.for_user_id, users, pending, item.received_at)
            key = conversation_of(event, event.for_user_id, self.accounts)
            order = event.sort_key if isinstance(event, DirectMessage) else 0
            lane = self._lanes.get(key)
            if lane is None:
                lane = self._lanes[key] = Lane()
            heapq.heappush(lane.heap, (order, next(self._seq), job))
            self._queued += 1
            if self._queued >= self.options.max_queued:
                self._room.clear()
            if lane.task is None:
                lane.task = asyncio.create_task(self._drain(key, lane))

    async def _drain(self, key: ConversationKey, lane: Lane) -> None:
        try:
            while lane.heap:
                wait = lane.heap[0][2].received_at + self.options.reorder_window - self.clock()
                if wait > 0:
                    # Give an earlier DM delivered a moment later the chance to go first.
                    await asyncio.sleep(wait)
                if self.pressure is not None:
                    # Acknowledgements to X first; the event is safe in the inbox.
                    await self.pressure.give_way()
                _, _, job = heapq.heappop(lane.heap)
                outcome = await self._handle(key, job)
                job.pending.record(job.event, key, outcome)
                self._queued -= 1
                if self._queued <= self.options.max_queued // 2:
                    self._room.set()
                job.pending.remaining -= 1
                if job.pending.remaining == 0:
                    self._ack(job.pending)
        finally:
            lane.task = None
            if not lane.heap:
                self._lanes.pop(key, None)
                if not self._lanes:
                    self._check_caught_up()

    def _ack(self, pending: Pending) -> None:
        item = pending.item
        # One line per delivery; a warning when it held events X could never have sent.
        level = logging.WARNING if pending.refused else logging.INFO
        outcomes = "; ".join(pending.outcomes) or "no events"
        log.log(level, "delivery %s: %s", item.id, outcomes, extra=pending.log_fields())
        if pending.acked:
            return

        async def ack() -> None:
            try:
                await self.store.ack([item.id])
            except StorageError as exc:
                log.warning("could not acknowledge delivery %s (replayed later): %s", item.id, exc)

        task = asyncio.ensure_future(ack())
        self._acks.add(task)
        task.add_done_callback(self._acks.discard)

    # -- one event ---------------------------------------------------------------------
    async def _handle(self, key: ConversationKey, job: Job) -> str:
        """Handle one event; retry while the store is unavailable, so nothing is lost."""
        event = job.event
        label = (
            f"{event.kind} {event.dedupe_key}" if isinstance(event, DirectMessage) else event.kind
        )
        delay = 0.5
        while True:
            try:
                async with self._slots, self.store.locked(key):
                    outcome: str = await self._handle_event(key, job)
                self._count(event.kind, outcome)
                return outcome
            except StorageError as exc:
                # Not committed: keep the conversation waiting (order) and try again.
                log.error("%s not committed, retrying in %.1f s: %s", label, delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
            except Exception:
                # A bug, not the user's handler (those are caught in _run_bot): log it and
                # move on rather than replaying a poison event forever.
                log.exception("internal error on %s; the event is dropped", label)
                self._count(event.kind, "failed")
                return "dropped (internal error)"

    def _observe(self, started: float) -> None:
        if self.metrics is not None:
            self.metrics.handler_seconds.observe(time.perf_counter() - started)

    def _count(self, kind: str, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.handled(kind, outcome)

    async def _handle_event(self, key: ConversationKey, job: Job) -> str:
        event = job.event
        if isinstance(event, DirectMessage):
            origin = classify(event, job.for_user_id, self.accounts)
            if origin is Origin.OWN:
                return await self._own_message(key, job, event)
            if origin is not Origin.INCOMING:
                return str(origin.value)
        elif self.bot is None or not self.bot.handles(event.kind):
            return "no handler"
        found = await self.store.load_unclaimed(key, event.dedupe_key)
        if found is None:
            return "duplicate"
        conversation = Conversation.from_json(found)
        now = self.clock()
        if isinstance(event, DirectMessage) and conversation.handoff_until > now:
            await self._commit(Commit(event.dedupe_key, key, status="ignored"), job)
            return "quiet (human handoff)"
        if self.bot is None:
            await self._commit(Commit(event.dedupe_key, key, status="ignored"), job)
            return "stored (no bot loaded)"
        return await self._run_bot(key, job, conversation, now)

    async def _run_bot(
        self, key: ConversationKey, job: Job, conversation: Conversation, now: float
    ) -> str:
        assert self.bot is not None
        event = job.event
        account = job.users.get(key[0]) or User(key[0])
        user = job.users.get(key[1]) or User(key[1])
        tap = None
        if isinstance(event, DirectMessage):
            tap = decode(event.quick_reply_metadata, self.bot.metadata_key)
            conversation.last_dm_id = max(conversation.last_dm_id, event.sort_key)
        ctx = self.bot.context(
            event,
            account=account,
            user=user,
            conversation=conversation,
            now=now,
            tap=tap,
            live=self.live,
        )
        started = time.perf_counter()
        try:
            await self.bot.dispatch(ctx)
        except Exception as exc:
            log.exception("handler failed on %s %s", event.kind, event.dedupe_key)
            self._observe(started)
            actions = await self._on_error(key, job, exc, now)
            committed = await self._commit(
                Commit(event.dedupe_key, key, status="failed", actions=actions), job
            )
            return "failed" if committed else "duplicate"
        self._observe(started)
        committed = await self._commit(
            Commit(event.dedupe_key, key, state=conversation.to_json(), actions=ctx.actions), job
        )
        if not committed:
            return "duplicate"
        if isinstance(event, DirectMessage) and self.on_received is not None:
            # X lets an account answer a received DM 5 times outside its daily budget.
            self.on_received(key[0], key[1])
        return f"handled ({len(ctx.actions)} action{'s' * (len(ctx.actions) != 1)})"

    async def _on_error(
        self, key: ConversationKey, job: Job, exc: Exception, now: float
    ) -> list[NewAction]:
        assert self.bot is not None
        if not self.bot.error_hooks:
            return []
        ctx = self.bot.context(
            job.event,
            account=job.users.get(key[0]) or User(key[0]),
            user=job.users.get(key[1]) or User(key[1]),
            conversation=Conversation.from_json(await self.store.load(key)),
            now=now,
            live=self.live,
        )
        ctx.error = exc
        try:
            for hook in self.bot.error_hooks:
                await self.bot.call(hook, ctx, exc)
        except Exception:
            log.exception("on_error hook failed too on %s", job.event.dedupe_key)
            return []
        return ctx.actions

    async def _commit(self, commit: Commit, job: Job) -> bool:
        commit.ack = self._last_of_delivery(job)
        if commit.actions and self.outbox is not None:
            self.outbox.planned(commit)
        committed = await self.store.commit(commit)
        job.pending.acked = committed and bool(commit.ack)
        if committed and commit.actions and self.outbox is not None:
            self.outbox.committed(commit)
        return committed

    @staticmethod
    def _last_of_delivery(job: Job) -> tuple[str, ...]:
        """The delivery to acknowledge with this event's write, if no other event of it is left."""
        return (job.pending.item.id,) if job.pending.remaining == 1 else ()

    async def _own_message(self, key: ConversationKey, job: Job, dm: DirectMessage) -> str:
        """Our echo confirms a send; anything else the account sent is the owner typing."""
        ack = self._last_of_delivery(job)
        echo = await self.echoes.recognise(key, dm, ack=ack)
        if echo is not None:
            job.pending.acked = echo.acked
            return echo.outcome
        if self.bot is None:
            return "own message"
        session = Conversation.from_json(await self.store.load(key))
        session.handoff_until = self.clock() + self.options.handoff
        await self._commit(
            Commit(dm.dedupe_key, key, status="ignored", state=session.to_json()), job
        )
        log.info(
            "account %s answered %s from another client (app %s): quiet for %.0f s",
            key[0],
            key[1],
            dm.source_app_id or "unknown",
            self.options.handoff,
        )
        return "human handoff"
