# Sourced by masklab's scripts: one GOEXPERIMENT setting for every build, test and run,
# so the build cache is shared. GOEXPERIMENT=simd turns on the Go backend's AVX2/AVX-512
# kernels (2-4x faster); set MASKLAB_SIMD=0 to build without it.
if [ "${MASKLAB_SIMD:-1}" != "0" ]; then
  case ",${GOEXPERIMENT:-}," in
    *,simd,*) ;;
    *) export GOEXPERIMENT="${GOEXPERIMENT:+$GOEXPERIMENT,}simd" ;;
  esac
fi
export GOFLAGS="${GOFLAGS:--buildvcs=true}"
