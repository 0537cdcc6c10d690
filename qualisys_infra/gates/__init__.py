"""The gates a synthesized stack passes before anything is planned: the provider schemas, Terraform's
own parser and the checkov security scan."""
