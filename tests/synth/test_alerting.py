"""Alerts reach people (issue 23, item 2): Alertmanager routes every alert rule, the platform's and the
chart's defaults, to an SNS receiver of the environment's topic, by severity; none ends at a receiver
that notifies nobody (the chart's ``null``); Alertmanager publishes as an IRSA role allowed to publish
to that topic only."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml

from modules.alert_rules import alert_rules
from modules.platform.alerting import (
    ALWAYS_FIRING_DEFAULT_RULES,
    alerts_reaching_nobody,
    receiver_for,
    receivers_for,
    rule_labels,
    silent_receivers,
)
from qualisys_infra.core.settings import EnvironmentConfig
from tests.conftest import ENVIRONMENT_NAMES, ROOT, Synthesized
from tests.synth.helpers import ref, statements

DEFAULT_ALERTS = json.loads(
    (ROOT / "tests" / "fixtures" / "kube-prometheus-stack" / "default-alerts.json").read_text(encoding="utf-8")
)


@pytest.fixture(params=ENVIRONMENT_NAMES)
def env(request: pytest.FixtureRequest, synthesized: Synthesized) -> EnvironmentConfig:
    return next(e for e in synthesized.settings.environments if e.environment == request.param)


def _kps_values(synthesized: Synthesized, env: EnvironmentConfig) -> dict[str, Any]:
    releases = synthesized.resources(f"{env.environment}-platform", "helm_release").values()
    (release,) = [r for r in releases if r["name"] == "kube-prometheus-stack"]
    (text,) = release["values"]
    return dict(yaml.safe_load(text))


# The alert rules' names and severities are the same in every project's clusters.
PROJECT = "qualisys"
ALERT_RULES = alert_rules(PROJECT)


def _every_alert(values: dict[str, Any]) -> list[dict[str, str]]:
    """The labels of every alert rule the release installs: the platform's, and the chart's defaults
    that the values do not disable."""
    disabled = {name for name, off in (values.get("defaultRules", {}).get("disabled") or {}).items() if off}
    defaults = [
        {"alertname": a["alert"], "severity": a["severity"]} for a in DEFAULT_ALERTS if a["alert"] not in disabled
    ]
    return rule_labels(PROJECT, defaults)


def test_no_alert_rule_ends_at_a_receiver_that_notifies_nobody(
    synthesized: Synthesized, env: EnvironmentConfig
) -> None:
    values = _kps_values(synthesized, env)
    config = values["alertmanager"]["config"]
    alerts = _every_alert(values)
    assert len(alerts) == len(ALERT_RULES) + len(DEFAULT_ALERTS) - len(ALWAYS_FIRING_DEFAULT_RULES)
    assert alerts_reaching_nobody(config, alerts) == []
    assert silent_receivers(config) == [] and "null" not in {r["name"] for r in config["receivers"]}


def test_every_receiver_publishes_to_the_environment_alert_topic(
    synthesized: Synthesized, env: EnvironmentConfig
) -> None:
    config = _kps_values(synthesized, env)["alertmanager"]["config"]
    (topic,) = synthesized.resources(f"{env.environment}-platform", "aws_sns_topic")
    for receiver in config["receivers"]:
        (sns,) = receiver["sns_configs"]
        assert set(receiver) == {"name", "sns_configs"}, receiver
        assert ref(sns["topic_arn"]) == ("aws_sns_topic", topic, "arn")
        assert sns["sigv4"] == {"region": env.region}  # credentials: the pod's IRSA role
        assert sns["send_resolved"] is True


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        ({"alertname": "PodCrashLooping", "severity": "critical"}, "sns-critical"),
        ({"alertname": "ContainerCpuHigh", "severity": "warning"}, "sns-warning"),
        ({"alertname": "KubeQuotaAlmostFull", "severity": "info"}, "sns-other"),
        ({"alertname": "SomethingUnlabelled"}, "sns-other"),
    ],
)
def test_the_route_tree_sends_each_severity_to_its_receiver(
    synthesized: Synthesized, labels: dict[str, str], receiver: str
) -> None:
    env = next(e for e in synthesized.settings.environments if e.environment == "staging")
    config = _kps_values(synthesized, env)["alertmanager"]["config"]
    assert receiver_for(config, labels) == [receiver]
    cadence = {r["receiver"]: r["repeat_interval"] for r in config["route"]["routes"]}
    assert cadence == {"sns-critical": "1h", "sns-warning": "4h"}


def test_fails_if_a_route_sends_an_alert_to_null(synthesized: Synthesized) -> None:
    env = next(e for e in synthesized.settings.environments if e.environment == "staging")
    config = copy.deepcopy(_kps_values(synthesized, env)["alertmanager"]["config"])
    config["route"]["routes"].insert(0, {"receiver": "null", "matchers": ['alertname="PodCrashLooping"']})
    config["receivers"].append({"name": "null"})
    assert alerts_reaching_nobody(config, rule_labels(PROJECT)) == [
        "alert {alertname=PodCrashLooping, severity=critical} ends at receiver 'null', which notifies nobody"
    ]


def test_fails_if_the_chart_default_configuration_were_kept() -> None:
    """kube-prometheus-stack's own default (values.yaml of the pinned chart): everything to "null"."""
    chart_default = {
        "route": {"receiver": "null", "routes": [{"receiver": "null", "matchers": ['alertname = "Watchdog"']}]},
        "receivers": [{"name": "null"}],
    }
    problems = alerts_reaching_nobody(chart_default, rule_labels(PROJECT))
    assert len(problems) == len(ALERT_RULES)
    assert all(p.endswith("ends at receiver 'null', which notifies nobody") for p in problems)


