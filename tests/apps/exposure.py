"""What a service's objects expose to the internet, read the way traffic flows: ingress rule → Service
port → the container port it targets. Readiness and metrics must never be on that path; the probe
and the PodMonitor must find them on the internal port.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modules.apps.objects import INTERNAL_PORT_NAME, METRICS_PATH, PUBLIC_PORT_NAME, READY_PATH

Obj = Mapping[str, Any]


def _container(objects: Mapping[str, Obj]) -> Obj:
    (rollout,) = [o for o in objects.values() if o["kind"] == "Rollout"]
    (container,) = rollout["spec"]["template"]["spec"]["containers"]
    result: Obj = container
    return result


def _port_names(container: Obj) -> dict[str, int]:
    return {p["name"]: p["containerPort"] for p in container.get("ports", [])}


def _target(port: Any, names: Mapping[str, int]) -> str | None:
    """The container port's name a Service's ``targetPort`` (a name or a number) lands on."""
    if isinstance(port, str):
        return port if port in names else None
    return next((name for name, number in names.items() if number == port), None)


def exposure_problems(objects: Mapping[str, Obj]) -> list[str]:
    """Every way the objects put readiness or metrics within reach of a Service or the ingress, or
    leave the probe and the scrape without the internal port; one line each."""
    problems: list[str] = []
    container = _container(objects)
    names = _port_names(container)
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    if INTERNAL_PORT_NAME not in names:
        problems.append(f"the container has no {INTERNAL_PORT_NAME!r} port")
    elif names.get(PUBLIC_PORT_NAME) == names[INTERNAL_PORT_NAME]:
        problems.append("the internal port is the public port")
    if env.get("PORT") != str(names.get(PUBLIC_PORT_NAME)):
        problems.append(f"PORT is {env.get('PORT')!r}, the {PUBLIC_PORT_NAME!r} port is {names.get(PUBLIC_PORT_NAME)}")
    if env.get("INTERNAL_PORT") != str(names.get(INTERNAL_PORT_NAME)):
        problems.append(
            f"INTERNAL_PORT is {env.get('INTERNAL_PORT')!r}, the {INTERNAL_PORT_NAME!r} port is "
            f"{names.get(INTERNAL_PORT_NAME)}: the service would serve /ready and /metrics on its public port"
        )
    readiness = container.get("readinessProbe", {}).get("httpGet", {})
    if readiness.get("path") != READY_PATH or readiness.get("port") != INTERNAL_PORT_NAME:
        problems.append(f"the readiness probe asks {readiness.get('path')} on {readiness.get('port')!r}")
    for monitor in (o for o in objects.values() if o["kind"] == "PodMonitor"):
        for endpoint in monitor["spec"]["podMetricsEndpoints"]:
            if endpoint.get("path") != METRICS_PATH or endpoint.get("port") != INTERNAL_PORT_NAME:
                problems.append(f"the PodMonitor scrapes {endpoint.get('path')} on {endpoint.get('port')!r}")
    services = {o["metadata"]["name"]: o for o in objects.values() if o["kind"] == "Service"}
    for name, service in services.items():
        for port in service["spec"]["ports"]:
            if _target(port.get("targetPort"), names) != PUBLIC_PORT_NAME:
                problems.append(f"Service {name} port {port.get('port')} targets {port.get('targetPort')!r}")
    for ingress in (o for o in objects.values() if o["kind"] == "Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]["name"]
                if backend not in services:
                    problems.append(f"ingress path {path['path']} goes to {backend}, which is not the service's")
    return problems
