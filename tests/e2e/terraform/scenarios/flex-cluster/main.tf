# A flex cluster; the update turns on termination protection and adds a tag.
resource "mongodbatlas_flex_cluster" "this" {
  project_id = var.project_id
  name       = "tf-flex"
  provider_settings = {
    backing_provider_name = "AWS"
    region_name           = "US_EAST_1"
  }
  termination_protection_enabled = false
  tags                           = var.stage == 1 ? { env = "test" } : { env = "test", team = "platform" }
}

output "import_address" { value = "mongodbatlas_flex_cluster.this" }
output "import_id" { value = "${var.project_id}-${mongodbatlas_flex_cluster.this.name}" }
