"""``qualisys-infra reference``: the reference pages of the documentation site (``docs/reference/``),
generated from the toolkit's own definitions, never hand-copied.

- ``cli.md``: every command and option, from the command line's own parser;
- ``settings.md``: every key of the tfvars files with its default and bounds, from the settings dataclasses;
- ``stacks.md``: every stack and the resource types it manages, counted per environment in a synth of
  every environment (into PROJECT/cdktf.out; nothing is redone when the inputs are unchanged);
- ``guardrails.md``: every rule a review judges a plan by, from ``qualisys_infra/plan/rules.py``;
- ``exit-codes.md``: what each exit code means, from the command line's own list.

With ``--write`` (``make docs``) the pages are written; without, nothing is written and the command
exits 1 naming every page that differs from what it would write.

Exit codes: 0 the pages are current (or were written); 1 a page is stale; 2 bad input.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from qualisys_infra.commands.context import Context
from qualisys_infra.config.reference import GENERATED
from qualisys_infra.config.reference import render as render_settings
from qualisys_infra.core.files import write_all
from qualisys_infra.core.naming import ENVIRONMENT_STACK_KINDS

REFERENCE_DIR = Path("docs") / "reference"
GLOBAL = {"--project-dir", "--quiet", "-h"}


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    reference = sub.add_parser(
        "reference",
        help="generate the documentation site's reference pages (docs/reference/) from the toolkit's definitions",
        description=__doc__.split("\n\n", 1)[1].rsplit("\n\nExit codes", 1)[0] if __doc__ else None,
    )
    reference.add_argument(
        "--write", action="store_true", help="write the pages (without it: exit 1 naming every stale page)"
    )
    reference.add_argument(
        "--out", type=Path, default=None, metavar="DIR", help="synth output folder (default: PROJECT/cdktf.out)"
    )
    reference.set_defaults(func=run)


# --- Markdown ------------------------------------------------------------------------------------


def text(value: str) -> str:
    """Plain words as Markdown: what is between backticks stays; elsewhere ``< > * _ |`` and ``[ ]``
    are escaped (an ``<env>`` would otherwise be an HTML tag, ``s3:*`` an emphasis)."""
    parts = value.replace("``", "`").split("`")
    for i in range(0, len(parts), 2):
        parts[i] = re.sub(r"([\\*_\[\]|])", r"\\\1", parts[i]).replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts)


def _cell(value: str) -> str:
    return text(" ".join(value.split())).replace("`|`", "`\\|`")


def _slug(value: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")


# --- cli.md --------------------------------------------------------------------------------------


def _option_name(action: argparse.Action) -> str:
    names = ", ".join(action.option_strings) or (action.metavar if isinstance(action.metavar, str) else action.dest)
    takes = action.nargs != 0 and action.option_strings
    metavar = action.metavar or action.dest.upper()
    return f"{names} {metavar}" if takes and isinstance(metavar, str) else names


def _help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    formatter = parser.formatter_class(parser.prog)  # type: ignore[call-arg]
    raw = formatter._get_help_string(action) or ""
    params = {"default": action.default, "prog": parser.prog}
    if action.choices is not None:
        params["choices"] = ", ".join(map(str, action.choices))
    return raw % params


ROLE = re.compile(r":[a-z]+:`~?(?P<name>[^`]+)`")  # a docstring's :mod:`~a.b`, shown as `a.b`
ITEM = re.compile(r"(?P<indent> *)(?P<marker>[-*]|\d+[.)]) +(?P<text>\S.*)")


def _shape(paragraph: str) -> list[tuple[str, list[str]]]:
    """A description paragraph's blocks, each ``(kind, lines)``: ``text``, one list ``item`` (its
    marker line and the continuation lines indented deeper), or a run of ``example`` lines."""
    blocks: list[tuple[str, list[str]]] = []
    item_indent = 0
    for line in paragraph.splitlines():
        kind = blocks[-1][0] if blocks else ""
        item = ITEM.fullmatch(line)
        if item:
            item_indent = len(item["indent"])
            blocks.append(("item", [f"{item['marker'].replace(')', '.')} {item['text']}"]))
        elif kind == "item" and line.startswith(" " * (item_indent + 1)) and line.strip():
            blocks[-1][1].append(line)
        elif line.startswith("  "):
            if kind == "example":
                blocks[-1][1].append(line[2:])
            else:
                blocks.append(("example", [line[2:]]))
        elif kind == "text":
            blocks[-1][1].append(line)
        else:
            blocks.append(("text", [line]))
    return blocks


def _description(value: str) -> list[str]:
    """A parser's description (a docstring's shape, as ``--help`` keeps it) as Markdown: paragraphs;
    list items (``1.``, ``2)``, ``-``, ``*``) with their deeper-indented continuation lines; other
    indented lines (examples) as a code block."""
    out: list[str] = []
    plain = ROLE.sub(r"`\g<name>`", value.replace("``", "`"))
    for paragraph in plain.strip("\n").split("\n\n"):
        blocks = _shape(paragraph)
        for i, (kind, lines) in enumerate(blocks):
            if kind == "example":
                out += ["```text", *lines, "```", ""]
                continue
            words = " ".join(" ".join(lines).split())
            if kind == "text":
                out += [text(words), ""]
                continue
            marker, _, rest = words.partition(" ")
            out.append(f"{marker} {text(rest)}")
            if i + 1 == len(blocks) or blocks[i + 1][0] != "item":
                out.append("")
    return out


def commands_of(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.ArgumentParser, str]]:
    """Every command below ``parser`` (nested ones too): its full name, its parser and its one-line help."""
    found: list[tuple[str, argparse.ArgumentParser, str]] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, child in action.choices.items():
                if child.prog in {prog for prog, _, _ in found}:
                    continue  # an alias
                found.append((child.prog, child, helps.get(name, "")))
                found += commands_of(child)
    return found


def render_cli(top: argparse.ArgumentParser) -> str:
    """Global options, a table of every command, then each command: what it does, its options."""
    commands = commands_of(top)
    lines = [
        GENERATED,
        "",
        "# Command line",
        "",
        text(top.description or ""),
        "",
        f"Every command and option of `{top.prog}`, generated from its own parser (what `--help` shows). "
        "The [exit codes](exit-codes.md) are the same for every command.",
        "",
        "## Global options",
        "",
        "Accepted before or after the command.",
        "",
        "| option | |",
        "|---|---|",
    ]
    lines += [
        f"| `{_option_name(a)}` | {_cell(_help(top, a))} |"
        for a in top._actions
        if a.option_strings and a.option_strings[0] != "-h" and not isinstance(a, argparse._SubParsersAction)
    ]
    lines += ["", "## Commands", "", "| command | |", "|---|---|"]
    lines += [f"| [`{prog}`](#{_slug(prog)}) | {_cell(summary)} |" for prog, _, summary in commands]
    for prog, parser, summary in commands:
        lines += ["", f"## `{prog}` {{#{_slug(prog)}}}", ""]
        lines += _description(parser.description or summary)
        usage = " ".join(parser.format_usage().split()).removeprefix("usage: ")
        lines += ["```text", usage, "```", ""]
        subcommands = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if subcommands:
            names = ", ".join(f"[`{child.prog}`](#{_slug(child.prog)})" for child in subcommands[0].choices.values())
            lines += [f"Commands: {names}.", ""]
            continue
        rows = [
            a
            for a in parser._actions
            if not isinstance(a, argparse._SubParsersAction) and not (set(a.option_strings) & GLOBAL)
        ]
        if rows:
            lines += ["| argument | |", "|---|---|"]
            lines += [f"| `{_option_name(a)}` | {_cell(_help(parser, a))} |" for a in rows]
            lines.append("")
        if parser.epilog:
            lines += _description(parser.epilog)
    return "\n".join(lines).rstrip("\n") + "\n"


# --- exit-codes.md -------------------------------------------------------------------------------


def exit_codes(sentence: str) -> list[tuple[str, str]]:
    """``"Exit codes: 0 ok; 1 a finding; 3-7 ..."`` as ``[("0", "ok"), ("1", "a finding"), ...]``."""
    body = sentence.split(":", 1)[1].strip().rstrip(".")
    found = []
    for part in body.split("; "):
        code, _, meaning = part.strip().partition(" ")
        found.append((code, meaning))
    return found


def render_exit_codes(sentence: str) -> str:
    lines = [
        GENERATED,
        "",
        "# Exit codes",
        "",
        "What `qualisys-infra` exits with, for every command (a command's own page in the "
        "[command line reference](cli.md) may say more). Generated from the list `--help` prints.",
        "",
        "| code | meaning |",
        "|---|---|",
    ]
    lines += [f"| {text(code)} | {_cell(meaning)} |" for code, meaning in exit_codes(sentence)]
    return "\n".join(lines) + "\n"


# --- guardrails.md -------------------------------------------------------------------------------


def render_guardrails() -> str:
    from qualisys_infra.plan.rules import RULES

    lines = [
        GENERATED,
        "",
        "# Guardrails",
        "",
        "Every rule `plan`, `review` and `deploy` judge a plan by. A blocking finding makes them exit 1; a "
        "warning is shown in the review and blocks nothing. A blocking rule a person allowed (a destroy, a "
        "reviewed IAM waiver) is shown as a warning that names who allowed it. Generated from "
        "`qualisys_infra/plan/rules.py`; link to a rule as `reference/guardrails.md#g001`.",
        "",
        "| rule | severity | blocks | what it means | allowed by |",
        "|---|---|---|---|---|",
    ]
    for rule in RULES:
        blocks = "yes" if rule.blocking else "no"
        anchor = f'<span id="{rule.code.lower()}"></span>'  # guardrails.md#g001 links to the rule
        lines.append(
            f"| {anchor}{rule.code} | {rule.severity} | {blocks} | {_cell(rule.meaning)} | {_cell(rule.allowed_by)} |"
        )
    return "\n".join(lines) + "\n"


# --- stacks.md -----------------------------------------------------------------------------------


def stack_kind(name: str) -> tuple[str, str | None]:
    """``dev-network`` -> ``("network", "dev")``; an account-wide stack (``account``) -> ``("account", None)``."""
    env, _, kind = name.rpartition("-")
    return (kind, env) if env and kind in ENVIRONMENT_STACK_KINDS else (name, None)


def _stack_summary(project: Path, kind: str) -> str:
    """The first paragraph of the stack's module docstring (stacks/<kind>.py, bootstrap/stack.py)."""
    path = project / ("bootstrap/stack.py" if kind == "bootstrap" else f"stacks/{kind}.py")
    if not path.is_file():
        return ""
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    first = " ".join(doc.split("\n\n")[0].split())
    first = first.split(": ", 1)[1] if first.startswith("``") and ": " in first else first
    return first[:1].upper() + first[1:]


