# The README's cluster: a three-node replica set; the update scales it from M10 to M20.
resource "mongodbatlas_advanced_cluster" "this" {
  project_id   = var.project_id
  name         = "tf-replicaset"
  cluster_type = "REPLICASET"

  replication_specs = [{
    region_configs = [{
      provider_name = "AWS"
      region_name   = "US_EAST_1"
      priority      = 7
      electable_specs = {
        instance_size = var.stage == 1 ? "M10" : "M20"
        node_count    = 3
      }
    }]
  }]
}

output "import_address" { value = "mongodbatlas_advanced_cluster.this" }
output "import_id" { value = "${var.project_id}-${mongodbatlas_advanced_cluster.this.name}" }
