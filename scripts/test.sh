#!/usr/bin/env bash
# Set up and run the whole test suite: unit tests and integration tests over real servers.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/system-packages.sh
if command -v npm >/dev/null; then  # the JS SDK for tests/integration/test_js_sdk.py
  npm ci --prefix tests/js --no-audit --no-fund --loglevel=error >/dev/null
fi
exec .venv/bin/python -m pytest "$@"
