// `npm run bench`: cnnc side by side with TensorFlow.js (WebGPU) and ONNX Runtime Web (WebGPU)
// on the same adapter, plus onnxruntime-node (CPU) as the native line. One process, except
// ORT-web, which runs in child processes of its own once everything else is timed (an ORT-web
// session slows every WebGPU runtime in its process ~3x on llvmpipe, see
// scripts/peers/ort-web-child.mjs; on an H100 its process slowed the others even after it
// ended, see ortWebLast).
//  1. End to end: LeNet-5, MobileNet-v1, ResNet-18, GoogLeNet at 224x224 (LeNet at its 32x32),
//     batch 1 (and 8 for LeNet and MobileNet), the same random weights everywhere. Outputs are
//     checked to agree (1e-3 of the output's scale) before anything is timed; a peer that
//     disagrees is marked WRONG. Median and min latency over BENCH_RUNS runs (default 10)
//     after a warm-up, the runtimes taking turns run by run (see compare), readback included;
//     each peer's ratio to cnnc; and the time from bytes to first result.
//  2. Kernels: 3x3 conv 64->64 at 56x56, 1x1 conv 256->64 at 56x56, depthwise 3x3 at 112x112x32,
//     dense 4096x4096: GFLOP/s and % of the adapter's measured FMA peak, round trip and (cnnc
//     only) GPU time alone.
// cnnc runs twice: as `cnnc build` compiles it (default kernels) and as `cnnc tune --batch`
// does (each layer's kernel measured on this adapter at the batch size timed: GEMM tiles,
// Winograd, split-K, pointwise, depthwise runs, GEMV). Options: --quick (LeNet only, 3 runs,
// no kernel table: what CI runs so the harness cannot rot), --nets a,b (subset), --no-tune,
// --solo (each runtime's runs back to back instead of taking turns), --cold (Mesa's on-disk
// shader cache off, for this process and its children: bytes->first as on a machine that never
// compiled these shaders; without it, as on one that has), --no-quick-start (the untuned
// bundle without the quick start a CPU emulation's bundle of a large network carries: its
// first result on its own kernels), CNNC_ADAPTER (llvmpipe,
// swiftshader, gpu). Peers are devDependencies; how they run in Node: ../shared/PEERS.md.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { performance } from "node:perf_hooks";
import { compileGraph } from "../dist/compiler/compile.js";
import { summarize } from "../dist/compiler/analysis/index.js";
import { compileFrontend, memoryHost } from "../dist/compiler/lower/index.js";
import { exportOnnx } from "../dist/compiler/onnx/index.js";
import { initWeights, random } from "../dist/compiler/weights/index.js";
import { Model } from "../dist/runtime/index.js";
import { ortNodeModel, ortWebInChild } from "./peers/ort.mjs";
import { tfjsModel } from "./peers/tfjs.mjs";
import { installWebGpuGlobals } from "./peers/webgpu-globals.mjs";
import { median, table } from "./table.mjs";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const runs = Number(process.env.BENCH_RUNS ?? (quick ? 3 : 10));
const tune = !args.includes("--no-tune");
// the untuned bundle without its quick start: the load as it was before there was one
const quickStart = !args.includes("--no-quick-start");
const solo = args.includes("--solo");
// Read when Mesa creates its shader cache, with the adapter below (llvmpipe JIT-compiles each
// pipeline at its first dispatch and keeps the machine code on disk; a warm cache skips that).
const cold = args.includes("--cold");
if (cold) process.env.MESA_SHADER_CACHE_DISABLE = "true";
const netArg = args.includes("--nets") ? args[args.indexOf("--nets") + 1].split(",") : undefined;

const min = (xs) => Math.min(...xs);

// --- the adapter, shared by cnnc and the peers -------------------------------------------------
const gpu = await installWebGpuGlobals();
const tick = setInterval(() => {}, 10); // keeps Dawn's callbacks flowing while peers wait
// `cnnc build --target`: the default kernels of this adapter's class (no measuring)
const target = gpu.kind === "gpu" ? "gpu" : "cpu";

