# syntax=docker/dockerfile:1
# The image of the cluster's GitHub Actions runners (modules/platform/runners.py; built, scanned and
# pushed to ECR <project>-actions-runner by .github/workflows/runner-image.yml, tagged
# <runner version>-<first 12 hex of the sha256 of this file and runner-requirements.txt>, the tag
# environments/account.tfvars names in github_runner_image_tag).
#
# What a job on these runners needs beyond GitHub's runner image: `make` (every job runs `make setup`
# through .github/actions/setup) and the AWS CLI (the Kubernetes and Helm providers run
# `aws eks get-token`). The pods are Pod Security `restricted` (no privilege escalation, every
# capability dropped), so the base image's sudo cannot work and a job cannot apt-get anything: what
# it needs is here.
#
# Python 3.11 and Node 22 are NOT in the image: actions/setup-python and actions/setup-node download
# them on each (ephemeral) runner into the runner's tool cache, /home/runner/_work/_tool, which the
# runner user owns (actions/python-versions' Linux builds are relocatable on Ubuntu and install
# without sudo; setup-python docs, "Using setup-python with a self-hosted runner", read 2026-12-06).
# So the versions stay declared once, in .github/actions/setup, for GitHub's runners and these alike.
# The shared libraries those Python builds load (libssl, libffi, libsqlite3, libbz2, liblzma,
# libreadline, libncursesw, zlib) come with Ubuntu's python3.12, which python3-venv below installs.
#
# Base: ghcr.io/actions/actions-runner 2.335.1 (Ubuntu 24.04, user runner uid 1001), the runner ARC
# 0.14 ships (actions/actions-runner-controller runner/VERSION). Its multi-platform index digest is
# not published by actions/runner; the one below is the digest pinned, identically, in several
# unrelated public repositories (e.g. melodic-software/ci-runner's worker Dockerfile, which records it
# as the index digest in org.opencontainers.image.base.digest), read 2026-12-06 from stored copies.
# It was not pulled from ghcr.io here (no registry access on this machine): the first build checks it.
FROM ghcr.io/actions/actions-runner:2.335.1@sha256:08c30b0a7105f64bddfc485d2487a22aa03932a791402393352fdf674bda2c29

USER 0
SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# Ubuntu 24.04 (noble) packages, pinned: make from the release pocket, python3-venv from
# noble-updates (the version of the base image's python3), both as pinned by public Dockerfiles read
# 2026-12-06. `apt-get upgrade` takes the archive's security fixes for the base image's packages: the
# image must pass Trivy (HIGH/CRITICAL with a released fix fail the build), and the base is months old.
RUN apt-get update \
 && apt-get upgrade -y --no-install-recommends \
 && apt-get install -y --no-install-recommends \
      make=4.3-4.1build2 \
      python3-venv=3.12.3-0ubuntu2.1 \
 && rm -rf /var/lib/apt/lists/*

# The AWS CLI v1 from PyPI (`aws eks get-token`), hashed, in its own virtual environment.
COPY runner-requirements.txt /tmp/aws-cli-requirements.txt
RUN python3 -m venv /opt/aws-cli \
 && /opt/aws-cli/bin/pip install --no-cache-dir --disable-pip-version-check --require-hashes --only-binary=:all: \
      -r /tmp/aws-cli-requirements.txt \
 && ln -s /opt/aws-cli/bin/aws /usr/local/bin/aws \
 && rm /tmp/aws-cli-requirements.txt \
 && make --version \
 && aws --version

# The runner user of the base image (the scale sets' pods run as this uid, runAsNonRoot).
USER 1001
WORKDIR /home/runner
