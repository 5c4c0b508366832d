# A replica set with an analytics node and auto-scaling; the update adds a second analytics
# node and a read-only node.
resource "mongodbatlas_advanced_cluster" "this" {
  project_id     = var.project_id
  name           = "tf-analytics"
  cluster_type   = "REPLICASET"
  backup_enabled = true

  replication_specs = [{
    region_configs = [{
      provider_name = "AWS"
      region_name   = "US_EAST_1"
      priority      = 7
      electable_specs = {
        instance_size = "M30"
        node_count    = 3
      }
      analytics_specs = {
        instance_size = "M30"
        node_count    = var.stage == 1 ? 1 : 2
      }
      read_only_specs = var.stage == 1 ? null : {
        instance_size = "M30"
        node_count    = 1
      }
      auto_scaling = {
        disk_gb_enabled = true
      }
    }]
  }]

  tags = { env = "test" }
}

output "import_address" { value = "mongodbatlas_advanced_cluster.this" }
output "import_id" { value = "${var.project_id}-${mongodbatlas_advanced_cluster.this.name}" }
