#!/usr/bin/env bash
# Runs the Terraform scenarios (tests/e2e/terraform/scenarios/*) against localatlas with the
# mongodbatlas provider, unmodified, found through dev_overrides in a CLI configuration named by
# TF_CLI_CONFIG_FILE (no init, no registry). Each scenario, on a fresh localatlas:
#   apply (stage 1) → plan must show no changes → apply (stage 2, the update) → plan no changes
#   → state rm + import of the resource the scenario names → plan no changes → destroy.
# A plan with changes after an apply or an import means localatlas read something back
# differently from Atlas: the runner prints the plan and counts the scenario as failed.
#
# Called by tests/e2e/go-clients.sh, which installs the clients. Environment:
#   TOFU          the Terraform-compatible CLI (OpenTofu's tofu, or terraform)
#   PROVIDER_DIR  the folder holding terraform-provider-mongodbatlas
#   LOCALATLAS_BIN the localatlas binary
#   TF_SCENARIOS  space-separated scenario names to run (default: all)
#   TF_MODES      space-separated modes: apikey-http (Digest, plain HTTP), sa-https (service
#                 account, HTTPS with SSL_CERT_FILE), and so on (default: every scenario in
#                 apikey-http, and the scenarios listed in scenarios/*/modes in their modes)
#   TF_LOGS       where to keep each run's logs (default: a temporary folder)
#   TF_LIFECYCLE  localatlas's --lifecycle (default instant)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${TOFU:?TOFU must name the tofu or terraform binary}"
: "${PROVIDER_DIR:?PROVIDER_DIR must name the folder of terraform-provider-mongodbatlas}"
: "${LOCALATLAS_BIN:?LOCALATLAS_BIN must name the localatlas binary}"
logs=${TF_LOGS:-$(mktemp -d)}
mkdir -p "$logs"

cliconfig="$logs/cli.tfrc"
cat >"$cliconfig" <<EOF
provider_installation {
  dev_overrides {
    "registry.opentofu.org/mongodb/mongodbatlas"  = "$PROVIDER_DIR"
    "registry.terraform.io/mongodb/mongodbatlas" = "$PROVIDER_DIR"
  }
  direct {}
}
EOF
export TF_CLI_CONFIG_FILE="$cliconfig" TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1

passed=0
failed=0
results=()

# run_step LOG NAME CMD...: runs one tofu command, appends its output to LOG, notes its time.
run_step() {
  local log=$1 name=$2
  shift 2
  local start
  start=$(date +%s.%N)
  echo "### $name: $*" >>"$log"
  "$@" >>"$log" 2>&1
  local rc=$?
  step_time=$(python3 -c "print(f'{$(date +%s.%N) - $start:.1f}')")
  echo "### $name: exit $rc after ${step_time} s" >>"$log"
  return $rc
}

# no_changes LOG NAME ARGS...: plan -detailed-exitcode; 0 = no changes, 2 = changes (failure).
no_changes() {
  local log=$1 name=$2
  shift 2
  run_step "$log" "$name" "$TOFU" plan -detailed-exitcode -no-color "$@"
  local rc=$?
  if [ $rc = 2 ]; then
    reason="$name: the plan shows changes (localatlas reads back differently from Atlas)"
  elif [ $rc != 0 ]; then
    reason="$name: plan failed (exit $rc)"
  fi
  return $rc
}

