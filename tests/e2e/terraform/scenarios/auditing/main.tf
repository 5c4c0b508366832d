# Database auditing with a filter; the update also audits successful authorizations.
resource "mongodbatlas_auditing" "this" {
  project_id                  = var.project_id
  audit_filter                = jsonencode({ atype = "authenticate" })
  audit_authorization_success = var.stage == 2
  enabled                     = true
}

output "import_address" { value = "mongodbatlas_auditing.this" }
output "import_id" { value = var.project_id }
