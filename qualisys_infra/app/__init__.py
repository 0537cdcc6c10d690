"""The roof: loading the settings, assembling and synthesizing the App, the gates run on its output
(Terraform's parser, the provider schemas, checkov), running Terraform, and the commands."""
