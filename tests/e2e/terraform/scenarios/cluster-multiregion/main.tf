# A replica set across two AWS regions; the update adds a third region (Azure), making it
# multi-cloud.
locals {
  regions = concat(
    [
      { provider = "AWS", region = "US_EAST_1", priority = 7, nodes = 3 },
      { provider = "AWS", region = "US_WEST_2", priority = 6, nodes = 2 },
    ],
    var.stage == 1 ? [] : [{ provider = "AZURE", region = "EUROPE_WEST", priority = 5, nodes = 2 }],
  )
}

resource "mongodbatlas_advanced_cluster" "this" {
  project_id   = var.project_id
  name         = "tf-multiregion"
  cluster_type = "REPLICASET"

  replication_specs = [{
    region_configs = [for r in local.regions : {
      provider_name   = r.provider
      region_name     = r.region
      priority        = r.priority
      electable_specs = { instance_size = "M10", node_count = r.nodes }
    }]
  }]
}

output "import_address" { value = "mongodbatlas_advanced_cluster.this" }
output "import_id" { value = "${var.project_id}-${mongodbatlas_advanced_cluster.this.name}" }
