"""The bootstrap stack: the Terraform state bucket, lock table, their key and access-log bucket."""
