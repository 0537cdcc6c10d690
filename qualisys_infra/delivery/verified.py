"""The record that an image completed a healthy staging release, and the production release's check
of it.

The record is a second tag on the very image in ECR: ``staging-verified-<tag>`` on the digest that
``<tag>`` names, put by ``qualisys-infra release --env staging`` once the rollout is healthy and the
smoke suite passed. ``release --env production`` reads both tags and refuses an image whose
``<tag>`` has no such twin on the same digest (exit 2, before anything is planned).

Why a tag in ECR: it is tied to the content (a digest, not a name), the repositories' tags are
immutable (a verified tag can never be moved to other content), and writing one takes
``ecr:PutImage`` on the repository, which each repository's policy refuses to every principal it
does not name: the CI role of the deploy branches, and the staging release role that records it
(GitHub hands that one only to the release job of the ``staging`` environment). A pull request's
job can assume neither (its OIDC subject is ``pull_request``), so it cannot forge a record.
Recording needs ``ecr:BatchGetImage`` and ``ecr:PutImage``; checking, ``ecr:BatchGetImage``.

ECR is reached with boto3 and the caller's AWS credentials; ``AWS_ENDPOINT_URL_ECR`` (boto3's own
setting) points it elsewhere, as the tests do with a moto server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qualisys_infra.core.errors import ToolkitError, UsageError

VERIFIED_PREFIX = "staging-verified-"
# Every manifest type an image or index may have: asked for all, ECR returns the manifest as pushed
# (otherwise it may convert it, and the digest of the copy would differ).
MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)


class RecordError(ToolkitError):
    """The healthy staging release could not be recorded. Exit code 1: released, not recordable."""

    exit_code = 1


def verified_tag(tag: str) -> str:
    return f"{VERIFIED_PREFIX}{tag}"


@dataclass(frozen=True, slots=True)
class Image:
    digest: str
    manifest: str
    media_type: str


class Registry:
    """One ECR registry (the caller's account) in ``region``."""

    def __init__(self, region: str, *, client: Any = None) -> None:
        if client is None:
            import boto3.session  # loaded only by the releases that need it

            client = boto3.session.Session().client("ecr", region_name=region)
        self.region = region
        self._ecr = client

    def images(self, repository: str, tags: tuple[str, ...]) -> dict[str, Image]:
        """The images of ``tags`` in ``repository`` that exist, by tag (one request a tag: an image
        with several tags may come back under any of them)."""
        found: dict[str, Image] = {}
        for tag in tags:
            answer = self._ecr.batch_get_image(
                repositoryName=repository,
                imageIds=[{"imageTag": tag}],
                acceptedMediaTypes=list(MANIFEST_TYPES),
            )
            for image in answer.get("images") or []:
                digest = (image.get("imageId") or {}).get("imageDigest")
                manifest = image.get("imageManifest")
                if isinstance(digest, str) and isinstance(manifest, str):
                    found[tag] = Image(digest, manifest, str(image.get("imageManifestMediaType") or ""))
        return found

    def add_tag(self, repository: str, image: Image, tag: str) -> None:
        """Put ``tag`` on ``image`` (the same manifest, the same digest); already there is done."""
        from botocore.exceptions import ClientError

        arguments: dict[str, Any] = {
            "repositoryName": repository,
            "imageManifest": image.manifest,
            "imageTag": tag,
            "imageDigest": image.digest,
        }
        if image.media_type:
            arguments["imageManifestMediaType"] = image.media_type
        try:
            self._ecr.put_image(**arguments)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ImageAlreadyExistsException":
                raise


def _aws_reason(exc: Exception) -> str:
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'error')}: {' '.join(str(error.get('Message', '')).split())}".rstrip(": ")
    return " ".join(str(exc).split()) or type(exc).__name__


def _aws_errors() -> tuple[type[Exception], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError)


def record_staging_release(registry: Registry, repository: str, tag: str) -> str:
    """Tag the image ``repository:tag`` as verified in staging; its digest. :class:`RecordError`
    when ECR refuses or the image is not there."""
    where = f"ECR repository {repository} ({registry.region})"
    try:
        images = registry.images(repository, (tag,))
        if tag not in images:
            raise RecordError(f"{where} has no image tagged {tag} to record as verified")
        registry.add_tag(repository, images[tag], verified_tag(tag))
    except _aws_errors() as exc:
        raise RecordError(f"cannot tag {tag} as {verified_tag(tag)} in {where}: {_aws_reason(exc)}") from None
    return images[tag].digest


def check_staging_release(registry: Registry, repository: str, tag: str) -> str:
    """The digest of ``repository:tag`` when ``staging-verified-<tag>`` names the same image;
    :class:`~qualisys_infra.core.errors.UsageError` (exit 2) otherwise, or when ECR cannot be read."""
    where = f"ECR repository {repository} ({registry.region})"
    verified = verified_tag(tag)
    try:
        images = registry.images(repository, (tag, verified))
    except _aws_errors() as exc:
        raise UsageError(f"cannot check that {tag} passed staging: {where}: {_aws_reason(exc)}") from None
    if tag not in images:
        raise UsageError(f"--image-tag: {where} has no image tagged {tag}")
    if verified not in images:
        raise UsageError(
            f"--image-tag: {tag} has not completed a healthy staging release (no tag {verified} in {where});"
            " release it to staging first"
        )
    if images[verified].digest != images[tag].digest:
        raise UsageError(
            f"--image-tag: {verified} in {where} is {images[verified].digest}, not the image {tag}"
            f" ({images[tag].digest}); release {tag} to staging again"
        )
    return images[tag].digest


__all__ = ["VERIFIED_PREFIX", "RecordError", "Registry", "check_staging_release", "record_staging_release"]
