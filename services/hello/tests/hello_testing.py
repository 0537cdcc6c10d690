"""What the tests and their fixtures share (conftest.py is not importable as a module).

The readiness tests use the real PostgreSQL and Redis at ``HELLO_TEST_DATABASE_URL`` and
``HELLO_TEST_REDIS_URL`` (default: the local ones on 127.0.0.1, as ``make services`` starts them).
When they are down those tests fail: they are the proof that readiness works.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from hello.config import Settings

DATABASE_URL = os.environ.get("HELLO_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("HELLO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

MakeClient = Callable[[Settings], TestClient]


@dataclass
class LogCapture:
    """What the service logged, as the JSON objects it wrote (one per line)."""

    stream: io.StringIO

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines()]

    def clear(self) -> None:
        self.stream.seek(0)
        self.stream.truncate()
