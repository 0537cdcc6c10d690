# dev environment. Every key is documented in README.md ("Environment settings"); run
# `qualisys-infra environments` to validate this file.
environment = "dev"
region      = "us-east-1"
az_count    = 2

# How changes reach it (docs/adding-an-environment.md): applied by hand from a workstation, no
# pipeline role; "pipeline" would plan it on pull requests and apply it from main.
delivery = "manual"
approval = false

# One /16 per environment (dev 10.0, staging 10.1, production 10.2) so they can be peered later.
vpc_cidr              = "10.0.0.0/16"
public_subnet_cidrs   = ["10.0.0.0/24", "10.0.1.0/24"]
database_subnet_cidrs = ["10.0.8.0/24", "10.0.9.0/24"]
private_subnet_cidrs  = ["10.0.16.0/20", "10.0.32.0/20"]
nat_mode              = "single"

flow_log_retention_days = 30
log_retention_days      = 30

tags = {
  Environment = "dev"
  CostCenter  = "engineering"
}

eks_kubernetes_version = "1.36" # support dates and pins per minor: qualisys_infra/core/lifecycle.py
node_groups = {
  general = {
    instance_types = ["t3.medium"]
    min_size       = 1
    desired_size   = 2
    max_size       = 4
  }
  playwright = {
    instance_types = ["c5.xlarge"]
    min_size       = 0
    desired_size   = 0
    max_size       = 5
  }
}

# Kubernetes namespaces (spec 5.1) with their ResourceQuota; limits default per container.
namespaces = {
  dev = {
    cpu_requests    = "4"
    memory_requests = "8Gi"
    cpu_limits      = "8"
    memory_limits   = "16Gi"
    pods            = 50
  }
  staging = {
    cpu_requests    = "1"
    memory_requests = "2Gi"
    cpu_limits      = "2"
    memory_limits   = "4Gi"
    pods            = 10
  }
  production = {
    cpu_requests    = "1"
    memory_requests = "2Gi"
    cpu_limits      = "2"
    memory_limits   = "4Gi"
    pods            = 10
  }
  "playwright-pool" = {
    cpu_requests    = "8"
    memory_requests = "16Gi"
    cpu_limits      = "16"
    memory_limits   = "32Gi"
    pods            = 40
  }
  monitoring = {
    cpu_requests    = "2"
    memory_requests = "6Gi"
    cpu_limits      = "4"
    memory_limits   = "12Gi"
    pods            = 40
  }
}

# The parallel Playwright runner pool (NFR-P2: 50+ runners): an Indexed Job in playwright-pool on the
# playwright node group. `qualisys-infra environments` checks that `runners` of these sizes fit the
# namespace's quota and the node group at max_size (per node: allocatable less kube-reserved and DaemonSets).
# Dev admits 16 runners at once (its quota), not NFR-S2's 100: concurrent_runners stays `runners`.
test_pool = {
  runners        = 16
  cpu_request    = "500m"
  cpu_limit      = "1"
  memory_request = "1Gi"
  memory_limit   = "2Gi"
}

ingress_domain            = "dev.qualisys.dev"
# Grafana behind the ingress edge (its own certificate, the WAF, Grafana's own login): https://grafana.dev.qualisys.dev
grafana_domain            = "grafana.dev.qualisys.dev"
# Every alert of this environment goes to its SNS topic, which mails these addresses.
alert_emails              = ["platform-alerts@qualisys.example"]
prometheus_retention_days = 15
prometheus_storage_gib    = 50
# The public hosted zone of this environment's hosts: the platform stack validates the edge
# certificates in it and ExternalDNS writes the hosts' records ("": both by hand).
route53_zone_name         = "qualisys.dev"

rds_instance_class            = "db.t3.medium"
rds_multi_az                  = false
rds_allocated_storage_gib     = 20
rds_max_allocated_storage_gib = 100
rds_backup_retention_days     = 7
# dev only: no deletion protection and no final snapshot, so it can be torn down cheaply
rds_deletion_protection       = false

redis_node_type               = "cache.t3.micro"
redis_num_shards              = 1
redis_replicas_per_shard      = 0
redis_snapshot_retention_days = 0
