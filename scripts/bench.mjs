// `npm run bench`: cnnc side by side with TensorFlow.js (WebGPU) and ONNX Runtime Web (WebGPU)
// on the same adapter, in one process, plus onnxruntime-node (CPU) as the native line.
//  1. End to end: LeNet-5, MobileNet-v1, ResNet-18, GoogLeNet at 224x224 (LeNet at its 32x32),
//     batch 1 (and 8 for LeNet and MobileNet), the same random weights everywhere. Outputs are
//     checked to agree (1e-3 of the output's scale) before anything is timed; a peer that
//     disagrees is marked WRONG. Median and min
//     latency over BENCH_RUNS runs (default 10) after a warm-up, readback included; each peer's
//     ratio to cnnc; and the time from bytes to first result.
//  2. Kernels: 3x3 conv 64->64 at 56x56, 1x1 conv 256->64 at 56x56, depthwise 3x3 at 112x112x32,
//     dense 4096x4096: GFLOP/s and % of the adapter's measured FMA peak.
// cnnc runs twice: as `cnnc build` compiles it (default kernels) and as `cnnc tune` does
// (GEMM tiles, Winograd and GEMV measured per layer on this adapter). Options: --quick (LeNet only, 3 runs, no kernel
// table: what CI runs so the harness cannot rot), --nets a,b (subset), --no-tune, CNNC_ADAPTER
// (llvmpipe, swiftshader, gpu). Peers are
// devDependencies; how they run in Node: ../shared/PEERS.md.
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { createRequire } from "node:module";
import { buildGraph } from "../dist/cli/build.js";
import { summarize } from "../dist/compiler/analysis/index.js";
import { compileFrontend, memoryHost } from "../dist/compiler/lower/index.js";
import { exportOnnx } from "../dist/compiler/onnx/index.js";
import { pipelines, runPasses } from "../dist/compiler/passes/index.js";
import { initWeights, random } from "../dist/compiler/weights/index.js";
import { Model } from "../dist/runtime/index.js";
import { nodeDevice } from "../dist/runtime/node-device.js";
import { tunedBundle, tuneGraph } from "../dist/cli/tune.js";
import { tfjsModel } from "./peers/tfjs.mjs";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const runs = Number(process.env.BENCH_RUNS ?? (quick ? 3 : 10));
const tune = !args.includes("--no-tune");
const netArg = args.includes("--nets") ? args[args.indexOf("--nets") + 1].split(",") : undefined;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const min = (xs) => Math.min(...xs);

