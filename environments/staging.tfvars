# staging environment. Every key is documented in README.md ("Environment settings"); run
# `qualisys-infra environments` to validate this file.
environment = "staging"
region      = "us-east-1"
az_count    = 2

# How changes reach it (docs/adding-an-environment.md): planned on pull requests, applied from main
# by deploy.yml through its own apply role; approval = false: no reviewer waits before the apply.
delivery = "pipeline"
approval = false

# One /16 per environment (dev 10.0, staging 10.1, production 10.2) so they can be peered later.
vpc_cidr              = "10.1.0.0/16"
public_subnet_cidrs   = ["10.1.0.0/24", "10.1.1.0/24"]
database_subnet_cidrs = ["10.1.8.0/24", "10.1.9.0/24"]
private_subnet_cidrs  = ["10.1.16.0/20", "10.1.32.0/20"]
nat_mode              = "single"

flow_log_retention_days = 30
log_retention_days      = 30

tags = {
  Environment = "staging"
  CostCenter  = "engineering"
}

eks_kubernetes_version = "1.36" # support dates and pins per minor: qualisys_infra/core/lifecycle.py
node_groups = {
  general = {
    instance_types = ["t3.medium"]
    min_size       = 2
    desired_size   = 2
    max_size       = 6
  }
  playwright = {
    instance_types = ["c5.xlarge"]
    min_size       = 0
    desired_size   = 1
    max_size       = 17 # 17 x 6 runners per c5.xlarge: test_pool.concurrent_runners (NFR-S2)
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
    cpu_requests    = "6"
    memory_requests = "12Gi"
    cpu_limits      = "12"
    memory_limits   = "24Gi"
    pods            = 80
  }
  production = {
    cpu_requests    = "1"
    memory_requests = "2Gi"
    cpu_limits      = "2"
    memory_limits   = "4Gi"
    pods            = 10
  }
  "playwright-pool" = {
    cpu_requests    = "50"
    memory_requests = "100Gi"
    cpu_limits      = "100"
    memory_limits   = "200Gi"
    pods            = 120
  }
  monitoring = {
    cpu_requests    = "3"
    memory_requests = "8Gi"
    cpu_limits      = "6"
    memory_limits   = "16Gi"
    pods            = 50
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

ingress_domain            = "staging.qualisys.dev"
# Grafana behind the ingress edge (its own certificate, the WAF, Grafana's own login): https://grafana.staging.qualisys.dev
grafana_domain            = "grafana.staging.qualisys.dev"
# Every alert of this environment goes to its SNS topic, which mails these addresses.
alert_emails              = ["platform-alerts@qualisys.example"]
prometheus_retention_days = 15
prometheus_storage_gib    = 50
# The public hosted zone of this environment's hosts: the platform stack validates the edge
# certificates in it and ExternalDNS writes the hosts' records ("": both by hand).
route53_zone_name         = "qualisys.dev"

rds_instance_class            = "db.t3.medium"
rds_multi_az                  = true
rds_allocated_storage_gib     = 50
rds_max_allocated_storage_gib = 200
rds_backup_retention_days     = 7

redis_node_type               = "cache.t3.small"
redis_num_shards              = 1
redis_replicas_per_shard      = 1
redis_snapshot_retention_days = 3
