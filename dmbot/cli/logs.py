"""How dmbot writes its log: readable lines by default, or one JSON object per line.

``logging.format: json`` is for log pipelines (Loki, Elasticsearch, CloudWatch):
every record becomes ``{"time", "level", "logger", "message", ...}`` plus the
fields dmbot attaches where it knows them: the delivery, the event id, the
conversation's account and peer, the outcome. Nothing secret is ever put in a
record (tokens, keys and signatures never reach the log), and the formatter
adds nothing but what the record holds.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

__all__ = ["FIELDS", "JsonFormatter", "configure_logging"]

FIELDS = ("delivery", "event_id", "kind", "account", "peer", "outcome", "events", "row")
"""The structured fields dmbot attaches to records (``extra=``), copied into JSON lines."""

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(level: str, *, debug: bool = False, form: str = "text") -> None:
    """Log to stderr at ``level`` (``--debug``: DEBUG), as text lines or JSON objects."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if form == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(
        level=logging.DEBUG if debug else getattr(logging, level.upper(), logging.INFO),
        handlers=[handler],
        force=True,
    )
    # httpx logs every request at INFO: a second line per reply, and 5% of the CPU.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if debug else logging.WARNING)
