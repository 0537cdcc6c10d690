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


# The engine records a JavaScript stack trace for every token it creates (thousands per synth, about
# 0.2 s of Node.js time), used only in the message of a token that fails to resolve. Created from
# Python through jsii, those traces show the jsii kernel's frames, never the Python line, so they
# are switched off; `CDKTN_DISABLE_CREATION_STACK=0` in the environment turns them back on.
# A larger young generation for Node.js: the engine allocates many short-lived objects, and with
# 64 MiB semi-spaces a synth of 12 environments spent 0.7 s less in the engine's synth for 0.1 GiB
# more peak memory (benchmarks/bench_environments.py, measured 2026-12-06). A NODE_OPTIONS of one's own wins.
ENGINE_DEFAULTS = {"CDKTN_DISABLE_CREATION_STACK": "1", "NODE_OPTIONS": "--max-semi-space-size=64"}


def configure_node(environ: MutableMapping[str, str], root: Path = PROJECT_ROOT) -> str | None:
    """Set ``JSII_NODE`` to the project's Node 22 unless the caller chose one, and the engine's
    :data:`ENGINE_DEFAULTS` unless set; return the Node.js used."""
    for name, value in ENGINE_DEFAULTS.items():
        environ.setdefault(name, value)
    if environ.get("JSII_NODE"):
        return environ["JSII_NODE"]
    node = root / LOCAL_NODE
    if node.is_file() and os.access(node, os.X_OK):
        environ["JSII_NODE"] = str(node)
        return str(node)
    return None
