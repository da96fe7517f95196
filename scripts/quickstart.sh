#!/usr/bin/env bash
# The README's main command: build masklab, run the quickstart ablation of decoder-input
# corruption strategies (sweeps/quickstart.yaml) on the embedded pure-Go backend, and draw
# its figures and tables. Re-running it skips finished runs and resumes unfinished ones.
#   OUT=dir  where results go (default out/quickstart); WORKERS=N runs at once (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
OUT=${OUT:-out/quickstart}
WORKERS=${WORKERS:-2}
t0=$SECONDS
echo "=== building masklab"
go build -o bin/masklab ./cmd/masklab
echo "=== sweep sweeps/quickstart.yaml -> $OUT/sweep (workers: $WORKERS)"
bin/masklab sweep sweeps/quickstart.yaml --out "$OUT/sweep" --workers "$WORKERS" "$@"
# (status prints counts, then run lists; keep only the counts. No "| head": with pipefail
# an early-closing reader makes the script fail with SIGPIPE.)
bin/masklab status "$OUT/sweep" > "$OUT/status.txt"
sed -n 1,5p "$OUT/status.txt"
echo "=== report"
bin/masklab report "$OUT/sweep" --out "$OUT/figures" >/dev/null
cat "$OUT/figures/report.md"
echo
echo "quickstart finished in $((SECONDS - t0))s. Figures and tables are in $OUT/figures/:"
ls "$OUT/figures" | sed 's/^/  /'
