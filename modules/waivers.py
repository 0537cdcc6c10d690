"""Written waivers for security-scanner findings, kept next to the resource they cover.

checkov's ``terraform_json`` runner has no inline suppression (bridgecrewio/checkov#4634), so a
waiver is written into the resource's ``"//"`` comment block, which Terraform and checkov ignore,
and the toolkit's security gate (``qualisys_infra.gates.security``) reads it back. The engine rewrites
the ``"//"`` block of data sources, so a data source's waiver goes into the stack's ``"//"`` block
under the data source's address instead. Every waiver needs a reason a reviewer can judge.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from qualisys_infra.core.engine import TerraformDataSource, TerraformElement, TerraformStack
from qualisys_infra.core.naming import WAIVER_KEY

_CHECK_ID = re.compile(r"^CKV2?_[A-Z0-9]+_\d+$")


def waive(element: TerraformElement, check_ids: str | Sequence[str], reason: str) -> None:
    """Record that ``check_ids`` do not apply to ``element`` (a resource or data source), and why.

    The address of a data source is read once per call (each read is a round trip to the engine).
    """
    checks = [check_ids] if isinstance(check_ids, str) else list(check_ids)
    for check_id in checks:
        if not _CHECK_ID.match(check_id):
            raise ValueError(f"not a checkov check id: {check_id!r}")
    if len(reason.strip()) < 20:
        raise ValueError(f"waiver of {', '.join(checks)} needs a reason a reviewer can judge, got {reason!r}")
    # One override per check: overrides of the same path replace each other.
    if isinstance(element, TerraformDataSource):
        address = f"data.{element.terraform_resource_type}.{element.friendly_unique_id}"
        stack = TerraformStack.of(element)
        for check_id in checks:
            stack.add_override(f"//.{WAIVER_KEY}.{address}.{check_id}", reason.strip())
    else:
        for check_id in checks:
            element.add_override(f"//.{WAIVER_KEY}.{check_id}", reason.strip())