function table(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) =>
    cells
      .map((c, i) => (i ? String(c).padStart(widths[i]) : String(c).padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  console.log(line(header));
  console.log(line(widths.map((w) => "-".repeat(w))));
  for (const r of rows) console.log(line(r));
}

// --- the adapter, shared by cnnc and the peers -------------------------------------------------
const gpu = await nodeDevice();
const webgpu = await import("webgpu");
Object.assign(globalThis, webgpu.globals);
globalThis.navigator = {
  gpu: {
    requestAdapter: (o = {}) => gpu.gpu.requestAdapter({ ...o, ...gpu.adapterOptions }),
    getPreferredCanvasFormat: () => "rgba8unorm",
    wgslLanguageFeatures: gpu.gpu.wgslLanguageFeatures ?? new Set(),
  },
};
// ORT-web's wasm heap is a SharedArrayBuffer; Dawn's binding rejects views on one.
const writeBuffer = GPUQueue.prototype.writeBuffer;
GPUQueue.prototype.writeBuffer = function (buffer, offset, data, dataOffset, size) {
  // slice() copies a typed array into a plain ArrayBuffer, keeping its element type (and so
  // the meaning of dataOffset and size).
  const plain =
    ArrayBuffer.isView(data) && data.buffer instanceof SharedArrayBuffer ? data.slice() : data;
  return writeBuffer.call(this, buffer, offset, plain, dataOffset, size);
};
const tick = setInterval(() => {}, 10); // ORT's first async pipeline stalls without it

const quiet = console.warn;
console.warn = () => {}; // tfjs announces itself on load
const tf = await import("@tensorflow/tfjs-core");
await import("@tensorflow/tfjs-backend-webgpu");
await tf.setBackend("webgpu");
await tf.ready();
console.warn = quiet;
const ortWeb = await import("onnxruntime-web/webgpu");
ortWeb.env.logLevel = "error";
ortWeb.env.wasm.numThreads = 1;
const require = createRequire(import.meta.url);
const ortNode = require("onnxruntime-node");

// --- one network on every runtime ----------------------------------------------------------------
function lowered(file, size) {
  let text = readFileSync(file, "utf8");
  if (size) text = text.replace(/input x: \[3, \d+, \d+\]/, `input x: [3, ${size}, ${size}]`);
  const r = compileFrontend(file, memoryHost({ [file]: text }));
  if (!r.graph) throw new Error(`${file} does not compile`);
  return r.graph;
}

async function time(fn) {
  await fn(); // warm-up
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return times;
}

function agree(name, ref, got) {
  if (ref.length !== got.length)
    throw new Error(`${name}: ${got.length} outputs, want ${ref.length}`);
  let scale = 1e-6;
  let worst = 0;
  for (let i = 0; i < ref.length; i++) {
    scale = Math.max(scale, Math.abs(ref[i]));
    worst = Math.max(worst, Math.abs(ref[i] - got[i]));
  }
  // cnnc's own rows must agree; a peer that does not is timed but marked wrong in the table.
  if (worst / scale > 1e-3 && name.startsWith("cnnc"))
    throw new Error(`${name} disagrees with cnnc: max error ${worst} (scale ${scale})`);
  return worst / scale;
}

const tuning = new Map(); // network -> kernel choices

/** Every runtime on one network and batch: [{runtime, times, firstMs, error}]. */
async function compare(graph, batch) {
  const weights = initWeights(graph, 1);
  const withWeights = { ...graph, constants: weights };
  const rand = random(3);
  const input = graph.inputs[0];
  const x = Float32Array.from(
    { length: batch * input.shape.reduce((a, b) => a * b, 1) },
    () => rand() * 2 - 1,
  );
  const out = graph.outputs[0];
  const results = [];

  // cnnc
  const built = buildGraph(withWeights, { planMemory: true, eliminateConcat: true }, (g) =>
    runPasses(g, pipelines.O2),
  );
  let t0 = performance.now();
  const model = await Model.create(built.bytes, gpu.device);
  const ref = (await model.run({ [input.name]: x }, { batch }))[out.name];
  const cnncFirst = performance.now() - t0;
  results.push({
    runtime: "cnnc",
    firstMs: cnncFirst,
    times: await time(() => model.run({ [input.name]: x }, { batch })),
    error: 0,
  });
  model.dispose();

  // cnnc, tuned on this adapter (`cnnc tune`): kernels measured per layer
  if (tune) {
    // Tuned once per network (at batch 1); larger batches reuse the choice.
    if (!tuning.has(graph.name))
      tuning.set(graph.name, (await tuneGraph(built.graph, gpu.device, { runs: 2 })).choices);
    const bytes = tunedBundle(built.graph, tuning.get(graph.name), gpu.adapter);
    t0 = performance.now();
    const tuned = await Model.create(bytes, gpu.device);
    const first = (await tuned.run({ [input.name]: x }, { batch }))[out.name];
    results.push({
      runtime: "cnnc tuned",
      firstMs: performance.now() - t0,
      error: agree("cnnc tuned", ref, first),
      times: await time(() => tuned.run({ [input.name]: x }, { batch })),
    });
    tuned.dispose();
  }

  // TensorFlow.js WebGPU, on the graph a tfjs converter would give (BN folded, fused ops)
  t0 = performance.now();
  const optimized = runPasses(withWeights, pipelines.O2);
  const tfm = tfjsModel(tf, optimized);
  const tfOut = await tfm.run(x, batch);
  results.push({
    runtime: "tfjs-webgpu",
    firstMs: performance.now() - t0,
    error: agree("tfjs-webgpu", ref, tfOut),
    times: await time(() => tfm.run(x, batch)),
  });
  tfm.dispose();

  // ONNX Runtime: the exported model (ORT optimises it itself: BN folding, fusions)
  const onnx = exportOnnx(withWeights);
  for (const [runtime, ort, options] of [
    ["ort-web-webgpu", ortWeb, { executionProviders: ["webgpu"], graphOptimizationLevel: "all" }],
    [
      "onnxruntime-node (CPU)",
      ortNode,
      { executionProviders: ["cpu"], graphOptimizationLevel: "all" },
    ],
  ]) {
    t0 = performance.now();
    const session = await ort.InferenceSession.create(onnx, options);
    const feeds = () => ({ [input.name]: new ort.Tensor("float32", x, [batch, ...input.shape]) });
    const first = (await session.run(feeds()))[out.name].data;
    results.push({
      runtime,
      firstMs: performance.now() - t0,
      error: agree(runtime, ref, first),
      times: await time(async () => (await session.run(feeds()))[out.name].data),
    });
    await session.release?.();
  }
  return { results, macs: summarize(graph).totals.macs };
}

const nets = [
  ["LeNet-5", "examples/lenet5.cnn", undefined, [1, 8]],
  ["MobileNet-v1", "examples/mobilenet_v1.cnn", 224, [1, 8]],
  ["ResNet-18", "examples/resnet18.cnn", 224, [1]],
  ["GoogLeNet", "examples/googlenet.cnn", 224, [1]],
].filter(([name, file]) =>
  quick ? name === "LeNet-5" : !netArg || netArg.some((n) => file.includes(n)),
);

console.log(
  `cnnc vs peers on ${gpu.adapter}; Node ${process.version}; ${runs} timed runs after one warm-up\n`,
);
const rows = [];
for (const [name, file, size, batches] of nets) {
  const graph = lowered(file, size);
  for (const batch of batches) {
    let results;
    try {
      ({ results } = await compare(graph, batch));
    } catch (e) {
      process.stderr.write(`${name} b${batch}: ${e.message}\n`);
      rows.push([`${name} b${batch}`, `failed: ${e.message}`, "", "", "", "", "", ""]);
      continue;
    }
    const line = results.map((r) => `${r.runtime} ${median(r.times).toFixed(1)} ms`).join(", ");
    process.stderr.write(`${name} b${batch}: ${line}\n`); // progress; the table follows at the end
    const base = median(results[0].times);
    const tuned = results.find((r) => r.runtime === "cnnc tuned");
    const best = tuned ? median(tuned.times) : base;
    for (const r of results) {
      rows.push([
        r.runtime === "cnnc" ? `${name} b${batch}` : "",
        r.runtime,
        median(r.times).toFixed(1),
        min(r.times).toFixed(1),
        (median(r.times) / base).toFixed(2),
        (median(r.times) / best).toFixed(2),
        r.firstMs.toFixed(0),
        r.runtime === "cnnc" ? "-" : `${r.error.toExponential(1)}${r.error > 1e-3 ? " WRONG" : ""}`,
      ]);
    }
  }
}
table(
  [
    "network",
    "runtime",
    "median ms",
    "min ms",
    "x cnnc",
    "x tuned",
    "bytes->first ms",
    "max rel err",
  ],
  rows,
);
console.log(
  "\nx cnnc, x tuned: the runtime's median over cnnc's, untuned and tuned (above 1: cnnc is\n" +
    "faster). bytes->first: bundle or model bytes to the first result (cnnc: load + first run;\n" +
    "peers: model or session creation + first run). max rel err: largest\n" +
    "difference from cnnc's output over the output's largest magnitude; WRONG above 1e-3.",
);

if (!quick) await kernels();
clearInterval(tick);
process.exit(0);

// --- kernel microbenchmarks --------------------------------------------------------------------
async function peakGflops() {
  // FMA-bound: each invocation runs 4 independent vec4 fma chains; nothing is read.
  const iters = 4096;
  const wgsl = `@group(0) @binding(0) var<storage, read_write> out: array<vec4f>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3u) {
  var a = vec4f(f32(id.x) * 1e-9, 1.0, 2.0, 3.0);
  var b = a + 0.5; var c = a + 0.25; var d = a + 0.125;
  let m = vec4f(0.9999); let k = vec4f(1e-5);
  for (var i = 0u; i < ${iters}u; i++) {
    a = fma(a, m, k); b = fma(b, m, k); c = fma(c, m, k); d = fma(d, m, k);
  }
  out[id.x] = a + b + c + d;
}`;
  const device = gpu.device;
  const groups = 256;
  const buffer = device.createBuffer({ size: groups * 64 * 16, usage: GPUBufferUsage.STORAGE });
  const pipeline = await device.createComputePipelineAsync({
    layout: "auto",
    compute: { module: device.createShaderModule({ code: wgsl }), entryPoint: "main" },
  });
  const bind = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [{ binding: 0, resource: { buffer } }],
  });
  const once = async () => {
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bind);
    pass.dispatchWorkgroups(groups);
    pass.end();
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
  };
  const times = await time(once);
  buffer.destroy();
  const flops = groups * 64 * iters * 4 * 4 * 2;
  return flops / (median(times) / 1000) / 1e9;
}

