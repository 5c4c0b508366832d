# Database users as teams write them: a SCRAM user with roles and a cluster scope, an X.509
# user and an AWS IAM role user (both in $external). The update adds a role and a label.
resource "mongodbatlas_advanced_cluster" "app" {
  project_id   = var.project_id
  name         = "tf-users-cluster"
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

resource "mongodbatlas_database_user" "scram" {
  project_id         = var.project_id
  username           = "tf-app"
  password           = "a-Long-enough-passw0rd"
  auth_database_name = "admin"

  roles {
    role_name     = "readWrite"
    database_name = "app"
  }
  dynamic "roles" {
    for_each = var.stage == 1 ? [] : ["reports"]
    content {
      role_name     = "read"
      database_name = roles.value
    }
  }
  scopes {
    name = mongodbatlas_advanced_cluster.app.name
    type = "CLUSTER"
  }
  dynamic "labels" {
    for_each = var.stage == 1 ? {} : { team = "platform" }
    content {
      key   = labels.key
      value = labels.value
    }
  }
}

resource "mongodbatlas_database_user" "x509" {
  project_id         = var.project_id
  username           = "CN=tf-x509,OU=apps,O=example"
  x509_type          = "CUSTOMER"
  auth_database_name = "$external"
  roles {
    role_name     = "read"
    database_name = "app"
  }
}

resource "mongodbatlas_database_user" "iam" {
  project_id         = var.project_id
  username           = "arn:aws:iam::123456789012:role/tf-app"
  aws_iam_type       = "ROLE"
  auth_database_name = "$external"
  roles {
    role_name     = "readAnyDatabase"
    database_name = "admin"
  }
}

output "import_address" { value = "mongodbatlas_database_user.scram" }
output "import_id" { value = "${var.project_id}-tf-app-admin" }