def render_stacks(stacks: Mapping[str, Mapping[str, Any]], environments: Sequence[str], project: Path) -> str:
    """Each stack kind with what it is for and its resource types counted per environment (in the
    order of ``environments``, the project's)."""
    counts: dict[str, dict[str | None, Counter[str]]] = {}
    for name in sorted(stacks):
        kind, env = stack_kind(name)
        resources = stacks[name].get("resource") or {}
        counts.setdefault(kind, {})[env] = Counter({t: len(v) for t, v in resources.items()})
    envs = [e for e in environments if any(e in per_env for per_env in counts.values())]
    per_env_kinds = [k for k in ENVIRONMENT_STACK_KINDS if k in counts]
    account_kinds = sorted(k for k in counts if None in counts[k])
    lines = [
        GENERATED,
        "",
        "# Stacks",
        "",
        "Every stack `qualisys-infra synth --env all` writes, and the resources each manages, counted in "
        "the Terraform JSON of that synth (generated from it, so the counts are what `plan` would create "
        f"from scratch). Each environment ({', '.join(envs)}) has one stack of each kind below, named "
        "`<env>-<kind>`; the account-wide stacks exist once.",
        "",
        "| stack | what it is for | " + " | ".join(envs) + " |",
        "|---|---|" + "---|" * len(envs),
    ]
    for kind in per_env_kinds:
        totals = [str(sum(counts[kind].get(e, Counter()).values())) for e in envs]
        summary = _cell(_stack_summary(project, kind))
        lines.append(f"| [`<env>-{kind}`](#{_slug(kind)}) | {summary} | " + " | ".join(totals) + " |")
    lines += ["", "| account-wide stack | what it is for | resources |", "|---|---|---|"]
    for kind in account_kinds:
        total = sum(counts[kind][None].values())
        lines.append(f"| [`{kind}`](#{_slug(kind)}) | {_cell(_stack_summary(project, kind))} | {total} |")
    for kind in per_env_kinds:
        lines += ["", f"## `<env>-{kind}` {{#{_slug(kind)}}}", "", text(_stack_summary(project, kind)), ""]
        lines += ["| resource type | " + " | ".join(envs) + " |", "|---|" + "---:|" * len(envs)]
        types = sorted(set().union(*counts[kind].values()))
        for t in types:
            lines.append(f"| `{t}` | " + " | ".join(str(counts[kind].get(e, Counter())[t]) for e in envs) + " |")
    for kind in account_kinds:
        lines += ["", f"## `{kind}` {{#{_slug(kind)}}}", "", text(_stack_summary(project, kind)), ""]
        lines += ["| resource type | count |", "|---|---:|"]
        lines += [f"| `{t}` | {n} |" for t, n in sorted(counts[kind][None].items())]
    return "\n".join(lines) + "\n"


