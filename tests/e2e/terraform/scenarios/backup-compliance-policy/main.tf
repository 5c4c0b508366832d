# A backup compliance policy on its own project; the update raises the daily retention.
resource "mongodbatlas_project" "this" {
  name   = "tf-compliance"
  org_id = var.org_id
}

resource "mongodbatlas_backup_compliance_policy" "this" {
  project_id                 = mongodbatlas_project.this.id
  authorized_email           = "security@example.com"
  authorized_user_first_name = "Sec"
  authorized_user_last_name  = "Ops"
  copy_protection_enabled    = false
  pit_enabled                = false
  encryption_at_rest_enabled = false
  restore_window_days        = 7

  policy_item_daily {
    frequency_interval = 1
    retention_unit     = "days"
    retention_value    = var.stage == 1 ? 7 : 14
  }
}

output "import_address" { value = "mongodbatlas_backup_compliance_policy.this" }
output "import_id" { value = mongodbatlas_project.this.id }
