#!/usr/bin/env bash
# The Go clients against localatlas: installs them as Go modules at the versions pinned below
# (caches and binaries under tests/e2e/.cache/, gitignored), then runs
#   - the Go SDK program (tests/go-sdk, `go test`) against a fresh localatlas over HTTP and HTTPS;
#   - the Terraform scenarios (tests/e2e/terraform/run.sh) with the mongodbatlas provider found
#     through dev_overrides and OpenTofu as the CLI.
# Prints each part's build time, the results and a closing "N passed, N failed" line; exits
# non-zero when something failed. Without `go` it says so and exits 0; a client the module
# proxy does not serve is reported as skipped (with the proxy's answer), not failed.
#
# Environment: LOCALATLAS_BIN (the binary to test; required), GO_CLIENTS=sdk,terraform (which
# parts to run; default both), TF_SCENARIOS / TF_MODES (see terraform/run.sh).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

# Pinned versions. The provider's module path has no /v2: v2 releases are reached by their
# release commit (v2.16.0 is 08aab405e4d2). The SDK is the newest the module proxy serves whole.
TOFU_MODULE=github.com/opentofu/opentofu/cmd/tofu@v1.6.3
PROVIDER_MODULE=github.com/mongodb/terraform-provider-mongodbatlas@08aab405e4d2

if ! command -v go >/dev/null 2>&1; then
  echo "go-clients: 'go' is not installed: the Go SDK program and the Terraform scenarios are skipped"
  exit 0
fi
if [ -z "${LOCALATLAS_BIN:-}" ] || [ ! -x "$LOCALATLAS_BIN" ]; then
  echo "go-clients: LOCALATLAS_BIN must name the localatlas binary" >&2
  exit 1
fi

cache="$here/.cache"
mkdir -p "$cache/bin" "$cache/stamps" "$cache/logs"
export GOPATH="$cache/go" GOMODCACHE="$cache/go/pkg/mod" GOCACHE="$cache/go-build" GOBIN="$cache/bin"
export GOFLAGS=-modcacherw GOTOOLCHAIN=local
echo "go-clients: $(go version); caches in $cache"

parts=",${GO_CLIENTS:-sdk,terraform},"
passed=0
failed=0
skipped=0
summary=()
note() { summary+=("$1"); echo "go-clients: $1"; }

# install NAME MODULE@VERSION BINARY: go install once per pinned version (a stamp file records
# what is installed); prints the time taken. Returns non-zero with the proxy's error in
# $cache/logs/install-NAME.log when the module cannot be had.
install() {
  local name=$1 module=$2 binary=$3 stamp="$cache/stamps/$1"
  if [ -x "$cache/bin/$binary" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$module" ]; then
    echo "go-clients: $name already installed ($module)"
    return 0
  fi
  local start=$SECONDS
  echo "go-clients: installing $name: go install $module"
  if go install "$module" >"$cache/logs/install-$name.log" 2>&1; then
    echo "$module" >"$stamp"
    note "$name installed in $((SECONDS - start)) s ($module)"
    return 0
  fi
  rm -f "$stamp"
  return 1
}

# --- The Go SDK program ---------------------------------------------------------------------

# start_server DIR [--tls]: a localatlas on a free port with an in-memory store; exports the
# variables docs/clients.md tells users to set. Its log is DIR/server.log.
start_server() {
  local dir=$1 tls=${2:-}
  local args=(serve --listen 127.0.0.1:0 --store memory --bootstrap-out "$dir/boot.json")
  [ "$tls" = --tls ] && args+=(--tls-ca-out "$dir/ca.pem")
  LOCALATLAS_LOG=${LOCALATLAS_LOG:-info} "$LOCALATLAS_BIN" "${args[@]}" >"$dir/server.out" 2>"$dir/server.log" &
  echo $! >"$dir/server.pid"
  for _ in $(seq 1 400); do
    [ -s "$dir/boot.json" ] && break
    sleep 0.05
  done
  [ -s "$dir/boot.json" ] || { echo "localatlas did not start:"; cat "$dir/server.log"; return 1; }
  eval "$(python3 - "$dir/boot.json" <<'EOF'
import json, shlex, sys
b = json.load(open(sys.argv[1]))
for k, v in {"LOCALATLAS": b["baseUrl"], "ORG_ID": b["orgId"], "PROJECT_ID": b["projectId"],
             "PUBLIC_KEY": b["apiKey"]["publicKey"], "PRIVATE_KEY": b["apiKey"]["privateKey"],
             "CLIENT_ID": b["serviceAccount"]["clientId"],
             "CLIENT_SECRET": b["serviceAccount"]["clientSecret"]}.items():
    print(f"export {k}={shlex.quote(v)}")
EOF
)"
  if [ "$tls" = --tls ]; then export SSL_CERT_FILE="$dir/ca.pem"; else unset SSL_CERT_FILE; fi
}

