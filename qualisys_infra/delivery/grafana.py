"""Grafana's HTTP API, as the monitoring sign-off reads it: the dashboard search and Prometheus
queried through Grafana's datasource proxy (``/api/ds/query`` data frames).

A service-account token (Bearer, the Viewer role), through the toolkit's one HTTP client: each
request within ``timeout`` in all, at most 32 MiB, redirects not followed. Every failure is a
one-line :class:`GrafanaError` that names what to fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qualisys_infra.core import http
from qualisys_infra.core.errors import ToolkitError
from qualisys_infra.core.masking import mask_url

MAX_ANSWER_BYTES = 32 * 1024 * 1024  # of one Grafana answer


class GrafanaError(ToolkitError):
    """Grafana refused or did not answer."""


class Grafana:
    """Grafana's HTTP API with a service-account token (Bearer), through the toolkit's one HTTP
    client: each request within ``timeout`` in all, at most 32 MiB, redirects not followed."""

    def __init__(self, url: str, token: str, *, timeout: float, ca_file: Path | None = None):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.http = http.Client(
            timeout_seconds=timeout,
            max_bytes=MAX_ANSWER_BYTES,
            verify=str(ca_file) if ca_file else True,
            follow_redirects=False,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "User-Agent": "qualisys-infra signoff",
            },
        )

    def close(self) -> None:
        self.http.close()

    def request(
        self, method: str, path: str, *, params: Mapping[str, str] | None = None, json: Any = None
    ) -> tuple[int, Any]:
        """``(status, JSON body)``; a refused token, a missing right, a network failure, a redirect
        and an answer that is not JSON raise :class:`GrafanaError`."""
        what = f"{method} {path}"
        try:
            response = self.http.request(method, self.url + path, params=params, json=json)
        except http.HttpError as exc:
            if exc.kind is http.Failure.CONNECT:
                raise GrafanaError(f"{what}: cannot reach {mask_url(self.url)} ({exc.cause})") from None
            raise GrafanaError(f"{what}: {exc}") from None
        if response.status == 401:
            raise GrafanaError(
                f"{what}: 401 Unauthorized: the token in $GRAFANA_TOKEN was refused"
                " (expired, revoked, or for another Grafana)"
            )
        if response.status == 403:
            raise GrafanaError(
                f"{what}: 403 Forbidden: the token's service account needs the Viewer role{_grafana_message(response)}"
            )
        if 300 <= response.status < 400:
            raise GrafanaError(
                f"{what}: redirected to {mask_url(response.headers.get('location', '?'))}"
                " (is --grafana-url Grafana's own address?)"
            )
        try:
            body = response.json()
        except http.HttpError:
            raise GrafanaError(
                f"{what}: HTTP {response.status}, an answer that is not JSON (is --grafana-url Grafana?)"
            ) from None
        return response.status, body


def _grafana_message(response: http.Response) -> str:
    try:
        body = response.json()
    except http.HttpError:
        return ""
    message = body.get("message") if isinstance(body, dict) else None
    return f": {' '.join(message.split())[:200]}" if isinstance(message, str) and message.strip() else ""


def metric_queries(namespace: str) -> dict[str, str]:
    """The dashboard's CPU and memory expressions, narrowed to ``namespace``, by pod."""
    selector = f'namespace="{namespace}", container!=""'
    return {
        "cpu": f"sum by (namespace, pod) (rate(container_cpu_usage_seconds_total{{{selector}}}[5m]))",
        "memory": f"sum by (namespace, pod) (container_memory_working_set_bytes{{{selector}}})",
    }


@dataclass(frozen=True, slots=True)
class Series:
    pods: frozenset[str]
    newest_ms: float | None  # newest sample with a value, epoch milliseconds


def frame_series(result: Mapping[str, Any], namespace: str) -> Series:
    """Pods with a value in the data frames of one ``/api/ds/query`` result, and the newest sample."""
    pods: set[str] = set()
    newest: float | None = None
    for frame in result.get("frames") or []:
        if not isinstance(frame, dict):
            continue
        schema = frame.get("schema") if isinstance(frame.get("schema"), dict) else {}
        fields = schema.get("fields") if isinstance(schema, dict) else None
        data = frame.get("data") if isinstance(frame.get("data"), dict) else {}
        values = data.get("values") if isinstance(data, dict) else None
        if not isinstance(fields, list) or not isinstance(values, list) or len(values) != len(fields):
            continue
        times = next((values[i] for i, f in enumerate(fields) if isinstance(f, dict) and f.get("type") == "time"), None)
        for i, f in enumerate(fields):
            if not isinstance(f, dict) or f.get("type") != "number" or not isinstance(values[i], list):
                continue
            labels = f.get("labels") if isinstance(f.get("labels"), dict) else {}
            if not isinstance(labels, dict) or labels.get("namespace") != namespace or not labels.get("pod"):
                continue
            present = [j for j, v in enumerate(values[i]) if isinstance(v, int | float)]
            if not present:
                continue
            pods.add(str(labels["pod"]))
            if isinstance(times, list):
                stamps = [times[j] for j in present if j < len(times) and isinstance(times[j], int | float)]
                if stamps:
                    newest = max(stamps) if newest is None else max(newest, *stamps)
    return Series(frozenset(pods), newest)
