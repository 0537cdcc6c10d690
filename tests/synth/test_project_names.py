"""Names follow the ``project`` setting: another project's environment synthesizes without ``qualisys``.

The repository's settings are copied with every ``qualisys`` replaced by ``acme`` (the project, the
buckets, roles, repositories, hosts, tags), and one environment is synthesized in-process: whatever
``qualisys`` is left in its stacks was written by the toolkit's own code. Two are kept on purpose:
the Kubernetes label domain ``qualisys.io/`` (a DNS prefix the organisation owns, shared with the
test pool's node label in ``core/playwright_pool.py``, not a name of this project's resources) and
the runbooks' web address (``modules/alert_rules.py``), beside the toolkit's own name in descriptions.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from qualisys_infra.config import load_settings
from qualisys_infra.core.settings import Settings
from tests.conftest import ENV_DIR, ENVIRONMENT_NAMES, ROOT

ENVIRONMENT = "staging"  # a pipeline environment: release role, ci-deployer, isolation checks
# What may say qualisys in another project's stacks, and why (the module docstring).
KEPT = (
    re.compile(r"qualisys\.io/"),  # the label domain
    re.compile(r"https://runbooks\.qualisys\.dev/"),  # the runbooks' address
    re.compile(r"qualisys-infra"),  # the toolkit's name, in descriptions
    re.compile(r"qualisys_infra/"),  # the toolkit's source, in a check's message
)
STACK_KINDS = ("network", "cluster", "data", "platform", "apps")


def _acme_settings(folder: Path) -> Settings:
    """The repository's settings with ``acme`` for ``qualisys``. The settings' rules still want ECR
    repositories named ``qualisys-*`` (config/rules.py ``_ECR_REPO``), so those are renamed after loading."""
    for source in ENV_DIR.glob("*.tfvars"):
        lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
        text = "".join(
            line if line.startswith("ecr_repositories") else line.replace("qualisys", "acme") for line in lines
        )
        (folder / source.name).write_text(text, encoding="utf-8")
    settings = load_settings(folder, ENVIRONMENT_NAMES, root=ROOT)
    account = replace(
        settings.account,
        ecr_repositories=tuple(name.replace("qualisys", "acme") for name in settings.account.ecr_repositories),
    )
    assert account.project == "acme"
    return Settings(
        account=account,
        environments=tuple(e for e in settings.environments if e.environment == ENVIRONMENT),
        deliveries=settings.deliveries,
    )


def leftovers(text: str) -> list[str]:
    """Each ``qualisys`` in ``text`` that :data:`KEPT` does not explain, with some context."""
    for kept in KEPT:
        text = kept.sub("", text)
    return [text[max(0, m.start() - 60) : m.end() + 30] for m in re.finditer("qualisys", text, re.IGNORECASE)]


def test_leftovers_finds_a_planted_name() -> None:
    text = json.dumps({"name": "acme-readonly", "labels": {"qualisys.io/node-pool": "general"}})
    assert leftovers(text) == []
    assert leftovers(text.replace("acme-readonly", "qualisys-readonly")) == [
        '{"name": "qualisys-readonly", "labels": {"node-p'
    ]


@pytest.fixture(scope="module")
def acme_stacks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment's five stacks, built as the synth builds them (without the account-wide ones)."""
    from qualisys_infra.core.engine import TARGET_VERSIONS, App
    from stacks.apps import AppsStack
    from stacks.cluster import ClusterStack
    from stacks.data import DataStack
    from stacks.network import NetworkStack
    from stacks.platform import ClusterPlatformStack

    settings = _acme_settings(tmp_path_factory.mktemp("environments"))
    account, (env,) = settings.account, settings.environments
    outdir = tmp_path_factory.mktemp("acme") / "cdktf.out"
    app = App(outdir=str(outdir), context={"targetVersions": TARGET_VERSIONS})
    network = NetworkStack(app, account=account, env=env).network
    cluster = ClusterStack(app, account=account, env=env, network=network).eks
    DataStack(app, account=account, env=env, network=network, cluster=cluster)
    platform = ClusterPlatformStack(app, account=account, env=env, network=network, cluster=cluster)
    AppsStack(app, account=account, env=env, cluster=cluster, edge=platform.edge)
    app.synth()
    return {
        kind: (outdir / "stacks" / f"{ENVIRONMENT}-{kind}" / "cdk.tf.json").read_text(encoding="utf-8")
        for kind in STACK_KINDS
    }


@pytest.mark.parametrize("kind", STACK_KINDS)
def test_another_project_leaves_no_qualisys_in_its_stacks(acme_stacks: dict[str, str], kind: str) -> None:
    assert leftovers(acme_stacks[kind]) == []


def test_another_project_names_its_own(acme_stacks: dict[str, str]) -> None:
    """The names derived from the project really carry it (not merely lost the old one)."""
    platform = acme_stacks["platform"]
    for name in ("acme-readonly", "acme:readonly", "acme-namespace-admin", "acme-cluster", "acme.rules"):
        assert name in platform, name
    assert "acme_log_error_lines_total" in platform and "acme_log_metrics" in platform
    data = json.loads(acme_stacks["data"])
    (db,) = data["resource"]["aws_db_instance"].values()
    assert (db["db_name"], db["username"]) == ("acme_master", "acme_admin")
    assert '"app.kubernetes.io/part-of": "acme"' in acme_stacks["apps"]


@pytest.mark.parametrize(
    ("project", "database", "user"),
    [
        ("qualisys", "qualisys_master", "qualisys_admin"),
        ("acme-x", "acme_x_master", "acme_x_admin"),
        ("a-project-of-21-chars", "a_project_of_21_chars_master", "a_project_admin"),
    ],
)
def test_the_database_names_fit_what_rds_accepts(project: str, database: str, user: str) -> None:
    """RDS PostgreSQL: a database name of letters, digits and _ (a letter first), a master user of at
    most 16 such characters; a project name may have - and 21 characters."""
    from modules.database import database_name, master_username

    assert (database_name(project), master_username(project)) == (database, user)
    assert re.fullmatch(r"[a-z][a-z0-9_]{0,15}", master_username(project))
    assert re.fullmatch(r"[a-z][a-z0-9_]{0,62}", database_name(project))
