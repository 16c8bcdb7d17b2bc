#!/usr/bin/env bash
# Migrate, seed the demo and serve the app in production mode on EXPORTS_PORT (one port for UI, websocket, API).
# With less free space than EXPORTS_MIN_FREE_BYTES the seed says so in one line and seeds nothing: the app starts.
# The e2e tests start the app through this same script.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
port=${EXPORTS_PORT:-3000}
# The server is gunicorn with uvicorn workers, Reflex's other production server: a live tab's websocket costs about
# 20 KB there against about 150 KB in Granian (bench_capacity: 84 KB per tab in the whole app, 215 KB on Granian).
# EXPORTS_WORKERS worker processes (more than one needs REFLEX_REDIS_URL; the settings check refuses the start without it);
# gunicorn restarts a worker that dies. --reuse-port gives each worker its own listening socket, so the kernel
# spreads new connections evenly: on one shared socket the same idle worker kept winning the accept race, and
# long-lived websockets piled up on it. Proxy headers are trusted from loopback only (gunicorn's
# FORWARDED_ALLOW_IPS), i.e. from a reverse proxy on the same host. The worker is Reflex's uvicorn worker with that
# rule's verdict kept for the app (exports_app/server_worker.py): a client's own X-Request-ID counts only from there.
# With /metrics on (EXPORTS_METRICS_TOKEN), the workers share their counters through files in one folder
# (prometheus-client's multiprocess mode), emptied at each start so a previous run's counts do not add up; in the
# temp dir, not the data dir, so a full data disk does not stop the counting of it.
if [ -n "${EXPORTS_METRICS_TOKEN:-}" ] && [ -z "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
  export PROMETHEUS_MULTIPROC_DIR="${TMPDIR:-/tmp}/exports-metrics-$port"
  rm -rf "$PROMETHEUS_MULTIPROC_DIR"
  mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
fi
# Idle keep-alive connections are held 75 s (gunicorn's default is 2 s): longer than a load balancer's own idle
# timeout (AWS ALB: 60 s), so the app never closes a connection the proxy is about to reuse, and a client that
# pauses a few seconds between requests (a status poller on a busy machine) does not race the close and lose
# its request.
export REFLEX_USE_GRANIAN=false
# gunicorn runs in the start process itself, as its master (exports_app/reflex_bridge/patches.py).
export GUNICORN_CMD_ARGS="--workers ${EXPORTS_WORKERS:-1} --worker-class exports_app.server_worker.Worker \
--reuse-port --keep-alive 75 ${GUNICORN_CMD_ARGS:-}"
# `reflex run --env prod --single-port`, except that the frontend is built only when its compiled sources changed
# since the last build (exports_app/frontend_bundle.py): a restart serves the build it has.
# The migrations (`alembic upgrade head`) and the demo seed (`seed-demo`, unless EXPORTS_SKIP_SEED=1) run first, in
# the same process: as commands of their own, each imported the app again.
exec python -m exports_app start --port "$port" --loglevel warning
