#!/usr/bin/env bash
# Debian packages the tests need: a Postgres server (throwaway clusters), Chromium
# (the inbox's browser tests; Playwright cannot download a browser here) and node/npm
# (the JS SDK's tests and scripts/agent_inbox.py, which builds Agent Inbox for its tests).
set -euo pipefail
missing=()
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
[ -x /usr/lib/chromium/chromium ] || missing+=(chromium)
command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "not installing ${missing[*]} (needs root and apt-get): the tests that need them skip" >&2
  exit 0
fi
echo "installing ${missing[*]} ..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
