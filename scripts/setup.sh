#!/usr/bin/env bash
# One-time set-up of a fresh Debian machine for cnnc: the system packages behind the two CPU
# WebGPU adapters (a machine without a GPU still runs every kernel), then the npm packages and
# the build (npm ci runs the `prepare` script). README, CI and developers share this one path.
#   - Mesa llvmpipe through OpenGL ES (compatibility mode): libegl-mesa0, libgles2
#   - SwiftShader through Vulkan (core WebGPU): chromium ships its ICD; libvulkan1 is the loader
#   - ONNX's own backend tests (libonnx-testdata): the ONNX conformance suite in the tests
#   - Fashion-MNIST (dataset-fashion-mnist, /usr/share/datasets/fashion-mnist): `cnnc train`'s data
set -euo pipefail
cd "$(dirname "$0")/.."

major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 20 ]; then
  echo "cnnc needs Node.js 20 or newer (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

packages=(libegl-mesa0 libgles2 libvulkan1 chromium libonnx-testdata dataset-fashion-mnist)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if ! command -v apt-get >/dev/null; then
    echo "setup: install ${missing[*]} (or their equivalents) for the CPU WebGPU adapters and ONNX's test data" >&2
  else
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "setup: installing ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

# onnxruntime-node (the test oracle) uses the CPU build it ships: its install script would
# otherwise fetch CUDA libraries (hundreds of MB). An environment variable, not .npmrc, where
# npm 11 warns about every setting it does not know on every command.
export ONNXRUNTIME_NODE_INSTALL=skip
npm ci --no-audit --no-fund
