#!/usr/bin/env bash
# masklab's training speed against the PyTorch reference (docs/performance.md).
#
#   scripts/bench.sh [--ref PATH_TO_train_transformer.py] [--d128] [--quick] [bench flags...]
#
# Runs RB-d64 (and RB-d128 with --d128) in masklab and in PyTorch, one after the other in
# interleaved pairs at 1 and 2 threads, and prints one line per figure, e.g.
#   RB-d64 threads=1 masklab target_tokens/s=8123
#   RB-d64 threads=1 pytorch target_tokens/s=19100
#   RB-d64 threads=1 ratio=0.43
# plus steps/s, peak memory, GFLOP/s against the measured matmul ceilings, the noise of
# the machine, and the step at which RB-d64 reaches 95% token accuracy. The default run
# takes about 6 minutes on a quiet 2-core machine (much longer on a loaded one, where
# PyTorch's 2-thread OpenMP runs crawl: see docs/performance.md).
#
# --ref defaults to ../shared/bench/train_transformer.py next to the repository, then
# /work/shared/bench/train_transformer.py; PyTorch runs only if that script and
# Debian's python3-torch (with libopenblas0-openmp) are installed. "--ref none" skips it.
# --quick: one pair per thread count and no convergence run (a smoke test).
# --op-profile FILE: per-operation times of one masklab run (builds a patched copy of the
#   Go backend in a temporary directory; see docs/performance.md).
# --upstream-transpose: the same benchmark built against a copy of the Go backend with the
#   float32 transpose kernel proposed upstream (scripts/bench/upstream/transpose_f32.go.txt;
#   docs/performance.md, "What is left"); run it beside a plain run to see what it gives.
# --lengths: the length benchmark instead (docs/performance.md, "Attention whose cost
#   follows the mask"): one decoder layer's forward+backward at L = 256..4096 with 4096
#   tokens per step, masks causal, "causal & doc" (packed poetry-lm documents) and
#   "causal & window(128)", dense against sparse-aware attention, 3 interleaved pairs,
#   1 thread, CPU time; one line per case, e.g.
#   attention L=2048 mask="causal & doc" dense_ms=... sparse_ms=... speedup=...
#   and the log-log figure figures/attention-lengths.png (--figure PATH elsewhere).
#   With --quick: one pair, L up to 2048. Each measuring process runs under timeout 900 and prlimit --as=12000000000.
# --decode: the decoding benchmark instead (docs/performance.md, "Decoding"): tokens/s of a
#   64-token greedy completion after prompts of 16, 64, 256 and 1024 tokens, with the
#   key/value cache against recomputing the prefix at every step, 5 interleaved pairs,
#   1 thread (GOMAXPROCS=1), CPU time; one line per prompt length, e.g.
#   decode prompt=256 new=64 cached_tok/cpu_s=... recompute_tok/cpu_s=... speedup=...
#   With --quick: one pair. It runs under timeout 1800 and prlimit --as=12000000000.
# Other flags go to the benchmark program (scripts/bench/main.go; --help lists them),
# e.g. --threads 1 --pairs 5 --mask-cost --profile cpu.pprof --json out/bench.json.
# --hf: issue 18's pretrained-checkpoint benchmark instead (load time and peak memory of a
#   100M BF16 checkpoint, a 30M Llama's training speed against PyTorch): scripts/bench/hf.sh.
# GOMLX_BACKEND selects the backend (default go:parallelism=-1), e.g.
#   GOMLX_BACKEND=xla:cuda PJRT_PLUGIN_LIBRARY_PATH=DIR scripts/bench.sh --ref none
# with DIR holding pjrt_c_api_cuda_plugin.so (docs/performance.md, "GPU").
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
if [ "${1:-}" = "--hf" ]; then shift; exec scripts/bench/hf.sh "$@"; fi
. scripts/env.sh

ref=""
for cand in "$root/../shared/bench/train_transformer.py" /work/shared/bench/train_transformer.py; do
  if [ -f "$cand" ]; then ref="$cand"; break; fi
