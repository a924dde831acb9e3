// `node scripts/f16-accuracy.mjs [example ...]` (after `npm run build`; CNNC_ADAPTER picks the
// adapter, default llvmpipe): what `cnnc build --f16` costs in accuracy and what it saves,
// example by example. Each network is built twice from the same weights (seeded, as
// `cnnc build` makes them), with f32 weights and with f16 ones, for this adapter's class (or
// BENCH_TARGET, gpu or cpu: a GPU's plan reads the halves, a CPU emulation's f32); both
// run the same random inputs (batch 4, values in [-2, 2]). Printed: the bundle sizes, the
// largest difference of the f16 bundle's outputs from the f32 one's relative to the largest
// f32 output, the share of batch items whose top class agrees, and the GPU work alone
// (Model.measure, median of BENCH_RUNS alternating measurements, default 5) of each.
//
// Random weights are a stress test, not a trained network: their outputs' classes are often
// near ties. For a trained one, F16_TRAINED=net.cnn:weights.safetensors:data-folder (IDX
// files, as Fashion-MNIST ships them) adds a row per network with its test split's accuracy
// under each bundle, e.g. the weights `cnnc train examples/fashion_lenet.cnn --data DIR` writes.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { compileGraph } from "../dist/compiler/compile.js";
import { compileFrontend, memoryHost } from "../dist/compiler/lower/index.js";
import { initWeights, randomInputs, readSafetensors } from "../dist/compiler/weights/index.js";
import { adapterClass, Model } from "../dist/runtime/index.js";
import { nodeDevice } from "../dist/runtime/node-device.js";
import { median, table } from "./table.mjs";

const runs = Number(process.env.BENCH_RUNS ?? 5);
const batch = 4;
const names = process.argv.slice(2).length
  ? process.argv.slice(2)
  : ["lenet5", "sepnet", "tiny", "mobilenet_v1", "resnet18", "googlenet", "resnet50", "alexnet"];

function graphOf(file) {
  const front = compileFrontend(file, memoryHost({ [file]: readFileSync(file, "utf8") }));
  if (!front.graph) throw new Error(`${file} does not compile`);
  return front.graph;
}

const { device, adapter } = await nodeDevice(process.env.CNNC_ADAPTER ?? "llvmpipe");
const target = process.env.BENCH_TARGET ?? adapterClass(device.adapterInfo);
if (target !== "gpu" && target !== "cpu")
  throw new Error(`BENCH_TARGET is gpu or cpu, not ${target}`);
console.log(
  `${adapter}, ${target} plans; f16 against f32 weights, batch ${batch}; GPU work alone, median of ${runs}`,
);

/** Both bundles of a graph with its weights, loaded: [f32, f16]. */
async function pair(graph, constants) {
  const out = [];
  for (const f16 of [false, true]) {
    const { bundle } = compileGraph(
      { ...graph, constants },
      { target, ...(f16 ? { weightFormat: "f16" } : {}) },
    );
    const model = await Model.create(bundle, device, undefined, undefined, { quickStart: false });
    out.push({ bundle, model });
  }
  return out;
}

const argmax = (a, from, n) => {
  let best = from;
  for (let i = from; i < from + n; i++) if (a[i] > a[best]) best = i;
  return best - from;
};

const rows = [];
for (const name of names) {
  const graph = graphOf(`examples/${name}.cnn`);
  const models = await pair(graph, initWeights(graph, 0));
  try {
    const inputs = randomInputs(graph, batch, 7);
    const outs = [];
    for (const { model } of models) outs.push(await model.run(inputs, { batch }));
    const o = graph.outputs[0].name;
    const [a, b] = [outs[0][o].data, outs[1][o].data];
    const scale = Math.max(...Array.from(a, Math.abs));
    const diff = Math.max(...Array.from(a, (x, i) => Math.abs(x - b[i]))) / scale;
    const classes = a.length / batch;
    let agree = 0;
    for (let n = 0; n < batch; n++)
      agree += argmax(a, n * classes, classes) === argmax(b, n * classes, classes) ? 1 : 0;
    const times = [[], []];
    for (let r = 0; r < runs; r++)
      for (const k of r % 2 ? [1, 0] : [0, 1])
        times[k].push(await models[k].model.measure({ batch }));
    rows.push([
      name,
      (models[0].bundle.length / 2 ** 20).toFixed(2),
      (models[1].bundle.length / 2 ** 20).toFixed(2),
      diff.toExponential(1),
      `${agree}/${batch}`,
      median(times[0]).toFixed(2),
      median(times[1]).toFixed(2),
    ]);
  } finally {
    for (const { model } of models) model.dispose();
  }
}
table(["network", "f32 MiB", "f16 MiB", "max rel diff", "top-1 same", "f32 ms", "f16 ms"], rows);

/** An IDX file's numbers (gzipped or not) and its dimensions. */
function idx(path) {
  const file = existsSync(path) ? path : `${path}.gz`;
  const raw = readFileSync(file);
  const bytes = file.endsWith(".gz") ? gunzipSync(raw) : raw;
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const rank = bytes[3];
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  return { dims, data: bytes.subarray(4 + 4 * rank) };
}

if (process.env.F16_TRAINED) {
  const trained = [];
  for (const spec of process.env.F16_TRAINED.split(",")) {
    const [file, weightsFile, dir] = spec.split(":");
    const graph = graphOf(file);
    const tensors = readSafetensors(readFileSync(weightsFile), weightsFile);
    const { constants } = compileGraph(graph, {
      weights: tensors,
      weightsSource: weightsFile,
      passesOnly: true,
    }).source;
    const images = idx(join(dir, "t10k-images-idx3-ubyte"));
    const labels = idx(join(dir, "t10k-labels-idx1-ubyte"));
    const [count, h, w] = images.dims;
    const models = await pair(graph, constants);
    const correct = [0, 0];
    let same = 0;
    const per = 100;
    try {
      for (let start = 0; start < count; start += per) {
        const n = Math.min(per, count - start);
        const x = Float32Array.from(
          images.data.subarray(start * h * w, (start + n) * h * w),
          (v) => v / 255,
        );
        const got = [];
        for (const { model } of models)
          got.push(
            (await model.run({ [graph.inputs[0].name]: x }, { batch: n }))[graph.outputs[0].name]
              .data,
          );
        const classes = got[0].length / n;
        for (let i = 0; i < n; i++) {
          const picks = got.map((g) => argmax(g, i * classes, classes));
          picks.forEach((p, k) => (correct[k] += p === labels.data[start + i] ? 1 : 0));
          same += picks[0] === picks[1] ? 1 : 0;
        }
      }
    } finally {
      for (const { model } of models) model.dispose();
    }
    const pct = (k) => `${((100 * k) / count).toFixed(2)}%`;
    trained.push([
      file,
      weightsFile,
      count.toLocaleString("en-US"),
      pct(correct[0]),
      pct(correct[1]),
      pct(same),
    ]);
  }
  console.log("");
  table(
    ["network", "weights", "test items", "f32 accuracy", "f16 accuracy", "same class"],
    trained,
    (i) => i > 1,
  );
}
device.destroy();
