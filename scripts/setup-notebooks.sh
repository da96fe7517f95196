#!/usr/bin/env bash
# Installs what masklab's notebooks need and registers the GoNB kernel. Idempotent:
# whatever is already there is left alone.
#
#   1. Jupyter's execution parts from Debian packages (python3-nbclient, jupyter-nbconvert),
#      without recommends (those would pull pandoc, ~219 MB).
#   2. GoNB and goimports at the versions pinned by go.mod's tool lines
#      (go install from the repository root).
#   3. The GoNB kernel, registered with --raw_error into $JUPYTER_DATA_DIR (default:
#      Jupyter's own user directory, ~/.local/share/jupyter, so an interactive Jupyter finds
#      it too; scripts/test-notebooks.sh uses the same default).
#
# Environment: JUPYTER_DATA_DIR (where the kernel spec goes), MASKLAB_GOBIN (where the Go
# tools go; default $(go env GOPATH)/bin). Prints the commands to run when it cannot do a
# step itself (not root and packages missing) and exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
. scripts/env.sh

export JUPYTER_DATA_DIR="${JUPYTER_DATA_DIR:-${HOME:?HOME must be set}/.local/share/jupyter}"
gobin="${MASKLAB_GOBIN:-$(go env GOPATH)/bin}"
export PATH="$gobin:$PATH"
py=/usr/bin/python3 # Debian's python: a pyenv python first on PATH cannot import nbclient

say() { echo "setup-notebooks: $*"; }

# --- 1. Jupyter from Debian ---------------------------------------------------------------
debs=(python3-nbclient python3-nbformat python3-jupyter-client jupyter-nbconvert)
missing=()
for p in "${debs[@]}"; do
  if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != *"install ok installed"* ]]; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  cmd="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
  if [ "$(id -u)" = 0 ]; then
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    say "installing ${missing[*]} with sudo"
    sudo DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    say "missing Debian packages: ${missing[*]}; as root, run:"
    echo "  $cmd"
    exit 1
  fi
fi
if ! "$py" -c 'import nbclient, nbformat, jupyter_client' 2>/dev/null; then
  say "$py cannot import nbclient/nbformat/jupyter_client even though the packages are installed"
  exit 1
fi
say "jupyter: nbclient $("$py" -c 'import nbclient; print(nbclient.__version__)'), nbconvert $("$py" -c 'import nbconvert; print(nbconvert.__version__)' 2>/dev/null || echo '?')"

# --- 2. GoNB and goimports from go.mod's tool lines ----------------------------------------
want_gonb=$(go list -m -f '{{.Version}}' github.com/janpfeifer/gonb)
have_gonb=""
if [ -x "$gobin/gonb" ]; then
  have_gonb=$(go version -m "$gobin/gonb" 2>/dev/null | awk '$1=="mod" && $2=="github.com/janpfeifer/gonb" {print $3}')
fi
want_gi=$(go list -m -f '{{.Version}}' golang.org/x/tools)
have_gi=""
if [ -x "$gobin/goimports" ]; then
  have_gi=$(go version -m "$gobin/goimports" 2>/dev/null | awk '$1=="mod" && $2=="golang.org/x/tools" {print $3}')
fi
if [ "$have_gonb" != "$want_gonb" ] || [ "$have_gi" != "$want_gi" ]; then
  say "installing gonb $want_gonb and goimports $want_gi into $gobin"
  mkdir -p "$gobin"
  GOBIN="$gobin" go install github.com/janpfeifer/gonb golang.org/x/tools/cmd/goimports
fi
say "gonb $want_gonb, goimports $want_gi in $gobin"

# --- 3. Kernel registration ----------------------------------------------------------------
spec="$JUPYTER_DATA_DIR/kernels/gonb/kernel.json"
if [ ! -f "$spec" ] || ! grep -q -- "$gobin/gonb" "$spec" || ! grep -q -- "raw_error=true" "$spec"; then
  mkdir -p "$JUPYTER_DATA_DIR"
  flags=(--install --raw_error)
  command -v gopls >/dev/null || flags+=(--force_deps) # gopls only adds editor help
  say "registering the GoNB kernel in $JUPYTER_DATA_DIR"
  # gonb --install writes to $JUPYTER_DATA_DIR/kernels/gonb (and may log to stderr).
  gonb "${flags[@]}" >/dev/null 2>"$JUPYTER_DATA_DIR/gonb-install.log" || {
    say "gonb --install failed:"; cat "$JUPYTER_DATA_DIR/gonb-install.log"; exit 1; }
fi
if [ ! -f "$spec" ]; then
  say "gonb --install did not write $spec"
  exit 1
fi
# The kernel's environment: the Go toolchain go.mod asks for and the SIMD kernels, as in
# scripts/env.sh, also for a Jupyter started outside masklab's scripts (whose Go may
# default to GOTOOLCHAIN=local and stop at "go.mod requires go >= 1.27").
"$py" - "$spec" "$GOTOOLCHAIN" "${GOEXPERIMENT:-}" <<'PY'
import json, sys
path, toolchain, experiment = sys.argv[1:4]
spec = json.load(open(path))
env = dict(spec.get("env") or {})
want = {"GOTOOLCHAIN": toolchain}
if experiment:
    want["GOEXPERIMENT"] = experiment
if any(env.get(k) != v for k, v in want.items()):
    env.update(want)
    spec["env"] = env
    json.dump(spec, open(path + ".tmp", "w"), indent=1)
    import os
    os.replace(path + ".tmp", path)
    print("setup-notebooks: kernel environment", " ".join(f"{k}={v}" for k, v in want.items()))
PY
say "kernel: $spec"
say "ok"
