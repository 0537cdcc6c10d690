"""The plan pipeline: a typed model of `terraform show -json`, guardrails, and review rendering.

Plain Python: nothing here imports the engine, so reviews and plan assertions run anywhere.
"""
