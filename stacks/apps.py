"""``<env>-apps``: the platform's services (hello first), each rolled out by Argo Rollouts.

The image tag of each service is a Terraform variable, ``<service>_image_tag``: an input of the
plan, recorded in it and shown by the review, so a release is a reviewed plan like any other change
(``qualisys-infra release``). The stack outputs the tags it runs (``image_tags``); a plan that is
not a release reads them back, so an infrastructure change never changes what runs.

Every environment rolls out the same way, by canary (10 % → 50 % → 100 % of the ALB's traffic, a
pause and the analysis after each step): what a production release does, a staging release has
done before with the same objects (story 0.12 AC4; ``release`` refuses a production tag that did
not complete a healthy staging release).
"""

from __future__ import annotations

from modules.apps.objects import ServiceSpec, Strategy
from modules.apps.service import AppService
from modules.eks import EksCluster
from modules.platform.edge import IngressEdge
from modules.platform.namespaces import APP_INTERNAL_PORT, APP_PORT, MONITORING
from modules.platform.providers import configure_cluster_providers
from modules.platform.values import KPS_FULLNAME
from qualisys_infra.core.engine import Construct, Fn, TerraformVariable
from qualisys_infra.core.naming import IMAGE_TAG_EXPECTED, IMAGE_TAG_PATTERN, SERVICES, image_tag_variable
from qualisys_infra.core.settings import AccountConfig, EnvironmentConfig
from stacks.base import EnvironmentStack

# One strategy everywhere: staging rehearses the production rollout, steps and traffic weights included.
ROLLOUT_STRATEGY = Strategy.CANARY
PROMETHEUS_URL = f"http://{KPS_FULLNAME}-prometheus.{MONITORING}.svc:9090"


class AppsStack(EnvironmentStack):
    """Each service of :data:`~qualisys_infra.core.naming.SERVICES` in the environment's namespace."""

    KIND = "apps"

    def __init__(
        self,
        scope: Construct,
        *,
        account: AccountConfig,
        env: EnvironmentConfig,
        cluster: EksCluster,
        edge: IngressEdge,
    ) -> None:
        super().__init__(scope, account=account, env=env)
        ctx = self.account_context()
        configure_cluster_providers(self, cluster=cluster, region=env.region, helm_too=False)
        # The services' ECR repositories are the account stack's, in the account's region (per account,
        # not per region): an environment in another region pulls across regions, never from its own.
        registry = f"{ctx.account_id}.dkr.ecr.{account.region}.amazonaws.com"
        annotations = edge.alb_annotations()
        self.services: dict[str, AppService] = {}
        tags: dict[str, str] = {}
        for name in SERVICES:
            variable = TerraformVariable(
                self,
                image_tag_variable(name),
                type="string",
                nullable=False,
                description=f"Image tag of {name} to run (a git commit or a release version): set by"
                " `qualisys-infra release`, read back from the stack's outputs otherwise",
            )
            variable.add_validation(
                condition=Fn.can(Fn.regex(f"^({IMAGE_TAG_PATTERN})$", variable.string_value)),
                error_message=f"{image_tag_variable(name)}: {IMAGE_TAG_EXPECTED}",
            )
            tag = variable.string_value
            tags[name] = tag
            self.services[name] = AppService(
                self,
                name,
                spec=ServiceSpec(
                    name=name,
                    project=account.project,
                    namespace=env.environment,
                    image=f"{registry}/{account.project}-{name}:{tag}",
                    version=tag,
                    port=APP_PORT,
                    internal_port=APP_INTERNAL_PORT,
                    host=env.ingress_domain,
                    strategy=ROLLOUT_STRATEGY,
                    prometheus_url=PROMETHEUS_URL,
                    ingress_annotations=annotations,
                ),
            )
        self.outputs(
            {"image_tags": (tags, "The image tag each service runs (read back by plans that are not releases)")}
        )
