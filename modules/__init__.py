"""Reusable constructs with secure defaults. Each takes ``(scope, id_, *, props)``."""
