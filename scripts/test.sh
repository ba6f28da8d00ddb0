#!/usr/bin/env bash
# Set up and run the whole test suite: unit tests and integration tests over real servers.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/system-packages.sh
exec .venv/bin/python -m pytest "$@"
