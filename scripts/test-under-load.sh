#!/usr/bin/env bash
# Run the test suite while busy-loop processes keep every core busy: the suite
# must hold on a loaded machine (no test may depend on how fast it runs).
# Usage: scripts/test-under-load.sh [vitest arguments]; exits with vitest's status.
set -u
cd "$(dirname "$0")/.."

busy=${BUSY_PROCESSES:-$(nproc)}
pids=()
stop_busy() {
  if [ "${#pids[@]}" -gt 0 ]; then
    kill "${pids[@]}" 2>/dev/null
    wait "${pids[@]}" 2>/dev/null
    pids=()
  fi
}
trap stop_busy EXIT
trap 'stop_busy; exit 130' INT TERM

for _ in $(seq 1 "$busy"); do
  node -e 'for (;;) {}' &
  pids+=("$!")
done
echo "test-under-load: ${busy} busy-loop processes (${pids[*]}) keep the cores busy"

started=$(date +%s)
npx vitest run "$@"
status=$?
echo "test-under-load: vitest exited ${status} after $(( $(date +%s) - started )) s under load"
exit "$status"
