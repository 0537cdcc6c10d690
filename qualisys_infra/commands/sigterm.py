"""SIGTERM ends every command within a second.

While a command runs, SIGTERM raises :class:`Interrupted` (a ``KeyboardInterrupt``) where the main
thread is, so every ``finally`` and ``with`` cleans up as for Ctrl-C and the CLI prints one line
and exits 143. That alone is not enough: the main thread may be inside a call that does not return
to Python (name resolution, a C library), and interpreter shutdown waits for non-daemon threads
(a thread pool blocked on a slow server). So the signal also starts a countdown: if the process
has not ended :data:`GRACE_SECONDS` later, it prints the line itself (when the CLI has not) and
ends with ``os._exit(143)``. A second SIGTERM ends it at once.

The countdown is started by a thread that waits on Python's signal wake-up descriptor, which the
interpreter writes as soon as the signal arrives, even while the main thread is stuck in C; the
Python-level handler starts it too (the same countdown, once), for when another part of the
process owns the wake-up descriptor. Output already renamed into place stays; a temporary folder a
cut-short clean-up leaves is never mistaken for output (nothing is half-written).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading

GRACE_SECONDS = 0.7


class Interrupted(KeyboardInterrupt):
    """SIGTERM, raised where the process is, so every ``finally`` cleans up as for Ctrl-C."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


_lock = threading.Lock()
_state = {"handled": False, "stopping": False, "reported": False}
_watcher: dict[str, int] = {}  # "read"/"write": the wake-up pipe, made once per process


def install() -> int | None:
    """SIGTERM raises :class:`Interrupted` from now on; returns what :func:`uninstall` needs.
    Call from the main thread only."""
    signal.signal(signal.SIGTERM, _handle)
    write = _pipe()
    if write is None:
        return None
    previous = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
    if previous not in (-1, write):  # someone else listens there: leave it to them, keep the handler's countdown
        signal.set_wakeup_fd(previous)
        return None
    return previous


def uninstall(previous: int | None) -> None:
    """SIGTERM ends the process plainly again (the command's work is done or undone)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if previous is not None:
        with contextlib.suppress(ValueError):
            signal.set_wakeup_fd(previous)


def reported() -> None:
    """The CLI has printed its ``interrupted`` line: the countdown need not print another."""
    _state["reported"] = True


def _handle(signum: int, _frame: object) -> None:
    if _state["handled"]:  # a second SIGTERM while cleaning up: stop now
        _exit(signum)
    _state["handled"] = True
    _countdown(signum)
    raise Interrupted(signum)


def _countdown(signum: int) -> None:
    with _lock:
        if _state["stopping"]:
            return
        _state["stopping"] = True
    timer = threading.Timer(GRACE_SECONDS, _exit, (signum,))
    timer.daemon = True
    timer.start()


def _exit(signum: int) -> None:
    if not _state["reported"]:
        name = signal.Signals(signum).name
        with contextlib.suppress(OSError):
            os.write(2, f"error: interrupted ({name}); stopped before clean-up finished\n".encode())
    os._exit(128 + signum)


def _pipe() -> int | None:
    if "write" in _watcher:
        return _watcher["write"]
    try:
        read, write = os.pipe()
        os.set_blocking(write, False)
    except OSError:
        return None
    _watcher.update(read=read, write=write)
    threading.Thread(target=_watch, args=(read,), name="sigterm-watch", daemon=True).start()
    return write


def _watch(read: int) -> None:
    while True:
        try:
            data = os.read(read, 64)
        except OSError:
            return
        if not data:
            return
        if signal.SIGTERM in data and signal.getsignal(signal.SIGTERM) is _handle:
            _countdown(signal.SIGTERM)  # once, whichever of this thread and the handler comes first
