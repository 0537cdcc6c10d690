"""JSON logs, one object per line on stdout, each carrying the request's correlation id (story 0.20 AC3).

The correlation id lives in a :class:`~contextvars.ContextVar` set by the request middleware
(:mod:`hello.observe`), so every line logged while a request is handled carries it, from any module,
without passing it around. Lines logged outside a request carry ``"correlation_id": null``.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TextIO

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
# The request's W3C trace id (32 lowercase hex digits: its `traceparent` header's, or a new one), logged
# beside the correlation id as `trace_id` (story 0.20 AC3; OpenTelemetry spans can adopt it later).
trace_id: ContextVar[str | None] = ContextVar("trace_id", default=None)
# The tenant a request acts for, set by whatever establishes it (the API's authentication); hello's
# requests have none, and log `"tenant_id": null`.
tenant_id: ContextVar[str | None] = ContextVar("tenant_id", default=None)

# Attributes every LogRecord has; anything else on a record came from `extra=` and goes into the line,
# except uvicorn's `color_message` (the message again, with terminal colour codes).
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object: ``time`` (UTC, ISO 8601), ``level``, ``message``, ``logger``,
    ``correlation_id``, ``trace_id``, ``tenant_id``, ``service``, ``version``, then the record's ``extra``
    fields (for the access line: ``method``, ``path``, ``status``, ``duration_ms``) and ``exception`` when
    there is one.
    """

    def __init__(self, *, service: str, version: str) -> None:
        super().__init__()
        self._service = service
        self._version = version

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            "correlation_id": correlation_id.get(),
            "trace_id": trace_id.get(),
            "service": self._service,
            "version": self._version,
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and key not in entry:
                entry[key] = value
        # A tenant given with the line (`extra={"tenant_id": ...}`) wins over the request's.
        entry.setdefault("tenant_id", tenant_id.get())
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(*, level: str, service: str, version: str, stream: TextIO | None = None) -> logging.Handler:
    """Send every logger's records, uvicorn's included, as JSON lines to ``stream`` (stdout by default).

    Replaces the root logger's handlers; returns the handler it installed.
    """
    handler = logging.StreamHandler(stream if stream is not None else sys.stdout)
    handler.setFormatter(JsonFormatter(service=service, version=version))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # uvicorn's loggers log through the root handler; its access log is off (the middleware logs each request).
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    logging.captureWarnings(True)
    return handler
