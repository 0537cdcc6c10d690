"""A service in a stack: each object of :func:`modules.apps.objects.service_objects` as one
``kubernetes_manifest`` resource, so the synthesized JSON holds the very objects the tests validate
against Kubernetes' schemas."""

from __future__ import annotations

from modules.apps.objects import ServiceSpec, service_objects
from qualisys_infra.core.engine import Construct
from qualisys_infra.core.engine.kubernetes import manifest


class AppService(Construct):
    """``objects[id]`` is the ``kubernetes_manifest`` of each object (``rollout``, ``ingress``, ...)."""

    def __init__(self, scope: Construct, id_: str, *, spec: ServiceSpec) -> None:
        super().__init__(scope, id_)
        self.spec = spec
        self.objects = {
            object_id: manifest.Manifest(self, object_id, manifest=body)
            for object_id, body in service_objects(spec).items()
        }
