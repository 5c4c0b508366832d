# A team given a project role, and an organization API key assigned to the project; the
# update changes the team's project roles and the key's description.
resource "mongodbatlas_team" "this" {
  org_id = var.org_id
  name   = "tf-team"
}

resource "mongodbatlas_team_project_assignment" "this" {
  project_id = var.project_id
  team_id    = mongodbatlas_team.this.team_id
  role_names = var.stage == 1 ? ["GROUP_READ_ONLY"] : ["GROUP_READ_ONLY", "GROUP_DATA_ACCESS_READ_WRITE"]
}

resource "mongodbatlas_api_key" "this" {
  org_id      = var.org_id
  description = var.stage == 1 ? "tf key" : "tf key (renamed)"
  role_names  = ["ORG_MEMBER"]
}

resource "mongodbatlas_api_key_project_assignment" "this" {
  project_id = var.project_id
  api_key_id = mongodbatlas_api_key.this.api_key_id
  roles      = ["GROUP_READ_ONLY"]
}

output "import_address" { value = "mongodbatlas_team.this" }
output "import_id" { value = "${var.org_id}-${mongodbatlas_team.this.team_id}" }
