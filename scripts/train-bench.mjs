// Training throughput side by side: cnnc's WebGPU trainer and TensorFlow.js's WebGPU backend
// (tfjs-core's autodiff and optimisers) train the same network from the same initial weights
// on the same Fashion-MNIST items, on the same adapter, in one run; then each one's accuracy on
// the same test items. `npm run bench -- --train [--quick] [--items N] [--epochs E]`.
// CPU-adapter timings are for ratios in one run, never absolutes.
import { existsSync, readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { compileFrontend, memoryHost } from "../dist/compiler/lower/index.js";
import {
  dataset,
  fitInput,
  gather,
  readIdx,
  shuffled,
  split,
} from "../dist/compiler/train/data.js";
import { trainingGraph } from "../dist/compiler/train/graph.js";
import { trainingInit } from "../dist/compiler/train/init.js";
import { trainingPlan } from "../dist/compiler/train/plan.js";
import { argmax } from "../dist/compiler/train/trainer.js";
import { random } from "../dist/compiler/weights/init.js";
import { GpuTrainer } from "../dist/runtime/trainer.js";
import { build } from "esbuild";
import { tfjsTrainer } from "./peers/tfjs-train.mjs";

/**
 * TensorFlow.js for training: tfjs-core's autodiff needs every op's gradient registered, which
 * the `@tensorflow/tfjs` umbrella does and tfjs-core's Node build does not; its ESM files (with
 * the gradients) do not load in Node as they are (imports without extensions). So tfjs-core,
 * its gradients and the WebGPU backend are bundled into one module here, one tfjs engine.
 */
async function tfjsForTraining() {
  const out = "node_modules/.cache/cnnc-bench/tfjs-train.mjs";
  await build({
    stdin: {
      contents: `export * from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-core/dist/register_all_gradients.js";
import "@tensorflow/tfjs-backend-webgpu";`,
      resolveDir: process.cwd(),
    },
    bundle: true,
    format: "esm",
    platform: "node",
    mainFields: ["module", "main"],
    outfile: out,
    logLevel: "error",
    // (tfjs's Node platform requires Node's own modules)
    banner: {
      js: 'import { createRequire } from "node:module"; const require = createRequire(import.meta.url);',
    },
  });
  const quiet = console.warn;
  console.warn = () => {}; // tfjs announces itself on load
  const tf = await import(`../${out}`);
  await tf.setBackend("webgpu");
  await tf.ready();
  console.warn = quiet;
  return tf;
}
import { table } from "./table.mjs";

const dir = "/usr/share/datasets/fashion-mnist";

function load(which) {
  const rd = (f) => readIdx(gunzipSync(readFileSync(`${dir}/${f}`)), f);
  const prefix = which === "train" ? "train" : "t10k";
  return dataset(
    rd(`${prefix}-images-idx3-ubyte.gz`),
    rd(`${prefix}-labels-idx1-ubyte.gz`),
    10,
    which,
  );
}

async function accuracy(predict, data, batch) {
  let correct = 0;
  const order = Int32Array.from({ length: data.count }, (_, i) => i);
  for (let at = 0; at < data.count; at += batch) {
    const n = Math.min(batch, data.count - at);
    const b = gather(data, order, at, n);
    const p = argmax(await predict(b.x, n), n, 10);
    for (let i = 0; i < n; i++) if (p[i] === b.labels[i]) correct++;
  }
  return correct / data.count;
}

/**
 * Each runtime trains `epochs` epochs over `items` items in batches of `batch` (the same
 * shuffled order), the learning rate constant; each sums its losses on the GPU and reads them
 * back once per epoch, so that steps queue without waiting for each other.
 */
export async function trainBench(gpu, { quick = false, items, epochs } = {}) {
  if (!existsSync(`${dir}/train-images-idx3-ubyte.gz`)) {
    console.log(`\nTraining: skipped (no Fashion-MNIST at ${dir}: scripts/setup.sh installs it)`);
    return [];
  }
  const tf = await tfjsForTraining();
  // (the ResNet trains on a quarter as many items: tfjs takes minutes for it on a CPU adapter)
  const sizes = {
    FashionLeNet: items ?? (quick ? 1024 : 8192),
    FashionResNet: items ?? (quick ? 512 : 2048),
  };
  const e = epochs ?? (quick ? 1 : 2);
  const batch = 32;
  const all = load("train");
  const test = split(load("test"), quick ? 1000 : 5000)[0];
  const rows = [];
  const failures = [];
  for (const file of ["examples/fashion_lenet.cnn", "examples/fashion_resnet.cnn"]) {
    const text = readFileSync(file, "utf8");
    const graph = compileFrontend(file, memoryHost({ [file]: text })).graph;
    const tg = trainingGraph(graph);
    const train = fitInput(split(all, sizes[graph.name])[0], tg.graph.inputs[0].shape, file);
    const testItems = fitInput(test, tg.graph.inputs[0].shape, file);
    const weights = trainingInit(tg.graph, 1);
    const config = { kind: "adam", lr: 0.001 };
    const runners = {
      cnnc: async () => {
        const target = gpu.kind === "gpu" ? "gpu" : "cpu";
        const t = await GpuTrainer.create(
          trainingPlan(tg, { optimizer: config, target }),
          weights,
          config,
          gpu.device,
          gpu,
        );
        return {
          step: (x, y, s) => t.step(x, y, config.lr, s),
          epochLoss: async () => (await t.sums(true)).loss,
          predict: (x, b) => t.predict(x, b),
          dispose: () => t.dispose(),
        };
      },
      "tfjs-webgpu": async () => {
        const t = tfjsTrainer(tf, tg.graph, weights, config);
        return {
          step: (x, y) => t.step(x, y),
          epochLoss: () => t.takeLoss(),
          predict: (x, b) => t.predict(x, b),
          dispose: () => t.dispose(),
        };
      },
    };
    for (const [runtime, make] of Object.entries(runners)) {
      try {
        const r = await make();
        const losses = [];
        const rates = [];
        for (let epoch = 0; epoch < e; epoch++) {
          const order = shuffled(train.count, random(epoch + 1));
          const t0 = performance.now();
          for (let at = 0, s = 0; at < train.count; at += batch, s++) {
            const b = gather(train, order, at, Math.min(batch, train.count - at));
            await r.step(b.x, b.labels, s);
          }
          losses.push(await r.epochLoss());
          rates.push(train.count / ((performance.now() - t0) / 1000));
        }
        const acc = await accuracy(r.predict, testItems, 100);
        r.dispose();
        rows.push([
          runtime === "cnnc" ? graph.name : "",
          runtime === "cnnc" ? String(train.count) : "",
          runtime,
          rates.map((v) => v.toFixed(0)).join(" / "),
          losses.map((v) => v.toFixed(4)).join(" / "),
          `${(acc * 100).toFixed(1)}%`,
        ]);
      } catch (err) {
        failures.push(`${graph.name}, ${runtime}: ${err.message}`);
        rows.push([runtime === "cnnc" ? graph.name : "", "", runtime, "failed", "-", "-"]);
      }
    }
  }
  console.log(
    `\nTraining on ${gpu.adapter}: Fashion-MNIST, ${e} epoch${e > 1 ? "s" : ""}, batch ${batch}, Adam lr 0.001, the same initial weights and item order; test accuracy on ${test.count} test items\n`,
  );
  table(
    ["network", "items", "runtime", "images/s per epoch", "train loss per epoch", "test accuracy"],
    rows,
  );
  return failures;
}