# --- the command ---------------------------------------------------------------------------------


Synthesized = tuple[Mapping[str, Mapping[str, Any]], Sequence[str]]  # every stack's JSON, the environments


def pages(project: Path, synthesized: Callable[[], Synthesized]) -> dict[str, str]:
    """Every generated page: its file name in docs/reference/ and its text."""
    from qualisys_infra.commands.cli import EXIT_CODES, build_parser

    return {
        "cli.md": render_cli(build_parser()),
        "settings.md": render_settings(),
        "stacks.md": render_stacks(*synthesized(), project=project),
        "guardrails.md": render_guardrails(),
        "exit-codes.md": render_exit_codes(EXIT_CODES),
    }


def stale(folder: Path, wanted: Mapping[str, str]) -> list[str]:
    """The pages of ``wanted`` whose file in ``folder`` is missing or differs."""
    return [
        name
        for name, body in wanted.items()
        if not (folder / name).is_file() or (folder / name).read_text(encoding="utf-8") != body
    ]


def run(args: argparse.Namespace, ctx: Context) -> int:
    project = ctx.require_project()
    progress = ctx.progress("reference")

    def synthesized() -> Synthesized:
        from qualisys_infra.config import resolve_environment_names
        from qualisys_infra.core.runtime import configure_node
        from qualisys_infra.terraform.output import read_manifest
        from qualisys_infra.terraform.synth import synth

        outdir = (args.out or project / "cdktf.out").resolve()
        names = resolve_environment_names(["all"], ctx.environments_dir)
        settings = ctx.settings(names)
        configure_node(ctx.environ)
        progress("synth of every environment (the stacks page; nothing is redone when the inputs are unchanged)")
        synth(settings, environments_dir=ctx.environments_dir, outdir=outdir, progress=progress)
        stacks = {
            name: json.loads((outdir / "stacks" / name / "cdk.tf.json").read_text(encoding="utf-8"))
            for name in read_manifest(outdir).stacks
        }
        return stacks, names

    folder = project / REFERENCE_DIR
    wanted = pages(project, synthesized)
    old = stale(folder, wanted)
    shown = os.path.relpath(folder)
    if args.write:
        write_all({folder / name: wanted[name] for name in old})  # every stale page, or none
        written = ", ".join(old) if old else "none (all current)"
        print(f"reference: {len(wanted)} pages in {shown}/; written: {written}")
        return 0
    if not old:
        print(f"reference: {len(wanted)} pages in {shown}/ are current")
        return 0
    for name in old:
        path = folder / name
        before = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
        diff = list(difflib.unified_diff(before, wanted[name].splitlines(), lineterm="", n=0))[2:]
        changed = sum(1 for line in diff if line[:1] in "+-")
        print(f"reference: {os.path.relpath(path)} is stale ({changed} lines differ)")
    print("reference: run `make docs` (qualisys-infra reference --write) and commit docs/reference/")
    return 1
