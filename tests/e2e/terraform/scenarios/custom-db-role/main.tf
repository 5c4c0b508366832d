# A custom database role, and one that inherits it; the update adds an action.
resource "mongodbatlas_custom_db_role" "reader" {
  project_id = var.project_id
  role_name  = "tfReader"

  actions {
    action = "FIND"
    resources {
      database_name   = "app"
      collection_name = ""
    }
  }
  dynamic "actions" {
    for_each = var.stage == 1 ? [] : ["LIST_COLLECTIONS"]
    content {
      action = actions.value
      resources {
        database_name   = "app"
        collection_name = ""
      }
    }
  }
}

resource "mongodbatlas_custom_db_role" "writer" {
  project_id = var.project_id
  role_name  = "tfWriter"

  actions {
    action = "INSERT"
    resources {
      database_name   = "app"
      collection_name = "orders"
    }
  }
  inherited_roles {
    role_name     = mongodbatlas_custom_db_role.reader.role_name
    database_name = "admin"
  }
}

output "import_address" { value = "mongodbatlas_custom_db_role.reader" }
output "import_id" { value = "${var.project_id}-tfReader" }
