"""The delivery wing: GitHub and Kubernetes clients, the pull-request comment and test report,
release and rollout, sign-off, the test pool and the local platform check."""
