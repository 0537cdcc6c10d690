"""The bootstrap flow: apply the bootstrap stack with local state the first time, then move that
state into the bucket it created, so every stack has remote state with locking from day one.

:class:`BootstrapSession` is a context manager the command drives step by step (plan, show the
review, apply): the flow never calls back into the command line.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from types import TracebackType

from qualisys_infra.terraform.executable import Result
from qualisys_infra.terraform.review_record import check_reviewed, record_review
from qualisys_infra.terraform.runner import MISSING_BUCKET, StackRunner, StageError

BOOTSTRAP_OVERRIDE = "bootstrap_local_override.tf.json"


class BootstrapSession:
    """``with BootstrapSession(runner, stack, local_state) as session``: ``session.plan()`` returns
    the plan JSON to review; ``session.apply()`` re-reviews the saved plan (guardrails, exit 1 on a
    blocking finding), applies it and, the first time, migrates the state. The local-backend
    override file exists only inside the ``with`` block."""

    def __init__(self, runner: StackRunner, stack: str, local_state: Path) -> None:
        self.runner = runner
        self.stack = stack
        self.local_state = local_state
        self.override = runner.stack_dir(stack) / BOOTSTRAP_OVERRIDE
        self.first_run = local_state.is_file()
        self._local = runner

    def __enter__(self) -> BootstrapSession:
        if not self.first_run:
            try:
                self.runner.init(self.stack)
            except StageError as exc:
                if not MISSING_BUCKET.search(str(exc)):
                    raise
                self.first_run = True  # the state bucket does not exist yet
        if self.first_run:
            self.runner.progress(
                f"{self.stack}: first run, state kept locally in {self.local_state.name} until the bucket exists"
            )
            local = os.path.relpath(self.local_state, self.override.parent)
            self.override.write_text(
                json.dumps({"terraform": {"backend": {"local": {"path": local}}}}, indent=2), encoding="utf-8"
            )
            # The local backend takes none of the S3 backend's settings.
            self._local = replace(self.runner, backend_configs=())
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.override.unlink(missing_ok=True)

    def plan(self) -> Path:
        """Plan the bootstrap stack and record the review; returns the plan JSON."""
        as_json = self._local.plan(self.stack)
        record_review(self._local, self.stack, allowed=())
        return as_json

    def apply(self) -> str:
        """Apply exactly the reviewed plan, then migrate the state the first time; says what happened."""
        with tempfile.TemporaryDirectory(prefix="qualisys-bootstrap-") as work:
            checked = check_reviewed(self._local, self.stack, Path(work), command="bootstrap")
            self._local.apply(self.stack, checked)
        self.override.unlink(missing_ok=True)
        if not self.first_run:
            return "bootstrap applied; state was already in the bucket"
        self.runner.progress(f"{self.stack}: moving state into the bucket it created")
        try:
            self.runner.init(self.stack, "-migrate-state", "-force-copy")
        except StageError as exc:
            raise StageError("migrate", self.stack, Result(1, "", str(exc))) from None
        state = self.local_state
        kept = state.with_name(f"{state.name}.migrated-{time.strftime('%Y%m%dT%H%M%S')}")
        state.rename(kept)
        for backup in state.parent.glob(f"{state.name}.backup"):
            backup.rename(kept.with_name(kept.name + ".backup"))
        return f"bootstrap applied; state moved into the bucket (local copy kept as {kept.name})"
