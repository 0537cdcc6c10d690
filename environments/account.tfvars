# Account-wide settings: the Terraform state backend that `bootstrap` creates and every other
# stack's S3 backend points at (spec story 0.1 AC7), and tags shared by every resource.
project = "qualisys"
region  = "us-east-1"

# S3 bucket names are global: change these if the names are taken.
state_bucket_name      = "qualisys-terraform-state"
access_log_bucket_name = "qualisys-terraform-state-access-logs"
lock_table_name        = "terraform-state-lock"

# IAM roles the EKS clusters grant access to (access entries); the account stack creates them.
admin_role_name       = "qualisys-platform-admin"
ci_deployer_role_name = "qualisys-github-deploy-staging"

# The account stack: who deploys, audit, cost alarms, images and third-party secrets.
github_repository             = "qualisys/qualisys"
github_deploy_branches        = ["main"]
github_production_environment = "production"
github_devops_team            = "devops" # approves production deployments (story 0.8 AC8)

cloudtrail_bucket_name         = "qualisys-cloudtrail-logs"
account_access_log_bucket_name = "qualisys-account-access-logs"
cloudtrail_retention_days      = 90

budget_limits_usd         = [500, 1000, 2000]
budget_alert_emails       = ["platform-alerts@qualisys.example"]
anomaly_threshold_percent = 150

ecr_repositories = ["qualisys-api", "qualisys-web", "qualisys-playwright-runner"]
ecr_keep_images  = 10

# The cluster runners' image in ECR qualisys-actions-runner (dev/runner.Dockerfile): the tag
# .github/workflows/runner-image.yml pushes for the committed Dockerfile (a test recomputes it).
github_runner_image_tag = "2.335.1-e1b846ff3645"

third_party_secrets         = ["openai-api-key", "anthropic-api-key", "google-oauth-client", "sendgrid-api-key", "github-app-private-key"]
secret_reader_role_names    = ["qualisys-staging-api", "qualisys-production-api"]
secret_recovery_window_days = 30

state_noncurrent_version_retention_days = 30
access_log_retention_days               = 90

tags = {
  Project   = "qualisys"
  ManagedBy = "qualisys-infra"
  Owner     = "platform-team"
}
