#!/usr/bin/env bash
# `make dev`: serve the project on HITL_PORT (default 8123) until Ctrl-C.
#
# Fails at once when the port is taken (`langgraph dev` would quietly move to another
# port, on the same data), and restarts the server only when the project's own Python
# sources change (graphs/, server/, sdk_client/), never for .venv/ or data/.
set -euo pipefail
cd "$(dirname "$0")/.."
# One setting for the server and hitl: HITL_PORT from the environment, else from .env.
ENV_PORT="$(sed -n 's/^HITL_PORT=//p' .env 2>/dev/null | tail -n 1)"
PORT="${HITL_PORT:-${ENV_PORT:-8123}}"
.venv/bin/python - "$PORT" <<'PY'
import socket
import sys

port = int(sys.argv[1])
with socket.socket() as sock:
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        sys.exit(f"error: port {port} is in use (another server?): stop it, or pick another "
                 f"port for both the server and hitl with HITL_PORT=<port>")
PY
export LANGSMITH_TRACING=false LANGGRAPH_CLI_NO_ANALYTICS=1 LANGGRAPH_NO_VERSION_CHECK=true
# langgraph-api's INFO lines come several per request (LOG_LEVEL in .env wins); the
# project's own INFO events stay. Ten runs at a time, as a deployed server: with
# `langgraph dev`'s one, one slow step holds up every run (docs/performance.md).
export LOG_LEVEL="${LOG_LEVEL:-WARNING}"
# langgraph-api records its internal metrics (tier 2) for Datadog or
# EXPOSE_INTERNAL_METRICS_PROMETHEUS only; /metrics serves the tier-1 ones either way.
export METRIC_MAX_EMITTING_TIER="${METRIC_MAX_EMITTING_TIER:-1}"
echo "serving on http://127.0.0.1:$PORT (inbox: http://127.0.0.1:$PORT/inbox); restarts when graphs/, server/ or sdk_client/ change"
exec .venv/bin/watchfiles --filter python --sigint-timeout 20 \
  ".venv/bin/langgraph dev --no-browser --no-reload --host 127.0.0.1 --port $PORT --n-jobs-per-worker 10" \
  graphs server sdk_client
