# Sandbox stand-in for infrastructure/secrets-management/terraform/vault: the Vault deployment.
# Each terraform_data resource keeps a marker file in marker_dir while it "exists", so a destroy
# is visible in the world (the marker disappears). Nothing here talks to AWS.

terraform {
  required_version = ">= 1.5"
}

variable "python" {
  type = string
}

variable "pythonpath" {
  type = string
}

variable "marker_dir" {
  description = "directory holding one marker file per deployed piece"
  type        = string
}

variable "namespace" {
  type    = string
  default = "vault"
}

locals {
  pieces = ["vault_namespace", "vault_helm_release", "vault_raft_storage"]
}

resource "terraform_data" "vault" {
  for_each = toset(local.pieces)

  triggers_replace = each.key
  input = {
    python     = var.python
    pythonpath = var.pythonpath
    marker     = "${var.marker_dir}/${each.key}"
    namespace  = var.namespace
  }

  provisioner "local-exec" {
    command     = "\"${self.input.python}\" -m recovery.sandbox.tfhook marker-create --path '${self.input.marker}'"
    environment = { PYTHONPATH = self.input.pythonpath }
  }

  provisioner "local-exec" {
    when        = destroy
    command     = "\"${self.output.python}\" -m recovery.sandbox.tfhook marker-delete --path '${self.output.marker}'"
    environment = { PYTHONPATH = self.output.pythonpath }
  }
}

output "namespace" {
  value = var.namespace
}
