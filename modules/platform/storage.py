"""The cluster's default StorageClass: encrypted gp3 volumes of the EBS CSI driver, with a customer key.

Every claim that names no class (and Prometheus, which names :data:`DEFAULT_STORAGE_CLASS`) gets a gp3
volume encrypted with the cluster stack's volume key, created in the zone of the pod that first uses
it (``WaitForFirstConsumer``: a volume made before scheduling can land in a zone the pod cannot
reach), and growable in place. The key's policy lets the EBS CSI driver's IRSA role use it
(``stacks/cluster.py``).

EKS creates a ``gp2`` class of the in-tree provisioner; from Kubernetes 1.30 new clusters no longer
mark it default ("Amazon EKS 1.30 no longer assigns a default storage class", SAS Communities, read
2026-12-06), but a cluster created earlier and upgraded keeps the mark. Kubernetes then picks the
newest default class, so :class:`DefaultStorageClass` sets gp2's mark to ``"false"`` in every case
(one annotation, forced; the class itself stays EKS's).
"""

from __future__ import annotations

from dataclasses import dataclass

from modules.encryption_key import EncryptionKey
from modules.platform.cluster_objects import (
    DEFAULT_CLASS_ANNOTATION,
    DEFAULT_STORAGE_CLASS,
    EBS_CSI_PROVISIONER,
    EKS_STORAGE_CLASS,
)
from qualisys_infra.core.engine import Construct
from qualisys_infra.core.engine.kubernetes import object_annotations, storage_class_v1


@dataclass(frozen=True, slots=True, kw_only=True)
class DefaultStorageClassProps:
    """``volume_key`` encrypts every volume of the class; the EBS CSI driver must be allowed to use it.

    ``reclaim_policy`` ``Delete`` removes a volume with its claim (a StatefulSet's claims outlive the
    StatefulSet, so uninstalling a chart keeps its data); ``Retain`` keeps every volume until deleted
    by hand.
    """

    volume_key: EncryptionKey
    name: str = DEFAULT_STORAGE_CLASS
    reclaim_policy: str = "Delete"


class DefaultStorageClass(Construct):
    """``kubernetes_storage_class_v1`` (default, gp3, encrypted with the customer key) and gp2's
    default mark set to false."""

    def __init__(self, scope: Construct, id_: str, *, props: DefaultStorageClassProps) -> None:
        super().__init__(scope, id_)
        self.storage_class = storage_class_v1.StorageClassV1(
            self,
            "class",
            metadata=storage_class_v1.StorageClassV1Metadata(
                name=props.name, annotations={DEFAULT_CLASS_ANNOTATION: "true"}
            ),
            storage_provisioner=EBS_CSI_PROVISIONER,
            # The EBS CSI driver's parameters (kubernetes-sigs/aws-ebs-csi-driver, docs/parameters.md).
            parameters={
                "type": "gp3",
                "encrypted": "true",
                "kmsKeyId": props.volume_key.arn,
                "csi.storage.k8s.io/fstype": "ext4",
            },
            reclaim_policy=props.reclaim_policy,
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
        )
        self.name: str = props.name
        object_annotations.Annotations(
            self,
            "gp2-not-default",
            api_version="storage.k8s.io/v1",
            kind="StorageClass",
            metadata=object_annotations.AnnotationsMetadata(name=EKS_STORAGE_CLASS),
            annotations={DEFAULT_CLASS_ANNOTATION: "false"},
            force=True,
        )
