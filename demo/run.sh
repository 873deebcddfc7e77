#!/usr/bin/env bash
# The main job: a working stas on embedded defaults, on a private system bus.
#   npm run demo            run until Ctrl-C
#   npm run demo -- --once  show everything once and stop (used by the test suite)
set -euo pipefail
cd "$(dirname "$0")/.."
bash test/harness/install-deps.sh
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build
exec node dist/demo/demo.js "$@"
