# A KMS key (found again by its Name tag) and its alias. Destroy schedules the key's deletion
# (7 days, the AWS minimum) and removes the alias.

variable "hook" {
  type = object({ python = string, pythonpath = string, endpoint = string, region = string })
}

variable "alias" {
  type = string
}

resource "terraform_data" "aws_kms_key" {
  triggers_replace = var.alias
  input            = merge(var.hook, { name = trimprefix(var.alias, "alias/") })

  provisioner "local-exec" {
    command = "\"${self.input.python}\" -m recovery.sandbox.tfhook kms-key-create --name '${self.input.name}'"
    environment = {
      AWS_ENDPOINT_URL   = self.input.endpoint
      AWS_DEFAULT_REGION = self.input.region
      PYTHONPATH         = self.input.pythonpath
    }
  }

  provisioner "local-exec" {
    when    = destroy
    command = "\"${self.output.python}\" -m recovery.sandbox.tfhook kms-key-delete --name '${self.output.name}'"
    environment = {
      AWS_ENDPOINT_URL   = self.output.endpoint
      AWS_DEFAULT_REGION = self.output.region
      PYTHONPATH         = self.output.pythonpath
    }
  }
}

resource "terraform_data" "aws_kms_alias" {
  triggers_replace = var.alias
  input            = merge(var.hook, { alias = var.alias, key_name = terraform_data.aws_kms_key.output.name })

  provisioner "local-exec" {
    command = "\"${self.input.python}\" -m recovery.sandbox.tfhook kms-alias-create --alias '${self.input.alias}' --key-name '${self.input.key_name}'"
    environment = {
      AWS_ENDPOINT_URL   = self.input.endpoint
      AWS_DEFAULT_REGION = self.input.region
      PYTHONPATH         = self.input.pythonpath
    }
  }

  provisioner "local-exec" {
    when    = destroy
    command = "\"${self.output.python}\" -m recovery.sandbox.tfhook kms-alias-delete --alias '${self.output.alias}'"
    environment = {
      AWS_ENDPOINT_URL   = self.output.endpoint
      AWS_DEFAULT_REGION = self.output.region
      PYTHONPATH         = self.output.pythonpath
    }
  }
}

output "alias" {
  value = terraform_data.aws_kms_alias.output.alias
}
