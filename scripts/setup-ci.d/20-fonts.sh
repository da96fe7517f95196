#!/usr/bin/env bash
# Installs a CJK-capable font (Debian's fonts-wqy-microhei, ~5 MB) so that pkg/plots
# draws Chinese token labels as Chinese on CI machines (pkg/plots looks for it at
# /usr/share/fonts/truetype/wqy/wqy-microhei.ttc; MASKLAB_CJK_FONT points elsewhere).
# Idempotent: does nothing when a known CJK font is already present.
set -euo pipefail
for f in /usr/share/fonts/truetype/wqy/wqy-microhei.ttc \
         /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc \
         /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc; do
  if [ -f "$f" ]; then
    echo "20-fonts: CJK font present: $f"
    exit 0
  fi
done
if ! command -v apt-get >/dev/null; then
  echo "20-fonts: no apt-get; install a CJK font and set MASKLAB_CJK_FONT (CJK labels fall back to indices)" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y --no-install-recommends fonts-wqy-microhei; then
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends fonts-wqy-microhei
fi
echo "20-fonts: installed fonts-wqy-microhei"
