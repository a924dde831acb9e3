#!/usr/bin/env bash
# One-time set-up of a fresh machine for cnnc: checks Node, installs the npm packages and
# builds (npm ci runs the `prepare` script). Later stages that need system packages (the
# WebGPU CPU adapters) install them here too, so that README, CI and developers share one path.
set -euo pipefail
cd "$(dirname "$0")/.."

major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 20 ]; then
  echo "cnnc needs Node.js 20 or newer (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

npm ci --no-audit --no-fund
