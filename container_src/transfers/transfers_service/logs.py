"""JSON logs: one object per line on stderr (the task's awslogs driver sends them to
CloudWatch Logs, where Logs Insights discovers their fields).

Every line has ``timestamp`` (UTC, ISO 8601, milliseconds), ``level``, ``logger`` and
``message``; ``correlation_id`` when the work being done has one (see ``correlation``);
``exception`` with the traceback when one is logged; and the ``extra`` fields a call passed.
uvicorn's own loggers (server and access log) are routed through the same handler.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any, TextIO

from transfers_service.correlation import current

# The attributes every LogRecord has: whatever else a record carries came from ``extra``.
_STANDARD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None))
) | {"message", "asctime", "taskName"}
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


class JsonFormatter(logging.Formatter):
    """Formats a record as one line of JSON (see the module)."""

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, UTC)
        line: dict[str, Any] = {
            "timestamp": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        correlation_id = getattr(record, "correlation_id", None) or current()
        if correlation_id is not None:
            line["correlation_id"] = correlation_id
        for name, value in vars(record).items():
            if name not in _STANDARD_ATTRIBUTES and name not in line:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def configure(level: str, *, stream: TextIO | None = None) -> None:
    """JSON lines to ``stream`` (default stderr) from every logger, uvicorn's included,
    unless the root logger has a handler already (an embedding app, a test runner)."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
        root.setLevel(level)
        for name in UVICORN_LOGGERS:
            # uvicorn's default config gives these loggers plain-text handlers of their own.
            uvicorn_logger = logging.getLogger(name)
            uvicorn_logger.handlers.clear()
            uvicorn_logger.propagate = True
    logging.getLogger("transfers_service").setLevel(level)
