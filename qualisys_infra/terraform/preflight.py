"""Before Terraform runs: is there any AWS identity for the S3 backend and the provider to use?

Without one, ``terraform init`` fails only after it has tried to download the AWS provider, with
the backend's own words. This check names what is missing first. It looks only where the AWS SDKs
look without a network call: environment keys, a named profile, a web identity token (GitHub
Actions OIDC), container credentials, the shared files in ``~/.aws``, and credentials given in a
``--backend-config`` file. An EC2 instance profile cannot be seen offline: ``--skip-preflight``.
"""

from __future__ import annotations

import configparser
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from qualisys_infra.core.errors import UsageError

_BACKEND_CREDENTIALS = re.compile(r"^\s*(access_key|profile|role_arn|assume_role|shared_credentials_files)\b", re.M)


def aws_identity(environ: Mapping[str, str], backend_configs: Sequence[Path], home: Path) -> str:
    """Where the AWS credentials will come from, in words; :class:`UsageError` naming the options
    when there are none."""
    if environ.get("AWS_ACCESS_KEY_ID") and environ.get("AWS_SECRET_ACCESS_KEY"):
        return "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    if environ.get("AWS_ACCESS_KEY_ID") or environ.get("AWS_SECRET_ACCESS_KEY"):
        half = "AWS_ACCESS_KEY_ID" if environ.get("AWS_ACCESS_KEY_ID") else "AWS_SECRET_ACCESS_KEY"
        other = "AWS_SECRET_ACCESS_KEY" if half == "AWS_ACCESS_KEY_ID" else "AWS_ACCESS_KEY_ID"
        raise UsageError(f"AWS credentials: {half} is set but {other} is not; set both, or neither")
    if environ.get("AWS_WEB_IDENTITY_TOKEN_FILE") and environ.get("AWS_ROLE_ARN"):
        return f"web identity token for {environ['AWS_ROLE_ARN']}"
    if environ.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") or environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        return "container credentials"
    for config in backend_configs:
        try:
            if _BACKEND_CREDENTIALS.search(config.read_text(encoding="utf-8")):
                return f"credentials in --backend-config {config}"
        except OSError:
            continue
    profile = environ.get("AWS_PROFILE") or "default"
    files = [
        Path(environ.get("AWS_SHARED_CREDENTIALS_FILE") or home / ".aws" / "credentials"),
        Path(environ.get("AWS_CONFIG_FILE") or home / ".aws" / "config"),
    ]
    for path in files:
        parser = configparser.ConfigParser()
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError):
            continue
        if parser.has_section(profile) or parser.has_section(f"profile {profile}"):
            return f"profile {profile} in {path}"
    if environ.get("AWS_PROFILE"):
        raise UsageError(
            f"AWS credentials: AWS_PROFILE is {profile!r}, but no such profile is in {files[0]} or {files[1]}"
        )
    raise UsageError(
        "AWS credentials: none found before running Terraform; set AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY, AWS_PROFILE (see `aws configure`), or AWS_ROLE_ARN with "
        "AWS_WEB_IDENTITY_TOKEN_FILE (GitHub Actions OIDC); on an EC2 instance profile pass --skip-preflight"
    )
