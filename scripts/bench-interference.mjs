// `node scripts/bench-interference.mjs [example] [batch]` (after `npm run build`; CNNC_ADAPTER
// picks the adapter as for the bench): does anything scripts/bench.mjs does beside cnnc slow
// cnnc down? Times cnnc's round trip on one example (default mobilenet_v1 at batch 8) alone,
// then with each peer's state and runs beside it in the bench's order, then alone again.
// Why: on an H100, bench.mjs timed cnnc's MobileNet-v1 at batch 8 at 6.5 to 7.8 ms where
// `cnnc run --bench` timed it at 2.3 ms; tfjs loaded, tfjs runs and onnxruntime-node runs
// in between cost it at most 0.6 ms. BENCH_RUNS runs per step (default 20).
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { compileGraph } from "../dist/compiler/compile.js";
import { compileFrontend, memoryHost } from "../dist/compiler/lower/index.js";
import { exportOnnx } from "../dist/compiler/onnx/index.js";
import { initWeights, random } from "../dist/compiler/weights/index.js";
import { Model } from "../dist/runtime/index.js";
import { ortNodeModel, ortWebInChild } from "./peers/ort.mjs";
import { tfjsModel } from "./peers/tfjs.mjs";
import { installWebGpuGlobals } from "./peers/webgpu-globals.mjs";

const file = `examples/${process.argv[2] ?? "mobilenet_v1"}.cnn`;
const batch = Number(process.argv[3] ?? 8);
const runs = Number(process.env.BENCH_RUNS ?? 20);

const front = compileFrontend(file, memoryHost({ [file]: readFileSync(file, "utf8") }));
if (!front.graph) throw new Error(`${file} does not compile`);
const graph = { ...front.graph, constants: initWeights(front.graph, 1) };
const [input] = graph.inputs;
const [out] = graph.outputs;
const rand = random(3);
const size = batch * input.shape.reduce((a, b) => a * b, 1);
const x = Float32Array.from({ length: size }, () => rand() * 2 - 1);
const bytes = compileGraph(graph).bundle;

const gpu = await installWebGpuGlobals();
const tick = setInterval(() => {}, 10); // as in bench.mjs
console.log(`cnnc on ${file} at batch ${batch}, ${gpu.adapter}; median and min of ${runs} runs`);

/** Times `runs` runs of `model` after a warm-up, `before` awaited (untimed) before each. */
async function step(label, model, before = async () => {}) {
  const run = () => model.run({ [input.name]: x }, { batch });
  await run();
  const times = [];
  for (let i = 0; i < runs; i++) {
    await before();
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  const median = [...times].sort((a, b) => a - b)[runs >> 1];
  console.log(
    `${label.padEnd(52)} ${median.toFixed(2).padStart(9)} ms ${Math.min(...times)
      .toFixed(2)
      .padStart(9)} ms`,
  );
}

const model = await Model.create(bytes, gpu.device);
await step("alone", model);
const tf = await import("@tensorflow/tfjs-core");
await import("@tensorflow/tfjs-backend-webgpu");
await tf.setBackend("webgpu");
await tf.ready();
const tfjs = tfjsModel(tf, compileGraph(graph, { passesOnly: true }).graph);
await tfjs.run(x, batch);
await step("tfjs on the device, its model built", model);
await step("one tfjs run before each", model, () => tfjs.run(x, batch));
const onnx = exportOnnx(graph);
const ort = await ortNodeModel(onnx, input, out);
await step("one onnxruntime-node run before each", model, () => ort.run(x, batch));
tfjs.dispose();
await ort.dispose();
await ortWebInChild(onnx, x, input, out, batch, 3);
await step("after ORT-web ran it in a child process", model);
model.dispose();
await step("alone again, a new model", await Model.create(bytes, gpu.device));
clearInterval(tick);
process.exit(0); // (the peers' native threads would keep the process alive)
