"""Signed Account Activity deliveries for the load generators.

Payloads are built by the emulator's own builders (``message_payload``), so
they have X's shape: the event, the ``users`` map with hydrated user objects,
the ``apps`` map on the account's own messages. Each one is signed with the
bench app's consumer secret the way X signs deliveries.

wrk cannot compute HMAC-SHA256 cheaply, so for it the deliveries are written
ahead of time to a file, one per line (``<signature>\\t<json body>``), which
``wrk_bodies.lua`` cycles through.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dmbot.edge.signature import sign
from dmbot.emulator.payloads import message_payload
from dmbot.emulator.state import WEB_CLIENT_APP, App, Message, Snowflakes, User, World

CONSUMER_KEY = "bench-consumer-key"
CONSUMER_SECRET = "bench-consumer-secret"
APP_ID = "13090192"
BOT_ID = "1000000000001"
BOT_TOKEN = f"{BOT_ID}-bench-access-token"
BOT_TOKEN_SECRET = "bench-access-token-secret"
PEER_BASE = 3_000_000_000_000
"""Peer user ids are PEER_BASE + conversation number."""

TEXTS = (
    "Hi! Are you open on Sunday evening?",
    "Do you deliver to 42 Main Street, or only pick-up?",
    "Thanks, see you soon",
    "Can I change my order to a large one please?",
)


def peer_id(conversation: int) -> str:
    """The user id of the person in conversation number ``conversation``."""
    return str(PEER_BASE + conversation)


def new_world() -> World:
    """A world holding the bench app and bot account (people are added as needed)."""
    world = World(App(APP_ID, "dmbot bench", CONSUMER_KEY, CONSUMER_SECRET))
    world.add_user(
        User(BOT_ID, "benchbot", "Bench Bot", 0, token=BOT_TOKEN, token_secret=BOT_TOKEN_SECRET)
    )
    return world


def encode(payload: dict[str, object]) -> tuple[str, bytes]:
    """(signature header, body) of one delivery."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    return sign(CONSUMER_SECRET, body), body


@dataclass
class DeliveryMaker:
    """Builds the deliveries X would send to the bot account's webhook."""

    world: World
    ids: Snowflakes

    @classmethod
    def create(cls, world: World | None = None) -> DeliveryMaker:
        world = world or new_world()
        return cls(world, Snowflakes(world.clock))

    def message(
        self,
        sender: str,
        recipient: str,
        text: str,
        *,
        metadata: str | None = None,
        app: str | None = None,
    ) -> Message:
        data: dict[str, object] = {"text": text}
        if metadata is not None:
            data["quick_reply_response"] = {"type": "options", "metadata": metadata}
        return Message(
            self.ids.next(),
            sender,
            recipient,
            data,
            self.world.now_ms(),
            app or str(WEB_CLIENT_APP["id"]),
            metadata,
        )

    def incoming(
        self, conversation: int, text: str, *, metadata: str | None = None
    ) -> tuple[Message, dict[str, object]]:
        """A person's DM to the bot, delivered for the bot's subscription."""
        message = self.message(peer_id(conversation), BOT_ID, text, metadata=metadata)
        return message, message_payload(self.world, message, BOT_ID)

    def echo(self, conversation: int, text: str) -> tuple[Message, dict[str, object]]:
        """The copy X delivers of a DM the bot sent through our app (its echo)."""
        message = self.message(BOT_ID, peer_id(conversation), text, app=APP_ID)
        return message, message_payload(self.world, message, BOT_ID)


def mixed_lines(
    count: int,
    conversations: int,
    *,
    duplicates: float = 0.0,
    echoes: float = 0.0,
    seed: int = 7,
    maker: DeliveryMaker | None = None,
) -> Iterator[str]:
    """``count`` lines ``<signature>\\t<body>``: unique incoming DMs over ``conversations``.

    A fraction ``duplicates`` of the lines repeats an earlier delivery byte for
    byte (X's retries and plain duplicates); a fraction ``echoes`` is the echo
    of a reply the bot sent. Conversations are visited round-robin. Share one
    ``maker`` between the files of a run so DM ids never repeat across them.
    """
    maker = maker or DeliveryMaker.create()
    rng = random.Random(seed)
    recent: list[str] = []
    fresh = 0
    for _ in range(count):
        roll = rng.random()
        if roll < duplicates and recent:
            yield rng.choice(recent)
            continue
        conversation = fresh % conversations
        text = f"{TEXTS[fresh % len(TEXTS)]} #{fresh}"
        fresh += 1
        if roll < duplicates + echoes:
            _, payload = maker.echo(conversation, text)
        else:
            _, payload = maker.incoming(conversation, text)
        signature, body = encode(payload)
        line = f"{signature}\t{body.decode()}"
        recent.append(line)
        if len(recent) > 2000:
            del recent[:1000]
        yield line


def write_lines(path: Path, lines: Iterator[str]) -> int:
    """Write ``lines`` to ``path``; how many were written."""
    written = 0
    with path.open("w") as out:
        for line in lines:
            out.write(line)
            out.write("\n")
            written += 1
    return written