def test_fails_if_a_route_names_an_undefined_receiver(synthesized: Synthesized) -> None:
    env = next(e for e in synthesized.settings.environments if e.environment == "staging")
    config = copy.deepcopy(_kps_values(synthesized, env)["alertmanager"]["config"])
    config["route"]["routes"][0]["receiver"] = "pagerduty"
    problems = alerts_reaching_nobody(config, [{"alertname": "PodCrashLooping", "severity": "critical"}])
    assert problems == [
        "alert {alertname=PodCrashLooping, severity=critical} ends at receiver 'pagerduty', which is not defined"
    ]


def test_the_route_walk_follows_alertmanager() -> None:
    """First matching child wins unless it continues; children inherit the receiver; regular
    expressions are anchored; a missing label is empty."""
    tree = {
        "receiver": "root",
        "routes": [
            {"matchers": ['team=~"plat"'], "receiver": "plat"},
            {"matchers": ['severity="critical"'], "receiver": "page", "continue": True},
            {"matchers": ['severity=~"crit.*"'], "routes": [{"matchers": ['env!="dev"'], "receiver": "mail"}]},
            {"matchers": ['team!~"a|b"', 'severity="warning"'], "receiver": "chat"},
        ],
    }
    assert receivers_for(tree, {"team": "platform"}) == ["root"]  # "plat" is anchored
    assert receivers_for(tree, {"team": "plat"}) == ["plat"]
    assert receivers_for(tree, {"severity": "critical", "env": "prod"}) == ["page", "mail"]
    assert receivers_for(tree, {"severity": "critical", "env": "dev"}) == ["page", "root"]  # inherited
    assert receivers_for(tree, {"severity": "warning"}) == ["chat"]
    assert receivers_for(tree, {"severity": "warning", "team": "a"}) == ["root"]
    with pytest.raises(ValueError, match="deprecated 'match'"):
        receivers_for({"receiver": "x", "routes": [{"match": {"a": "b"}, "receiver": "y"}]}, {})


def test_the_always_firing_defaults_are_disabled_not_routed(synthesized: Synthesized, env: EnvironmentConfig) -> None:
    values = _kps_values(synthesized, env)
    assert values["defaultRules"]["disabled"] == {"Watchdog": True, "InfoInhibitor": True}
    names = {a["alert"] for a in DEFAULT_ALERTS}
    assert set(ALWAYS_FIRING_DEFAULT_RULES) <= names, "the fixture names the chart's always-firing rules"


def test_alertmanager_publishes_as_its_own_role_to_its_topic_only(
    synthesized: Synthesized, env: EnvironmentConfig
) -> None:
    stack = f"{env.environment}-platform"
    values = _kps_values(synthesized, env)
    account = values["alertmanager"]["serviceAccount"]
    assert account["create"] is True and account["name"] == "kps-alertmanager"
    roles = synthesized.resources(stack, "aws_iam_role")
    (role_name,) = [n for n, r in roles.items() if r["name"] == f"qualisys-{env.environment}-alertmanager-role"]
    assert ref(account["annotations"]["eks.amazonaws.com/role-arn"]) == ("aws_iam_role", role_name, "arn")
    documents = synthesized.data(stack, "aws_iam_policy_document")
    trust = statements(documents[ref(roles[role_name]["assume_role_policy"])[1]])["TrustedServiceAccount"]
    (sub,) = [c for c in trust["condition"] if c["variable"].endswith(":sub")]
    assert sub["values"] == ["system:serviceaccount:monitoring:kps-alertmanager"]
    (inline,) = [
        p for p in synthesized.resources(stack, "aws_iam_role_policy").values() if ref(p["role"])[1] == role_name
    ]
    granted = statements(documents[ref(inline["policy"])[1]])
    (topic,) = synthesized.resources(stack, "aws_sns_topic")
    assert granted["PublishAlerts"]["actions"] == ["sns:Publish"]
    assert granted["PublishAlerts"]["resources"] == [f"${{aws_sns_topic.{topic}.arn}}"]
    assert sorted(granted["EncryptAlertsWithTheTopicKey"]["actions"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert set(granted) == {"PublishAlerts", "EncryptAlertsWithTheTopicKey"}
    (policy,) = synthesized.resources(stack, "aws_sns_topic_policy").values()
    topic_policy = statements(documents[ref(policy["policy"])[1]])
    (principal,) = topic_policy["AlertmanagerPublishes"]["principals"]
    assert ref(principal["identifiers"][0]) == ("aws_iam_role", role_name, "arn")
    assert topic_policy["DenyInsecureTransport"]["effect"] == "Deny"


def test_the_alert_topic_is_encrypted_and_mails_the_settings_addresses(
    synthesized: Synthesized, env: EnvironmentConfig
) -> None:
    stack = f"{env.environment}-platform"
    (topic_name, topic), *_ = synthesized.resources(stack, "aws_sns_topic").items()
    assert topic["name"] == f"qualisys-{env.environment}-alerts"
    assert ref(topic["kms_master_key_id"])[0] == "aws_kms_key"
    subscriptions = synthesized.resources(stack, "aws_sns_topic_subscription").values()
    assert sorted(s["endpoint"] for s in subscriptions) == sorted(env.alert_emails)
    assert all(s["protocol"] == "email" and ref(s["topic_arn"])[1] == topic_name for s in subscriptions)
    assert env.alert_emails, "alerts reach at least one address"
