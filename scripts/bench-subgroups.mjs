// `node scripts/bench-subgroups.mjs` (after `npm run build`; CNNC_ADAPTER picks the adapter,
// default swiftshader, the CPU adapter here that offers subgroups; a GPU's works too): what
// the kernels' subgroup forms (Manifest.subgroupKernels) gain. Each case is built once and
// loaded on two devices of one adapter, one with WebGPU's `subgroups` (the forms run) and one
// without (the plain kernels run); the GPU work alone (Model.measure: the whole plan
// dispatched repeatedly in one submission, enough times for ~40 ms) is timed alternately,
// BENCH_RUNS times each (default 9), and the outputs of the two compared (the largest
// difference relative to the largest output). The cases are built for the adapter's class, as
// `cnnc run` builds a .cnn, or for BENCH_TARGET (gpu or cpu): BENCH_TARGET=gpu on SwiftShader
// times the forms a GPU's plan carries and CPU emulations' plans leave out (global pooling).
import { readFileSync } from "node:fs";
import { compileGraph } from "../dist/compiler/compile.js";
import { compileFrontend, memoryHost } from "../dist/compiler/lower/index.js";
import { initWeights, random } from "../dist/compiler/weights/index.js";
import { adapterClass, Model } from "../dist/runtime/index.js";
import { nodeDevice } from "../dist/runtime/node-device.js";
import { median, table } from "./table.mjs";

const runs = Number(process.env.BENCH_RUNS ?? 9);
const kind = process.env.CNNC_ADAPTER ?? "swiftshader";

const cases = [
  ["dense 4096 -> 4096, batch 1", "input x: [4096]\n  dense(4096)"],
  ["dense 1024 -> 1000, batch 8", "input x: [1024]\n  dense(1000)", 8],
  ["softmax over 21843", "input x: [21843]\n  softmax"],
  ["softmax over 1000, batch 8", "input x: [1000]\n  softmax", 8],
  ["globalavgpool 1024x7x7", "input x: [1024, 7, 7]\n  globalavgpool"],
  ["globalmaxpool 2048x14x14", "input x: [2048, 14, 14]\n  globalmaxpool"],
  [
    "MobileNet-v1's head",
    "input x: [1024, 7, 7]\n  globalavgpool\n  flatten\n  dense(1000)\n  softmax",
  ],
  ["MobileNet-v1", "examples/mobilenet_v1.cnn"],
  ["ResNet-18", "examples/resnet18.cnn"],
];

/** The graph of a case: an example file, or a network of the given body. */
function graphOf(spec) {
  const file = spec.endsWith(".cnn") ? spec : "case.cnn";
  const text = spec.endsWith(".cnn")
    ? readFileSync(spec, "utf8")
    : `network Case {\n  ${spec}\n}\n`;
  const front = compileFrontend(file, memoryHost({ [file]: text }));
  if (!front.graph) throw new Error(`${spec} does not compile`);
  return { ...front.graph, constants: initWeights(front.graph, 1) };
}

const withFeature = await nodeDevice(kind);
if (!withFeature.device.features.has("subgroups")) {
  console.log(`${withFeature.adapter} offers no subgroups: nothing to compare`);
  process.exit(0);
}
const adapter = await withFeature.gpu.requestAdapter(withFeature.adapterOptions);
const plain = await adapter.requestDevice({
  requiredLimits: {
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
    maxBufferSize: adapter.limits.maxBufferSize,
  },
});
const target = process.env.BENCH_TARGET ?? adapterClass(withFeature.device.adapterInfo);
if (target !== "gpu" && target !== "cpu")
  throw new Error(`BENCH_TARGET is gpu or cpu, not ${target}`);
console.log(
  `${withFeature.adapter}, subgroups of ${adapter.info.subgroupMinSize}-${adapter.info.subgroupMaxSize} lanes, ${target} plans; GPU work alone, ms per run, median of ${runs} alternating measurements`,
);
const rows = [];
for (const [label, spec, batch = 1] of cases) {
  const graph = graphOf(spec);
  const { bundle } = compileGraph(graph, { target });
  const models = [
    await Model.create(bundle, plain, undefined, undefined, { quickStart: false }),
    await Model.create(bundle, withFeature.device, undefined, undefined, { quickStart: false }),
  ];
  const [input] = graph.inputs;
  const rand = random(3);
  const x = Float32Array.from(
    { length: batch * input.shape.reduce((a, b) => a * b, 1) },
    () => rand() * 4 - 2,
  );
  const outs = [];
  for (const m of models)
    outs.push(Object.values(await m.run({ [input.name]: x }, { batch }))[0].data);
  let apart = 0;
  let scale = 0;
  for (let i = 0; i < outs[0].length; i++) {
    apart = Math.max(apart, Math.abs(outs[0][i] - outs[1][i]));
    scale = Math.max(scale, Math.abs(outs[0][i]));
  }
  const once = await models[0].measure({ batch });
  const repeats = Math.max(1, Math.min(50, Math.ceil(40 / once)));
  const times = [[], []];
  for (let r = 0; r < runs; r++) {
    for (const k of [0, 1]) times[k].push(await models[k].measure({ batch, repeats }));
  }
  const [a, b] = times.map(median);
  rows.push([
    label,
    `${models[1].info.subgroupKernels} of ${models[1].info.kernels}`,
    a.toFixed(2),
    b.toFixed(2),
    `${(a / b).toFixed(2)}x`,
    (apart / scale).toExponential(1),
  ]);
  for (const m of models) m.dispose();
}
table(["case", "forms", "plain ms", "subgroups ms", "speed-up", "max rel diff"], rows);
plain.destroy();
process.exit(0);
