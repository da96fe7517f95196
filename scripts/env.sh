# Sourced by masklab's scripts: one Go toolchain and one GOEXPERIMENT setting for every
# build, test and run, so the build cache is shared.
#
# go.mod asks for Go 1.27 (GoMLX v0.28.16's Go backend, 2-3 times as fast as v0.28.2
# here: docs/performance.md) with `toolchain go1.27.3`. GOTOOLCHAIN=go1.27.3+auto makes
# any local Go (1.21+) run that toolchain, fetched once through the Go module proxy and
# then taken from the module cache (also with GOPROXY=off, as the notebook tests run);
# a Go whose go.env says GOTOOLCHAIN=local (Debian's, /usr/local/go here) would
# otherwise stop with "go.mod requires go >= 1.27". Plain "auto" is not enough: a go.work
# created by an older Go (GoNB's) makes it look up the newest 1.27.x on the proxy. An
# explicit GOTOOLCHAIN in the environment wins.
_masklab_tc=$(sed -n 's/^toolchain //p' "$(dirname "${BASH_SOURCE[0]}")/../go.mod" 2>/dev/null)
export GOTOOLCHAIN="${GOTOOLCHAIN:-${_masklab_tc:-go1.27.3}+auto}"
unset _masklab_tc
# GOEXPERIMENT=simd turns on the Go backend's AVX2/AVX-512 kernels (2-4x faster); set
# MASKLAB_SIMD=0 to build without it.
if [ "${MASKLAB_SIMD:-1}" != "0" ]; then
  case ",${GOEXPERIMENT:-}," in
    *,simd,*) ;;
    *) export GOEXPERIMENT="${GOEXPERIMENT:+$GOEXPERIMENT,}simd" ;;
  esac
fi
export GOFLAGS="${GOFLAGS:--buildvcs=true}"
