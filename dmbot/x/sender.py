"""The sender: delivers the outbox to X, in order per conversation.

Handlers never call X. They commit actions to the store's outbox together
with the state change that caused them; the sender picks them up:

- ``store.due(now)`` hands out the first pending action of each
  conversation, so an action is never sent before the one committed before
  it in its conversation has been sent or has failed for good. Different
  conversations are sent concurrently, up to ``sender.concurrency`` at once.
- Success: ``store.sent``. :class:`~dmbot.errors.RateLimited`: due again at
  the reset. :class:`~dmbot.errors.TransientError`: exponential backoff with
  jitter until ``created_at + sender.deadline``, then ``failed``.
  :class:`~dmbot.errors.PermanentError`: ``failed`` at once with X's code.

Delivery is **exactly once** across crashes wherever X can say what it
has: each DM's send is recorded as started before X is called (by
``store.attempting``, or by its own commit when it starts straight from
it). A row left pending with its start recorded (the process was killed
while X answered, or no answer came) is uncertain: it is settled before
any resend, by its echo (the worker records it sent) or, after
``sender.settle_grace``, by asking X (:mod:`dmbot.x.settlement`). Only a DM X
shows no trace of is sent again. At-least-once remains where X cannot be
asked: unreachable for the send's answer and for every lookup until the
deadline, or an app without permission to read its DMs.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import time
from collections.abc import Callable, Mapping

from dmbot.config.sections import SenderSettings
from dmbot.errors import PermanentError, RateLimited, TransientError, XApiError
from dmbot.metrics import Metrics
from dmbot.pressure import Pressure
from dmbot.store.base import Commit, OutboxItem, Store
from dmbot.types import ConversationKey, is_id
from dmbot.x.actions import perform
from dmbot.x.client import XClient
from dmbot.x.schedule import Ended, Followups, Indicators, NotBefore, RecentIds, Started
from dmbot.x.settlement import SentLookup

__all__ = ["Sender"]

log = logging.getLogger("dmbot.x.sender")


class Sender:
    """Sends the outbox of ``store`` through the clients of the managed accounts.

    Args:
        store: where the outbox lives.
        clients: one X client per managed account id.
        options: the ``sender:`` section of config.yaml (deadline, concurrency,
            backoff); its defaults when None.
        clock: the time source (Unix seconds); tests pass a fake one.
        rng: a source of floats in [0, 1) for the jitter.
        send_api: ``"v1.1"`` (quick replies, buttons) or ``"v2"`` (text and
            one media only).
        poll_interval: longest idle wait; catches rows written by another
            process or retries scheduled before a restart.
        pressure: the webhook's load; sends give way to acknowledgements.
    """

    def __init__(
        self,
        store: Store,
        clients: Mapping[str, XClient],
        *,
        options: SenderSettings | None = None,
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
        send_api: str = "v1.1",
        poll_interval: float = 5.0,
        pressure: Pressure | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        if send_api not in ("v1.1", "v2"):
            raise ValueError(f"send_api is {send_api!r}; use 'v1.1' or 'v2'")
        self.store = store
        self.clients = clients
        self.options = options or SenderSettings()
        self.concurrency = max(1, self.options.concurrency)
        self.send_api = send_api
        self.poll_interval = poll_interval
        self.pressure = pressure
        self.metrics = metrics
        self._clock = clock
        self._rng = rng
        self._wake = asyncio.Event()
        self._in_flight: dict[ConversationKey, asyncio.Task[None]] = {}
        self._not_before = NotBefore()
        """Rows this sender will not start before a time: retries, and store hiccups."""
        self._ended = Ended()
        self._unrecorded: dict[int, str] = {}
        """Rows X accepted whose ``sent`` the store refused: record them, never resend."""
        self.lookup = SentLookup(send_api, clock=clock)
        self.followups = Followups(shared=store.shared)
        self.sent_ids = RecentIds()
        """The ids X gave this sender's latest DMs."""
        self._indicators = Indicators()
        # A commit's mark stands for a send that starts within a tenth of the grace.
        self._started = Started(fresh=min(0.05, self.options.settle_grace / 10))
        self._blind_warned = False

    def notify(self, conversation: ConversationKey | None = None, actions: int = 0) -> None:
        """New actions were committed (``actions`` for ``conversation``): look now."""
        self.followups.committed(conversation, actions)
        self._wake.set()

    def _free(self, key: ConversationKey) -> bool:
        """Whether a row of ``key`` committed now could start at once."""
        free = len(self._in_flight) < self.concurrency and key not in self._in_flight
        return free and self.followups.idle(key)

    def planned(self, commit: Commit) -> None:
        """The worker is about to write ``commit``: when its first row is a DM that will
        start straight from it, the commit records the send's start (one write less)."""
        if commit.actions[0].kind == "dm" and not self.store.shared:
            commit.attempting = self._clock() if self._free(commit.conversation) else 0.0

    def committed(self, commit: Commit) -> None:
        """The worker committed ``commit``: its first row starts at once when nothing of
        its conversation is pending or in flight; otherwise the outbox is read now."""
        key, actions = commit.conversation, len(commit.actions)
        first = commit.created[0] if commit.created else None
        if first is not None:
            self._started.add(first)  # its start is recorded: not uncertain
        if first is not None and self._free(key):
            self.followups.committed(key, actions, look=False)
            self._start(first)
            return
        self.notify(key, actions)

    async def run(self) -> None:
        """Send until cancelled. Cancelling leaves unsent rows pending for the next run."""
        try:
            while True:
                self._wake.clear()
                if self.followups.look:
                    try:
                        await self._start_due()
                    except Exception as exc:
                        log.error("Cannot read the outbox (%s); trying again shortly", exc)
                if not await self._wait(self._not_before.wait(self._clock(), self.poll_interval)):
                    self.followups.look = True  # a retry's time, or the poll interval
        finally:
            await self._cancel_in_flight()

    async def drain(self, timeout: float) -> None:  # noqa: ASYNC109 - the documented contract
        """Send every due action, and every retry falling due within ``timeout``.

        Returns when nothing is due or in flight and the next scheduled
        retry (if any) is further away than what is left of ``timeout``.

        Raises:
            TimeoutError: sends were still in flight when ``timeout`` ran out.
        """
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while True:
            self._wake.clear()
            started = await self._start_due()
            left = end - loop.time()
            if not started and not self._in_flight:
                next_retry = self._not_before.next(self._clock())
                if next_retry is None or next_retry - self._clock() > left:
                    return
            if left <= 0:
                raise TimeoutError(
                    f"The outbox was not drained within {timeout:g} s: "
                    f"{len(self._in_flight)} conversation(s) still sending"
                )
            await self._wait(min(left, self._not_before.wait(self._clock(), self.poll_interval)))

    async def typing(self, account: str, peer: str) -> None:
        """Show "typing…" to ``peer`` now; a failure is logged, never raised. The
        conversation's next send waits for it: the indicator never follows the reply."""
        client = self.clients.get(account)
        if client is None:
            log.warning("No X client for account %s: cannot show typing to %s", account, peer)
            return
        try:
            with self._indicators.showing((account, peer)):
                await client.indicate_typing(peer)
        except XApiError as exc:
            log.warning("Typing indicator to %s failed: %s", peer, exc)

    def received(self, account: str, peer: str) -> None:
        """Note a DM ``peer`` sent to ``account``: its next 5 replies are free of X's budget."""
        client = self.clients.get(account)
        if client is not None:
            client.limiter.received(account, peer)

    # -- scheduling ------------------------------------------------------------
    async def _start_due(self) -> int:
        """Start a task for each due conversation not already sending; return how many."""
        free = self.concurrency - len(self._in_flight)
        if free <= 0:
            return 0  # the look waits for a slot
        # Ask for enough rows that busy conversations cannot hide idle ones.
        now = self._clock()
        epoch = self._ended.epoch
        self.followups.look = False
        try:
            items = await self.store.due(now, limit=free + len(self._in_flight))
            pending = None if items else (await self.store.depth()).outbox  # retries too
        except BaseException:
            self.followups.look = True
            raise
        self._ended.forget()
        # Uncertain rows (a crash leaves several) are settled together once the last
        # one's grace is over: one list of X's then vouches for all of them. Rows this
        # sender is sending now are not uncertain, only under way.
        waiting = [i for i in items if i.conversation not in self._in_flight]
        uncertain = [i.attempted_at for i in waiting if self._uncertain(i)]
        ready = max(uncertain, default=0.0) + self.options.settle_grace
        started = 0
        for item in items:
            if started >= free:
                break
            if item.conversation in self._in_flight or self._not_before.get(item.id, 0) > now:
                continue
            if self._ended.since(item.id, epoch):
                continue  # its send ended while due() was being read: the row is stale
            if self._uncertain(item) and ready > now:
                self._not_before[item.id] = ready  # its echo may settle it meanwhile
                continue
            self._not_before.pop(item.id, None)
            self._start(item)
            started += 1
        held_back = started >= free and len(waiting) > started
        self.followups.read(len(items), held_back, pending)
        return started

    def _start(self, item: OutboxItem) -> None:
        task = asyncio.create_task(self._send(item), name=f"dmbot-send-{item.id}")
        self._in_flight[item.conversation] = task
        task.add_done_callback(functools.partial(self._finished, item.conversation, item.id))

    def _uncertain(self, item: OutboxItem) -> bool:
        """A DM whose send started and whose outcome nobody recorded."""
        known = item.id in self._unrecorded or item.id in self._started
        return item.kind == "dm" and item.attempted_at > 0 and not known

    def _finished(self, key: ConversationKey, item_id: int, _task: asyncio.Task[None]) -> None:
        self._in_flight.pop(key, None)
        # Its next action may be due now, unless the row itself waits for a retry.
        self.followups.finished(key, still_pending=item_id in self._not_before)
        self._wake.set()

    async def _wait(self, seconds: float) -> bool:
        """Wait to be woken (True), or ``seconds`` (False)."""
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
        # that lands with the wake-up, and Service.stop() would hang.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()
                return True
        return False

    async def _cancel_in_flight(self) -> None:
        tasks = list(self._in_flight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- one action --------------------------------------------------------------
    async def _send(self, item: OutboxItem) -> None:
        try:
            await self._send_once(item)
        finally:
            self._ended.end(item.id)

    async def _send_once(self, item: OutboxItem) -> None:
        try:
            sent_id = self._unrecorded.get(item.id)
            if sent_id is None:
                await self._indicators.shown(item.conversation)
                if self.pressure is not None:
                    # Acknowledgements to X first; the reply is safe in the outbox.
                    await self.pressure.give_way()
                if self._uncertain(item) and not await self._settle(item):
                    return
                await self._attempt(item)
            else:
                await self._record_sent(item, sent_id)
        except Exception as exc:
            # The store refused the outcome: the row stays pending; look again later.
            log.error(
                "Cannot record the outcome of outbox row %d (%s); trying again in %g s",
                item.id,
                exc,
                self.poll_interval,
            )
            self._not_before[item.id] = self._clock() + self.poll_interval

    async def _record_sent(self, item: OutboxItem, sent_id: str, outcome: str = "sent") -> None:
        self._unrecorded[item.id] = sent_id
        await self.store.sent(item.id, sent_id)
        del self._unrecorded[item.id]
        self.sent_ids.add(sent_id)
        if self.metrics is not None:
            self.metrics.send(outcome)
            self.metrics.event_to_send_seconds.observe(max(0.0, self._clock() - item.created_at))

    def _count(self, outcome: str, code: int | None) -> None:
        if self.metrics is not None:
            self.metrics.send(outcome, code)

    async def _attempt(self, item: OutboxItem) -> None:
        now = self._clock()
        started = self._started.take(item.id, now)  # by its commit, just now
        deadline = self.options.deadline
        expires = item.created_at + deadline
        if now >= expires:
            await self._give_up(item, f"not sent within {deadline:g} s", item.error_code)
            return
        if not is_id(item.peer):
            # Context.reply refuses these; a row written by hand or an old version is not sent.
            await self.store.failed(item.id, f"{item.peer!r} is not a numeric X user id", None)
            return
        client = self.clients.get(item.account)
        if client is None:
            await self.store.failed(
                item.id,
                f"No X client for account {item.account}: add its user_id and tokens "
                "under accounts: in config.yaml",
                None,
            )
            return
        try:
            # Recorded before X is called: a crash from here on leaves a trace.
            if item.kind == "dm" and not started and not await self.store.attempting(item.id, now):
                log.info("Outbox row %d passed to another instance; not sending it", item.id)
                return
            sent_id = await perform(client, item, self.send_api)
        except RateLimited as exc:
            next_at = max(exc.reset_at, now)
            if next_at >= expires:
                await self._give_up(item, str(exc), exc.code)
                return
            log.info("Rate limited; outbox row %d waits until %.0f", item.id, next_at)
            self._count("retry", exc.code)
            self._not_before[item.id] = next_at
            await self.store.retry_later(item.id, next_at, str(exc))
        except TransientError as exc:
            delay = min(self.options.backoff_max, self.options.backoff_base * 2.0**item.attempts)
            delay *= 0.5 + 0.5 * self._rng()  # jitter: retries of many rows spread out
            next_at = now + delay
            if next_at >= expires:
                await self._give_up(item, str(exc), exc.code)
                return
            log.warning("Outbox row %d: %s (retry in %.1f s)", item.id, exc, next_at - now)
            self._count("retry", exc.code)
            self._not_before[item.id] = next_at
            # No answer at all (status 0): X may have the DM, so it is settled first.
            await self.store.retry_later(item.id, next_at, str(exc), uncertain=exc.status == 0)
        except PermanentError as exc:
            log.warning("Outbox row %d failed for good: %s", item.id, exc)
            self._count("failed", exc.code)
            await self.store.failed(item.id, str(exc), exc.code)
        except XApiError as exc:  # a kind the tree may grow: do not guess, do not retry
            await self.store.failed(item.id, str(exc), exc.code)
        except Exception:
            # A bug or a malformed payload: retrying would fail the same way.
            log.exception("Outbox row %d (%s) failed unexpectedly", item.id, item.kind)
            await self.store.failed(item.id, "dmbot could not send this action (see the log)", None)
        else:
            await self._record_sent(item, sent_id)

    async def _settle(self, item: OutboxItem) -> bool:
        """Whether an uncertain row should be sent (again): False when X has it or must
        be asked later; True when X shows no trace of it, or cannot tell."""
        now = self._clock()
        client = self.clients.get(item.account)
        if client is None or now >= item.created_at + self.options.deadline:
            return True  # _attempt fails it with the reason
        try:
            # X's list must postdate the grace: by then an attempt has landed, if ever.
            landed_by = item.attempted_at + self.options.settle_grace
            found = await self.lookup.find(client, item, listed_after=landed_by)
        except (RateLimited, TransientError) as exc:
            reset = exc.reset_at if isinstance(exc, RateLimited) else 0.0
            next_at = max(reset, now + self.options.backoff_base * 2.0 ** min(item.attempts, 8))
            log.info(
                "Cannot ask X yet whether row %d was sent (%s); asking again later", item.id, exc
            )
            self._not_before[item.id] = next_at
            await self.store.retry_later(item.id, next_at, str(exc), uncertain=True)
            return False
        except XApiError as exc:
            if not self._blind_warned:
                self._blind_warned = True
                log.warning(
                    "X will not say which DMs the account sent (%s): a send whose answer was "
                    "lost is sent again, and may arrive twice. Give the app the Direct "
                    "Messages read permission to settle such sends exactly once",
                    exc,
                )
            return True
        if found is None:
            log.info("X has no trace of outbox row %d: sending it again", item.id)
            return True
        log.info(
            "outbox row %d was sent as DM %s before: X says so, not sent again", item.id, found
        )
        await self._record_sent(item, found, outcome="settled")
        return False

    async def _give_up(self, item: OutboxItem, why: str, code: int | None) -> None:
        log.warning("Outbox row %d (%s to %s) gave up: %s", item.id, item.kind, item.peer, why)
        message = f"Gave up after {item.attempts + 1} attempt(s): {why}"
        self._count("failed", code)
        await self.store.failed(item.id, message, code)
