#!/usr/bin/env bash
# Reproduces the paper figures: runs the full-mode sweeps behind the notebooks through the
# masklab CLI, then writes
#
#   figures/NAME-curves.{png,pdf}, figures/NAME-bars.{png,pdf}  (per stage for staged sweeps)
#   results/NAME.csv, results/NAME.md                          (per-cell statistics over seeds)
#   figures/MANIFEST.md   each figure with its sweep file, config hashes (run ids), the
#                         masklab commit, GoMLX version and backend (the rows of the
#                         sweeps run now; the other rows stay as they were)
#
# The sweeps: sweeps/0N-*.yaml (notebooks 02-07), then the sweeps that later notebooks
# declare in their metadata (masklab.sweeps: notebook 09 poetry-packing, notebook 10
# poetry-plw), in notebook order. Named sweeps run in the order given.
#
# Resumable: runs live in runs/reproduce/NAME/ and "masklab sweep" skips finished runs and
# resumes unfinished ones from their last checkpoint, so stopping this script (Ctrl-C, kill)
# and starting it again continues where it was. Each sweep is run with --reuse of every
# other sweep directory under runs/reproduce/: a run whose config hash another sweep has
# already finished is copied, not trained again (poetry-plw's pretrain stage is
# poetry-packing's packed + doc cell, the same 5 runs; run poetry-packing first). The
# full run takes hours on 2 cores (the poetry sweeps about 6 h with --workers 2:
# docs/science.md).
#
#   scripts/reproduce.sh                      # everything, full mode
#   scripts/reproduce.sh 02-input-reverse-lstm # only the named sweeps (file names without .yaml)
#   scripts/reproduce.sh --workers 2 poetry-packing poetry-plw   # issue 22's experiments 1 and 2
#   scripts/reproduce.sh --workers 2          # runs trained at once (default 1)
#   scripts/reproduce.sh --quick [NAME...]    # a smoke test of the pipeline: every run cut to
#                                             # 20 steps, output under out/reproduce-quick/
#                                             # (figures/ and results/ are left alone)
#   scripts/reproduce.sh --quick --set train.batch_size=2 poetry-packing poetry-plw
#                                             # --set KEY=VALUE (repeatable, --quick only): cut
#                                             # the quick runs further (greedy decoding of the
#                                             # poetry-plw runs decodes whole batches)
#   scripts/reproduce.sh --no-notebooks       # skip the notebooks (see below)
#   scripts/reproduce.sh --dry-run [NAME...]  # print the sweeps it would run, and exit
#
# Notebook 08 trains its own sweeps (masklab.trains in its metadata: poetry-mlm, then
# poetry-couplet-random and -warm, whose runs start from the checkpoint the notebook exports
# from poetry-mlm), so its sweeps are not run here: the notebook runs in full mode with
# MASKLAB_RUNS=runs/reproduce and MASKLAB_WORKERS=--workers, resumably (about 2.5 h on 2
# cores at --workers 2), and its sweeps get the same report, tables and figures after it.
# Naming one of its sweeps selects the notebook; --quick and --no-notebooks skip it.
#
# After the sweeps, the notebooks whose sweeps were all run here are executed headless in
# full mode on the same runs (nothing is retrained): a notebook whose metadata lists
# masklab.sweeps needs those; any other notebooks/NN-*.ipynb needs every sweeps/NN-*.yaml.
# They draw the figures the reports do not (03: padded evaluation and cross-attention
# heatmaps; 05 and 09: loss by position in unpacked documents; 09: paired differences and
# wall time; 10: metrics against the prompt-loss weight) into figures/, and 09 and 10 write
# their tables (with the columns they measure) over results/NAME.{csv,md}. Executed copies
# go to out/notebooks/. Needs scripts/setup-notebooks.sh; not in --quick.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
. scripts/env.sh

