"""Multi-tenant database design: schema per tenant, row-level security, a least-privilege app role.

Provisioned with versioned, idempotent SQL run through psycopg 3, and verified against a real
server by ``verify`` (the same checks run locally, in CI and against the staging database).
"""
