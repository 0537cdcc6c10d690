"""What CloudTrail records (story 0.1 AC9, 0.7 AC5; the spec: "all AWS API calls"): every management
event, reads included, and every object read and write in the Terraform state bucket."""

from __future__ import annotations

from typing import Any

from tests.conftest import Synthesized
from tests.synth.helpers import one

STACK = "account"


def _selectors(synthesized: Synthesized) -> dict[str, list[dict[str, Any]]]:
    trail = one(synthesized.resources(STACK, "aws_cloudtrail"))
    assert "event_selector" not in trail, "basic and advanced event selectors cannot be combined"
    return {s["name"]: s["field_selector"] for s in trail["advanced_event_selector"]}


def test_every_management_event_is_recorded_reads_and_writes(synthesized: Synthesized) -> None:
    management = _selectors(synthesized)["Every management event"]
    # No readOnly field (and nothing else narrowing it): reads such as GetSecretValue are recorded too.
    assert management == [{"field": "eventCategory", "equals": ["Management"]}]


def test_every_object_read_and_write_in_the_state_bucket_is_recorded(synthesized: Synthesized) -> None:
    data = _selectors(synthesized)["Object reads and writes in the named buckets"]
    by_field = {f["field"]: f for f in data}
    assert sorted(by_field) == ["eventCategory", "resources.ARN", "resources.type"]
    assert by_field["eventCategory"]["equals"] == ["Data"]
    assert by_field["resources.type"]["equals"] == ["AWS::S3::Object"]
    state_bucket = synthesized.settings.account.state_bucket_name
    (prefix,) = by_field["resources.ARN"]["starts_with"]
    assert prefix.startswith("arn:${data.aws_partition.") and prefix.endswith(f":s3:::{state_bucket}/")
    assert "readOnly" not in by_field, "reads and writes both"
