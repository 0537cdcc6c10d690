"""The apps wing: the platform's services as Kubernetes objects, rolled out by Argo Rollouts.

- :mod:`.objects` builds every object of one service as plain Kubernetes JSON (pure functions, no
  engine), so tests validate them against Kubernetes' own schemas without a synth;
- :mod:`.service` puts those objects into a stack as ``kubernetes_manifest`` resources.
"""
