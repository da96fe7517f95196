#!/usr/bin/env bash
# CI: install Jupyter's execution parts, GoNB and goimports, and register the GoNB kernel,
# so that scripts/test.sh can run scripts/test-notebooks.sh.
set -euo pipefail
exec "$(dirname "$0")/../setup-notebooks.sh"