const quiet = console.warn;
console.warn = () => {}; // tfjs announces itself on load
const tf = await import("@tensorflow/tfjs-core");
await import("@tensorflow/tfjs-backend-webgpu");
await tf.setBackend("webgpu");
await tf.ready();
console.warn = quiet;

// `--train`: training throughput against TensorFlow.js (scripts/train-bench.mjs), then done
if (args.includes("--train")) {
  const { trainBench } = await import("./train-bench.mjs");
  const opt = (name) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : undefined);
  const failures = await trainBench(gpu, { quick, items: opt("--items"), epochs: opt("--epochs") });
  clearInterval(tick);
  for (const f of failures) process.stderr.write(`bench: ${f}\n`);
  process.exit(failures.length ? 1 : 0);
}

// --- one network on every runtime ----------------------------------------------------------------
function lowered(file, size) {
  let text = readFileSync(file, "utf8");
  if (size) text = text.replace(/input x: \[3, \d+, \d+\]/, `input x: [3, ${size}, ${size}]`);
  const r = compileFrontend(file, memoryHost({ [file]: text }));
  if (!r.graph) throw new Error(`${file} does not compile`);
  return { graph: r.graph, file, text };
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

/**
 * Every runtime on one network and batch: { results: [{runtime, times, firstMs, error}], macs,
 * ortWeb }. All in-process runtimes are loaded first (bytes -> first result timed one by one),
 * then timed round-robin: run i of every runtime before run i + 1 of any. A shared machine
 * slows down and speeds up over minutes (2x was seen here); taking turns spreads that over
 * all runtimes instead of whichever ran during the slow spell, so the ratios hold even when
 * the absolute times drift. ortWeb() times ORT-web and adds its row (see ortWebLast).
 */
async function compare({ graph, file, text }, batch) {
  const weights = initWeights(graph, 1); // as `cnnc build --seed 1` makes them
  const withWeights = { ...graph, constants: weights };
  const rand = random(3);
  const input = graph.inputs[0];
  const x = Float32Array.from(
    { length: batch * input.shape.reduce((a, b) => a * b, 1) },
    () => rand() * 2 - 1,
  );
  const out = graph.outputs[0];
  const runners = []; // { runtime, firstMs, error, run, dispose, gpuTime? }
  let ref;
  let tuneSeconds; // how long the tuning took (cnnc tune's per-layer search)
  const load = async (runtime, create, run, dispose, gpuTime) => {
    const t0 = performance.now();
    const handle = await create();
    const first = await run(handle);
    const firstMs = performance.now() - t0;
    // cnnc with a quick start (a CPU emulation's bundle of a large network): timed on its own
    // kernels, once they have compiled behind the first result
    let readyMs;
    if (handle instanceof Model && handle.info.quickStart) {
      await handle.ready;
      readyMs = performance.now() - t0;
    }
    ref ??= first;
    runners.push({
      runtime,
      firstMs,
      readyMs,
      error: runtime === "cnnc" ? 0 : agree(runtime, ref, first),
      run: () => run(handle),
      dispose: () => dispose(handle),
      gpuTime: gpuTime && (() => gpuTime(handle)),
    });
  };
  try {
    // cnnc, as `cnnc build --target <this adapter's class>` compiles it (untuned)
    const compiled = compileGraph(withWeights, { target, quickStart });
    const built = { bytes: compiled.bundle, graph: compiled.graph };
    const cnncRun = async (model) =>
      (await model.run({ [input.name]: x }, { batch }))[out.name].data;
    // cnnc's GPU time alone (Model.measure: no upload or readback), for the kernel table
    const cnncGpu = (model) => model.measure({ batch, repeats: 10 });
    await load(
      "cnnc",
      () => Model.create(built.bytes, gpu.device),
      cnncRun,
      (m) => m.dispose(),
      cnncGpu,
    );

    // cnnc, tuned on this adapter: the bundle `cnnc tune --batch` writes (kernels measured per
    // layer at this batch size, as a user tunes for the batch they run; never slower than the
    // untuned one in its whole-network check). In a process of its own, as a user runs it: a
    // tuning leaves the device busy (freeing hundreds of measured bundles' buffers), and a load
    // right after it in the same process took up to 2.5 s longer. Not in bytes->first.
    if (tune) {
      const dir = mkdtempSync(join(tmpdir(), "cnnc-bench-"));
      const source = join(dir, basename(file));
      writeFileSync(source, text);
      const out = join(dir, "tuned.cnnb");
      // --cold: tuned as on a fresh machine, Mesa's shader cache empty rather than off (cnnc
      // tune's helper process compiles candidates ahead into it)
      const env = { ...process.env };
      if (cold) {
        delete env.MESA_SHADER_CACHE_DISABLE;
        env.MESA_SHADER_CACHE_DIR = join(dir, "mesa-shader-cache");
      }
      const t0 = performance.now();
      const r = spawnSync(
        process.execPath,
        ["dist/cli/bin.js", "tune", source, "--seed", "1", "--batch", String(batch)]
          .concat(["--runs", "2", "-o", out, "-q"])
          .concat(process.env.CNNC_ADAPTER ? ["--adapter", process.env.CNNC_ADAPTER] : []),
        { encoding: "utf8", env },
      );
      if (r.status !== 0) throw new Error(`cnnc tune failed: ${r.stderr}`);
      tuneSeconds = (performance.now() - t0) / 1000;
      const bytes = readFileSync(out);
      rmSync(dir, { recursive: true, force: true });
      await load(
        "cnnc tuned",
        () => Model.create(bytes, gpu.device),
        cnncRun,
        (m) => m.dispose(),
        cnncGpu,
      );
    }

    // TensorFlow.js WebGPU, on the graph a tfjs converter would give (BN folded, fused ops)
    await load(
      "tfjs-webgpu",
      async () => tfjsModel(tf, compileGraph(withWeights, { passesOnly: true }).graph),
      (m) => m.run(x, batch),
      (m) => m.dispose(),
    );

    // ONNX Runtime: the exported model (ORT optimises it itself: BN folding, fusions)
    const onnx = exportOnnx(withWeights);
    await load(
      "onnxruntime-node (CPU)",
      () => ortNodeModel(onnx, input, out),
      (m) => m.run(x, batch),
      (m) => m.dispose(),
    );

    const times = runners.map(() => []);
    const timeRun = async (k) => {
      const t0 = performance.now();
      await runners[k].run();
      times[k].push(performance.now() - t0);
    };
    if (solo) {
      // --solo: each runtime's warm-up and runs back to back, alone, as an app runs one
      for (const [k, r] of runners.entries()) {
        await r.run();
        for (let i = 0; i < runs; i++) await timeRun(k);
      }
    } else {
      for (const r of runners) await r.run(); // warm-up
      for (let i = 0; i < runs; i++) for (const k of runners.keys()) await timeRun(k);
    }
    const results = [];
    for (const [k, r] of runners.entries()) {
      const gpuTimes = [];
      for (let i = 0; r.gpuTime && i < 5; i++) gpuTimes.push(await r.gpuTime());
      results.push({
        runtime: r.runtime,
        firstMs: r.firstMs,
        readyMs: r.readyMs,
        error: r.error,
        times: times[k],
        gpuMs: gpuTimes.length ? median(gpuTimes) : undefined,
      });
    }
    // ORT-web in a process of its own, later: see ortWebLast.
    const ortWeb = async () => {
      const web = await ortWebInChild(onnx, x, input, out, batch, runs);
      results.splice(results.length - 1, 0, {
        runtime: "ort-web-webgpu",
        firstMs: web.firstMs,
        error: agree("ort-web-webgpu", ref, web.output),
        times: web.times,
      });
    };
    return { results, macs: summarize(graph).totals.macs, ortWeb, tuneSeconds };
  } finally {
    for (const r of runners) await r.dispose();
  }
}

const nets = [
  ["LeNet-5", "examples/lenet5.cnn", undefined, [1, 8]],
  ["MobileNet-v1", "examples/mobilenet_v1.cnn", 224, [1, 8]],
  ["ResNet-18", "examples/resnet18.cnn", 224, [1]],
  ["GoogLeNet", "examples/googlenet.cnn", 224, [1]],
].filter(([name, file]) =>
  // By the start of the file's name: "lenet" is LeNet-5 only, not MobileNet.
  quick ? name === "LeNet-5" : !netArg || netArg.some((n) => basename(file).startsWith(n)),
);

console.log(
  `cnnc vs peers on ${gpu.adapter}; Node ${process.version}; ${runs} timed runs after one warm-up; ` +
    `cnnc untuned = cnnc build --target ${target}${quickStart ? "" : " --no-quick-start"}` +
    (solo ? ", each runtime alone (--solo)" : "") +
    (cold ? ", shader cache off (--cold)\n" : "\n"),
);
const failures = [];
const progress = (label, results) => {
  const line = results.map((r) => `${r.runtime} ${median(r.times).toFixed(1)} ms`).join(", ");
  process.stderr.write(`${label}: ${line}\n`); // the tables follow at the end
};
const measured = []; // { label, compared }: every network at each batch, then every kernel
for (const [name, file, size, batches] of nets) {
  const graph = lowered(file, size);
  for (const batch of batches) {
    const label = `${name} b${batch}`;
    try {
      measured.push({ label, compared: await compare(graph, batch) });
      progress(label, measured.at(-1).compared.results);
    } catch (e) {
      process.stderr.write(`${label}: ${e.message}\n`);
      failures.push(`${label} failed: ${e.message}`);
    }
  }
}
const networks = measured.length;
const peak = quick ? undefined : await kernels();
await ortWebLast();

const rows = [];
for (const { label, compared } of measured.slice(0, networks)) {
  const { results } = compared;
  const base = median(results[0].times);
  const tuned = results.find((r) => r.runtime === "cnnc tuned");
  const best = tuned ? median(tuned.times) : base;
  for (const r of results) {
    rows.push([
      r.runtime === "cnnc" ? label : "",
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
    "peers: model or session creation + first run), with the shader cache " +
    (cold ? "off (--cold).\n" : "as this machine left it.\n") +
    "max rel err: largest\n" +
    "difference from cnnc's output over the output's largest magnitude; WRONG above 1e-3.",
);
const tuneTimes = measured
  .slice(0, networks)
  .filter((m) => m.compared.tuneSeconds !== undefined)
  .map((m) => `${m.label} ${m.compared.tuneSeconds.toFixed(1)} s`);
const readyTimes = measured
  .slice(0, networks)
  .flatMap((m) =>
    m.compared.results
      .filter((r) => r.readyMs !== undefined)
      .map(
        (r) => `${m.label}${r.runtime === "cnnc" ? "" : ` (${r.runtime})`} ${r.readyMs.toFixed(0)}`,
      ),
  );
if (readyTimes.length) {
  console.log(
    "\ncnnc's first result came from its quick start (kernels quick to compile); bytes to its own\n" +
      `kernels running, ms: ${readyTimes.join(", ")}`,
  );
}
if (tuneTimes.length) {
  console.log(`\ncnnc tune (the command, whole-network check included): ${tuneTimes.join(", ")}`);
}
if (peak) printKernels(peak, measured.slice(networks));
for (const f of failures) console.log(f);
clearInterval(tick);
process.exit(failures.length ? 1 : 0); // a network that did not run is a broken harness

// --- kernel microbenchmarks --------------------------------------------------------------------
async function peakGflops() {
  // FMA-bound: each invocation runs 4 independent vec4 fma chains; nothing is read. The grid
  // grows until one dispatch takes 20 ms, so a GPU's launch and readback latency (and a big
  // GPU's idle cores) do not pass for its arithmetic rate.
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
  let r = a + b + c + d;
  if (all(r == vec4f(-1.0))) { out[0] = r; } // never true; keeps the chains live
}`;
  const device = gpu.device;
  const pipeline = await device.createComputePipelineAsync({
    layout: "auto",
    compute: { module: device.createShaderModule({ code: wgsl }), entryPoint: "main" },
  });
  const measure = async (groupsX, groupsY) => {
    const buffer = device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE });
    const bind = device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [{ binding: 0, resource: { buffer } }],
    });
    const once = async () => {
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bind);
      pass.dispatchWorkgroups(groupsX, groupsY);
      pass.end();
      device.queue.submit([enc.finish()]);
      await device.queue.onSubmittedWorkDone();
    };
    const ms = median(await time(once));
    buffer.destroy();
    return { ms, gflops: (groupsX * groupsY * 64 * iters * 4 * 4 * 2) / (ms / 1000) / 1e9 };
  };
  let groupsX = 256;
  let groupsY = 1;
  let m = await measure(groupsX, groupsY);
  while (m.ms < 20 && groupsY < 256) {
    if (groupsX < 4096) groupsX *= 4;
    else groupsY *= 4;
    m = await measure(groupsX, groupsY);
  }
  return m.gflops;
}

async function kernels() {
  const peak = await peakGflops();
  const cases = [
    ["3x3 conv 64->64, 56x56", "[64, 56, 56]", "conv(64, 3, pad=1)"],
    ["1x1 conv 256->64, 56x56", "[256, 56, 56]", "conv(64, 1)"],
    ["depthwise 3x3, 112x112x32", "[32, 112, 112]", "dwconv(3, pad=1)"],
    ["dense 4096x4096", "[4096]", "dense(4096)"],
  ];
  for (const [i, [label, shape, body]] of cases.entries()) {
    const text = `network Kernel${i} {\n  input x: ${shape}\n  ${body}\n  output last\n}\n`;
    const r = compileFrontend("k.cnn", memoryHost({ "k.cnn": text }));
    measured.push({ label, compared: await compare({ graph: r.graph, file: "k.cnn", text }, 1) });
    progress(label, measured.at(-1).compared.results);
  }
  return peak;
}

/**
 * ORT-web, once every in-process runtime has been timed: one child process per network and
 * kernel. On an H100, cnnc's MobileNet-v1 at batch 8 took 2.5 ms before an ORT-web child
 * process had run on the GPU and 6.8 ms after it, in the same process, and 4.9 ms on a model
 * made afresh after that (scripts/bench-interference.mjs); timing ORT-web between networks
 * charged that to every runtime timed after it.
 */
async function ortWebLast() {
  for (const { label, compared } of measured) {
    try {
      await compared.ortWeb();
      progress(
        label,
        compared.results.filter((r) => r.runtime === "ort-web-webgpu"),
      );
    } catch (e) {
      process.stderr.write(`${label}, ort-web-webgpu: ${e.message}\n`);
      failures.push(`${label}, ort-web-webgpu failed: ${e.message}`);
    }
  }
}

function printKernels(peak, kernelsMeasured) {
  const rows = [];
  for (const { label, compared } of kernelsMeasured) {
    const { results, macs } = compared;
    for (const res of results) {
      const gflops = (2 * macs) / (median(res.times) / 1000) / 1e9;
      const gpuGflops = res.gpuMs && (2 * macs) / (res.gpuMs / 1000) / 1e9;
      rows.push([
        res.runtime === "cnnc" ? label : "",
        res.runtime,
        median(res.times).toFixed(2),
        gflops.toFixed(2),
        res.runtime.includes("CPU") ? "-" : `${((gflops / peak) * 100).toFixed(1)}%`,
        res.gpuMs ? res.gpuMs.toPrecision(3) : "-",
        res.gpuMs ? `${((gpuGflops / peak) * 100).toFixed(1)}%` : "-",
      ]);
    }
  }
  console.log(
    `\nKernels (batch 1, readback included), adapter FMA peak measured at ${peak.toFixed(1)} GFLOP/s\n`,
  );
  table(
    ["kernel", "runtime", "median ms", "GFLOP/s", "% of peak", "GPU ms", "GPU % of peak"],
    rows,
  );
  console.log(
    "\nGPU ms: the GPU work alone (cnnc's Model.measure: the dispatches repeated in one\n" +
      "submission, no upload or readback); peers offer no such measure. On a GPU the round trip\n" +
      "is mostly latency; on a CPU adapter the two agree.",
  );
}
