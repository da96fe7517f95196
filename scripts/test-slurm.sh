#!/usr/bin/env bash
# test-slurm.sh: "masklab slurm" end to end against a real single-node Slurm cluster
# (scripts/slurm-local.sh; Debian's slurm-wlm and munge, run as root).
#
#  1. start the cluster, build masklab;
#  2. reference: masklab sweep sweeps/test-slurm.yaml (2 cells x 2 seeds) locally + report;
#  3. masklab slurm ... --submit: a 4-task array and a dependent report job;
#  4. scancel one task once its run has a checkpoint and is not finished;
#  5. wait for the array and the report job; the cancelled run must not be done;
#  6. masklab slurm again: it must resubmit exactly the cancelled run; wait;
#  7. every run's metrics.jsonl and summary.json (provenance aside) and the report tables
#     must equal the local sweep's.
# Prints "test-slurm: PASS" or "test-slurm: FAIL: why". Bounded by
# MASKLAB_SLURM_TEST_TIMEOUT seconds (default 600); stops the daemons it started on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
ROOT=$PWD
LIMIT=${MASKLAB_SLURM_TEST_TIMEOUT:-600}
START=$SECONDS
DEADLINE=$((SECONDS + LIMIT))
WORK=$(mktemp -d /tmp/masklab-test-slurm.XXXXXX)
SWEEP=$ROOT/sweeps/test-slurm.yaml
LOCAL=$WORK/local
CLUSTER=$WORK/cluster
STARTED_CLUSTER=0
JOBS=()
PASSED=0

say() { echo "test-slurm: $*"; }
fail() { say "FAIL: $*"; exit 1; }
left() { local l=$((DEADLINE - SECONDS)); [ $l -gt 0 ] || l=1; echo $l; }
# bounded WHAT CMD...: run CMD within the time left; fail naming WHAT (and a timeout).
bounded() {
  local what=$1 rc=0; shift
  timeout "$(left)" "$@" || rc=$?
  [ $rc -eq 0 ] && return 0
  [ $rc -eq 124 ] && fail "$what: timed out (MASKLAB_SLURM_TEST_TIMEOUT=${LIMIT}s)"
  fail "$what failed (exit $rc)"
}