done
args=()
sizes="d64"
opprof=""
lengths=""
decode=""
quick=""
upstream=""
while [ $# -gt 0 ]; do
  case "$1" in
    --ref) ref="$2"; shift 2 ;;
    --ref=*) ref="${1#--ref=}"; shift ;;
    --d128) sizes="d64,d128"; shift ;;
    --quick) args+=(-pairs 1 -converge=false); quick=1; shift ;;
    --lengths) lengths=1; shift ;;
    --decode) decode=1; shift ;;
    --op-profile) opprof="$2"; shift 2 ;;
    --upstream-transpose) upstream=1; shift ;;
    -h|--help) awk 'NR > 1 && /^set -euo/ { exit } NR > 1' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) args+=("$1"); shift ;;
  esac
done

bin="$(mktemp -d)"
trap 'rm -rf "$bin"' EXIT

# patch_compute: a copy of the Go backend (GoMLX compute) in $bin/compute, which the next
# build_bench uses instead of the module's.
patch_compute() {
  mod="$(go list -m -f '{{.Dir}}' github.com/gomlx/compute)"
  ver="$(go list -m -f '{{.Version}}' github.com/gomlx/compute)"
  [ -d "$bin/compute" ] || { cp -r "$mod" "$bin/compute" && chmod -R u+w "$bin/compute"; }
}
build_bench() {
  if [ -d "$bin/compute" ]; then
    goversion="$(sed -n 's/^go //p' go.mod)"
    printf 'go %s\n\nuse %s\n\nreplace github.com/gomlx/compute %s => %s/compute\n' "$goversion" "$root" "$ver" "$bin" > "$bin/go.work"
    GOWORK="$bin/go.work" GOFLAGS=-buildvcs=false go build -o "$bin/bench" ./scripts/bench
  else
    go build -o "$bin/bench" ./scripts/bench
  fi
}

if [ -n "$upstream" ]; then
  patch_compute
  tr="$bin/compute/internal/gobackend/ops/transpose.go"
  grep -q '^	// Case 1: 4D permutation' "$tr" || { echo "bench.sh: cannot patch $tr (GoMLX compute $ver changed)"; exit 1; }
  sed -i 's|^	// Case 1: 4D permutation|	if dispatchTransposeF32(backend, operand, output, dims, permutations) {\n		return true\n	}\n\n&|' "$tr"
  cp scripts/bench/upstream/transpose_f32.go.txt "$bin/compute/internal/gobackend/ops/transpose_f32.go"
  echo "bench.sh: Go backend with the proposed float32 transpose kernel (scripts/bench/upstream)"
fi

if [ -n "$opprof" ]; then
  # A copy of the Go backend whose executor times every operation (scripts/bench/opprof).
  patch_compute
  exe="$bin/compute/internal/gobackend/executable.go"
  sed -i 's/^func (fe \*FunctionExecutable) executeNode(/func (fe *FunctionExecutable) executeNodeTimed(/' "$exe"
  grep -q executeNodeTimed "$exe" || { echo "bench.sh: cannot patch $exe (GoMLX compute $ver changed)"; exit 1; }
  cp scripts/bench/opprof/opprof.go.txt "$bin/compute/internal/gobackend/opprof.go"
  build_bench
  size="${sizes%%,*}"
  OPPROF="$opprof" GOMLX_BACKEND="${GOMLX_BACKEND:-go:parallelism=-1,ops_sequential}" GOMAXPROCS=1 \
    "$bin/bench" -worker train -size "$size" -worker-threads 1 "${args[@]}" > /dev/null
  echo "per-operation times of one $size run (1 thread, sequential): $opprof"
  head -25 "$opprof"
  exit 0
fi

build_bench
if [ -n "$decode" ]; then
  pairs=5
  [ -n "$quick" ] && pairs=1
  dargs=()
  for a in "${args[@]}"; do [ "$a" = "-converge=false" ] || dargs+=("$a"); done
  GOMAXPROCS="${GOMAXPROCS:-1}" timeout 1800 prlimit --as=12000000000 \
    "$bin/bench" -decode 16,64,256,1024 -decode-new 64 -pairs "$pairs" "${dargs[@]}"
  exit 0
fi
if [ -n "$lengths" ]; then
  ls="256,512,1024,2048,4096"
  [ -n "$quick" ] && ls="256,512,1024,2048"
  "$bin/bench" -lengths "$ls" -figure figures/attention-lengths.png -min-seconds 3 "${args[@]}"
  exit 0
fi
exec_ref="${ref:-none}"
"$bin/bench" -ref "$exec_ref" -sizes "$sizes" "${args[@]}"
