# syntax=docker/dockerfile:1
# compose.yaml's one-shot seed service: migrations (tenants init), the tenants acme and globex with
# their Redis ACL users (tenants create) and their data (tenants seed), by
# `python -m qualisys_infra dev seed`: the CLI imports only the module of the command it runs, so this
# loads only the tenancy code and psycopg, redis and faker (other commands need requests, pyyaml,
# python-hcl2 and jinja2, which this image does not install).
# Base: python:3.11-slim-bookworm (Python 3.11.16), the multi-platform index digest recorded in
# docker-library/repo-info, repos/python/remote/3.11-slim-bookworm.md (commit 33a22f41ac7b): the same
# image as services/hello's builder stage, so one pull serves both.
FROM python:3.11-slim-bookworm@sha256:0bee7276f83efd4a1ee05bbbf4281d95ed28e079220a9457f25a93e3f1e3c31b

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY dev/seed-requirements.txt /app/requirements.txt
RUN pip install --no-cache-dir --require-hashes --only-binary=:all: -r /app/requirements.txt

# Only the modules the seed command imports; nothing else of the repository.
COPY qualisys_infra/__init__.py qualisys_infra/__main__.py /app/qualisys_infra/
COPY qualisys_infra/core/__init__.py qualisys_infra/core/argtypes.py qualisys_infra/core/errors.py qualisys_infra/core/files.py qualisys_infra/core/masking.py qualisys_infra/core/data_access.py qualisys_infra/core/naming.py qualisys_infra/core/playwright_pool.py qualisys_infra/core/progress.py /app/qualisys_infra/core/
COPY qualisys_infra/commands/__init__.py qualisys_infra/commands/cli.py qualisys_infra/commands/context.py qualisys_infra/commands/sigterm.py qualisys_infra/commands/dev.py /app/qualisys_infra/commands/
COPY qualisys_infra/delivery/__init__.py qualisys_infra/delivery/devcheck.py qualisys_infra/delivery/local_env.py /app/qualisys_infra/delivery/
COPY qualisys_infra/tenancy/ /app/qualisys_infra/tenancy/

USER 10001:10001
ENTRYPOINT ["python", "-m", "qualisys_infra", "dev"]
CMD ["seed"]
