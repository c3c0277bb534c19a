# One terraform_data per secret. Create: tfhook generates a random value itself (no secret ever
# travels through Terraform or a command line). Destroy: force-delete without a recovery window.

variable "hook" {
  type = object({ python = string, pythonpath = string, endpoint = string, region = string })
}

variable "prefix" {
  type = string
}

variable "secret_names" {
  type = list(string)
}

variable "kms_key_id" {
  type = string
}

resource "terraform_data" "aws_secretsmanager_secret" {
  for_each = toset(var.secret_names)

  triggers_replace = "${var.prefix}${each.key}"
  input            = merge(var.hook, { name = "${var.prefix}${each.key}", kms_key_id = var.kms_key_id })

  provisioner "local-exec" {
    command = "\"${self.input.python}\" -m recovery.sandbox.tfhook secret-create --name '${self.input.name}' --kms-key-id '${self.input.kms_key_id}'"
    environment = {
      AWS_ENDPOINT_URL   = self.input.endpoint
      AWS_DEFAULT_REGION = self.input.region
      PYTHONPATH         = self.input.pythonpath
    }
  }

  provisioner "local-exec" {
    when    = destroy
    command = "\"${self.output.python}\" -m recovery.sandbox.tfhook secret-delete --name '${self.output.name}'"
    environment = {
      AWS_ENDPOINT_URL   = self.output.endpoint
      AWS_DEFAULT_REGION = self.output.region
      PYTHONPATH         = self.output.pythonpath
    }
  }
}

output "names" {
  value = sort([for s in terraform_data.aws_secretsmanager_secret : s.output.name])
}
