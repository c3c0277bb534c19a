# Sandbox stand-in for infrastructure/secrets-management: the AWS Secrets Manager + KMS rollout.
# Built from terraform_data resources (no provider download); each resource's local-exec
# provisioners create / delete the matching object on a local moto server through
# `python -m recovery.sandbox.tfhook`, so destroying a resource really removes it from "AWS".
# Resource names carry the AWS type they stand for (aws_secretsmanager_secret, aws_kms_key, ...)
# so the Phase 2 address filter of the playbook works unchanged.

terraform {
  required_version = ">= 1.5"
}

variable "python" {
  description = "interpreter that runs recovery.sandbox.tfhook (the sandbox's own sys.executable)"
  type        = string
}

variable "pythonpath" {
  description = "directory that holds the recovery package"
  type        = string
}

variable "aws_endpoint" {
  description = "the local moto server (tfhook refuses any non-local endpoint)"
  type        = string
}

variable "aws_region" {
  type    = string
  default = "us-east-1"
}

variable "prefix" {
  description = "name prefix of every secret this stack manages"
  type        = string
  default     = "/candlefish/"
}

variable "secret_names" {
  description = "secret names under the prefix"
  type        = list(string)
  default     = ["managed/database", "managed/jwt-signing", "managed/api-gateway"]
}

variable "kms_alias" {
  type    = string
  default = "alias/candlefish-terraform"
}

variable "deploy_user" {
  type    = string
  default = "candlefish-deploy"
}

locals {
  hook = {
    python     = var.python
    pythonpath = var.pythonpath
    endpoint   = var.aws_endpoint
    region     = var.aws_region
  }
}

module "kms" {
  source = "./modules/kms"
  hook   = local.hook
  alias  = var.kms_alias
}

module "secrets_manager" {
  source       = "./modules/secrets_manager"
  hook         = local.hook
  prefix       = var.prefix
  secret_names = var.secret_names
  kms_key_id   = module.kms.alias
}

# Outside both modules: a targeted destroy of module.secrets_manager + module.kms must leave it.
resource "terraform_data" "deploy_user_policy" {
  input = {
    user   = var.deploy_user
    policy = "secretsmanager:GetSecretValue on ${var.prefix}*"
  }
}

output "secret_names" {
  value = module.secrets_manager.names
}

output "kms_alias" {
  value = module.kms.alias
}

output "deploy_user" {
  value = terraform_data.deploy_user_policy.output.user
}
