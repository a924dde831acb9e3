// Trained weights, judged three ways on a data folder's test split: `cnnc eval`'s figure is
// the trainer's; this builds a bundle with the weights and runs it with cnnc's runtime, and
// exports the network to ONNX and runs it in ONNX Runtime (CPU), each on every test item.
//   node scripts/train-check.mjs examples/fashion_lenet.cnn w.safetensors [data dir]
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import ort from "onnxruntime-node";
import { compileFrontend } from "../dist/compiler/lower/index.js";
import { nodeHost } from "../dist/cli/host.js";
import { dataset, fitInput, readIdx } from "../dist/compiler/train/data.js";
import { readSafetensors } from "../dist/compiler/weights/index.js";
import { exportOnnx } from "../dist/compiler/onnx/index.js";
import { compileGraph } from "../dist/compiler/compile.js";
import { argmax } from "../dist/compiler/train/trainer.js";
import { Model } from "../dist/runtime/index.js";
import { nodeDevice } from "../dist/runtime/node-device.js";

const [file, weightsFile, dir = "/usr/share/datasets/fashion-mnist"] = process.argv.slice(2);
const graph = compileFrontend(file, nodeHost).graph;
const input = graph.inputs[0];
const classes = graph.outputs.length && graph.nodes.at(-1).shape.reduce((a, b) => a * b, 1);
const rd = (f) => readIdx(gunzipSync(readFileSync(`${dir}/${f}`)), f);
const test = fitInput(
  dataset(rd("t10k-images-idx3-ubyte.gz"), rd("t10k-labels-idx1-ubyte.gz"), classes, "test"),
  input.shape,
  dir,
);
const tensors = readSafetensors(readFileSync(weightsFile));
const accuracy = (scores) => {
  const p = argmax(scores, test.count, classes);
  return p.filter((c, n) => c === test.labels[n]).length / test.count;
};

const session = await ort.InferenceSession.create(
  exportOnnx({ ...graph, constants: new Map([...tensors].map(([k, t]) => [k, t.data])) }),
);
const feeds = { [input.name]: new ort.Tensor("float32", test.x, [test.count, ...input.shape]) };
const onnx = Object.values(await session.run(feeds))[0].data;

const gpu = await nodeDevice();
const built = compileGraph(graph, {
  weights: tensors,
  target: gpu.kind === "gpu" ? "gpu" : "cpu",
});
const model = await Model.create(built.bundle, gpu.device, gpu);
const per = input.shape.reduce((a, b) => a * b, 1);
const scores = new Float32Array(test.count * classes);
for (let at = 0; at < test.count; at += 500) {
  const n = Math.min(500, test.count - at);
  const out = await model.run(
    { [input.name]: test.x.subarray(at * per, (at + n) * per) },
    { batch: n },
  );
  scores.set(Object.values(out)[0].data, at * classes);
}
model.dispose();
console.log(`${graph.name} with ${weightsFile} on ${test.count} test items:`);
console.log(`  cnnc build + run (${gpu.adapter}): ${(accuracy(scores) * 100).toFixed(2)}%`);
console.log(`  cnnc export + ONNX Runtime (CPU): ${(accuracy(onnx) * 100).toFixed(2)}%`);
