#!/usr/bin/env bash
# Runs the whole suite RUNS times in a row (default 3) with a CPU hog beside it, one busy worker
# per core (stress-ng --cpu N when installed, else a node busy loop per core), and prints one
# pass/fail line per run. Exit status 0 only if every run passed.
#
#   npm run test:stress               # 3 runs
#   RUNS=5 scripts/test-under-load.sh # more
#
# Logs: .stress/run-N.log. A flake shows up here long before it shows up in CI.
set -uo pipefail
cd "$(dirname "$0")/.."

runs=${RUNS:-3}
cores=$(nproc)
mkdir -p .stress

hog_pids=()
stop_hog() {
  for p in "${hog_pids[@]}"; do kill "$p" 2>/dev/null; done
  wait "${hog_pids[@]}" 2>/dev/null
  hog_pids=()
}
trap stop_hog EXIT INT TERM

if command -v stress-ng >/dev/null 2>&1; then
  stress-ng --cpu "$cores" --quiet &
  hog_pids+=($!)
  hog="stress-ng --cpu $cores"
else
  for _ in $(seq "$cores"); do
    node -e 'for (;;);' &
    hog_pids+=($!)
  done
  hog="$cores node busy loops"
fi
echo "CPU hog: $hog; $runs runs of npm test"

npm run --silent build >/dev/null || { echo "build failed"; exit 1; }
failed_runs=0
for i in $(seq "$runs"); do
  log=".stress/run-$i.log"
  start=$(date +%s)
  npx mocha >"$log" 2>&1
  status=$?
  secs=$(($(date +%s) - start))
  passing=$(grep -Eo '^ *[0-9]+ passing' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
  failing=$(grep -Eo '^ *[0-9]+ failing' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
  if [ "$status" -eq 0 ]; then
    echo "run $i: PASS  ${passing} passing, ${failing} failing, ${secs}s"
  else
    failed_runs=$((failed_runs + 1))
    echo "run $i: FAIL  ${passing} passing, ${failing} failing, ${secs}s (exit $status; see $log)"
    grep -E '^  [0-9]+\) ' "$log" | sed 's/^/        /'
  fi
done
stop_hog
echo "$((runs - failed_runs)) of $runs runs passed"
[ "$failed_runs" -eq 0 ]
