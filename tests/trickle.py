"""A raw HTTP server on 127.0.0.1 that answers slowly on purpose: it reads the request's head, sends
``head`` at once, then ``drip`` one byte every ``interval`` seconds (or nothing at all). What
pytest-httpserver cannot do: a server that keeps a per-read timeout happy for ever.

Used as a context manager; ``connected`` is set when the first request has been read, so a test
can wait for the client to be in the middle of its request before it acts (sends SIGTERM, say).
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from types import TracebackType


class TrickleServer:
    def __init__(
        self,
        *,
        head: bytes = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n",
        drip: bytes = b" " * 100_000,
        interval: float = 0.05,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.head = head
        self.drip = drip
        self.interval = interval
        self.tls = tls
        self.connected = threading.Event()
        self.requests: list[bytes] = []
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def __enter__(self) -> TrickleServer:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def _accept(self) -> None:
        self._listener.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.closing(conn):
            try:
                if self.tls is not None:
                    conn.settimeout(5)
                    conn = self.tls.wrap_socket(conn, server_side=True)
                conn.settimeout(5)
                request = b""
                while b"\r\n\r\n" not in request:
                    data = conn.recv(4096)
                    if not data:
                        return
                    request += data
                self.requests.append(request)
                self.connected.set()
                conn.sendall(self.head)
                for byte in self.drip:
                    if self._stop.wait(self.interval):
                        return
                    conn.sendall(bytes([byte]))
                self._stop.wait()  # then hold the connection open, answering nothing
            except OSError:  # the client gave up (as it should), or TLS failed
                return
