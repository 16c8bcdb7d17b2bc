# The two commands of the README: `make run` (the app on EXPORTS_PORT, default 3000) and `make test`.
SHELL := /bin/bash

.PHONY: run test bench setup

setup:
	@scripts/setup.sh

run: setup
	@scripts/serve.sh

# ruff (lint and format) and mypy first; then every test on SQLite and, side by side with it, the database-backed ones
# (marker server_db) again on a private MariaDB server and on a private PostgreSQL server (scripts/test.sh).
test:
	@scripts/setup.sh --test-deps
	@source scripts/env.sh && ruff check . && ruff format --check .
	@source scripts/env.sh && mypy
	@scripts/test.sh

# The benchmarks drive Chromium and the tests' private MariaDB/PostgreSQL servers too: the test set-up installs them.
bench:
	@scripts/setup.sh --test-deps
	@source scripts/env.sh && for b in bench/bench_*.py; do python -m "bench.$$(basename "$$b" .py)" || exit 1; done
