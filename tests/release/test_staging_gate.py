"""A production release takes only an image that completed a healthy staging release: the staging
release tags it ``staging-verified-<tag>`` in ECR (a moto server on 127.0.0.1 stands in for ECR),
the production release refuses a tag without that twin on the same digest, before planning."""

from __future__ import annotations

import hashlib
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from qualisys_infra.commands.cli import main
from tests.release.cluster import FakeCluster, State, healthy_canary, pods
from tests.release.releasing import make_project, release_argv
from tests.release.service import FakeService
from tests.runner.conftest import Moto, moto  # noqa: F401 - the session's moto server

TAG = "0123abc"
REPOSITORY = "qualisys-hello"  # account.tfvars' project and the service


def _manifest(seed: str) -> str:
    """A Docker image manifest (the layers' digests derived from ``seed``)."""
    layer = "sha256:" + hashlib.sha256(seed.encode()).hexdigest()
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 7, "digest": layer},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 9, "digest": layer}],
        }
    )


@pytest.fixture
def ecr(moto: Moto, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:  # noqa: F811
    """ECR on the moto server with an empty ``qualisys-hello`` (immutable tags), as the release reaches it."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL_ECR", moto.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    client = moto.client("ecr")
    client.create_repository(repositoryName=REPOSITORY, imageTagMutability="IMMUTABLE")
    try:
        yield client
    finally:
        client.delete_repository(repositoryName=REPOSITORY, force=True)


def _push(ecr: Any, tag: str, seed: str = "app") -> str:
    answer = ecr.put_image(repositoryName=REPOSITORY, imageManifest=_manifest(seed), imageTag=tag)
    digest: str = answer["image"]["imageId"]["imageDigest"]
    return digest


def _tags(ecr: Any) -> dict[str, str]:
    images = ecr.describe_images(repositoryName=REPOSITORY)["imageDetails"]
    return {tag: image["imageDigest"] for image in images for tag in image.get("imageTags", [])}


def _release(api: HTTPServer, env: str) -> int:
    FakeCluster(api, [State(healthy_canary(TAG, "n"), pods(4, pod_hash="n", image_tag=TAG))])
    return main(release_argv(api, "--image-tag", TAG, env=env))


def test_fails_if_a_production_tag_did_not_complete_a_healthy_staging_release(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    ecr: Any,
    api_server: HTTPServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = make_project(tmp_path, monkeypatch, "production")
    _push(ecr, TAG)
    assert _release(api_server, "production") == 2
    out, err = capsys.readouterr()
    assert err == (
        f"error: --image-tag: {TAG} has not completed a healthy staging release (no tag staging-verified-{TAG} in"
        f" ECR repository {REPOSITORY} (us-east-1)); release it to staging first\n"
    )
    assert not (project / "plans").exists() and "release:" not in out, "nothing was planned"


def test_a_healthy_staging_release_is_recorded_and_production_takes_that_image(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    ecr: Any,
    api_server: HTTPServer,
    capsys: pytest.CaptureFixture[str],
    no_server_version: None,
) -> None:
    digest = _push(ecr, TAG)
    make_project(tmp_path / "staging", monkeypatch, "staging")
    FakeService(api_server, TAG)
    assert _release(api_server, "staging") == 0
    out = capsys.readouterr().out
    assert f"recorded as verified in staging: {REPOSITORY}:staging-verified-{TAG} ({digest})" in out
    assert _tags(ecr) == {TAG: digest, f"staging-verified-{TAG}": digest}
    assert (
        out.rstrip()
        .splitlines()[-1]
        .endswith("RELEASED: healthy, 6 smoke checks passed; recorded as verified in staging")
    )
    # The same image again in staging (a re-run of the job) keeps the one record.
    api_server.clear()
    FakeService(api_server, TAG)
    assert _release(api_server, "staging") == 0
    assert _tags(ecr) == {TAG: digest, f"staging-verified-{TAG}": digest}
    capsys.readouterr()

    api_server.clear()
    make_project(tmp_path / "production", monkeypatch, "production")
    FakeService(api_server, TAG)
    assert _release(api_server, "production") == 0
    out = capsys.readouterr().out
    assert (
        f"release: hello {TAG} in production: {REPOSITORY}:{TAG} ({digest}) completed a healthy staging release" in out
    )
    assert (
        out.rstrip().splitlines()[-1] == f"release: hello {TAG} in production: RELEASED: healthy, 6 smoke checks passed"
    )


def test_a_staging_release_that_fails_its_smoke_suite_is_not_recorded(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    ecr: Any,
    api_server: HTTPServer,
    capsys: pytest.CaptureFixture[str],
    no_server_version: None,
) -> None:
    digest = _push(ecr, TAG)
    make_project(tmp_path, monkeypatch, "staging")
    FakeService(api_server, TAG).routes["/metrics"] = lambda _r: Response("up 1", content_type="text/plain")
    assert _release(api_server, "staging") == 1
    assert "smoke: GET /metrics is not public: failed" in capsys.readouterr().out
    assert _tags(ecr) == {TAG: digest}


def test_fails_if_the_verified_tag_names_other_content(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    ecr: Any,
    api_server: HTTPServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ecr.put_image_tag_mutability(repositoryName=REPOSITORY, imageTagMutability="MUTABLE")
    digest = _push(ecr, TAG)
    other = _push(ecr, f"staging-verified-{TAG}", seed="another build")
    make_project(tmp_path, monkeypatch, "production")
    assert _release(api_server, "production") == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: --image-tag: staging-verified-{TAG} in ECR repository {REPOSITORY} (us-east-1) is {other}, not the"
        f" image {TAG} ({digest}); release {TAG} to staging again\n"
    )


def test_fails_if_the_image_is_not_in_the_registry(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    ecr: Any,
    api_server: HTTPServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    make_project(tmp_path, monkeypatch, "production")
    assert _release(api_server, "production") == 2
    assert (
        capsys.readouterr().err
        == f"error: --image-tag: ECR repository {REPOSITORY} (us-east-1) has no image tagged {TAG}\n"
    )


def test_fails_if_the_registry_cannot_be_read(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    ecr: Any,
    api_server: HTTPServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL_ECR", f"http://127.0.0.1:{port}")
    make_project(tmp_path, monkeypatch, "production")
    assert _release(api_server, "production") == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot check that {TAG} passed staging: ECR repository {REPOSITORY} (us-east-1): ")
    assert "Could not connect to the endpoint URL" in err and err.count("\n") == 1


def test_fails_if_a_healthy_staging_release_cannot_be_recorded(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    ecr: Any,
    api_server: HTTPServer,
    capsys: pytest.CaptureFixture[str],
    no_server_version: None,
) -> None:
    make_project(tmp_path, monkeypatch, "staging")  # the image is not in ECR: nothing to tag
    FakeService(api_server, TAG)
    assert _release(api_server, "staging") == 1
    out = capsys.readouterr().out
    assert (
        f"healthy, but NOT recorded as verified (production will refuse {TAG}): ECR repository {REPOSITORY}"
        f" (us-east-1) has no image tagged {TAG} to record as verified"
    ) in out
