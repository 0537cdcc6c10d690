"""Test databases on the local PostgreSQL: made for one test, dropped in the background.

``DROP DATABASE`` waits for a checkpoint (PostgreSQL flushes every dirty buffer of the cluster
first), which made it the slowest step of many database tests. A test's database is dropped by one
background thread of the session instead, one after another as tests finish; the session waits
for the last drop before it ends (tests/conftest.py), so none is left behind.
"""

from __future__ import annotations

import queue
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg


class _Dropper:
    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.failures: list[str] = []

    def drop(self, admin_url: str, name: str) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="qualisys-test-dropdb", daemon=True)
                self._thread.start()
        self._queue.put((admin_url, name))

    def _run(self) -> None:
        while (job := self._queue.get()) is not None:
            admin_url, name = job
            try:
                with psycopg.connect(admin_url, autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except psycopg.Error as exc:
                self.failures.append(f"{name}: {exc}")
            finally:
                self._queue.task_done()

    def wait(self) -> list[str]:
        """Block until every database handed over so far is dropped; what could not be dropped."""
        if self._thread is not None:
            self._queue.join()
        return list(self.failures)


DROPPER = _Dropper()


@contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """A new, empty database (``qualisys_test_<random>``): its admin URL; dropped after the block."""
    name = f"qualisys_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{admin_url.rpartition('/')[0]}/{name}"
    finally:
        DROPPER.drop(admin_url, name)