async function kernels() {
  const peak = await peakGflops();
  const cases = [
    ["3x3 conv 64->64, 56x56", "[64, 56, 56]", "conv(64, 3, pad=1)"],
    ["1x1 conv 256->64, 56x56", "[256, 56, 56]", "conv(64, 1)"],
    ["depthwise 3x3, 112x112x32", "[32, 112, 112]", "dwconv(3, pad=1)"],
    ["dense 4096x4096", "[4096]", "dense(4096)"],
  ];
  const rows = [];
  for (const [i, [name, shape, body]] of cases.entries()) {
    // (a name of its own: the tuned kernels are remembered by network name)
    const text = `network Kernel${i} {\n  input x: ${shape}\n  ${body}\n  output last\n}\n`;
    const r = compileFrontend("k.cnn", memoryHost({ "k.cnn": text }));
    const { results, macs } = await compare(r.graph, 1);
    for (const res of results) {
      const gflops = (2 * macs) / (median(res.times) / 1000) / 1e9;
      rows.push([
        res.runtime === "cnnc" ? name : "",
        res.runtime,
        median(res.times).toFixed(2),
        gflops.toFixed(2),
        res.runtime.includes("CPU") ? "-" : `${((gflops / peak) * 100).toFixed(1)}%`,
      ]);
    }
  }
  console.log(
    `\nKernels (batch 1, readback included), adapter FMA peak measured at ${peak.toFixed(1)} GFLOP/s\n`,
  );
  table(["kernel", "runtime", "median ms", "GFLOP/s", "% of peak"], rows);
}
