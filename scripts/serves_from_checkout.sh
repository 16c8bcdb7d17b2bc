#!/usr/bin/env bash
# Start the app as `make run` does, from the checkout's own web dir, on a free port with a throwaway data dir; pass
# when it serves /login from the build it has (no frontend build on the way), then stop it. `make test` ends with it.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
data=$(mktemp -d)
port=$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
EXPORTS_DATA_DIR="$data" EXPORTS_PORT="$port" EXPORTS_SKIP_SEED=1 setsid scripts/serve.sh >"$data/serve.log" 2>&1 &
server=$!
served=1
# Every quarter second (this is the run's last step, and nothing else runs beside it): bash's own connect says
# whether the port takes connections yet, and only then does a Python start ask for the page.
for _ in $(seq 1 480); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null \
    && python -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)" "http://127.0.0.1:$port/login" 2>/dev/null; then
    served=0
    break
  fi
  kill -0 "$server" 2>/dev/null || break
  sleep 0.25
done
kill -TERM -- "-$server" 2>/dev/null
wait "$server" 2>/dev/null
if [ "$served" != 0 ]; then
  echo "make run does not serve from this checkout after the tests:" >&2
  tail -20 "$data/serve.log" >&2
elif ! grep -q "the build of these sources is current" "$data/serve.log"; then
  echo "make run built the frontend again after the tests (the checkout's build is not the current one)" >&2
  served=1
fi
rm -rf "$data"
[ "$served" = 0 ] && echo "make run serves from this checkout (port $port)"
exit "$served"
