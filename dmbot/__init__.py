"""dmbot: Direct Message bots on X (Twitter).

Bot authors use :class:`Bot` and the :class:`Context` handed to handlers; flows
built in Python use :class:`Flow`, :class:`Step`, :class:`Option` and
:class:`Ending`.
"""

from __future__ import annotations

from dmbot.edge.events import DirectMessage, Event, User
from dmbot.engine.bot import Bot
from dmbot.engine.context import Button, Context, FlowView, QuickReply
from dmbot.errors import (
    ConfigError,
    DmbotError,
    FlowError,
    LimitError,
    PermanentError,
    RateLimited,
    TransientError,
    UnknownNameError,
    XApiError,
)
from dmbot.flows.model import Ending, Flow, Option, Step, Trigger

__version__ = "0.1.0"

__all__ = [
    "Bot",
    "Button",
    "ConfigError",
    "Context",
    "DirectMessage",
    "DmbotError",
    "Ending",
    "Event",
    "Flow",
    "FlowError",
    "FlowView",
    "LimitError",
    "Option",
    "PermanentError",
    "QuickReply",
    "RateLimited",
    "Step",
    "TransientError",
    "Trigger",
    "UnknownNameError",
    "User",
    "XApiError",
    "__version__",
]
