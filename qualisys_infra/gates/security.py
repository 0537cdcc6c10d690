"""The security gate: checkov over every synthesized stack, with waivers read from the code.

Run as ``checkov -d <copy> --framework terraform_json --skip-download -o json``. A failed check
passes the gate only when the resource carries a written waiver for that check id (see
``modules/waivers.py``); checkov's JSON runner has no inline suppression of its own.

Two quirks of checkov 3.3.30 are handled here rather than hidden:
- its ``terraform_json`` parser raises on ``terraform.required_version`` (a plain string), and then
  reports the whole file as a parsing error with zero checks; the gate scans a copy of each stack
  without that one key, and treats any remaining parsing error as a failure;
- results name resources ``resource.<name>`` (Python checks) or ``<type>.<name>`` (graph checks);
  both are resolved against the stack's own JSON.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qualisys_infra.core.errors import ToolkitError
from qualisys_infra.core.naming import WAIVER_KEY
from qualisys_infra.core.runtime import PROJECT_ROOT

LOCAL_CHECKOV = PROJECT_ROOT / ".tools" / "checkov" / "bin" / "checkov"


class ScannerError(ToolkitError):
    """checkov could not be run, or its output could not be read."""

    exit_code = 1


@dataclass(frozen=True, slots=True)
class ScanFinding:
    """One failed check on one resource, waived or not."""

    check_id: str
    check_name: str
    stack: str
    resource: str  # "<type>.<name>"
    waiver: str | None = None

    def __str__(self) -> str:
        return f"{self.stack}: {self.resource}: {self.check_id} {self.check_name}"


@dataclass(frozen=True, slots=True)
class ScanReport:
    """What checkov found over all stacks."""

    passed: int
    findings: tuple[ScanFinding, ...]
    parsing_errors: tuple[str, ...] = field(default=())

    @property
    def unwaived(self) -> tuple[ScanFinding, ...]:
        return tuple(f for f in self.findings if f.waiver is None)

    @property
    def waived(self) -> tuple[ScanFinding, ...]:
        return tuple(f for f in self.findings if f.waiver is not None)

    @property
    def ok(self) -> bool:
        return not self.unwaived and not self.parsing_errors


def find_checkov(explicit: str | None = None) -> str:
    """``explicit``, else the project's pinned checkov (``make setup``), else ``checkov`` on PATH."""
    if explicit:
        return explicit
    if LOCAL_CHECKOV.is_file():
        return str(LOCAL_CHECKOV)
    found = shutil.which("checkov")
    if found is None:
        raise ScannerError("scan: checkov not found: run `make setup` (installs it in .tools/checkov)")
    return found


def _scan_copy(outdir: Path, stacks: Iterable[str], target: Path) -> dict[str, dict[str, Any]]:
    configs: dict[str, dict[str, Any]] = {}
    for stack in stacks:
        config = json.loads((outdir / "stacks" / stack / "cdk.tf.json").read_text(encoding="utf-8"))
        configs[stack] = config
        scanned = json.loads(json.dumps(config))
        scanned.get("terraform", {}).pop("required_version", None)
        # checkov 3.3.30's terraform_json parser fails on import blocks (it reads their id as a
        # block); they only adopt existing objects and hold nothing its checks read.
        scanned.pop("import", None)
        folder = target / "stacks" / stack
        folder.mkdir(parents=True)
        (folder / "cdk.tf.json").write_text(json.dumps(scanned, indent=2), encoding="utf-8")
    return configs


def _locate(config: dict[str, Any], resource: str) -> tuple[str, dict[str, Any]] | None:
    """Find ``resource.<name>``, ``data.<name>`` or ``<type>.<name>`` in a stack."""
    prefix, _, name = resource.partition(".")
    block = "data" if prefix == "data" else "resource"
    for type_, items in (config.get(block) or {}).items():
        if name in items and prefix in (block, type_):
            return f"{'data.' if block == 'data' else ''}{type_}.{name}", items[name]
    return None


def scan(outdir: Path, stacks: Iterable[str], *, checkov: str | None = None) -> ScanReport:
    """Run checkov over ``outdir/stacks/<stack>`` for every stack and classify each failure."""
    binary = find_checkov(checkov)
    stacks = list(stacks)
    with tempfile.TemporaryDirectory(prefix="qualisys-scan-") as tmp:
        target = Path(tmp)
        configs = _scan_copy(outdir, stacks, target)
        env = {**os.environ, "LOG_LEVEL": "ERROR", "BC_SKIP_MAPPING": "TRUE"}
        try:
            result = subprocess.run(  # noqa: S603 - an argument list, no shell; the binary is ours
                [binary, "-d", str(target), "--framework", "terraform_json", "--skip-download", "-o", "json"],
                capture_output=True,
                text=True,
                env=env,
                timeout=900,
                check=False,
            )
        except OSError as exc:
            raise ScannerError(f"scan: cannot run {binary}: {exc}") from None
        # checkov exits 1 when a check fails; anything else with no JSON is its own failure.
        try:
            raw = json.loads(result.stdout)
        except ValueError:
            tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
            raise ScannerError(f"scan: checkov exited {result.returncode}: {tail[0]}") from None
    reports = raw if isinstance(raw, list) else [raw]
    passed = 0
    findings: list[ScanFinding] = []
    parsing_errors: list[str] = []
    checked: set[str] = set()  # the stacks checkov ran at least one check on
    for report in reports:
        if not isinstance(report, dict) or not isinstance(report.get("results"), dict):
            continue
        results = report["results"]
        passed += len(results.get("passed_checks") or [])
        parsing_errors += [str(p) for p in results.get("parsing_errors") or []]
        for check in [*(results.get("passed_checks") or []), *(results.get("failed_checks") or [])]:
            checked.add(Path(str(check.get("file_path", ""))).parent.name)
        for failed in results.get("failed_checks") or []:
            stack = Path(str(failed.get("file_path", ""))).parent.name
            located = _locate(configs.get(stack, {}), str(failed.get("resource", "")))
            address, body = located if located else (str(failed.get("resource")), {})
            waivers = (body.get("//") or {}).get(WAIVER_KEY) or {}
            if address.startswith("data."):  # the engine keeps data-source waivers at stack level
                node = (configs.get(stack, {}).get("//") or {}).get(WAIVER_KEY) or {}
                for part in address.split("."):  # stored nested: data -> type -> name -> check
                    node = node.get(part) or {} if isinstance(node, dict) else {}
                waivers = node
            findings.append(
                ScanFinding(
                    check_id=str(failed["check_id"]),
                    check_name=str(failed.get("check_name", "")),
                    stack=stack,
                    resource=address,
                    waiver=waivers.get(str(failed["check_id"])),
                )
            )
    # A gate that checked nothing must not pass: every stack needs checks of its own.
    # (A stack checkov could not parse is reported as a parsing error, which fails the gate too.)
    unparsed = {Path(p).parent.name for p in parsing_errors}
    unchecked = [s for s in stacks if s not in checked and s not in unparsed]
    if not stacks or unchecked:
        what = ", ".join(unchecked) if unchecked else "no stack"
        raise ScannerError(
            f"scan: checkov ran no check on {what} (exit {result.returncode}); the gate checked nothing there"
        )
    findings.sort(key=lambda f: (f.stack, f.resource, f.check_id))
    return ScanReport(passed=passed, findings=tuple(findings), parsing_errors=tuple(parsing_errors))
