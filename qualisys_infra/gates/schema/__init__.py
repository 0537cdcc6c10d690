"""The provider-schema gate: Terraform JSON checked against the schemas the bindings carry.

Terraform core loads the JSON without knowing the providers' schemas (those come with the provider
binaries), so a misspelled or wrongly cased attribute would pass until ``terraform plan``. The
bindings' jsii assemblies hold those schemas; :mod:`.index` extracts and caches them once per
install, :mod:`.check` checks a configuration against them.

    report = check_config(json.loads(path.read_text()), stack="dev-network")
    report.raise_for_violations()      # SchemaError (exit code 1), one line per violation
"""

from qualisys_infra.gates.schema.check import (
    SchemaError,
    SchemaReport,
    SchemaViolation,
    UntypedLevel,
    assert_matches_provider_schema,
    check_config,
    check_configs,
)
from qualisys_infra.gates.schema.index import (
    DEFAULT_CACHE_DIR,
    SchemaCacheError,
    SchemaIndex,
    ensure_indexes,
    forget_loaded,
    installed_bindings,
    load_index,
)

__all__ = [
    "DEFAULT_CACHE_DIR",
    "SchemaCacheError",
    "SchemaError",
    "SchemaIndex",
    "SchemaReport",
    "SchemaViolation",
    "UntypedLevel",
    "assert_matches_provider_schema",
    "check_config",
    "check_configs",
    "ensure_indexes",
    "forget_loaded",
    "installed_bindings",
    "load_index",
]
