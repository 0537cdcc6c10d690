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

state_noncurrent_version_retention_days = 30
access_log_retention_days               = 90

tags = {
  Project   = "qualisys"
  ManagedBy = "qualisys-infra"
  Owner     = "platform-team"
}
