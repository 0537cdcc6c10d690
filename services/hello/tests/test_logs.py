"""The JSON log format: one object per line, the schema's fields, extras and exceptions."""

from __future__ import annotations

import json
import logging
import warnings
from datetime import datetime

from hello.logs import JsonFormatter
from hello_testing import LogCapture


def test_a_line_is_one_json_object_with_the_schema_fields(logs: LogCapture) -> None:
    logging.getLogger("hello.test").warning("disk %s is %d%% full", "/data", 91)
    [line] = logs.lines()
    assert line["level"] == "WARNING"
    assert line["message"] == "disk /data is 91% full"
    assert line["logger"] == "hello.test"
    assert line["correlation_id"] is None
    assert (line["service"], line["version"]) == ("hello", "test-sha")
    assert datetime.fromisoformat(line["time"]).utcoffset() is not None


def test_extra_fields_go_into_the_line_and_unserialisable_ones_as_text(logs: LogCapture) -> None:
    logging.getLogger("hello.test").info("with extras", extra={"tenant_id": "t-1", "obj": object()})
    [line] = logs.lines()
    assert line["tenant_id"] == "t-1"
    assert line["obj"].startswith("<object object at")


def test_an_exception_goes_into_the_line_as_one_field(logs: LogCapture) -> None:
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        logging.getLogger("hello.test").exception("it failed")
    text = logs.stream.getvalue()
    assert text.count("\n") == 1, "a traceback must not break the one-line-per-object rule"
    line = json.loads(text)
    assert "ValueError: bad\nvalue" in line["exception"]


def test_level_filters_lines_below_it(logs: LogCapture) -> None:
    logging.getLogger("hello.test").debug("not shown at INFO")
    assert logs.lines() == []


def test_warnings_are_logged_as_json(logs: LogCapture) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("deprecated thing", DeprecationWarning, stacklevel=1)
    [line] = logs.lines()
    assert line["logger"] == "py.warnings"
    assert "deprecated thing" in line["message"]


def test_uvicorn_colour_message_is_left_out() -> None:
    record = logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, "Started", None, None)
    record.color_message = "\x1b[36mStarted\x1b[0m"
    line = json.loads(JsonFormatter(service="hello", version="v").format(record))
    assert "color_message" not in line