cleanup() {
  local rc=$?
  if [ "$STARTED_CLUSTER" = 1 ] || [ ${#JOBS[@]} -gt 0 ]; then
    [ ${#JOBS[@]} -gt 0 ] && scancel "${JOBS[@]}" >/dev/null 2>&1 || true
  fi
  if [ "$STARTED_CLUSTER" = 1 ]; then
    scripts/slurm-local.sh stop >/dev/null 2>&1 || true
  fi
  if [ "$PASSED" = 1 ]; then
    rm -rf "$WORK"
  else
    [ $rc -ne 0 ] || rc=1
    say "kept $WORK for inspection (task logs in $CLUSTER/slurm/logs)"
    say "FAIL (exit $rc)"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'fail "interrupted"' INT TERM

[ "$(id -u)" = 0 ] || fail "needs root to run the local Slurm daemons (scripts/slurm-local.sh); got uid $(id -u)"
command -v flock >/dev/null || fail "flock (util-linux) not found"
# One test at a time on this machine: a second one would share, then stop, the cluster.
exec 9>/tmp/masklab-test-slurm.lock
flock -w "$LIMIT" 9 || fail "another test-slurm.sh held /tmp/masklab-test-slurm.lock for ${LIMIT}s"

# 1. Cluster (reuse one that is already up, e.g. started by hand) and binary.
eval "$(scripts/slurm-local.sh env)"
if ! scripts/slurm-local.sh status >/dev/null 2>&1; then
  STARTED_CLUSTER=1
  scripts/slurm-local.sh start || fail "the local Slurm cluster did not start"
fi
bounded "srun true on the local cluster" srun --quiet true
say "building masklab"
bounded "go build ./cmd/masklab" go build -o "$WORK/masklab" ./cmd/masklab
M=$WORK/masklab

# 2. Reference: the same sweep run locally.
t0=$SECONDS
bounded "local masklab sweep" "$M" sweep "$SWEEP" --out "$LOCAL" --workers 1 --quiet >/dev/null
bounded "local masklab report" "$M" report "$LOCAL" --out "$LOCAL/report" >/dev/null
say "local sweep and report in $((SECONDS - t0))s"

# wait_jobs ID...: until none of the jobs is queued or running.
wait_jobs() {
  while :; do
    local q
    q=$(squeue -h -j "$(IFS=,; echo "$*")" -o %i 2>/dev/null || true)
    [ -z "$q" ] && return 0
    [ $SECONDS -lt $DEADLINE ] || fail "timed out waiting for jobs $*: $(squeue -h -j "$(IFS=,; echo "$*")" -o '%i %T %r' 2>&1 | tr '\n' ';')"
    sleep 1
  done
}

# submit: masklab slurm --submit; sets ARRAY, REPORT and RUNLIST.
submit() {
  local out
  out=$(timeout "$(left)" "$M" slurm "$SWEEP" --out "$CLUSTER" --cpus 1 --max-parallel 2 --time 10 --submit) ||
    fail "masklab slurm --submit failed: $out"
  echo "$out" | sed 's/^/  | /'
  ARRAY=$(echo "$out" | sed -n 's/^submitted array job \([0-9]*\).*/\1/p' | sed -n 1p)
  REPORT=$(echo "$out" | sed -n 's/^submitted report job \([0-9]*\).*/\1/p')
  [ -n "$ARRAY" ] && [ -n "$REPORT" ] || fail "no job ids in masklab slurm's output"
  JOBS+=("$ARRAY" "$REPORT")
  RUNLIST=$(ls -t "$CLUSTER"/slurm/array-*.runs | sed -n 1p)
}

last_step() { # run dir -> last logged step (0 if none)
  local f=$1/metrics.jsonl
  [ -s "$f" ] || { echo 0; return; }
  tail -n 1 "$f" | sed -n 's/.*"step":\([0-9]*\).*/\1/p' | grep . || echo 0
}

# 3. The sweep as a job array.
t0=$SECONDS
submit
[ "$(wc -l <"$RUNLIST")" = 4 ] || fail "first array should list 4 runs, got $(wc -l <"$RUNLIST")"

# 4. Cancel one task midway: running, with a checkpoint (step >= 20; one every 20), not done.
CANCELLED=""
while [ -z "$CANCELLED" ]; do
  for k in $(squeue -h -r -j "$ARRAY" -t RUNNING -o %K 2>/dev/null || true); do
    id=$(sed -n "$((k + 1))p" "$RUNLIST")
    d=$CLUSTER/runs/$id
    if [ ! -e "$d/summary.json" ] && [ "$(last_step "$d")" -ge 20 ] && [ -d "$d/ckpt" ]; then
      scancel "${ARRAY}_$k"
      CANCELLED=$id
      say "cancelled array task ${ARRAY}_$k (run $id) at step $(last_step "$d")"
      break
    fi
  done
  if [ -z "$CANCELLED" ]; then
    [ -n "$(squeue -h -j "$ARRAY" -o %i 2>/dev/null || true)" ] || fail "the array ended before a task could be cancelled midway"
    [ $SECONDS -lt $DEADLINE ] || fail "timed out waiting for a task to reach step 20"
    sleep 0.3
  fi
done

# 5. The array and the report job end; the cancelled run is resumable, not done.
wait_jobs "$ARRAY" "$REPORT"
say "first array and report job done in $((SECONDS - t0))s"
[ "$(ls "$CLUSTER"/slurm/logs/"${ARRAY}"_*.out 2>/dev/null | wc -l)" = 4 ] || fail "want 4 task logs $CLUSTER/slurm/logs/${ARRAY}_*.out"
grep -q "CANCELLED" "$CLUSTER"/slurm/logs/"${ARRAY}"_*.out || fail "no task log says CANCELLED"
[ -s "$CLUSTER"/slurm/logs/report-"$REPORT".out ] || fail "no report job log"
[ ! -e "$CLUSTER/runs/$CANCELLED/summary.json" ] || fail "the cancelled run $CANCELLED has a summary: $(cat "$CLUSTER/runs/$CANCELLED/summary.json")"
status=$("$M" status "$CLUSTER")
grep -qx "done: 3" <<<"$status" || fail "want 3 done runs after the cancel: $status"
grep -qx "pending: 1" <<<"$status" || fail "want 1 pending run after the cancel: $status"

# 6. Resubmit: only the cancelled run.
t0=$SECONDS
submit
[ "$(cat "$RUNLIST")" = "$CANCELLED" ] || fail "the resubmitted array lists $(tr '\n' ' ' <"$RUNLIST"), want only $CANCELLED"
wait_jobs "$ARRAY" "$REPORT"
say "resubmitted run and report done in $((SECONDS - t0))s"
status=$("$M" status "$CLUSTER")
grep -qx "done: 4" <<<"$status" || fail "want 4 done runs: $status"
grep -q '"resumes": [1-9]' "$CLUSTER/runs/$CANCELLED/summary.json" || fail "the cancelled run did not resume from its checkpoint (resumes = 0)"
out=$("$M" slurm "$SWEEP" --out "$CLUSTER" --submit) || fail "masklab slurm with nothing pending failed: $out"
grep -q "no pending runs" <<<"$out" || fail "with every run done, masklab slurm says: $out"

# 7. Same numbers as the local sweep.
no_provenance() { sed '/"provenance": {/,/^  }/d' "$1"; }
n=0
for d in "$LOCAL"/runs/*/; do
  id=$(basename "$d")
  c=$CLUSTER/runs/$id
  cmp -s "$d/metrics.jsonl" "$c/metrics.jsonl" || fail "run $id: metrics.jsonl differs from the local sweep's: $(diff "$d/metrics.jsonl" "$c/metrics.jsonl" | head -4 | tr '\n' ' ')"
  diff <(no_provenance "$d/summary.json") <(no_provenance "$c/summary.json") >/dev/null ||
    fail "run $id: summary.json differs from the local sweep's (provenance aside)"
  n=$((n + 1))
done
[ "$n" = 4 ] || fail "the local sweep has $n runs, want 4"
for f in report.csv report.md report.tex; do
  [ -s "$CLUSTER/report/$f" ] || fail "the report job wrote no $CLUSTER/report/$f"
  cmp -s "$LOCAL/report/$f" "$CLUSTER/report/$f" || fail "report $f differs: $(diff "$LOCAL/report/$f" "$CLUSTER/report/$f" | head -4 | tr '\n' ' ')"
done
PASSED=1
say "PASS (4 runs, one cancelled and resubmitted; metrics, summaries and report equal the local sweep's; $((SECONDS - START))s)"
