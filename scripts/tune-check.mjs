// `node scripts/tune-check.mjs [--nets resnet18,googlenet] [--pairs 9]`: what the cost model's
// candidate order and early stop cost against measuring every candidate. Per network, on this
// machine's adapter: `cnnc tune` both ways (how long, how many candidates measured), then the
// untuned bundle (`cnnc build --target <class>`), the model-guided and the exhaustive tuned
// bundles, GPU time measured in turns (each measurement repeated to ~50 ms; the order rotates
// pair to pair, so a drift of the machine's load falls on all three). Run `npm run build` first.
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { performance } from "node:perf_hooks";
import { compileGraph } from "../dist/compiler/compile.js";
import { compileFrontend, memoryHost } from "../dist/compiler/lower/index.js";
import { initWeights } from "../dist/compiler/weights/index.js";
import { Model, PipelineCache } from "../dist/runtime/index.js";
import { nodeDevice } from "../dist/runtime/node-device.js";
import { tuneGraph } from "../dist/compiler/tune.js";
import { median, table } from "./table.mjs";

const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const nets = option("--nets", "resnet18").split(",");
const pairs = Number(option("--pairs", "9"));
const gpu = await nodeDevice(process.env.CNNC_ADAPTER ?? "auto");
const target = gpu.kind === "gpu" ? "gpu" : "cpu";

async function tuned(graph, exhaustive) {
  let measured = 0;
  let all = 0;
  const t0 = performance.now();
  // each search as `cnnc tune` makes it: a kernel the same for several layers compiled once
  const pipelines = new PipelineCache(gpu.device);
  const load = (b) => Model.create(b, gpu.device, undefined, undefined, { pipelines });
  const { choices, report } = await tuneGraph(graph, load, { runs: 3, target, exhaustive });
  const seconds = (performance.now() - t0) / 1000;
  for (const r of report) {
    measured += r.timings.length + r.rejected.length;
    all += r.timings.length + r.rejected.length + r.skipped;
  }
  return { choices, seconds, measured, all };
}

console.log(`cnnc tune, model-guided vs exhaustive, on ${gpu.adapter}\n`);
const rows = [];
for (const net of nets) {
  const file = `examples/${net}.cnn`;
  const r = compileFrontend(file, memoryHost({ [file]: readFileSync(file, "utf8") }));
  if (!r.graph) throw new Error(`${file} does not compile`);
  const withWeights = { ...r.graph, constants: initWeights(r.graph, 1) };
  const untuned = compileGraph(withWeights, { target });
  const fast = await tuned(untuned.graph, false);
  const full = await tuned(untuned.graph, true);
  const bundles = [
    untuned.bundle,
    ...[fast, full].map((t) => compileGraph(withWeights, { target, choices: t.choices }).bundle),
  ];
  const models = [];
  for (const b of bundles)
    models.push(await Model.create(b, gpu.device, undefined, undefined, { quickStart: false }));
  const inputs = models.map((m) =>
    Object.fromEntries(
      m.manifest.inputs.map((i) => [
        i.name,
        new Float32Array(i.shape.reduce((a, b) => a * b, 1)).fill(0.5),
      ]),
    ),
  );
  const repeats = [];
  for (const [k, m] of models.entries()) {
    await m.run(inputs[k]);
    const once = await m.measure({});
    repeats.push(Math.min(10, Math.max(1, Math.ceil(50 / once))));
  }
  const times = models.map(() => []);
  for (let p = 0; p < pairs; p++) {
    for (let j = 0; j < models.length; j++) {
      const k = (p + j) % models.length;
      times[k].push(await models[k].measure({ repeats: repeats[k] }));
    }
  }
  for (const m of models) m.dispose();
  const [u, f, x] = times.map(median);
  rows.push(
    [basename(file, ".cnn"), "untuned", "-", "-", u.toFixed(1), "1.00"],
    [
      "",
      "model-guided",
      fast.seconds.toFixed(1),
      `${fast.measured}/${fast.all}`,
      f.toFixed(1),
      (u / f).toFixed(2),
    ],
    [
      "",
      "exhaustive",
      full.seconds.toFixed(1),
      `${full.measured}/${full.all}`,
      x.toFixed(1),
      (u / x).toFixed(2),
    ],
  );
  process.stderr.write(
    `${net}: model-guided ${f.toFixed(1)} ms vs exhaustive ${x.toFixed(1)} ms\n`,
  );
}
table(["network", "tuning", "tune s", "candidates", "GPU ms (median)", "x untuned"], rows);
console.log(
  `\ntune s: the per-layer search alone. GPU ms: the whole network, median of ${pairs} turns.\n` +
    "model-guided: candidates in the cost model's order until two in a row are no faster.",
);
gpu.device.destroy();
process.exit(0);
