#!/bin/bash
# On a bare GPU machine (no Node, no network): unpacks node, node_modules and dist from .dev
# (pack.sh made them), puts the NVIDIA Vulkan driver in reach of Dawn, then runs each phase:
#   info          the GPU and the WebGPU adapter Dawn finds on it
#   test          the GPU tests on that adapter (vitest project gpu-hardware)
#   cnnc "ARGS"   the CLI, e.g. cnnc "tune examples/resnet18.cnn --adapter gpu --verbose"
#   bench "ARGS"  scripts/bench.mjs, e.g. bench "" (everything) or bench "--nets none"
#   node "ARGS"   any script, e.g. node "scripts/upload-paths.mjs gpu"
# usage: bash scripts/gpu-machine/run.sh info test bench "--nets resnet18"
# Logs go to $OUT (or /tmp/out). The figures in the README's H100 section were taken this way.
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/out}; mkdir -p $OUT
if [ -e /dev/nvidia0 ]; then
  for f in .gl/*.deb; do dpkg -x $f /; done; ldconfig
  icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  [ -f $icd ] && export VK_DRIVER_FILES=$icd
  egl=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  [ -f $egl ] && export __EGL_VENDOR_LIBRARY_FILENAMES=$egl
fi
if [ ! -x /tmp/nodebin/node ]; then
  python3 - <<'PY'
import lzma, tarfile, os, shutil
os.makedirs('/tmp/nodebin', exist_ok=True)
with lzma.open('.dev/node.xz') as f, open('/tmp/nodebin/node', 'wb') as o: shutil.copyfileobj(f, o)
os.chmod('/tmp/nodebin/node', 0o755)
for t in ['.dev/nm.tar.xz', '.dev/dist.tar.xz']:
    with tarfile.open(t) as z: z.extractall('.')
PY
fi
export PATH=/tmp/nodebin:$PATH CNNC_ADAPTER=${CNNC_ADAPTER:-gpu}
echo "node $(node --version)"
while [ $# -gt 0 ]; do
  phase=$1; shift
  case $phase in
    info)
      nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv
      node -e 'import("./dist/runtime/node-device.js").then(async m => { const d = await m.nodeDevice(); console.log(d.adapter); const a = await d.gpu.requestAdapter(d.adapterOptions); const i = a.info; console.log(i.vendor, i.architecture, i.device, i.description, "|", [...a.features].join(" ")); process.exit(0) }).catch(e => { console.error(e); process.exit(1) })' ;;
    test)
      CNNC_TEST_GPU=1 timeout ${TEST_LIMIT:-300} node node_modules/vitest/vitest.mjs run --project gpu-hardware 2>&1 | tee $OUT/test.log | tail -60 ;;
    cnnc)
      a=$1; shift
      node dist/cli/bin.js $a 2>&1 | tee -a $OUT/cnnc.log ;;
    bench)
      a=$1; shift
      timeout ${BENCH_LIMIT:-400} node scripts/bench.mjs $a 2>&1 | tee -a $OUT/bench.log ;;
    node)
      a=$1; shift
      node $a 2>&1 | tee -a $OUT/node.log ;;
  esac
done
