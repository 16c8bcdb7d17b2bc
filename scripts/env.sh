# Sourced by the Makefile's recipes and scripts: the environment every command here runs in.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$here/.tools/node_modules/.bin:$here/.venv/bin:$PATH"
export REFLEX_USE_SYSTEM_BUN=1
export REFLEX_TELEMETRY_ENABLED=false
export REFLEX_CHECK_LATEST_VERSION=false
export PYTHONDONTWRITEBYTECODE=1
