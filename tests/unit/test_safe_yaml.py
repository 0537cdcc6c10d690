"""``qualisys_infra.core.safe_yaml``: YAML from an untrusted source, without blow-ups."""

from __future__ import annotations

import itertools
import time

import pytest
import yaml

from qualisys_infra.core.safe_yaml import UnsafeYamlError, load_untrusted

# The classic "billion laughs": nine levels of nine aliases, under 900 bytes, 9**9 strings once expanded.
_LETTERS = "abcdefghi"
ALIAS_BOMB = "\n".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(f"{new}: &{new} [{', '.join(['*' + old] * 9)}]" for old, new in itertools.pairwise(_LETTERS)),
        "entries: {metrics-server: [{version: *i}]}",
    ]
)


def test_fails_if_the_document_uses_an_alias_bomb() -> None:
    assert len(ALIAS_BOMB) < 900
    start = time.monotonic()
    with pytest.raises(UnsafeYamlError, match=r"^line 2, column 8: uses the YAML alias \*a \(aliases are refused\)$"):
        load_untrusted(ALIAS_BOMB)
    assert time.monotonic() - start < 1


def test_fails_if_the_document_uses_a_merge_key() -> None:
    with pytest.raises(
        UnsafeYamlError, match=r"^line 2, column 3: uses a YAML merge key << \(merge keys are refused\)$"
    ):
        load_untrusted("entries:\n  <<: {x: 1}\n")


@pytest.mark.parametrize(
    "text", ["[" * 100_000, "[" * 100_000 + "]" * 100_000, "a:\n" + "".join(f"{' ' * n}b:\n" for n in range(1, 200))]
)
def test_fails_if_the_document_nests_too_deeply(text: str) -> None:
    """libyaml's own composer recurses per level: 100,000 ``[`` crash the interpreter there."""
    with pytest.raises(UnsafeYamlError, match=r": nested more than 64 levels deep$"):
        load_untrusted(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("!!python/object:os.system {}\n", "the tag tag:yaml.org,2002:python/object:os.system is not allowed here"),
        ("a: !!python/name:os.system ''\n", "could not determine a constructor for the tag"),
        ("s: !!set {a, b}\n", "the tag tag:yaml.org,2002:set is not allowed here"),
    ],
)
def test_fails_if_the_document_uses_a_tag_beyond_the_standard_ones(text: str, message: str) -> None:
    with pytest.raises(UnsafeYamlError, match=message):
        load_untrusted(text)


def test_fails_if_there_are_two_documents() -> None:
    with pytest.raises(UnsafeYamlError, match=r"^line 2, column 1: a second YAML document \(expected one\)$"):
        load_untrusted("a: 1\n---\nb: 2\n")


def test_fails_if_a_key_is_a_collection() -> None:
    with pytest.raises(UnsafeYamlError, match=r"a mapping key that is not a scalar$"):
        load_untrusted("? [1, 2]\n: x\n")


def test_fails_if_a_number_has_more_digits_than_python_converts() -> None:
    with pytest.raises(UnsafeYamlError, match=r"^line 1, column 4: Exceeds the limit \(4300 digits\)"):
        load_untrusted("a: " + "1" * 5000)


def test_fails_if_it_is_not_yaml() -> None:
    with pytest.raises(yaml.YAMLError):
        load_untrusted("entries: {metrics-server: [\n  - : :\n\t}")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "plain",
        "apiVersion: v1\nentries:\n  x:\n  - version: 1.10\n    appVersion: '1.2'\n    created: 2024-01-01T00:00:00Z\n"
        "    digest: null\n    deprecated: yes\n    urls: [a, 'b', \"c\"]\n    description: |\n      two\n      lines\n"
        "    count: 0x1F\n    anchored: &kept {only: once}\n    binary: !!binary aGVsbG8=\n    str: !!str 12\n",
    ],
)
def test_what_the_safe_loader_reads_reads_the_same(text: str) -> None:
    assert load_untrusted(text) == yaml.safe_load(text)