stop_server() {
  local dir=$1
  [ -f "$dir/server.pid" ] && kill "$(cat "$dir/server.pid")" 2>/dev/null
  wait "$(cat "$dir/server.pid")" 2>/dev/null
  rm -f "$dir/server.pid"
}

if [[ $parts == *,sdk,* ]]; then
  start=$SECONDS
  if (cd "$repo/tests/go-sdk" && go test -c -o "$cache/bin/go-sdk.test" . >"$cache/logs/build-go-sdk.log" 2>&1); then
    note "Go SDK program built in $((SECONDS - start)) s ($(cd "$repo/tests/go-sdk" && go list -m -f '{{.Path}}@{{.Version}}' go.mongodb.org/atlas-sdk/... 2>/dev/null | head -1))"
    for transport in http https; do
      dir=$(mktemp -d)
      flag=""
      [ "$transport" = https ] && flag=--tls
      if start_server "$dir" $flag; then
        start=$SECONDS
        (cd "$repo/tests/go-sdk" && "$cache/bin/go-sdk.test" -test.v -test.count=1 >"$dir/test.log" 2>&1)
        rc=$?
        ok=$(grep -c -- '^--- PASS' "$dir/test.log")
        ko=$(grep -c -- '^--- FAIL' "$dir/test.log")
        passed=$((passed + ok))
        failed=$((failed + ko))
        if [ $rc = 0 ]; then
          note "PASS Go SDK program over $transport: $ok tests ($((SECONDS - start)) s)"
        else
          [ "$ko" = 0 ] && failed=$((failed + 1))
          note "FAIL Go SDK program over $transport: $ko of $((ok + ko)) tests failed ($((SECONDS - start)) s)"
          grep -E -- '^\s+\w+_test\.go:[0-9]+:' "$dir/test.log" | head -40
          mkdir -p "$cache/logs/go-sdk-$transport"
          cp "$dir/test.log" "$dir/server.log" "$cache/logs/go-sdk-$transport/"
          echo "  (logs: $cache/logs/go-sdk-$transport/)"
        fi
        grep -E -- '^(--- (PASS|FAIL|SKIP))' "$dir/test.log" | sed 's/^/  /'
      else
        failed=$((failed + 1))
        note "FAIL Go SDK program over $transport: localatlas did not start"
      fi
      stop_server "$dir"
      rm -rf "$dir"
    done
  else
    failed=$((failed + 1))
    note "FAIL Go SDK program does not build:"
    tail -20 "$cache/logs/build-go-sdk.log"
  fi
fi

# --- Terraform -----------------------------------------------------------------------------

if [[ $parts == *,terraform,* ]]; then
  tf_ready=1
  # The provider first: when the module proxy does not serve it, OpenTofu (minutes to build)
  # would be built for nothing.
  if ! install provider "$PROVIDER_MODULE" terraform-provider-mongodbatlas; then
    tf_ready=0
    skipped=$((skipped + 1))
    note "SKIP Terraform scenarios: the provider ($PROVIDER_MODULE) cannot be installed from the module proxy:"
    tail -3 "$cache/logs/install-provider.log" | sed 's/^/  /'
  fi
  if [ $tf_ready = 1 ] && ! install tofu "$TOFU_MODULE" tofu; then
    tf_ready=0
    skipped=$((skipped + 1))
    note "SKIP Terraform scenarios: OpenTofu ($TOFU_MODULE) cannot be installed from the module proxy:"
    tail -3 "$cache/logs/install-tofu.log"
  fi
  if [ $tf_ready = 1 ]; then
    TOFU="$cache/bin/tofu" PROVIDER_DIR="$cache/bin" TF_LOGS="$cache/logs/terraform" \
      bash "$here/terraform/run.sh" | tee "$cache/logs/terraform.out"
    counts=$(tail -1 "$cache/logs/terraform.out")
    if [[ $counts =~ terraform:\ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
      passed=$((passed + BASH_REMATCH[1]))
      failed=$((failed + BASH_REMATCH[2]))
    else
      failed=$((failed + 1))
      note "FAIL Terraform runner ended without its counts"
    fi
  fi
fi

echo
echo "go-clients summary:"
for line in "${summary[@]}"; do echo "  $line"; done
echo "go-clients: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
