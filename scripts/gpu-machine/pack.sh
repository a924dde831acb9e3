#!/bin/bash
# Packs what a bare GPU machine with no Node and no network needs to run the GPU tests and the
# bench (see run.sh): node itself, node_modules without other platforms' binaries and without
# the dev tools the tests do not load, and the built dist/. Writes .dev/ (keep it out of git:
# `echo /.dev/ >> .git/info/exclude`), about 62 MB. Run from the repository root after
# `npm ci && npm run build`. The Vulkan loader (.gl/, for Dawn's Vulkan backend) is fetched
# once as the workplace's device README says.
set -euo pipefail
rm -rf /tmp/cnnc-pack && mkdir -p /tmp/cnnc-pack .dev
cp -a node_modules /tmp/cnnc-pack/
cd /tmp/cnnc-pack/node_modules
find . -name '*.map' -delete
rm -rf onnxruntime-node/bin/napi-v6/{darwin,win32,linux/arm64} \
  webgpu/dist/{darwin-universal,linux-arm64,win32-*} \
  typescript prettier playwright-core @codemirror @lezer protobufjs/cli onnxruntime-web/lib \
  onnxruntime-web/dist/ort.{all,jspi,webgl,wasm}* \
  onnxruntime-web/dist/ort-wasm-simd-threaded.{jsep,jspi}* \
  onnxruntime-web/dist/ort-wasm-simd-threaded.{wasm,mjs}
# tfjs in Node loads only its *.node.js bundles
for p in @tensorflow/tfjs-core @tensorflow/tfjs-backend-webgpu @tensorflow/tfjs-backend-cpu; do
  find "$p/dist" -mindepth 1 -maxdepth 1 ! -name '*.node.js' -exec rm -rf {} +
done
cd - >/dev/null
tar -C /tmp/cnnc-pack -cf - node_modules | xz -T0 -9 >.dev/nm.tar.xz
xz -T0 -6 -c "$(command -v node)" >.dev/node.xz
tar -cJf .dev/dist.tar.xz dist
rm -rf /tmp/cnnc-pack
ls -la .dev
