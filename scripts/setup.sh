#!/usr/bin/env bash
# One-time set-up on a fresh Debian 12 machine (run as root, or with sudo available):
#   - Debian packages for the GPU paths: chromium (SwiftShader WebGPU for the browser
#     tests) and Mesa >= 25 lavapipe from bookworm-backports (Dawn in Node rejects
#     bookworm's own Mesa 22.3; see shared/PLATFORM.md);
#   - npm dependencies exactly as locked (this also installs Node 24 into node_modules).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

if command -v apt-get >/dev/null 2>&1; then
  if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "deb http://deb.debian.org/debian bookworm-backports main" | $SUDO tee /etc/apt/sources.list.d/bookworm-backports.list >/dev/null
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
else
  echo "setup: apt-get not found; install chromium and a Vulkan driver (Mesa >= 25 lavapipe) yourself" >&2
fi

npm ci --no-audit --no-fund
echo "setup: done ($(node_modules/.bin/node --version), chromium: $(command -v chromium || echo missing))"