# scenario NAME MODE
scenario() {
  local name=$1 mode=$2
  local src="$here/scenarios/$name" work
  work=$(mktemp -d)
  local out="$logs/$name-$mode"
  rm -rf "$out"
  mkdir -p "$out"
  local log="$out/tofu.log"
  cp "$here/common.tf" "$src"/*.tf "$work/"

  local flags=(serve --listen 127.0.0.1:0 --store memory --bootstrap-out "$work/boot.json" --lifecycle "${TF_LIFECYCLE:-instant}")
  [[ $mode == *https* ]] && flags+=(--tls-ca-out "$work/ca.pem")
  LOCALATLAS_LOG=${LOCALATLAS_LOG:-info} "$LOCALATLAS_BIN" "${flags[@]}" >/dev/null 2>"$out/localatlas.log" &
  local server=$!
  for _ in $(seq 1 400); do
    [ -s "$work/boot.json" ] && break
    sleep 0.05
  done
  local boot
  boot=$(python3 -c 'import json,sys; b=json.load(open(sys.argv[1])); print(b["baseUrl"], b["orgId"], b["projectId"], b["apiKey"]["publicKey"], b["apiKey"]["privateKey"], b["serviceAccount"]["clientId"], b["serviceAccount"]["clientSecret"])' "$work/boot.json")
  local base org project pub priv cid csec
  read -r base org project pub priv cid csec <<<"$boot"

  (
    cd "$work" || exit 1
    unset MONGODB_ATLAS_PUBLIC_API_KEY MONGODB_ATLAS_PRIVATE_API_KEY MONGODB_ATLAS_PUBLIC_KEY MONGODB_ATLAS_PRIVATE_KEY \
      MONGODB_ATLAS_CLIENT_ID MONGODB_ATLAS_CLIENT_SECRET MONGODB_ATLAS_ACCESS_TOKEN SSL_CERT_FILE
    export MONGODB_ATLAS_BASE_URL="$base/"
    case $mode in
      apikey-*)
        export MONGODB_ATLAS_PUBLIC_API_KEY="$pub" MONGODB_ATLAS_PRIVATE_API_KEY="$priv"
        ;;
      sa-*)
        export MONGODB_ATLAS_CLIENT_ID="$cid" MONGODB_ATLAS_CLIENT_SECRET="$csec"
        ;;
    esac
    [[ $mode == *https* ]] && export SSL_CERT_FILE="$work/ca.pem"
    export TF_VAR_org_id="$org" TF_VAR_project_id="$project"
    times=()
    reason=""
    ok=1
    if run_step "$log" apply "$TOFU" apply -auto-approve -no-color -var stage=1; then
      times+=("apply ${step_time}s")
    else
      ok=0
      reason="apply failed"
    fi
    [ $ok = 1 ] && { no_changes "$log" "plan after apply" -var stage=1 || ok=0; }
    if [ $ok = 1 ]; then
      if run_step "$log" update "$TOFU" apply -auto-approve -no-color -var stage=2; then
        times+=("update ${step_time}s")
      else
        ok=0
        reason="update apply failed"
      fi
    fi
    [ $ok = 1 ] && { no_changes "$log" "plan after update" -var stage=2 || ok=0; }
    if [ $ok = 1 ]; then
      address=$("$TOFU" output -raw import_address 2>>"$log")
      id=$("$TOFU" output -raw import_id 2>>"$log")
      if run_step "$log" "state rm" "$TOFU" state rm -no-color "$address" &&
        run_step "$log" import "$TOFU" import -no-color -var stage=2 "$address" "$id"; then
        times+=("import ${step_time}s")
        no_changes "$log" "plan after import of $address ($id)" -var stage=2 || ok=0
      else
        ok=0
        reason="import of $address ($id) failed"
      fi
    fi
    # Destroy whatever was created, also after a failure (the server is thrown away anyway,
    # but a failing destroy is a finding of its own).
    if run_step "$log" destroy "$TOFU" destroy -auto-approve -no-color -var stage=2; then
      times+=("destroy ${step_time}s")
    elif [ $ok = 1 ]; then
      ok=0
      reason="destroy failed"
    fi
    echo "${times[*]}" >"$out/times"
    echo "$reason" >"$out/reason"
    [ $ok = 1 ]
  )
  local rc=$?
  kill "$server" 2>/dev/null
  wait "$server" 2>/dev/null
  rm -rf "$work"
  local times reason
  times=$(cat "$out/times" 2>/dev/null)
  reason=$(cat "$out/reason" 2>/dev/null)
  if [ $rc = 0 ]; then
    passed=$((passed + 1))
    results+=("PASS $name [$mode] ($times)")
    echo "terraform: PASS $name [$mode] ($times)"
  else
    failed=$((failed + 1))
    results+=("FAIL $name [$mode]: $reason ($times; logs in $out)")
    echo "terraform: FAIL $name [$mode]: $reason"
    # The errors and the planned changes, enough to see what localatlas answered.
    grep -E -A12 '^(Error|│ Error)|will be updated in-place|must be replaced|has changed' "$log" | head -60 | sed 's/^/    /'
  fi
}

all=$(cd "$here/scenarios" && ls -d */ | tr -d /)
for name in ${TF_SCENARIOS:-$all}; do
  if [ -n "${TF_MODES:-}" ]; then
    modes=$TF_MODES
  elif [ -f "$here/scenarios/$name/modes" ]; then
    modes=$(cat "$here/scenarios/$name/modes")
  else
    modes=apikey-http
  fi
  for mode in $modes; do
    scenario "$name" "$mode"
  done
done

echo
for r in "${results[@]}"; do echo "  $r"; done
echo "terraform: $passed passed, $failed failed"
