# The two commands of the README: `make run` (the app on EXPORTS_PORT, default 3000) and `make test`.
SHELL := /bin/bash

.PHONY: run test bench setup

setup:
	@scripts/setup.sh

run: setup
	@scripts/serve.sh

# Every test on SQLite (the default), then the database-backed ones (marker server_db) again on a private MariaDB
# server and on a private PostgreSQL server.
test:
	@scripts/setup.sh --test-deps
	@source scripts/env.sh && ruff check .
	@source scripts/env.sh && mypy
	@source scripts/env.sh && python -m pytest -q
	@source scripts/env.sh && EXPORTS_TEST_DB=mariadb python -m pytest -q -m server_db
	@source scripts/env.sh && EXPORTS_TEST_DB=postgresql python -m pytest -q -m server_db

bench: setup
	@source scripts/env.sh && for b in bench/bench_*.py; do python -m "bench.$$(basename "$$b" .py)" || exit 1; done
