"""No dashboard panel, alert rule or rollout analysis reads a metric nothing produces.

The metric names of every PromQL expression in the synthesized stacks are checked against what the
producers really export: the PostgreSQL and Redis exporters and the hello service, scraped while they
run here (as the least-privileged identities the platform gives them), the log counters the
generated fluent-bit configuration defines, and, for kube-state-metrics and cAdvisor (which need a
Kubernetes API server), the documented names of :data:`~modules.platform.metrics_contract.CLUSTER_METRICS`.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping

import psycopg
import pytest
import redis
import yaml
from prometheus_client.parser import text_string_to_metric_families

from modules.platform.log_pipeline import log_metric_names
from modules.platform.metrics_contract import (
    APPLICATION_METRICS,
    CLUSTER_METRICS,
    SCRAPE_LABELS,
    SCRAPED_PREFIXES,
    MetricType,
)
from tests.conftest import Synthesized
from tests.observability.conftest import REDIS_URL, Hello, MonitoredDatabase, Producer, RedisUser
from tests.observability.promql import UncheckableSelector, metric_names, project, stack_expressions


def exported_names(exposition: str) -> set[str]:
    """Every series name in a Prometheus text exposition, as Prometheus stores it (a histogram's
    ``_bucket``, ``_sum``, ``_count``; a counter's name as written: prometheus_client's parser would
    add ``_total`` to counters that lack it, which Prometheus does not)."""
    return {
        re.split(r"[{\s]", line, maxsplit=1)[0]
        for line in exposition.splitlines()
        if line.strip() and not line.startswith("#")
    }


def unproduced(expressions: Iterable[tuple[str, str]], produced: Mapping[str, str]) -> list[str]:
    """One line per metric an expression reads that no producer exports."""
    problems = []
    for where, expr in expressions:
        try:
            names = metric_names(expr)
        except UncheckableSelector as exc:
            problems.append(f"{where}: {exc}")
            continue
        problems.extend(f"{where}: reads {name}, which no producer exports" for name in sorted(names - set(produced)))
    return problems


@pytest.fixture(scope="module")
def produced(postgres_exporter: Producer, redis_exporter: Producer, hello: Hello) -> dict[str, str]:
    """Every metric name some producer exports -> which producer."""
    names: dict[str, str] = {}
    for producer in (postgres_exporter, redis_exporter, hello.producer):
        for name in exported_names(producer.scrape()):
            names[name] = producer.name
    names.update(log_metric_names(project()))
    names.update(CLUSTER_METRICS)
    return names


@pytest.mark.synth
def test_every_metric_the_stacks_read_has_a_producer(synthesized: Synthesized, produced: dict[str, str]) -> None:
    expressions = stack_expressions(synthesized.stacks)
    # every environment's platform stack carries the rules and the three dashboards; the apps stack its analysis
    assert any(" rule " in where for where, _ in expressions)
    assert any(" dashboard database " in where for where, _ in expressions)
    assert any(" analysis " in where for where, _ in expressions)
    assert unproduced(expressions, produced) == []


@pytest.mark.synth
def test_fails_if_a_panel_reads_a_metric_nothing_exports(synthesized: Synthesized, produced: dict[str, str]) -> None:
    stacks = copy.deepcopy(synthesized.stacks)
    name, stack = next((n, s) for n, s in stacks.items() if n.endswith("-platform"))
    releases = stack["resource"]["helm_release"]
    address = next(a for a, r in releases.items() if r.get("name") == "kube-prometheus-stack")
    chart_values = yaml.safe_load(releases[address]["values"][0])
    dashboard = json.loads(chart_values["grafana"]["dashboards"][project()]["database"]["json"])
    dashboard["panels"][0]["targets"][0]["expr"] = "sum(qualisys_no_such_metric_total)"
    chart_values["grafana"]["dashboards"][project()]["database"]["json"] = json.dumps(dashboard)
    releases[address]["values"] = [yaml.safe_dump(chart_values)]
    problems = unproduced(stack_expressions({name: stack}), produced)
    assert problems == [
        f"{name} helm_release.{address} dashboard database panel {dashboard['panels'][0]['title']!r}: "
        "reads qualisys_no_such_metric_total, which no producer exports"
    ]


def test_fails_if_an_expression_selects_metrics_by_a_pattern(produced: dict[str, str]) -> None:
    assert unproduced([("planted", 'sum(rate({__name__=~"pg_.*"}[5m]))')], produced) == [
        'planted: sum(rate({__name__=~"pg_.*"}[5m])): selects metrics by a pattern of names'
    ]


def test_metric_names_are_read_from_every_part_of_an_expression() -> None:
    expr = (
        "histogram_quantile(0.95, sum by (le) (rate(a_bucket[5m]))) / on() group_left -b"
        ' or vector(1) + max_over_time((c)[5m:1m]) + {__name__="d"} unless label_replace(e, "x", "y", "z", ".*")'
    )
    assert metric_names(expr) == {"a_bucket", "b", "c", "d", "e"}


def test_documented_cluster_metrics_never_stand_in_for_a_producer_that_runs_here() -> None:
    """kube-state-metrics' and cAdvisor's names are listed only because they cannot be scraped here;
    a PostgreSQL, Redis or application name must come from a real scrape."""
    assert [name for name in CLUSTER_METRICS if name.startswith(SCRAPED_PREFIXES)] == []


def test_hello_follows_the_application_metrics_contract(hello: Hello) -> None:
    families = {family.name: family for family in text_string_to_metric_families(hello.producer.scrape())}
    for spec in APPLICATION_METRICS:
        # prometheus_client's parser names a counter's family without its _total
        family = families.get(spec.name.removesuffix("_total") if spec.type is MetricType.COUNTER else spec.name)
        assert family is not None, f"hello does not export {spec.name}"
        assert family.type == spec.type.value, spec.name
        samples = [s for s in family.samples if s.name in spec.series_names]
        assert samples, f"hello exports no sample of {spec.name}"
        for sample in samples:
            labels = set(sample.labels) - {"le"}
            assert labels == set(spec.labels), f"{sample.name}: labels {sorted(labels)}, contract {spec.labels}"
            assert not labels & set(SCRAPE_LABELS), "scrape-time labels are the monitor's, not the service's"
    routes = {s.labels["route"] for s in families["http_requests"].samples if "route" in s.labels}
    assert "<unmatched>" in routes and "/no-such-route" not in routes, "route is the template, never the raw path"


def test_postgres_exporter_reads_everything_as_pg_monitor_only(postgres_exporter: Producer) -> None:
    exposition = postgres_exporter.scrape()
    values = {s.name: s.value for f in text_string_to_metric_families(exposition) for s in f.samples if not s.labels}
    assert values["pg_up"] == 1
    assert values["pg_exporter_last_scrape_error"] == 0, "a collector failed: the role lacks a privilege it needs"
    assert "pg_stat_activity_count" in exported_names(exposition)


def test_monitoring_login_reads_no_tenant_data(monitored_database: MonitoredDatabase) -> None:
    db = monitored_database
    with psycopg.connect(db.url(db.user, db.password), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied for schema tenant_acme"):
            conn.execute("SELECT email FROM tenant_acme.customers")
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("CREATE TABLE public.x (id int)")
        row = conn.execute(
            "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls, rolconnlimit"
            " FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        assert row == (False, False, False, False, False, 3)
        granted = conn.execute(
            "SELECT array_agg(b.rolname ORDER BY b.rolname) FROM pg_auth_members m JOIN pg_roles b ON b.oid = m.roleid"
            " JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = current_user"
        ).fetchone()
        assert granted == (["pg_monitor"],)


def test_redis_exporter_reads_everything_as_its_acl_user(
    redis_exporter: Producer, redis_exporter_user: RedisUser
) -> None:
    exposition = redis_exporter.scrape()
    samples = {s.name: s for f in text_string_to_metric_families(exposition) for s in f.samples}
    assert samples["redis_up"].value == 1
    assert samples["redis_exporter_last_scrape_error"].value == 0
    assert {"redis_keyspace_hits_total", "redis_memory_used_bytes"} <= exported_names(exposition)
    client = redis.Redis.from_url(REDIS_URL)
    try:
        denied = [
            entry.get("object")
            for entry in client.acl_log(count=128)
            if str(entry.get("username")) == redis_exporter_user.name
        ]
    finally:
        client.close()
    assert denied == [], "the exporter ran a command or read a key its ACL denies"


def test_redis_exporter_user_reaches_no_key(redis_exporter_user: RedisUser) -> None:
    client = redis.Redis.from_url(REDIS_URL, username=redis_exporter_user.name, password=redis_exporter_user.password)
    try:
        for command in (
            ("GET", "tenant_acme:session"),
            ("KEYS", "*"),
            ("SCAN", "0"),
            ("CONFIG", "SET", "maxmemory", "1"),
            ("FLUSHALL",),
        ):
            with pytest.raises(redis.exceptions.NoPermissionError):
                client.execute_command(*command)  # type: ignore[no-untyped-call]
    finally:
        client.close()
