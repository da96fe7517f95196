#!/usr/bin/env bash
# The test command of the README: vet, then every Go test (fuzz seed corpora included),
# then the stages that need more than Go (added as they exist). Prints each stage's time.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

stage() {
  local name=$1; shift
  local t0=$SECONDS
  echo "=== $name"
  "$@"
  echo "=== $name: ok in $((SECONDS - t0))s"
}

stage "gofmt" bash -c 'out=$(gofmt -l $(git ls-files "*.go" 2>/dev/null || find . -name "*.go")); if [ -n "$out" ]; then echo "gofmt needed on:"; echo "$out"; exit 1; fi'
stage "go vet" go vet ./...
stage "go test" go test -count=1 -timeout 40m ./...
for extra in scripts/test-notebooks.sh scripts/test-slurm.sh; do
  if [ -x "$extra" ] && [ "${MASKLAB_SKIP_EXTRA:-0}" != "1" ]; then
    stage "$(basename "$extra" .sh)" "$extra"
  fi
done
echo "all stages passed"
