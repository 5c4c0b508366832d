# A sharded cluster with two independently described shards; the update scales the second
# shard (independent shard scaling).
resource "mongodbatlas_advanced_cluster" "this" {
  project_id   = var.project_id
  name         = "tf-sharded"
  cluster_type = "SHARDED"

  replication_specs = [
    {
      region_configs = [{
        provider_name   = "AWS"
        region_name     = "US_EAST_1"
        priority        = 7
        electable_specs = { instance_size = "M30", node_count = 3 }
      }]
    },
    {
      region_configs = [{
        provider_name   = "AWS"
        region_name     = "US_EAST_1"
        priority        = 7
        electable_specs = { instance_size = var.stage == 1 ? "M30" : "M40", node_count = 3 }
      }]
    },
  ]
}

output "import_address" { value = "mongodbatlas_advanced_cluster.this" }
output "import_id" { value = "${var.project_id}-${mongodbatlas_advanced_cluster.this.name}" }
