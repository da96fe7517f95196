#!/usr/bin/env bash
# Executes every notebook in notebooks/ headless in quick mode (MASKLAB_QUICK=1), each in a
# fresh GoNB kernel, and checks the executed copies (see scripts/run-notebooks.py): no
# error outputs, no failed shell line, every cell run, an image in every figure cell, and
# each notebook's text markers. Executed notebooks and kernel logs go to a new directory
# out/notebooks/DATE-TIME-XXXX/ (the runs of notebooks that train go to its runs/, removed
# at the end).
#
#   scripts/test-notebooks.sh                       # all notebooks, quick mode
#   scripts/test-notebooks.sh notebooks/01-masks.ipynb
#   MASKLAB_QUICK=0 scripts/test-notebooks.sh ...   # full mode (long: see each notebook)
#   MASKLAB_NOTEBOOK_RUNS=DIR ...                   # keep the runs in DIR (reused when finished)
#   MASKLAB_NOTEBOOK_TIMEOUT=SECONDS ...            # the time one cell may take (default 900)
#
# Offline: the notebooks build against the working tree through go.work with GOPROXY=off,
# so a module that is not in the module cache is an error (run `go mod download` first).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
. scripts/env.sh

# Installs nothing when everything is there; prints what to run when it cannot install.
scripts/setup-notebooks.sh >/dev/null

export JUPYTER_DATA_DIR="${JUPYTER_DATA_DIR:-$HOME/.local/share/jupyter}"
export PATH="${MASKLAB_GOBIN:-$(go env GOPATH)/bin}:$PATH"
export MASKLAB_QUICK="${MASKLAB_QUICK:-1}"
export GOPROXY="${MASKLAB_NOTEBOOK_GOPROXY:-off}"

if [ $# -gt 0 ]; then
  nbs=("$@")
else
  nbs=(notebooks/[0-9][0-9]-*.ipynb)
  if [ ! -e "${nbs[0]}" ]; then
    echo "test-notebooks: no notebooks in notebooks/"
    exit 1
  fi
fi
# A directory of its own for each invocation (several test runs may share a work tree).
mkdir -p "$root/out/notebooks"
out=$(mktemp -d "$root/out/notebooks/$(date +%Y%m%d-%H%M%S)-XXXX")
# Notebooks that train store their runs under $MASKLAB_RUNS: a fresh directory, so that
# every test trains from scratch instead of finding an earlier test's finished runs.
# MASKLAB_NOTEBOOK_RUNS=DIR uses (and keeps) DIR instead: scripts/reproduce.sh runs the
# notebooks in full mode on the runs it has just trained.
if [ -n "${MASKLAB_NOTEBOOK_RUNS:-}" ]; then
  export MASKLAB_RUNS="$MASKLAB_NOTEBOOK_RUNS"
else
  export MASKLAB_RUNS="$out/runs"
  trap 'rm -rf "$MASKLAB_RUNS"' EXIT
fi
echo "test-notebooks: ${#nbs[@]} notebook(s), MASKLAB_QUICK=$MASKLAB_QUICK, executed copies in $out"
/usr/bin/python3 scripts/run-notebooks.py --out "$out" ${MASKLAB_NOTEBOOK_TIMEOUT:+--timeout "$MASKLAB_NOTEBOOK_TIMEOUT"} "${nbs[@]}"