quick=0
dry=0
notebooks=1
workers=1
names=()
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --set) shift; extra+=(--set "${1:?--set needs KEY=VALUE}") ;;
    --set=*) extra+=(--set "${1#--set=}") ;;
    --no-notebooks) notebooks=0 ;;
    --dry-run) dry=1 ;;
    --workers) shift; workers=${1:?--workers needs a number} ;;
    --workers=*) workers=${1#--workers=} ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "reproduce: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) names+=("$1") ;;
  esac
  shift
done
if [ ${#extra[@]} -gt 0 ] && [ "$quick" = 0 ]; then
  echo "reproduce: --set only with --quick (full mode runs the sweep files as they are, the run ids of the committed results)" >&2
  exit 2
fi
if ! [[ "$workers" =~ ^[1-9][0-9]*$ ]]; then
  echo "reproduce: --workers must be a positive integer, got $workers" >&2
  exit 2
fi

sets=()
if [ "$quick" = 1 ]; then
  base="$root/out/reproduce-quick"
  runs="$base/runs"; figs="$base/figures"; results="$base/results"
  # The same overrides as notebook.QuickOverrides (the notebooks' quick mode).
  sets=(--set train.steps=20 --set train.checkpoint_every=20 --set train.log_every=5 --set eval.every=10
        --set eval.batches=2 --set eval.greedy_examples=32 ${extra[@]+"${extra[@]}"})
else
  runs="$root/runs/reproduce"; figs="$root/figures"; results="$root/results"
fi

# nb_sweeps NOTEBOOK prints the sweeps the notebook's metadata declares (masklab.sweeps),
# one a line; nothing when it declares none.
nb_sweeps() {
  nb_meta "$1" 'print("\n".join(m.get("sweeps", [])))'
}

# nb_trains NOTEBOOK prints "true" when the notebook trains its own sweeps (masklab.trains:
# notebook 08, whose warm-started sweep starts from a checkpoint the notebook exports from
# its first sweep), so they run inside the notebook, not here.
nb_trains() {
  nb_meta "$1" 'print(str(m.get("trains", False)).lower())'
}

# nb_meta NOTEBOOK CODE runs the Python CODE with m = the notebook's masklab metadata;
# a notebook that is not valid JSON fails with one line naming it and the place.
nb_meta() {
  /usr/bin/python3 -c '
import json, sys
try:
    nb = json.load(open(sys.argv[1]))
except (OSError, ValueError) as e:
    sys.exit("reproduce: %s: %s" % (sys.argv[1], e))
m = nb.get("metadata", {}).get("masklab", {})
exec(sys.argv[2])' "$1" "$2"
}

# listed NAME [ITEM...] tells whether NAME is one of the items, compared as a fixed
# string (a file name's "." is no pattern).
listed() {
  local name=$1
  shift
  [ $# -gt 0 ] && grep -qxF -- "$name" <<<"$(printf '%s\n' "$@")"
}

# nb_sweeps and nb_trains are always captured first (declared=$(nb_sweeps ...)), never read
# through a process substitution or inside a test: set -e stops the script when the
# notebook's JSON does not parse, instead of reading no sweeps from it.
sweeps=()
self_nbs=()   # notebooks that train their own sweeps (masklab.trains)
self_sweeps=() # and those sweeps
if [ ${#names[@]} -eq 0 ]; then
  for f in sweeps/0[0-9]-*.yaml; do [ -e "$f" ] && sweeps+=("$f"); done
  for nb in notebooks/[0-9][0-9]-*.ipynb; do
    trains=$(nb_trains "$nb")
    declared=$(nb_sweeps "$nb")
    [ "$trains" = true ] && self_nbs+=("$nb")
    while read -r n; do
      [ -n "$n" ] || continue
      f="sweeps/$n.yaml"
      [ -e "$f" ] || { echo "reproduce: $nb declares sweep $n, but there is no $f" >&2; exit 2; }
      if [ "$trains" = true ]; then
        self_sweeps+=("$n")
      else
        listed "$f" ${sweeps[@]+"${sweeps[@]}"} || sweeps+=("$f")
      fi
    done <<<"$declared"
  done
else
  for n in "${names[@]}"; do
    n=${n%.yaml}
    f="sweeps/$n.yaml"
    [ -e "$f" ] || { echo "reproduce: no sweep file $f" >&2; exit 2; }
    # A sweep of a notebook that trains its own: that notebook runs (all its sweeps).
    owner=""
    for nb in notebooks/[0-9][0-9]-*.ipynb; do
      trains=$(nb_trains "$nb")
      declared=$(nb_sweeps "$nb")
      if [ "$trains" = true ] && listed "$n" "$declared"; then
        owner=$nb
        owned=$declared
      fi
    done
    if [ -z "$owner" ]; then
      listed "$f" ${sweeps[@]+"${sweeps[@]}"} || sweeps+=("$f")
    elif ! listed "$owner" ${self_nbs[@]+"${self_nbs[@]}"}; then
      self_nbs+=("$owner")
      while read -r m; do [ -n "$m" ] && self_sweeps+=("$m"); done <<<"$owned"
    fi
  done
fi
if [ ${#self_nbs[@]} -gt 0 ] && { [ "$quick" = 1 ] || [ "$notebooks" = 0 ]; }; then
  echo "reproduce: skipping ${self_nbs[*]}: it trains its own sweeps, which needs full mode with notebooks" \
    "(its quick mode is what scripts/test-notebooks.sh runs)" >&2
  self_nbs=(); self_sweeps=()
fi
if [ ${#sweeps[@]} -eq 0 ] && [ ${#self_nbs[@]} -eq 0 ]; then
  echo "reproduce: no sweeps/0N-*.yaml files and no notebook declaring sweeps" >&2
  exit 1
fi

if [ "$dry" = 1 ]; then
  for f in ${sweeps[@]+"${sweeps[@]}"}; do echo "sweep $f"; done
  for nb in ${self_nbs[@]+"${self_nbs[@]}"}; do
    declared=$(nb_sweeps "$nb")
    echo "notebook $nb trains its own sweeps: $(tr '\n' ' ' <<<"$declared")"
  done
  exit 0
fi
mkdir -p "$runs" "$figs" "$results" "$root/out"
bin="$root/out/reproduce-bin/masklab"
echo "reproduce: building $bin"
go build -o "$bin" ./cmd/masklab
t0=$SECONDS
# report_sweep NAME DIR [figures-only] writes the sweep's status, report, results/NAME.{csv,md}
# (not with figures-only: a notebook that trains its own sweeps wrote them, with its paired
# differences) and figures/NAME-*.{png,pdf}.
report_sweep() {
  local name=$1 dir=$2
  # Not "| head": with pipefail, status dying of SIGPIPE on a long listing (a staged
  # sweep) would stop the script before the report.
  "$bin" status "$dir" > "$dir/status.txt"
  head -5 "$dir/status.txt"
  local rep="$dir/report"
  "$bin" report "$dir" --out "$rep" >/dev/null
  if [ "${3:-}" != figures-only ]; then
    cp "$rep/report.csv" "$results/$name.csv"
    cp "$rep/report.md" "$results/$name.md"
  fi
  for png in "$rep"/*.png; do
    fig=$(basename "$png" .png)
    cp "$png" "$figs/$name-$fig.png"
    cp "$rep/$fig.pdf" "$figs/$name-$fig.pdf"
  done
}

for s in ${sweeps[@]+"${sweeps[@]}"}; do
  name=$(basename "$s" .yaml)
  dir="$runs/$name"
  echo "=== $name: sweep $s into $dir"
  ts=$SECONDS
  # Finished runs of the other sweeps here with the same config hash are copied, not retrained.
  reuse=()
  for other in "$runs"/*/manifest.json; do
    [ -e "$other" ] && [ "$(dirname "$other")" != "$dir" ] && reuse+=(--reuse "$(dirname "$other")")
  done
  "$bin" sweep "$s" --out "$dir" --workers "$workers" ${sets[@]+"${sets[@]}"} ${reuse[@]+"${reuse[@]}"}
  report_sweep "$name" "$dir"
  echo "=== $name: $((SECONDS - ts))s"
done

# The notebooks of the sweeps run above, in full mode on the same runs.
nb_failed=0
if [ "$quick" = 0 ] && [ "$notebooks" = 1 ]; then
  nbs=()
  for nb in notebooks/[0-9][0-9]-*.ipynb; do
    nn=$(basename "$nb" | cut -c1-2)
    declared=$(nb_sweeps "$nb")
    have=0; all=1
    if [ -n "$declared" ]; then
      files=()
      while read -r n; do files+=("sweeps/$n.yaml"); done <<<"$declared"
    else
      files=(sweeps/"$nn"-*.yaml)
    fi
    for f in ${files[@]+"${files[@]}"}; do
      [ -e "$f" ] || continue
      have=1
      listed "$f" ${sweeps[@]+"${sweeps[@]}"} || all=0
    done
    [ "$have" = 1 ] && [ "$all" = 1 ] && nbs+=("$nb")
  done
  for nb in ${self_nbs[@]+"${self_nbs[@]}"}; do
    listed "$nb" ${nbs[@]+"${nbs[@]}"} || nbs+=("$nb")
  done
  if [ ${#nbs[@]} -gt 0 ]; then
    echo "=== notebooks in full mode on $runs: ${nbs[*]}"
    # A failing notebook does not stop the manifest below from being written.
    # A notebook that trains its own sweeps (08) takes hours: 6 h allowed, resumable.
    MASKLAB_QUICK=0 MASKLAB_NOTEBOOK_RUNS="$runs" MASKLAB_WORKERS="$workers" MASKLAB_NOTEBOOK_TIMEOUT=21600 \
      scripts/test-notebooks.sh ${nbs[@]+"${nbs[@]}"} ||
      nb_failed=1
  fi
fi
# The sweeps the notebooks trained themselves get the same status, report and copies.
for n in ${self_sweeps[@]+"${self_sweeps[@]}"}; do
  [ -e "$runs/$n/manifest.json" ] && report_sweep "$n" "$runs/$n" figures-only
done
wall=$((SECONDS - t0))

mode="full mode"
[ "$quick" = 1 ] && mode="quick mode: every run cut to 20 steps, a pipeline test, not results"
# Only the sweeps run now get new rows; the manifest keeps every other row as it was.
ran=()
for s in ${sweeps[@]+"${sweeps[@]}"}; do ran+=("$(basename "$s" .yaml)"); done
ran+=(${self_sweeps[@]+"${self_sweeps[@]}"})
/usr/bin/python3 scripts/reproduce-manifest.py "$runs" "$figs" "$mode" ${ran[@]+"${ran[@]}"}
echo "reproduce: ${#sweeps[@]} sweep(s) in ${wall}s; figures in $figs, tables in $results, manifest $figs/MANIFEST.md"
if [ "$nb_failed" = 1 ]; then
  echo "reproduce: a notebook failed (see its report above); the sweeps' figures and tables were written" >&2
  exit 1
fi
