#!/usr/bin/env bash
# Issue 18's checkpoint benchmark (docs/performance.md, "Pretrained checkpoints").
#
#   scripts/bench.sh --hf [--quick] [--timeout SECONDS] [flags of "bench hf"...]
#   scripts/bench/hf.sh   (the same)
#
# 1. Load: generates a 99.5M-parameter BF16 Llama checkpoint (Hugging Face layout, in a
#    temporary directory, with pkg/hf/testdata/make_checkpoints.py's code) and loads it in
#    fresh processes: load time and peak RSS (VmHWM) against the float32 weights, for
#    Checkpoint.Load, Load + one forward pass, and LoadOn(backend) + one forward pass.
# 2. Speed: trains a 29.1M-parameter Llama checkpoint (float32, batch 4 x 128 tokens,
#    AdamW) in masklab and in PyTorch (scripts/bench/hf_torch.py) in interleaved pairs at
#    1 and 2 threads; tokens per CPU second is the primary figure.
# Needs Debian's python3-torch with libopenblas0-openmp. About 10 minutes on a 2-core
# machine. Everything runs under prlimit --as=16000000000 and a timeout (default 3600 s).
# --quick: one load per variant, one pair at 1 thread, 2 measured steps (a smoke test).
# Other flags go to the program (go run ./scripts/bench hf --help lists them), e.g.
#   --pairs 5 --threads 1 --gomemlimit 600MiB --json out/hf.json --no-train
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
. scripts/env.sh

limit=3600
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) args+=(-loads 1 -pairs 1 -threads 1 -steps 2 -warmup 1); shift ;;
    --timeout) limit="$2"; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) args+=("$1"); shift ;;
  esac
done

bin="$(mktemp -d)"
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/bench" ./scripts/bench
timeout "$limit" prlimit --as=16000000000 "$bin/bench" hf -script "$root/scripts/bench/hf_torch.py" "${args[@]}"
