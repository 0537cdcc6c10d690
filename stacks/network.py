"""``<env>-network``: the environment's VPC and everything the data and cluster stacks attach to."""

from __future__ import annotations

from modules.encryption_key import EncryptionKey, EncryptionKeyProps
from modules.network import Network, NetworkProps
from qualisys_infra.core.engine import Construct
from qualisys_infra.core.settings import AccountConfig, EnvironmentConfig
from stacks.base import EnvironmentStack


class NetworkStack(EnvironmentStack):
    """VPC, subnets, NAT, flow logs (with their key) and the database/cache subnet groups."""

    KIND = "network"

    def __init__(self, scope: Construct, *, account: AccountConfig, env: EnvironmentConfig) -> None:
        super().__init__(scope, account=account, env=env)
        name = self.prefix
        context = self.account_context()
        log_prefix = f"/aws/vpc/{name}/"
        self.flow_log_key = EncryptionKey(
            self,
            "flow-log-key",
            props=EncryptionKeyProps(
                alias_name=f"{name}-vpc-flow-logs",
                description=f"{name}: VPC flow logs",
                context=context,
                log_group_name_prefix=log_prefix,
            ),
        )
        self.network = Network(
            self,
            "network",
            props=NetworkProps(
                name=name,
                context=context,
                vpc_cidr=env.vpc_cidr,
                public_subnet_cidrs=env.public_subnet_cidrs,
                private_subnet_cidrs=env.private_subnet_cidrs,
                database_subnet_cidrs=env.database_subnet_cidrs,
                nat_mode=env.nat_mode,
                availability_zones=env.availability_zones,
                flow_log_key=self.flow_log_key,
                flow_log_retention_days=env.flow_log_retention_days,
            ),
        )
        n = self.network
        outputs: dict[str, tuple[object, str]] = {
            "vpc_id": (n.vpc_id, "VPC id"),
            "vpc_cidr_block": (n.vpc.cidr_block, "VPC network"),
            "public_subnet_ids": (n.public_subnet_ids, "Public subnets (load balancers, NAT)"),
            "private_subnet_ids": (n.private_subnet_ids, "Private subnets (EKS nodes)"),
            "database_subnet_ids": (n.database_subnet_ids, "Isolated database subnets"),
            "db_subnet_group_name": (n.db_subnet_group.name, "RDS subnet group"),
            "elasticache_subnet_group_name": (n.cache_subnet_group.name, "ElastiCache subnet group"),
            "nat_public_ips": ([ip.public_ip for ip in n.nat_ips], "Egress addresses of the NAT gateways"),
            "flow_log_group_name": (n.flow_log_group.name, "CloudWatch log group of the VPC flow logs"),
        }
        self.outputs(outputs)
