"""The platform wing: what runs inside a cluster, as constructs the ``<env>-platform`` stack composes.

- :mod:`.charts` every Helm chart pinned (the cluster-autoscaler per Kubernetes minor); pure.
- :mod:`.values` each chart's values, built in Python from the settings; pure.
- :mod:`.providers` the kubernetes and helm providers, authenticated with ``aws eks get-token``.
- :mod:`.namespace` one namespace with its guard rails; :mod:`.namespaces` the platform's namespaces
  and the traffic each may have.
- :mod:`.rbac` the CI deployer's Role and the people's ClusterRoles, and the RBAC group names.
- :mod:`.add_ons` the Helm releases with their IRSA roles and the Grafana admin secret (Argo Rollouts
  among them, which the apps stack's services roll out with).
- :mod:`.edge` the ingress edge: WAF web ACL, its logs, and the certificate.

Nothing here reads a file, an environment variable or the network. This package imports nothing
itself, so the pure modules can be used without starting the engine.
"""
