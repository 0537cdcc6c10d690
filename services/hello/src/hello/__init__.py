"""hello: the platform's first service, and the pattern a service on the platform follows.

A FastAPI application with liveness (``/health``), readiness (``/ready``, checking the configured
PostgreSQL and Redis), Prometheus metrics (``/metrics``) and JSON logs that carry a correlation id
per request. Settings come from the environment (:mod:`hello.config`); ``python -m hello`` runs it.
"""

SERVICE_NAME = "hello"
