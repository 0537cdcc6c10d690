"""The command modules: each parses its arguments and calls the wings (delivery, config, gates,
terraform, plan, tenancy). No command module imports another; ``cli`` dispatches to all of them."""
