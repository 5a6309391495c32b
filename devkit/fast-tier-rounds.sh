#!/usr/bin/env bash
# The fast tier's reliability under load: ROUNDS rounds (default 5) of two `make test-fast` side by
# side, each in a clean clone of HEAD of its own (so each has its own .venv and build/), on the same
# PostgreSQL. Prints one line per tier and round and exits non-zero if any tier failed; the logs
# stay in WORKDIR (default: a new directory under /tmp).
set -uo pipefail

rounds=${ROUNDS:-5}
root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
workdir=${WORKDIR:-$(mktemp -d /tmp/fast-tier-rounds.XXXXXX)}
commit=$(git -C "$root" rev-parse --short HEAD)

for side in a b; do
  git clone --quiet "$root" "$workdir/$side"
  make -C "$workdir/$side" install >"$workdir/install-$side.log" 2>&1 || { echo "install failed: $workdir/install-$side.log"; exit 2; }
done

failed=0
for round in $(seq 1 "$rounds"); do
  for side in a b; do
    make -C "$workdir/$side" test-fast PYTEST_ARGS="-p no:cacheprovider" >"$workdir/round-$round-$side.log" 2>&1 &
  done
  wait
  for side in a b; do
    summary=$(grep -E '(passed|failed).* in [0-9.]+s' "$workdir/round-$round-$side.log" | tail -1)
    echo "$commit round $round tier $side: ${summary:-no summary, see $workdir/round-$round-$side.log}"
    if [ -z "$summary" ] || grep -qE ' (failed|error)' <<<"$summary"; then
      failed=1
    fi
    grep -E '^(FAILED|ERROR) ' "$workdir/round-$round-$side.log"
  done
done
echo "logs: $workdir"
exit $failed
