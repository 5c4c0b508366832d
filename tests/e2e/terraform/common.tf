# Shared by every scenario: run.sh copies it next to the scenario's main.tf.

terraform {
  required_providers {
    mongodbatlas = { source = "mongodb/mongodbatlas" }
  }
}

# Configured from the environment by run.sh: MONGODB_ATLAS_BASE_URL and either
# MONGODB_ATLAS_PUBLIC_API_KEY/MONGODB_ATLAS_PRIVATE_API_KEY or MONGODB_ATLAS_CLIENT_ID/_SECRET.
provider "mongodbatlas" {}

variable "org_id" { type = string }
variable "project_id" { type = string } # the project localatlas creates at its first start
variable "stage" {
  type    = number
  default = 1 # 1: as created; 2: the update
}
