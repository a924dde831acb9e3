// ONNX Runtime Web (WebGPU EP) timed in a process of its own, for scripts/bench.mjs. Once an
// ORT-web session has existed in a process, every WebGPU runtime in it runs ~3x slower on
// llvmpipe, even after session.release() (measured on LeNet-5: cnnc 21 -> 58 ms, tfjs 22 ->
// 50 ms), so the bench keeps ORT-web out of its own process.
// Usage: node ort-web-child.mjs job.json; the job names the model, input and output files.
// Prints one JSON line: { firstMs, times, output } (output: the first result, as numbers).
import { readFileSync, writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { installWebGpuGlobals } from "./webgpu-globals.mjs";

const job = JSON.parse(readFileSync(process.argv[2], "utf8"));
const gpu = await installWebGpuGlobals();
const tick = setInterval(() => {}, 10); // ORT's first async pipeline stalls without it
const ort = await import("onnxruntime-web/webgpu");
ort.env.logLevel = "error";
ort.env.wasm.numThreads = 1;

const bytes = readFileSync(job.input); // (a small file's Buffer is a view into a shared pool)
const x = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4).slice();
const feeds = () => ({ [job.inputName]: new ort.Tensor("float32", x, job.shape) });
const t0 = performance.now();
const session = await ort.InferenceSession.create(readFileSync(job.model), {
  executionProviders: ["webgpu"],
  graphOptimizationLevel: "all",
});
const first = (await session.run(feeds()))[job.outputName].data;
const firstMs = performance.now() - t0;
await session.run(feeds()); // warm-up
const times = [];
for (let i = 0; i < job.runs; i++) {
  const t = performance.now();
  (await session.run(feeds()))[job.outputName].data;
  times.push(performance.now() - t);
}
await session.release();
writeFileSync(job.output, Buffer.from(Float32Array.from(first).buffer));
process.stdout.write(JSON.stringify({ firstMs, times }) + "\n");
clearInterval(tick);
void gpu;
process.exit(0);
