"""The ingress hosts in Route 53: certificate validation records and the hosts' own records.

When an environment names its public hosted zone (``route53_zone_name``), the platform stack:

- writes each edge certificate's DNS validation records into the zone and waits until ACM has issued
  the certificate (``aws_acm_certificate_validation``), so the ALB's HTTPS listener never names a
  certificate still pending;
- runs ExternalDNS (pinned chart, :mod:`modules.platform.charts`), which writes an alias record for
  every Ingress host of the cluster once the AWS Load Balancer Controller has made its ALB: the ALB
  exists only after the apps stack's Ingress, and its name is the controller's, so no Terraform
  resource can name it beforehand. ExternalDNS only adds and updates (``upsert-only``: it never
  deletes a record), owns the records it made by a TXT record naming this cluster, and its IAM role
  may change records in this zone only.

Without a zone, both are manual: the platform stack outputs the validation records, and the host's
record points at the ALB the controller names in the Ingress's status.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from modules.eks import EksCluster, irsa_role
from modules.platform.charts import CHARTS
from modules.platform.namespaces import KUBE_SYSTEM
from modules.platform.values import to_yaml
from modules.policy import Condition, Statement
from qualisys_infra.core.engine import Construct, TerraformIterator
from qualisys_infra.core.engine.aws import (
    acm_certificate,
    acm_certificate_validation,
    data_aws_route53_zone,
    route53_record,
)
from qualisys_infra.core.engine.helm import release

EXTERNAL_DNS_RELEASE = "external-dns"
EXTERNAL_DNS_SERVICE_ACCOUNT = "external-dns"
VALIDATION_RECORD_TTL_SECONDS = 60
RELEASE_TIMEOUT_SECONDS = 600
# The writes ExternalDNS makes, and the reads of the zone it makes them in (ExternalDNS's AWS
# tutorial, docs/tutorials/aws.md at tag external-dns-helm-chart-1.21.1, with its ABAC variant): on
# the zone's ARN, and the writes only to the environment's hosts, of the types an alias and its TXT
# ownership record have, never a DELETE (upsert-only).
ZONE_ACTIONS = ("route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets", "route53:ListTagsForResources")
RECORD_CHANGES = ("CREATE", "UPSERT")
RECORD_TYPES = ("A", "AAAA", "CNAME", "TXT")
# Finding the zone by its id among the account's: ListHostedZones has no resource-level permissions.
FIND_ZONES = ("route53:ListHostedZones",)


@dataclass(frozen=True, slots=True, kw_only=True)
class IngressDnsProps:
    """The zone, the certificates to validate in it, and the cluster ExternalDNS runs in.

    ``certificates`` maps a short name (``ingress``, ``grafana``; it names the records' construct ids)
    to each certificate of the edge; every one's domain must lie in ``zone_name``. ``hosts`` are the
    Ingress hosts ExternalDNS may write records for (and their TXT ownership records, ``<type>-<host>``).
    """

    name: str  # the cluster's name: ExternalDNS's owner id
    zone_name: str
    hosts: tuple[str, ...]
    region: str
    cluster: EksCluster
    certificates: Mapping[str, acm_certificate.AcmCertificate]


class IngressDns(Construct):
    """``zone`` (data source), validation records and ``validations[name]`` per certificate, and
    the ExternalDNS release with its IRSA role."""

    def __init__(self, scope: Construct, id_: str, *, props: IngressDnsProps) -> None:
        super().__init__(scope, id_)
        self.zone = data_aws_route53_zone.DataAwsRoute53Zone(self, "zone", name=props.zone_name, private_zone=False)
        self.validations: dict[str, acm_certificate_validation.AcmCertificateValidation] = {}
        for name, certificate in props.certificates.items():
            # One record per validation option, keyed by the domain it validates (known at plan time).
            options = TerraformIterator.from_complex_list(certificate.domain_validation_options, "domain_name")
            records = route53_record.Route53Record(
                self,
                f"{name}-validation",
                for_each=options,
                zone_id=self.zone.zone_id,
                name=options.get_string("resource_record_name"),
                type=options.get_string("resource_record_type"),
                records=[options.get_string("resource_record_value")],
                ttl=VALIDATION_RECORD_TTL_SECONDS,
                # ACM gives a renewed or re-created certificate of the same domain the same record.
                allow_overwrite=True,
            )
            self.validations[name] = acm_certificate_validation.AcmCertificateValidation(
                self, f"{name}-validated", certificate_arn=certificate.arn, depends_on=[records]
            )
        self.role = irsa_role(
            self,
            "external-dns-role",
            cluster=props.cluster,
            namespace=KUBE_SYSTEM,
            service_account=EXTERNAL_DNS_SERVICE_ACCOUNT,
            description=f"ExternalDNS of {props.name}: records of the ingress hosts in {props.zone_name} only",
            statements=(
                Statement(
                    sid="ChangeTheHostsRecordsInTheZone",
                    actions=ZONE_ACTIONS,
                    resources=(self.zone.arn,),
                    conditions=(
                        Condition(
                            test="ForAllValues:StringLike",
                            variable="route53:ChangeResourceRecordSetsNormalizedRecordNames",
                            values=tuple(name for host in props.hosts for name in (host, f"*-{host}")),
                        ),
                        Condition(
                            test="ForAllValues:StringEquals",
                            variable="route53:ChangeResourceRecordSetsActions",
                            values=RECORD_CHANGES,
                        ),
                        Condition(
                            test="ForAllValues:StringEquals",
                            variable="route53:ChangeResourceRecordSetsRecordTypes",
                            values=RECORD_TYPES,
                        ),
                    ),
                ),
                Statement(sid="FindTheZone", actions=FIND_ZONES, resources=("*",)),
            ),
        )
        chart = CHARTS[EXTERNAL_DNS_RELEASE]
        self.release = release.Release(
            self,
            EXTERNAL_DNS_RELEASE,
            name=EXTERNAL_DNS_RELEASE,
            repository=chart.repository,
            chart=chart.chart,
            version=chart.version,
            namespace=KUBE_SYSTEM,
            values=[
                to_yaml(
                    external_dns_values(
                        owner=props.name,
                        zone_name=props.zone_name,
                        zone_id=self.zone.zone_id,
                        region=props.region,
                        role_arn=self.role.arn,
                    )
                )
            ],
            atomic=True,
            cleanup_on_fail=True,
            timeout=RELEASE_TIMEOUT_SECONDS,
        )


def external_dns_values(*, owner: str, zone_name: str, zone_id: str, region: str, role_arn: str) -> dict[str, Any]:
    """ExternalDNS for the AWS provider: Ingress hosts only, in ``zone_id`` only, never deleting a
    record, owning what it writes by ``owner``; its service account assumes ``role_arn``."""
    return {
        "fullnameOverride": EXTERNAL_DNS_RELEASE,
        "serviceAccount": {
            "create": True,
            "name": EXTERNAL_DNS_SERVICE_ACCOUNT,
            "annotations": {"eks.amazonaws.com/role-arn": role_arn},
        },
        "provider": {"name": "aws"},
        "env": [{"name": "AWS_DEFAULT_REGION", "value": region}],
        "sources": ["ingress"],
        "policy": "upsert-only",
        "registry": "txt",
        "txtOwnerId": owner,
        "domainFilters": [zone_name],
        "extraArgs": [f"--zone-id-filter={zone_id}", "--aws-zone-type=public"],
        "logFormat": "json",
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "256Mi"}},
    }
