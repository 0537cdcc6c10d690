"""SIGTERM stops every command within a second: the CLI in a child process, stopped while a server
on 127.0.0.1 answers it one byte at a time (``charts`` took SIGTERM and ran on past 10 minutes),
and the process-level countdown of ``qualisys_infra.commands.sigterm`` for a main thread that cannot
take the signal at all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Mapping

import pytest

from tests.conftest import ROOT
from tests.fake_github import BOT, PR, REPO, TOKEN
from tests.plan.conftest import FIXTURES
from tests.trickle import TrickleServer

SLOW_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
LIMIT_SECONDS = 1.5  # "within a second", with room for a loaded 2-core machine


def _start(argv: list[str], env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, *argv],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _terminate(child: subprocess.Popen[str]) -> tuple[int, str, float]:
    """SIGTERM to ``child``; its exit code, standard error and how long it took to exit."""
    start = time.monotonic()
    child.send_signal(signal.SIGTERM)
    try:
        _, err = child.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        pytest.fail("still running 30 s after SIGTERM")
    return child.returncode, err, time.monotonic() - start


def _stopped_in_time(child: subprocess.Popen[str], server: TrickleServer) -> str:
    assert server.connected.wait(60), "the command never reached the server"
    time.sleep(0.3)  # well inside the slow answer
    code, err, took = _terminate(child)
    assert code == 128 + signal.SIGTERM, err
    assert took < LIMIT_SECONDS, f"{took:.2f} s"
    assert "Traceback" not in err
    return err


def test_sigterm_stops_charts_while_a_mirror_trickles() -> None:
    with TrickleServer(head=SLOW_HEAD, interval=0.5) as server:
        child = _start(["-m", "qualisys_infra", "charts", "--mirror", server.url, "--timeout", "600"])
        err = _stopped_in_time(child, server)
    assert err == "error: interrupted (SIGTERM); previous output left untouched\n"


def test_sigterm_stops_comment_while_github_trickles() -> None:
    plan = FIXTURES / "snyk_cli__test__fixtures__iac__terraform-plan__tf-plan-update.json"
    with TrickleServer(head=SLOW_HEAD, drip=b"[" + b" " * 99_999, interval=0.5) as server:
        env = {"GITHUB_API_URL": server.url, "GITHUB_TOKEN": TOKEN, "GITHUB_REPOSITORY": REPO}
        argv = ["comment", str(plan), "--env", "dev", "--pr", str(PR), "--author", BOT, "--timeout", "600"]
        child = _start(["-m", "qualisys_infra", *argv], env)
        err = _stopped_in_time(child, server)
    assert err == "error: interrupted (SIGTERM); previous output left untouched\n"


def _script(body: str) -> subprocess.Popen[str]:
    code = "import signal, sys, threading, time\nfrom qualisys_infra.commands import sigterm\n" + textwrap.dedent(body)
    child = _start(["-c", code])
    assert child.stdout is not None
    assert child.stdout.readline() == "ready\n"
    time.sleep(0.3)  # past the print, into the sleep: a signal now finds the script where the test says
    return child


def test_sigterm_ends_the_process_when_the_main_thread_cannot_take_it() -> None:
    """As when the main thread is inside a C call: only another thread sees the signal arrive."""
    child = _script(
        """
        sigterm.install()
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        print("ready", flush=True)
        time.sleep(60)
        """
    )
    code, err, took = _terminate(child)
    assert (code, err) == (143, "error: interrupted (SIGTERM); stopped before clean-up finished\n")
    assert took < LIMIT_SECONDS


def test_sigterm_ends_the_process_when_a_thread_would_hold_it_open() -> None:
    """The handler's exception unwinds the main thread, but interpreter shutdown waits for
    non-daemon threads (a thread pool blocked on a slow server): the countdown ends it."""
    child = _script(
        """
        sigterm.install()
        threading.Thread(target=time.sleep, args=(60,)).start()
        print("ready", flush=True)
        try:
            time.sleep(60)
        except sigterm.Interrupted:
            print("error: interrupted (SIGTERM)", file=sys.stderr, flush=True)
            sigterm.reported()
        """
    )
    code, err, took = _terminate(child)
    assert (code, err) == (143, "error: interrupted (SIGTERM)\n")  # one line: the countdown printed nothing
    assert took < LIMIT_SECONDS


def test_a_second_sigterm_ends_the_clean_up_at_once() -> None:
    child = _script(
        """
        sigterm.install()
        print("ready", flush=True)
        try:
            time.sleep(60)
        finally:
            print("cleaning", flush=True)
            time.sleep(60)
        """
    )
    assert child.stdout is not None
    child.send_signal(signal.SIGTERM)
    assert child.stdout.readline() == "cleaning\n"
    code, err, took = _terminate(child)
    assert (code, err) == (143, "error: interrupted (SIGTERM); stopped before clean-up finished\n")
    assert took < 0.5
