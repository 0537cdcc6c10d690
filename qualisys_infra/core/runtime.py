"""Process set-up done before the engine is imported: which Node.js jsii runs the engine in.

jsii starts ``$JSII_NODE`` (default: ``node`` on PATH). The machine's Node 20 is past jsii's
support date, so setup installs Node 22 from npm into ``node_modules`` and this points jsii at it.
Called only by the entry points (the CLI and ``main.py``), which own the process environment.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LOCAL_NODE = Path("node_modules") / "node" / "bin" / "node"


def configure_node(environ: MutableMapping[str, str], root: Path = PROJECT_ROOT) -> str | None:
    """Set ``JSII_NODE`` to the project's Node 22 unless the caller chose one; return what is used."""
    if environ.get("JSII_NODE"):
        return environ["JSII_NODE"]
    node = root / LOCAL_NODE
    if node.is_file() and os.access(node, os.X_OK):
        environ["JSII_NODE"] = str(node)
        return str(node)
    return None
