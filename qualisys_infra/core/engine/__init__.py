"""The engine seam: the only place that imports CDK Terrain (``cdktn``) and ``constructs``.

Stacks and constructs import the engine from here (``from qualisys_infra.core.engine import ...``) and
the provider bindings from :mod:`qualisys_infra.core.engine.aws`, so that the engine can be swapped in
one place (for instance back to cdktf 0.21, whose API is the same). Importing this package starts
the jsii runtime in Node.js: the CLI imports it lazily, after pointing ``JSII_NODE`` at Node 22.
"""

from __future__ import annotations

from cdktn import (
    App,
    Fn,
    LocalBackend,
    S3Backend,
    TerraformDataSource,
    TerraformElement,
    TerraformIterator,
    TerraformOutput,
    TerraformResource,
    TerraformResourceLifecycle,
    TerraformStack,
    TerraformVariable,
    TerraformVariableValidationConfig,
    Token,
)
from constructs import Construct, Node

ENGINE_NAME = "cdktn"

# S3-native locking (`use_lockfile`) needs Terraform/OpenTofu 1.10+; the engine refuses to
# synthesize it unless the project declares that it targets those versions (cdktf.json carries the
# same `targetVersions` for `cdktn synth`).
TARGET_VERSIONS = {"terraform": ">=1.10.0", "opentofu": ">=1.10.0"}
REQUIRED_TERRAFORM_VERSION = ">= 1.10.0"

__all__ = [
    "ENGINE_NAME",
    "REQUIRED_TERRAFORM_VERSION",
    "TARGET_VERSIONS",
    "App",
    "Construct",
    "Fn",
    "LocalBackend",
    "Node",
    "S3Backend",
    "TerraformDataSource",
    "TerraformElement",
    "TerraformIterator",
    "TerraformOutput",
    "TerraformResource",
    "TerraformResourceLifecycle",
    "TerraformStack",
    "TerraformVariable",
    "TerraformVariableValidationConfig",
    "Token",
]
