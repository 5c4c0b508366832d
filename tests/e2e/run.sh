#!/usr/bin/env bash
# The end-to-end tests with the clients users run: installs them at the versions pinned here
# (npm ci from package-lock.json; a Python venv from requirements.txt; Debian's chromium when it
# is missing and we are root), builds the release binary unless LOCALATLAS_BIN names one, then
# runs every tests/e2e/*.test.mjs with Node's test runner. Each test file starts its own
# localatlas on a free port with an in-memory store. Then go-clients.sh: the Go SDK program and
# the Terraform scenarios (Go clients installed as Go modules; skipped without Go).
set -euo pipefail
cd "$(dirname "$0")"

if [ -z "${LOCALATLAS_BIN:-}" ]; then
  (cd ../.. && cargo build --release)
  export LOCALATLAS_BIN="$PWD/../../target/release/localatlas"
fi

npm ci --no-audit --no-fund --omit=optional --loglevel=error
python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
export PYTHON="$PWD/.venv/bin/python"

chromium="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ ! -x "$chromium" ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
  else
    echo "Chromium is missing: sudo apt-get install chromium (or set CHROMIUM_PATH)" >&2
    exit 1
  fi
fi

status=0
node --test --test-concurrency=1 --test-timeout=300000 ./*.test.mjs || status=$?
bash ./go-clients.sh || status=$?
exit $status
