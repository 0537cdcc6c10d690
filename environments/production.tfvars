# production environment. Every key is documented in README.md ("Environment settings"); run
# `qualisys-infra environments` to validate this file.
environment = "production"
region      = "us-east-1"
az_count    = 2

# How changes reach it (docs/adding-an-environment.md): planned on pull requests, applied from main
# by deploy.yml through its own apply role, after a reviewer approves in the GitHub environment.
delivery = "pipeline"
approval = true

# One /16 per environment (dev 10.0, staging 10.1, production 10.2) so they can be peered later.
vpc_cidr              = "10.2.0.0/16"
public_subnet_cidrs   = ["10.2.0.0/24", "10.2.1.0/24"]
database_subnet_cidrs = ["10.2.8.0/24", "10.2.9.0/24"]
private_subnet_cidrs  = ["10.2.16.0/20", "10.2.32.0/20"]
nat_mode              = "per_az"

flow_log_retention_days = 90
log_retention_days      = 90

tags = {
  Environment = "production"
  CostCenter  = "production"
}

eks_kubernetes_version = "1.36" # support dates and pins per minor: qualisys_infra/core/lifecycle.py
node_groups = {
  general = {
    instance_types = ["t3.medium"]
    min_size       = 3
    desired_size   = 3
    max_size       = 10
  }
  playwright = {
    instance_types = ["c5.xlarge"]
    min_size       = 1
    desired_size   = 2
    max_size       = 20
  }
}

# Kubernetes namespaces (spec 5.1) with their ResourceQuota; limits default per container.
namespaces = {
  dev = {
    cpu_requests    = "1"
    memory_requests = "2Gi"
    cpu_limits      = "2"
    memory_limits   = "4Gi"
    pods            = 10
  }
  staging = {
    cpu_requests    = "1"
    memory_requests = "2Gi"
    cpu_limits      = "2"
    memory_limits   = "4Gi"
    pods            = 10
  }
  production = {
    cpu_requests    = "16"
    memory_requests = "32Gi"
    cpu_limits      = "32"
    memory_limits   = "64Gi"
    pods            = 200
  }
  "playwright-pool" = {
    cpu_requests    = "50"
    memory_requests = "100Gi"
    cpu_limits      = "100"
    memory_limits   = "200Gi"
    pods            = 160
  }
  monitoring = {
    cpu_requests    = "4"
    memory_requests = "12Gi"
    cpu_limits      = "8"
    memory_limits   = "24Gi"
    pods            = 60
  }
}

# The parallel Playwright runner pool (NFR-P2: 50+ runners): an Indexed Job in playwright-pool on the
# playwright node group. `qualisys-infra environments` checks that `runners` of these sizes fit the
# namespace's quota and the node group at max_size (per node: allocatable less kube-reserved and DaemonSets),
# and so do `concurrent_runners` across every run at once (NFR-S2: 100+ concurrent runners): the quota
# above holds 100 x the runner's requests and limits, the node group 6 runners per c5.xlarge.
test_pool = {
  runners            = 50
  concurrent_runners = 100
  cpu_request        = "500m"
  cpu_limit          = "1"
  memory_request     = "1Gi"
  memory_limit       = "2Gi"
}

ingress_domain            = "app.qualisys.io"
# Grafana behind the ingress edge (its own certificate, the WAF, Grafana's own login): https://grafana.qualisys.io
grafana_domain            = "grafana.qualisys.io"
# Every alert of this environment goes to its SNS topic, which mails these addresses.
alert_emails              = ["platform-alerts@qualisys.example"]
prometheus_retention_days = 30
prometheus_storage_gib    = 200
# The public hosted zone of this environment's hosts: the platform stack validates the edge
# certificates in it and ExternalDNS writes the hosts' records ("": both by hand).
route53_zone_name         = "qualisys.io"

rds_instance_class            = "db.r5.large"
rds_multi_az                  = true
rds_allocated_storage_gib     = 100
rds_max_allocated_storage_gib = 500
rds_backup_retention_days     = 7

redis_node_type               = "cache.r5.large"
redis_num_shards              = 2
redis_replicas_per_shard      = 1
redis_snapshot_retention_days = 7
