# Two alert configurations: a metric threshold and an event alert; the update changes the
# threshold and the notification interval.
resource "mongodbatlas_alert_configuration" "metric" {
  project_id = var.project_id
  event_type = "OUTSIDE_METRIC_THRESHOLD"
  enabled    = true

  notification {
    type_name     = "GROUP"
    interval_min  = var.stage == 1 ? 5 : 15
    delay_min     = 0
    sms_enabled   = false
    email_enabled = true
    roles         = ["GROUP_OWNER"]
  }

  metric_threshold_config {
    metric_name = "ASSERT_REGULAR"
    operator    = "GREATER_THAN"
    threshold   = var.stage == 1 ? 99.0 : 50.0
    units       = "RAW"
    mode        = "AVERAGE"
  }
}

resource "mongodbatlas_alert_configuration" "event" {
  project_id = var.project_id
  event_type = "NO_PRIMARY"
  enabled    = true

  notification {
    type_name     = "GROUP"
    interval_min  = 5
    delay_min     = 0
    sms_enabled   = false
    email_enabled = true
    roles         = ["GROUP_OWNER"]
  }
}

output "import_address" { value = "mongodbatlas_alert_configuration.metric" }
output "import_id" { value = "${var.project_id}-${mongodbatlas_alert_configuration.metric.alert_configuration_id}" }
