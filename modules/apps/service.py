"""A service in a stack: each object of :func:`modules.apps.objects.service_objects` as one
``kubernetes_manifest`` resource, so the synthesized JSON holds the very objects the tests validate
against Kubernetes' schemas."""

from __future__ import annotations

from collections.abc import Mapping

from modules.apps.objects import ServiceSpec, service_objects
from qualisys_infra.core.engine import Construct
from qualisys_infra.core.engine.kubernetes import manifest

# The provider's defaults, which an explicit list replaces.
DEFAULT_COMPUTED = ("metadata.labels", "metadata.annotations")
# Fields the cluster changes after apply, which the plan must not try to put back each time: Argo
# Rollouts adds the revision's pod-template hash to both services' selectors and writes the
# weighted forward action into the ingress's annotations (a default computed field already).
COMPUTED_FIELDS: Mapping[str, tuple[str, ...]] = {
    "service-stable": (*DEFAULT_COMPUTED, "spec.selector"),
    "service-candidate": (*DEFAULT_COMPUTED, "spec.selector"),
}


class AppService(Construct):
    """``objects[id]`` is the ``kubernetes_manifest`` of each object (``rollout``, ``ingress``, ...)."""

    def __init__(self, scope: Construct, id_: str, *, spec: ServiceSpec) -> None:
        super().__init__(scope, id_)
        self.objects = {
            object_id: manifest.Manifest(
                self,
                object_id,
                manifest=body,
                computed_fields=list(COMPUTED_FIELDS[object_id]) if object_id in COMPUTED_FIELDS else None,
            )
            for object_id, body in service_objects(spec).items()
        }
