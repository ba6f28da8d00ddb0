#!/usr/bin/env bash
# Set up, start `langgraph dev` on the embedded default, replay the seed demo, stop.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export LANGSMITH_TRACING=false LANGGRAPH_CLI_NO_ANALYTICS=1 LANGGRAPH_NO_VERSION_CHECK=true
PORT="${HITL_PORT:-8123}"
if ! .venv/bin/python -c "import socket,sys; s=socket.socket(); s.bind(('127.0.0.1', $PORT))" 2>/dev/null; then
  PORT=$(.venv/bin/python -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
  echo "port ${HITL_PORT:-8123} is taken; using $PORT"
fi
URL="http://127.0.0.1:$PORT"
LOG=$(mktemp -t langgraph-dev.XXXX.log)
setsid .venv/bin/langgraph dev --no-browser --no-reload --host 127.0.0.1 --port "$PORT" >"$LOG" 2>&1 &
SERVER=$!
trap 'kill -TERM -- -$SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true' EXIT
up() { .venv/bin/python -c "import httpx,sys; sys.exit(httpx.get('$URL/ok', timeout=2).status_code != 200)" 2>/dev/null; }
for _ in $(seq 1 120); do
  up && break
  kill -0 $SERVER 2>/dev/null || { cat "$LOG"; exit 1; }
  sleep 0.5
done
up || { echo "langgraph dev did not start:"; tail -40 "$LOG"; exit 1; }
echo "langgraph dev is up at $URL (log: $LOG)"
.venv/bin/hitl --url "$URL" demo
