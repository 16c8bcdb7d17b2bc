#!/usr/bin/env bash
# Idempotent set-up: .venv with pinned requirements, bun from the npm package, optionally Debian chromium-headless-shell.
# Each step leaves a stamp keyed on its inputs, so a second run takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
BUN_VERSION=1.4.4
stamp_dir=.venv/.stamps

if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
mkdir -p "$stamp_dir"

req_hash=$(sha256sum requirements.txt | cut -c1-16)
if [ ! -f "$stamp_dir/req-$req_hash" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
  rm -f "$stamp_dir"/req-*
  touch "$stamp_dir/req-$req_hash"
fi

# bun from the npm registry into a project folder (never bun's curl installer); Reflex uses it as a system bun.
if [ ! -x .tools/node_modules/.bin/bun ] || [ "$(.tools/node_modules/.bin/bun --version 2>/dev/null)" != "$BUN_VERSION" ]; then
  command -v npm >/dev/null || { echo "npm is required (apt-get install -y npm)" >&2; exit 1; }
  mkdir -p .tools
  npm install --silent --no-audit --no-fund --prefix .tools "bun@$BUN_VERSION"
fi

if [ "${1:-}" = "--test-deps" ]; then
  # Debian's chromium, as its headless shell, for the e2e tests (never a downloaded browser build), MariaDB and
  # PostgreSQL for the server-database runs of the migration, service and API tests, Redis for the multi-worker tests.
  missing=()
  [ -x /usr/bin/chromium-headless-shell ] || missing+=(chromium-headless-shell)
  command -v mariadbd >/dev/null || missing+=(mariadb-server)
  # Debian keeps PostgreSQL's server off PATH, under /usr/lib/postgresql/<major>/bin (with a postgres user).
  { compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null && id -u postgres >/dev/null 2>&1; } \
    || missing+=(postgresql)
  command -v redis-server >/dev/null || missing+=(redis-server)
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
      echo "the tests need Debian packages: sudo apt-get install -y ${missing[*]}" >&2
      exit 1
    fi
  fi
fi
