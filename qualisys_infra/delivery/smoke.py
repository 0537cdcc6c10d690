"""The smoke suite a release runs once its rollout is at 100 %: defined here once, run by
``qualisys-infra release`` against the service's public address, and reported check by check.

What every service of the platform answers publicly (``services/hello`` is the reference):

1. ``GET /health``: 200 with ``{"status": "ok"}`` (the load balancer's and the liveness check);
2. ``GET /``: 200, JSON with ``service`` (its name) and ``version`` (the image tag the release ran):
   the address serves the new release, not the previous one nor another service;
3. the headers of that answer: a JSON content type, the ``X-Correlation-ID`` sent echoed back
   (the service's request tracing), nothing naming software versions (``Server``, ``X-Powered-By``);
4. ``GET`` a path that does not exist: 404; a 5xx (an application error) or a 200 (a catch-all)
   fails;
5. ``GET /metrics`` and ``GET /ready``: not served publicly (404): they are the internal port's
   (``modules.apps.objects``), reached by Prometheus and the kubelet from inside the cluster only.

Each check is a :class:`~qualisys_infra.delivery.signoff.Step`: passed, failed (what was seen), or could
not run (the address did not answer). Every request has a whole-request deadline, follows no
redirect (a redirect fails, naming its target), reads at most 1 MiB, and verifies HTTPS (against
``ca_file`` when given; plain http only for a loopback host, as :func:`~.signoff.check_http_url`).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qualisys_infra.core import http
from qualisys_infra.core.masking import mask_url
from qualisys_infra.delivery.signoff import Step, failed, not_run, passed

HEALTH_PATH = "/health"
GREETING_PATH = "/"
# Served on the internal port only (modules.apps.objects: the Services expose the public port alone).
INTERNAL_PATHS = ("/metrics", "/ready")
CORRELATION_HEADER = "X-Correlation-ID"
VERSION_HEADERS = ("Server", "X-Powered-By")
MAX_ANSWER_BYTES = 1024 * 1024
_VERSION_NUMBER = re.compile(r"\d")


def smoke_suite(
    base_url: str,
    *,
    service: str,
    version: str,
    ca_file: Path | None = None,
    timeout: float = 10.0,
    token: Callable[[], str] = lambda: secrets.token_hex(6),
) -> list[Step]:
    """Every check of the module's docstring against ``base_url`` (``https://HOST[:PORT]``), in order."""
    base = base_url.rstrip("/")
    client = http.Client(
        timeout_seconds=timeout,
        max_bytes=MAX_ANSWER_BYTES,
        verify=str(ca_file) if ca_file else True,
        follow_redirects=False,
        headers={"User-Agent": "qualisys-infra release", "Accept": "application/json"},
    )
    correlation = f"release-smoke-{token()}"
    with client:

        def get(path: str, **headers: str) -> http.Response | Step:
            try:
                return client.get(base + path, headers=headers or None)
            except http.HttpError as exc:
                return _unanswered(f"GET {path}", exc)

        steps = [_health(get(HEALTH_PATH))]
        greeting = get(GREETING_PATH, **{CORRELATION_HEADER: correlation})
        steps.append(_greeting(greeting, service, version))
        steps.append(_headers(greeting, correlation))
        missing = f"/qualisys-smoke-{token()}"
        steps.append(_not_found(missing, get(missing)))
        steps += [_internal(path, get(path)) for path in INTERNAL_PATHS]
    return steps


def _unanswered(name: str, exc: http.HttpError) -> Step:
    if exc.kind is http.Failure.TLS:
        return failed(name, f"HTTPS does not verify: {exc.cause}")
    if exc.kind in (http.Failure.CONNECT, http.Failure.TIMEOUT):
        return not_run(name, f"no answer: {exc}")
    return failed(name, str(exc))


def _status(response: http.Response) -> str:
    text = f"{response.status} {response.reason}".rstrip()
    where = response.headers.get("location")
    return text + (f" (redirect to {mask_url(where)})" if where else "")


def _json(response: http.Response) -> dict[str, Any] | None:
    try:
        return response.json_object()
    except http.HttpError:
        return None


def _health(answer: http.Response | Step) -> Step:
    name = f"GET {HEALTH_PATH}"
    if isinstance(answer, Step):
        return answer
    if answer.status != 200:
        return failed(name, f"answered {_status(answer)}, expected 200")
    body = _json(answer)
    if body is None or body.get("status") != "ok":
        return failed(name, f'answered 200 with {_shown(answer)}, expected {{"status": "ok"}}')
    return passed(name, '200 {"status": "ok"}')


def _greeting(answer: http.Response | Step, service: str, version: str) -> Step:
    name = f"GET {GREETING_PATH}"
    if isinstance(answer, Step):
        return answer
    if answer.status != 200:
        return failed(name, f"answered {_status(answer)}, expected 200")
    body = _json(answer)
    if body is None:
        return failed(name, f"answered 200 with {_shown(answer)}, expected a JSON object")
    wrong = [
        f"{key} {body.get(key)!r}, expected {expected!r}"
        for key, expected in (("service", service), ("version", version))
        if body.get(key) != expected
    ]
    if wrong:
        return failed(name, "answered " + "; ".join(wrong))
    return passed(name, f"200: {service} {version}")


def _headers(answer: http.Response | Step, correlation: str) -> Step:
    name = f"headers of GET {GREETING_PATH}"
    if isinstance(answer, Step):
        return not_run(name, f"no answer to look at ({answer.detail})")
    problems = []
    content_type = answer.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        problems.append(f"Content-Type {content_type or 'missing'!s}, expected application/json")
    echoed = answer.headers.get(CORRELATION_HEADER)
    if echoed != correlation:
        problems.append(f"{CORRELATION_HEADER} {echoed or 'missing'!s}, expected the one sent back")
    problems += [
        f"{header}: {value} names a software version"
        for header in VERSION_HEADERS
        if (value := answer.headers.get(header)) and _VERSION_NUMBER.search(value)
    ]
    if problems:
        return failed(name, "; ".join(problems))
    return passed(name, f"application/json, {CORRELATION_HEADER} echoed, no software version named")


def _not_found(path: str, answer: http.Response | Step) -> Step:
    name = "GET a path that does not exist"
    if isinstance(answer, Step):
        return Step(name, answer.verdict, answer.detail)
    if answer.status == 404:
        return passed(name, f"{path}: 404")
    why = "an error of the service" if answer.status >= 500 else "expected 404"
    return failed(name, f"{path}: answered {_status(answer)}, {why}")


def _internal(path: str, answer: http.Response | Step) -> Step:
    name = f"GET {path} is not public"
    if isinstance(answer, Step):
        return Step(name, answer.verdict, answer.detail)
    if answer.status == 404:
        return passed(name, "404 on the public address")
    if 200 <= answer.status < 300:
        return failed(name, f"answered {answer.status}: reachable from the internet, expected 404")
    return failed(name, f"answered {_status(answer)}, expected 404")


def _shown(response: http.Response) -> str:
    text = " ".join(response.text.split())
    return repr(text[:80] + ("..." if len(text) > 80 else "")) if text else "an empty body"


__all__ = ["INTERNAL_PATHS", "smoke_suite"]
