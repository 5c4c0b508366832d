# The project's maintenance window; the update moves it to another day and hour.
resource "mongodbatlas_maintenance_window" "this" {
  project_id              = var.project_id
  day_of_week             = var.stage == 1 ? 3 : 6
  hour_of_day             = var.stage == 1 ? 4 : 22
  auto_defer_once_enabled = var.stage == 2
}

output "import_address" { value = "mongodbatlas_maintenance_window.this" }
output "import_id" { value = var.project_id }
