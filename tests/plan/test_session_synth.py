"""One engine run per test session: the pytest plugin's session synth (``qualisys_stack``,
``synthesized_stack``) is the suite's own ``synthesized`` output, found up to date, never a second synth."""

from __future__ import annotations

import pytest

from qualisys_infra.pytest_plugin import _Synth
from qualisys_infra.terraform import synth as synth_module
from tests.conftest import ROOT, Synthesized


def test_the_plugin_reads_the_suites_synth_and_starts_no_engine(
    _qualisys_synth: _Synth, synthesized: Synthesized, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _qualisys_synth.outdir == synthesized.outdir, "the plugin would synthesize everything a second time"

    def second_synth(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the plugin started the engine for a second synth")

    monkeypatch.setattr(synth_module, "build_and_synth", second_synth)
    fresh = _Synth(synthesized.outdir, ROOT)  # the plugin's real path: a synth of unchanged inputs
    assert fresh.stack("dev-network").config == synthesized.stacks["dev-network"]
    assert set(fresh.names) == set(synthesized.stacks)
