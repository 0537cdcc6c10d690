"""Where alerts go: Alertmanager's routes and receivers, and how Alertmanager picks a receiver. Pure.

Every alert reaches the environment's SNS topic (``<name>-alerts``, which mails ``alert_emails``),
through one receiver per severity so each has its own cadence: ``critical`` at once and every hour
while it fires, ``warning`` every 4 hours, anything else (``info`` and unlabelled alerts) twice a day.
No route ends at a receiver without an integration: kube-prometheus-stack's default configuration
sends everything to its ``null`` receiver (issue 23: alerts reached nobody), and this configuration
replaces it whole. Alertmanager publishes with the AWS SDK's default credentials, which in the pod are
its IRSA role's (allowed ``sns:Publish`` on this topic only).

The chart's two always-firing alerts are turned off (``defaultRules.disabled``): ``Watchdog`` (a
dead man's switch needs a service that expects it, and the chart routed it to ``null``) and
``InfoInhibitor`` (it exists to silence ``info`` alerts; here they go to the slow receiver instead).

:func:`receiver_for` walks the route tree as Alertmanager does (``dispatch/route.go``): a route
matches when all its matchers do; the first matching child takes the alert unless it has
``continue: true``; a route whose children all miss takes it itself; the root matches everything.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from modules.alert_rules import alert_rules

SEVERITY_LABEL = "severity"
# The chart's default rules that always fire, by design; turned off (see the module docstring).
ALWAYS_FIRING_DEFAULT_RULES = ("Watchdog", "InfoInhibitor")


@dataclass(frozen=True, slots=True)
class Cadence:
    """How a receiver batches: wait before the first notice, between notices of a changing group, and
    before repeating an unchanged one."""

    group_wait: str
    group_interval: str
    repeat_interval: str


# receiver name -> (the severity it takes, its cadence); "" is the catch-all at the root.
RECEIVERS: Mapping[str, tuple[str, Cadence]] = {
    "sns-critical": ("critical", Cadence("10s", "1m", "1h")),
    "sns-warning": ("warning", Cadence("30s", "5m", "4h")),
    "sns-other": ("", Cadence("1m", "10m", "12h")),
}
DEFAULT_RECEIVER = "sns-other"


def alertmanager_config(*, topic_arn: str, region: str, environment: str) -> dict[str, Any]:
    """Alertmanager's whole configuration: global settings, the chart's inhibit rules, one route per
    severity under a root that catches the rest, and one SNS receiver per route."""
    routes = []
    for receiver, (severity, cadence) in RECEIVERS.items():
        if not severity:
            continue
        routes.append(
            {
                "receiver": receiver,
                "matchers": [f'{SEVERITY_LABEL}="{severity}"'],
                "group_wait": cadence.group_wait,
                "group_interval": cadence.group_interval,
                "repeat_interval": cadence.repeat_interval,
            }
        )
    root = RECEIVERS[DEFAULT_RECEIVER][1]
    return {
        "global": {"resolve_timeout": "5m"},
        # A critical alert silences the warning and info alerts of the same alert and namespace, a
        # warning the info ones (the chart's defaults, less InfoInhibitor's).
        "inhibit_rules": [
            {
                "source_matchers": [f'{SEVERITY_LABEL}="critical"'],
                "target_matchers": [f'{SEVERITY_LABEL}=~"warning|info"'],
                "equal": ["namespace", "alertname"],
            },
            {
                "source_matchers": [f'{SEVERITY_LABEL}="warning"'],
                "target_matchers": [f'{SEVERITY_LABEL}="info"'],
                "equal": ["namespace", "alertname"],
            },
        ],
        "route": {
            "receiver": DEFAULT_RECEIVER,
            "group_by": ["alertname", "namespace"],
            "group_wait": root.group_wait,
            "group_interval": root.group_interval,
            "repeat_interval": root.repeat_interval,
            "routes": routes,
        },
        "receivers": [
            {
                "name": receiver,
                "sns_configs": [
                    {
                        "topic_arn": topic_arn,
                        "sigv4": {"region": region},
                        "subject": f"[{environment}] {severity or 'alert'}: {{{{ .CommonLabels.alertname }}}}",
                        "send_resolved": True,
                    }
                ],
            }
            for receiver, (severity, _cadence) in RECEIVERS.items()
        ],
        "templates": ["/etc/alertmanager/config/*.tmpl"],
    }


# --- the route walk ----------------------------------------------------------------------------------

_MATCHER = re.compile(r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*$')


def _matches(matcher: str, labels: Mapping[str, str]) -> bool:
    """One matcher of Alertmanager's syntax (``name="value"``, ``=~``, ``!=``, ``!~``); regular
    expressions are anchored at both ends, as Alertmanager's are; a missing label is the empty string."""
    m = _MATCHER.match(matcher)
    if m is None:
        raise ValueError(f"not an Alertmanager matcher: {matcher!r}")
    name, op, value = m.groups()
    actual = labels.get(name, "")
    if op == "=":
        return actual == value
    if op == "!=":
        return actual != value
    found = re.fullmatch(value, actual) is not None
    return found if op == "=~" else not found


def _route_matches(route: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    for key in ("match", "match_re"):
        if route.get(key):
            raise ValueError(f"route uses the deprecated {key!r}: write matchers")
    return all(_matches(m, labels) for m in route.get("matchers") or ())


def receivers_for(route: Mapping[str, Any], labels: Mapping[str, str], inherited: str = "") -> list[str]:
    """The receivers an alert with ``labels`` is sent to, walking ``route`` (the tree's root) as
    Alertmanager does; a route without ``receiver`` inherits its parent's."""
    receiver = str(route.get("receiver") or inherited)
    found: list[str] = []
    for child in route.get("routes") or ():
        if _route_matches(child, labels):
            found += receivers_for(child, labels, receiver)
            if not child.get("continue", False):
                break
    return found or [receiver]


def receiver_for(config: Mapping[str, Any], labels: Mapping[str, str]) -> list[str]:
    """The receivers of an alert with ``labels`` under Alertmanager configuration ``config``."""
    return receivers_for(config["route"], labels)


def silent_receivers(config: Mapping[str, Any]) -> list[str]:
    """The receivers that notify nobody: no integration at all (the chart's ``null``)."""
    return [
        r["name"] for r in config.get("receivers") or () if not any(key.endswith("_configs") and r[key] for key in r)
    ]


def rule_labels(project: str, extra: Sequence[Mapping[str, str]] = ()) -> list[dict[str, str]]:
    """The labels of every alert the platform defines in ``project``'s clusters (``modules.alert_rules``),
    plus ``extra``."""
    rules = alert_rules(project)
    return [{"alertname": rule.name, SEVERITY_LABEL: rule.severity} for rule in rules] + [dict(x) for x in extra]


def alerts_reaching_nobody(config: Mapping[str, Any], alerts: Sequence[Mapping[str, str]]) -> list[str]:
    """One line per alert (by its labels) that some route sends to a receiver that is not defined or
    that notifies nobody."""
    defined = {r["name"] for r in config.get("receivers") or ()}
    silent = set(silent_receivers(config))
    problems = []
    for labels in alerts:
        for receiver in receiver_for(config, labels):
            shown = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))
            if receiver not in defined:
                problems.append(f"alert {{{shown}}} ends at receiver {receiver!r}, which is not defined")
            elif receiver in silent:
                problems.append(f"alert {{{shown}}} ends at receiver {receiver!r}, which notifies nobody")
    return problems
