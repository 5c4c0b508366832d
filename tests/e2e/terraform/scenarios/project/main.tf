# A project with tags and the project settings the resource manages; the update renames it,
# adds a tag and turns a setting off.
resource "mongodbatlas_project" "this" {
  name   = var.stage == 1 ? "tf-project" : "tf-project-renamed"
  org_id = var.org_id
  tags   = var.stage == 1 ? { env = "test" } : { env = "test", team = "platform" }

  is_data_explorer_enabled       = true
  is_performance_advisor_enabled = true
  is_schema_advisor_enabled      = var.stage == 1
}

output "import_address" { value = "mongodbatlas_project.this" }
output "import_id" { value = mongodbatlas_project.this.id }
