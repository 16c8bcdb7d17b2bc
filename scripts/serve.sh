#!/usr/bin/env bash
# Migrate, seed the demo and serve the app in production mode on EXPORTS_PORT (one port for UI, websocket, API).
# The e2e tests start the app through this same script.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
port=${EXPORTS_PORT:-3000}
alembic upgrade head
if [ "${EXPORTS_SKIP_SEED:-0}" != 1 ]; then
  python -m exports_app seed-demo
fi
exec reflex run --env prod --single-port --frontend-port "$port" --backend-port "$port" --loglevel warning
