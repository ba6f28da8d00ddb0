#!/usr/bin/env bash
# Create the project-local .venv and install the project with its dev tools.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
# PYTHONWARNINGS: setuptools' banner about editable installs is about layouts this
# project does not have (a folder named like a package elsewhere on the path).
PYTHONWARNINGS=ignore .venv/bin/python -m pip install --quiet --disable-pip-version-check \
  -e ".[dev]" 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -c "import graphs, sdk_client, langgraph_api" # fail loudly if the install did not take
[ -f .env ] || cp .env.example .env
