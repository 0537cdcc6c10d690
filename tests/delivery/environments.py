"""Sets of environments for the delivery cross-checks, and the account-wide stacks synthesized for one.

The account and github stacks are the only stacks that read every environment (``Settings.deliveries``),
so a set of environments that is not on disk is checked by synthesizing those two alone, in-process,
from ``environments/account.tfvars`` and the deliveries given (a few seconds once the engine runs).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from qualisys_infra.core.settings import Delivery, EnvironmentDelivery, Settings

PIPELINE, MANUAL = Delivery.PIPELINE, Delivery.MANUAL
# Today's three, as the defaults keep them: dev by hand, staging by CI, production by CI after a review.
TODAY = (
    EnvironmentDelivery(name="dev", region="us-east-1", delivery=MANUAL, approval=False),
    EnvironmentDelivery(name="staging", region="us-east-1", delivery=PIPELINE, approval=False),
    EnvironmentDelivery(name="production", region="us-east-1", delivery=PIPELINE, approval=True),
)
# A generated set: the three, a reviewed `qa` in another region and a `sandbox` applied by hand.
GENERATED = (
    *TODAY,
    EnvironmentDelivery(name="qa", region="eu-west-1", delivery=PIPELINE, approval=True),
    EnvironmentDelivery(name="sandbox", region="us-east-1", delivery=MANUAL, approval=False),
)
SETS = {"today": TODAY, "generated": GENERATED}


def synth_account_stacks(
    settings: Settings, deliveries: tuple[EnvironmentDelivery, ...], outdir: Path
) -> dict[str, Any]:
    """The account and github stacks of ``settings`` with ``deliveries``, synthesized into ``outdir``:
    stack name -> parsed Terraform JSON."""
    from qualisys_infra.core.engine import TARGET_VERSIONS, App
    from stacks.account import AccountStack
    from stacks.github import GithubStack

    settings = dataclasses.replace(settings, deliveries=deliveries)
    app = App(outdir=str(outdir), context={"targetVersions": TARGET_VERSIONS})
    account = AccountStack(app, account=settings.account, deliveries=settings.deliveries)
    github = GithubStack(
        app, account=settings.account, deliveries=settings.deliveries, pipeline_outputs=account.pipeline_outputs
    )
    github.add_dependency(account)
    app.synth()
    return {
        name: json.loads((outdir / "stacks" / name / "cdk.tf.json").read_text(encoding="utf-8"))
        for name in ("account", "github")
    }
