# The two commands of the README: `make run` (the app on EXPORTS_PORT, default 3000) and `make test`.
SHELL := /bin/bash

.PHONY: run test test-full bench setup

setup:
	@scripts/setup.sh

run: setup
	@scripts/serve.sh

test:
	@scripts/setup.sh --browser
	@source scripts/env.sh && python -m pytest -q

bench: setup
	@source scripts/env.sh && for b in bench/bench_*.py; do python -m "bench.$$(basename "$$b" .py)" || exit 1; done
