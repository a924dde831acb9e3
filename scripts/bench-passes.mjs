// `npm run bench`: two tables, each from one run on this machine.
//  1. the front end (parse, lower, infer shapes, verify, analyse) on every example;
//  2. inference at -O0 and -O2 of ResNet-18, MobileNet-v1 and GoogLeNet (224x224, batch 1) on
//     one WebGPU adapter: dispatches, MACs, activation memory and median latency (readback
//     included). CNNC_ADAPTER picks the adapter; BENCH_RUNS the timed runs (default 3);
//     BENCH_NETS a comma-separated subset. Side-by-side figures with TensorFlow.js and ONNX
//     Runtime belong here too; they come with the performance work.
import { readdirSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { compileGraph } from "../dist/compiler/compile.js";
import { nodeHost } from "../dist/cli/host.js";
import { activationMemory, bytes, grouped, summarize } from "../dist/compiler/analysis/index.js";
import { compileFrontend } from "../dist/compiler/lower/index.js";
import { Model } from "../dist/runtime/index.js";
import { nodeDevice } from "../dist/runtime/node-device.js";
import { median, table } from "./table.mjs";

const runs = Number(process.env.BENCH_RUNS ?? 3);

// 1. Front end
const frontRows = [];
for (const file of readdirSync("examples")
  .filter((f) => f.endsWith(".cnn"))
  .sort()) {
  const once = () => summarize(compileFrontend(`examples/${file}`, nodeHost).graph);
  once();
  const times = [];
  let report;
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    report = once();
    times.push(performance.now() - t0);
  }
  frontRows.push([report.network, String(report.layers.length), median(times).toFixed(2)]);
}
console.log(`cnnc front end, median of 20 runs, Node ${process.version}\n`);
table(["network", "layers", "front end ms"], frontRows);

// 2. -O0 vs -O2 on a WebGPU adapter
const nets = (process.env.BENCH_NETS ?? "resnet18,mobilenet_v1,googlenet").split(",");
const gpu = await nodeDevice();
const rows = [];
for (const net of nets) {
  const graph = compileFrontend(`examples/${net}.cnn`, nodeHost).graph;
  for (const level of ["O0", "O2"]) {
    const built = compileGraph(graph, { seed: 1, opt: Number(level.slice(1)) });
    const model = await Model.create(built.bundle, gpu.device);
    const input = graph.inputs[0];
    const x = new Float32Array(input.shape.reduce((a, b) => a * b, 1)).fill(0.5);
    await model.run({ [input.name]: x });
    const times = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      await model.run({ [input.name]: x });
      times.push(performance.now() - t0);
    }
    model.dispose();
    rows.push([
      graph.name,
      `-${level}`,
      String(built.plan.dispatches.length),
      grouped(summarize(built.graph).totals.macs),
      bytes(built.plan.arena * 4),
      bytes(activationMemory(built.graph).peakLiveBytes),
      median(times).toFixed(0),
    ]);
  }
}
console.log(
  `\ncnnc inference on ${gpu.adapter}, 224x224, batch 1, median of ${runs} runs (readback included)\n`,
);
table(
  ["network", "opt", "dispatches", "MACs", "arena", "peak live", "latency ms"],
  rows,
  (i) => i > 1,
);
process.exit(0);
