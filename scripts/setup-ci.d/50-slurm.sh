#!/usr/bin/env bash
# Installs Debian's slurm-wlm and munge for scripts/test-slurm.sh (a real single-node
# Slurm cluster started by scripts/slurm-local.sh). Idempotent: does nothing when present.
set -euo pipefail
exec "$(dirname "$0")/../slurm-local.sh" install
