#!/usr/bin/env bash
# The pytest runs of `make test`, side by side: every test on SQLite (in four pytest-xdist workers;
# tests/support/scheduling.py keeps the tests that share an app in one and hands the longest out first), and the
# database-backed tests (marker server_db) again on a private MariaDB server and on a private PostgreSQL server. Much
# of each run is waiting (for an app to start, a browser, a transcode, a database), so running them together takes
# little more than the longest one alone. The server runs' output is printed after the SQLite run's; the exit status
# is non-zero if any run failed. Arguments go to the SQLite run (e.g. -x, --durations=30, --store-durations).
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
# The run keeps Python's bytecode (in __pycache__ folders, which git ignores): each of its six pytest processes (four
# workers and the two server runs) collects every test module, and rewriting and compiling them anew each time cost
# about 3.5 s of CPU a process (the next run reads them back, as the apps do their modules).
unset PYTHONDONTWRITEBYTECODE

# Each tracked file that differs from the commit, with a digest of its difference: taken before and after the run, so a
# change the run makes is caught on a checkout with edits of its own too (on a clean clone, any change at all).
tracked_changes() {
  git diff --name-only HEAD 2>/dev/null | while IFS= read -r name; do
    echo "$name $(git diff --binary HEAD -- "$name" | sha256sum | cut -c1-16)"
  done
}
before=$(tracked_changes)

# The frontend is compiled and built once, here, into the checkout's web dir (the seed), as `make run` builds it:
# every app a test starts serves a copy of it, and no test installs frontend packages or writes reflex.lock/.
python -m exports_app build-frontend >/dev/null || { echo "the frontend build failed" >&2; exit 1; }

logs=$(mktemp -d)
declare -A runs=()
stop_runs() {
  # SIGINT, so that each pytest tears its fixtures down and stops the servers it started.
  for pid in "${runs[@]}"; do kill -INT "$pid" 2>/dev/null; done
  wait
  rm -rf "$logs"
}
trap 'stop_runs; exit 130' INT TERM

for kind in mariadb postgresql; do
  EXPORTS_TEST_DB=$kind python -m pytest -q -m server_db -p no:xdist >"$logs/$kind.log" 2>&1 &
  runs[$kind]=$!
done

# Four workers on two cores: most of a test is waiting (for an app, a browser, a transcode, a push). With three, the
# cores were saturated only while the server runs went on beside them: the last two minutes ran at 63 to 95 %.
python -m pytest -q -n 4 "$@" &
runs[sqlite]=$!
wait "${runs[sqlite]}"
failed=$?

for kind in mariadb postgresql; do
  wait "${runs[$kind]}"
  status=$?
  echo "=== the server_db tests on $kind (exit $status)"
  cat "$logs/$kind.log"
  [ "$status" = 0 ] || failed=1
done
rm -rf "$logs"

# What `make test` leaves behind: a checkout that `make run` still serves, and no tracked file changed.
scripts/serves_from_checkout.sh || failed=1
changed=$(diff <(echo "$before") <(tracked_changes) | sed -n 's/^[<>] \([^ ]*\) .*/\1/p' | sort -u)
# --store-durations writes tests/durations.json on purpose; nothing else may change.
[[ " $* " == *" --store-durations "* ]] && changed=$(grep -vx 'tests/durations.json' <<<"$changed")
if [ -n "$changed" ]; then
  echo "the test run changed tracked files:" >&2
  echo "$changed" >&2
  failed=1
fi
exit "$failed"
