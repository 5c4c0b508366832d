# An Atlas Search index on a cluster; the update changes its analyzer.
resource "mongodbatlas_advanced_cluster" "this" {
  project_id   = var.project_id
  name         = "tf-search"
  cluster_type = "REPLICASET"
  replication_specs = [{
    region_configs = [{
      provider_name   = "AWS"
      region_name     = "US_EAST_1"
      priority        = 7
      electable_specs = { instance_size = "M10", node_count = 3 }
    }]
  }]
}

resource "mongodbatlas_search_index" "this" {
  project_id                      = var.project_id
  cluster_name                    = mongodbatlas_advanced_cluster.this.name
  name                            = "products"
  database                        = "shop"
  collection_name                 = "products"
  analyzer                        = var.stage == 1 ? "lucene.standard" : "lucene.english"
  search_analyzer                 = "lucene.standard"
  mappings_dynamic                = true
  wait_for_index_build_completion = true
}

output "import_address" { value = "mongodbatlas_search_index.this" }
output "import_id" { value = "${var.project_id}--${mongodbatlas_advanced_cluster.this.name}--${mongodbatlas_search_index.this.index_id}" }
