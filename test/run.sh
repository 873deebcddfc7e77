#!/usr/bin/env bash
# The whole test suite: installs what it needs (Debian packages as root, npm packages), builds, runs every test.
# Shared peers (kernel-target VM, Ceph cluster) are booted once per suite by the harness and stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
bash test/harness/install-deps.sh
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build
exec node test/run-node-tests.mjs "$@"
