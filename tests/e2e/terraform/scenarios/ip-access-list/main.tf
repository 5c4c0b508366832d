# IP access list entries: a CIDR block and a single address; the update changes a comment and
# adds a temporary entry.
resource "mongodbatlas_project_ip_access_list" "office" {
  project_id = var.project_id
  cidr_block = "10.10.0.0/16"
  comment    = var.stage == 1 ? "office" : "office network"
}

resource "mongodbatlas_project_ip_access_list" "ci" {
  project_id = var.project_id
  ip_address = "192.0.2.10"
  comment    = "CI runner"
}

resource "mongodbatlas_project_ip_access_list" "temporary" {
  count             = var.stage == 1 ? 0 : 1
  project_id        = var.project_id
  ip_address        = "198.51.100.7"
  comment           = "contractor"
  delete_after_date = "2099-01-01T00:00:00Z"
}

output "import_address" { value = "mongodbatlas_project_ip_access_list.office" }
output "import_id" { value = "${var.project_id}-10.10.0.0/16" }
