"""The exception tree of dmbot.

Every error dmbot raises on purpose derives from :class:`DmbotError`::

    DmbotError
    ├── ConfigError          config.yaml: unknown key, wrong type, missing value
    ├── FlowError            a flow file or Flow object breaks a rule
    ├── SignatureError       x-twitter-webhooks-signature missing or wrong
    ├── StorageError         the store cannot be reached or written
    ├── BotLoadError         the bot script cannot be imported
    ├── LimitError           a reply breaks one of X's limits (options, labels, text)
    ├── UnknownNameError     no flow, step, ending or intent has that name (also a KeyError)
    └── XApiError            X answered with an error (code, status)
        ├── RateLimited      429 / code 88: wait until ``reset_at``
        ├── TransientError   5xx, network errors, code 131: retry with backoff
        └── PermanentError   other 4xx: do not retry this request

Messages are sentences a user can act on: what is wrong, where, and the fix.
"""

from __future__ import annotations


class DmbotError(Exception):
    """Root of every error dmbot raises on purpose."""


class ConfigError(DmbotError):
    """The configuration is invalid; the message names the key and the line."""


class FlowError(DmbotError):
    """A flow definition breaks a rule; the message names file, line, flow and step."""


class SignatureError(DmbotError):
    """A webhook delivery's signature is missing, malformed or wrong.

    :func:`dmbot.edge.signature.require` raises it; the webhook itself answers
    401 and logs it (:func:`~dmbot.edge.signature.refusal`).
    """


class StorageError(DmbotError):
    """The store cannot be reached or written."""


class BotLoadError(DmbotError):
    """The bot script or module cannot be loaded."""


class LimitError(DmbotError):
    """A message breaks one of X's Direct Message limits."""


class UnknownNameError(DmbotError, KeyError):
    """A flow, step, ending or intent was asked for by a name nothing defined.

    Also a :class:`KeyError`, because it is a failed lookup by name: code that
    caught ``KeyError`` keeps working. The message lists the names there are.
    """

    def __str__(self) -> str:
        # KeyError's own str() is the repr of its argument, quotes and all.
        return str(self.args[0]) if self.args else ""


class XApiError(DmbotError):
    """X answered a request with an error.

    Attributes:
        status: the HTTP status (0 for a network error).
        code: X's error code, when the body carried one.
    """

    def __init__(self, message: str, *, status: int = 0, code: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class RateLimited(XApiError):
    """X said 429 (code 88), or our own budget says wait; retry after ``reset_at``."""

    def __init__(
        self, message: str, *, reset_at: float, status: int = 429, code: int | None = 88
    ) -> None:
        super().__init__(message, status=status, code=code)
        self.reset_at = reset_at


class TransientError(XApiError):
    """A failure that may pass: 5xx, a network error, code 131. Retry with backoff."""


class PermanentError(XApiError):
    """A 4xx other than 429: the same request will fail again. Do not retry it."""
