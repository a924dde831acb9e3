// `node scripts/upload-paths.mjs [adapter]` (after `npm run build`): the two ways to upload an
// input, timed alone for sizes around 4 MiB: queue.writeBuffer (through Dawn's staging ring),
// and a staging buffer of one's own, written while mapped, copied on the device and mapped
// again (what Model.run does above runtime/model.ts's stagingAbove). Each line: the median of
// 25 uploads, each to completion. adapter: auto (default), gpu, llvmpipe, swiftshader.
import { performance } from "node:perf_hooks";
import { nodeDevice } from "../dist/runtime/node-device.js";
import { stagingAbove } from "../dist/runtime/model.js";
import { median } from "./table.mjs";

const node = await nodeDevice(process.argv[2] ?? "auto");
const { device } = node;

console.log(`upload paths on ${node.adapter}; Model.run stages inputs over ${stagingAbove} bytes`);
console.log("MiB    writeBuffer ms  own staging ms");
for (const mib of [0.5, 2, 3.5, 4.5, 9, 18]) {
  const bytes = Math.round((mib * 1048576) / 4) * 4;
  const data = new Float32Array(bytes / 4).fill(0.5);
  const target = device.createBuffer({
    size: bytes,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
  });
  const staging = device.createBuffer({
    size: bytes,
    usage: GPUBufferUsage.MAP_WRITE | GPUBufferUsage.COPY_SRC,
    mappedAtCreation: true,
  });
  const byQueue = [];
  const byStaging = [];
  for (let i = 0; i < 26; i++) {
    let t0 = performance.now();
    device.queue.writeBuffer(target, 0, data);
    device.queue.submit([]);
    await device.queue.onSubmittedWorkDone();
    if (i) byQueue.push(performance.now() - t0); // (the first of each: a warm-up)
    t0 = performance.now();
    new Float32Array(staging.getMappedRange()).set(data);
    staging.unmap();
    const encoder = device.createCommandEncoder();
    encoder.copyBufferToBuffer(staging, 0, target, 0, bytes);
    device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.WRITE);
    if (i) byStaging.push(performance.now() - t0);
  }
  console.log(
    `${String(mib).padEnd(5)}  ${median(byQueue).toFixed(2).padStart(14)}  ${median(byStaging).toFixed(2).padStart(14)}`,
  );
  target.destroy();
  staging.destroy();
}
device.destroy();
