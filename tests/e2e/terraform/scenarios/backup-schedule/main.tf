# A cluster with cloud backup and its backup schedule; the update lengthens retention and adds
# a weekly policy.
resource "mongodbatlas_advanced_cluster" "this" {
  project_id     = var.project_id
  name           = "tf-backup"
  cluster_type   = "REPLICASET"
  backup_enabled = true
  replication_specs = [{
    region_configs = [{
      provider_name   = "AWS"
      region_name     = "US_EAST_1"
      priority        = 7
      electable_specs = { instance_size = "M10", node_count = 3 }
    }]
  }]
}

resource "mongodbatlas_cloud_backup_schedule" "this" {
  project_id   = var.project_id
  cluster_name = mongodbatlas_advanced_cluster.this.name

  reference_hour_of_day    = 3
  reference_minute_of_hour = 45
  restore_window_days      = 4

  policy_item_daily {
    frequency_interval = 1
    retention_unit     = "days"
    retention_value    = var.stage == 1 ? 7 : 14
  }
  dynamic "policy_item_weekly" {
    for_each = var.stage == 1 ? [] : [1]
    content {
      frequency_interval = 6
      retention_unit     = "weeks"
      retention_value    = 4
    }
  }
}

output "import_address" { value = "mongodbatlas_cloud_backup_schedule.this" }
output "import_id" { value = "${var.project_id}-${mongodbatlas_advanced_cluster.this.name}" }
