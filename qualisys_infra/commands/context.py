"""The one object every command receives: ``run(args, ctx) -> int``.

``cli.main`` builds it once per run: the project folder (``--project-dir``, resolved), the process
environment (read nowhere else in qualisys_infra: commands and the wings they call get it from here
or as a parameter), whether progress lines are wanted, and the settings loader. Not a command: it
imports only the standard library and ``core``, so the seed image (tenancy code, psycopg, redis and
faker only) can run ``dev seed`` through the CLI.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from qualisys_infra.core.errors import WrongFolder
from qualisys_infra.core.progress import ProgressLines

if TYPE_CHECKING:
    from qualisys_infra.core.settings import Settings

ENVIRONMENTS_FOLDER = "environments"


@dataclass(frozen=True)
class Context:
    """What a command needs besides its arguments."""

    project: Path
    environ: MutableMapping[str, str]
    quiet: bool = False

    @property
    def environments_dir(self) -> Path:
        return self.project / ENVIRONMENTS_FOLDER

    def require_project(self) -> Path:
        """The project folder, or the wrong-folder error when it has no ``environments/``: called
        first by every command that reads the project, so no later "not found" hides the cause."""
        if not self.environments_dir.is_dir():
            raise WrongFolder(self.project)
        return self.project

    def settings(self, names: Iterable[str]) -> Settings:
        """The account's and these environments' settings, checked (``ConfigError`` lists every violation)."""
        from qualisys_infra.config import load_settings  # the settings reader loads only when a command needs it

        self.require_project()
        return load_settings(self.environments_dir, names, root=self.project)

    def progress(self, command: str) -> ProgressLines:
        """Progress lines on stderr, prefixed with the command's name; silent with ``--quiet``."""
        return ProgressLines(command, sys.stderr, quiet=self.quiet)

    def today(self) -> date:
        """Today, or ``QUALISYS_TODAY`` (YYYY-MM-DD) to rehearse a later day."""
        from qualisys_infra.config.kubernetes_support import today_from

        return today_from(self.environ.get("QUALISYS_TODAY"))
