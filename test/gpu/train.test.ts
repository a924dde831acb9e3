// Training on WebGPU against the float64 reference trainer (itself checked against finite
// differences in train-gradcheck.test.ts): every op with a WebGPU gradient, its weight
// gradients after one forward and backward pass of a batch; the loss; the optimisers' updates;
// batch norm's running statistics; dropout's masks, forward and backward the same.
import { afterAll, describe, expect, it } from "vitest";
import type { Graph } from "../../compiler/ir/graph.js";
import { trainingGraph } from "../../compiler/train/graph.js";
import { trainingInit } from "../../compiler/train/init.js";
import { trainingPlan } from "../../compiler/train/plan.js";
import type { OptimizerConfig } from "../../compiler/train/optim.js";
import { backwardPass, crossEntropy, forwardPass } from "../../compiler/train/reference.js";
import { ReferenceTrainer } from "../../compiler/train/trainer.js";
import { random } from "../../compiler/weights/init.js";
import { GpuTrainer } from "../../runtime/trainer.js";
import { lowerText } from "../support/compile.js";
import { adapterChoice, adapterWords, gpu } from "./support.js";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { halvesFolder } from "../support/halves.js";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { writeTrainingBundle } from "../../compiler/bundle/write.js";
import { loadTrainer } from "../../runtime/index.js";

const net = (input: string, body: string) =>
  lowerText(`network T {\n  input x: ${input}\n  ${body.replace(/\n/g, "\n  ")}\n}`);

const trainers: GpuTrainer[] = [];
afterAll(() => trainers.forEach((t) => t.dispose()));

async function gpuTrainer(g: Graph, weights: Map<string, Float32Array>, config: OptimizerConfig) {
  const d = await gpu();
  const tg = trainingGraph(g);
  const t = await GpuTrainer.create(
    trainingPlan(tg, { optimizer: config }),
    weights,
    config,
    d.device,
    d,
  );
  trainers.push(t);
  return t;
}

function batchOf(g: Graph, batch: number, seed: number) {
  const rand = random(seed);
  const per = g.inputs[0]!.shape.reduce((a, b) => a * b, 1);
  const x = Float32Array.from({ length: per * batch }, () => rand() * 2 - 1);
  const classes = g.nodes.at(-1)!.shape.reduce((a, b) => a * b, 1);
  const y = Array.from({ length: batch }, (_, i) => (i * 3) % classes);
  return { x, y };
}

/**
 * Largest |a - b| over a tensor, relative to its largest |b| but at least 1e-4 (a bias before
 * batch norm has a gradient of 0 in exact arithmetic, float32 rounding noise on the GPU).
 */
function relError(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-4): number {
  let worst = 0;
  let scale = floor;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]!));
  for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst / scale;
}

/** One forward and backward pass of a batch on the GPU and on the reference: the weights'
 * gradients (training mode: batch norm's batch statistics) and the loss. */
async function gradParity(g: Graph, batch = 3, tolerance = 2e-3): Promise<void> {
  const weights = trainingInit(trainingGraph(g).graph, 1);
  const { x, y } = batchOf(g, batch, 2);
  const t = await gpuTrainer(g, weights, { kind: "sgd", lr: 0 });
  t.step(x, y, 0, 1, false);
  const got = await t.gradients();
  const sums = await t.sums(true);
  const tg = trainingGraph(g);
  const pass = forwardPass(tg, weights, { [tg.graph.inputs[0]!.name]: x }, batch, {
    training: true,
  });
  const loss = crossEntropy(tg, pass, y);
  const want = backwardPass(tg, weights, pass, new Map([[tg.logits, loss.dlogits]])).weights;
  expect(sums.loss).toBeCloseTo(loss.loss, 4);
  expect(sums.correct).toBe(loss.correct);
  const errors = Object.fromEntries(
    [...want].map(([name, w]) => [
      name,
      relError(got.get(name)!, w) < tolerance ? "ok" : relError(got.get(name)!, w),
    ]),
  );
  expect(errors).toEqual(Object.fromEntries([...want.keys()].map((k) => [k, "ok"])));
}

/**
 * The kernels' WGSL is the adapter's to run, not to choose: these cases run on llvmpipe alone,
 * SwiftShader (core WebGPU) running the conv, batch-norm, step and CLI cases; the suite's 20
 * minutes on 2 cores are the reason.
 */
const onceOnLlvmpipe = it.skipIf(adapterChoice === "swiftshader");

describe("WebGPU gradients against the reference trainer", () => {
  it("conv: stride, dilation, asymmetric padding, groups, depthwise; deconv; dense; bias", async () => {
    await gradParity(
      net(
        "[4, 11, 9]",
        `conv(6, [3, 5], stride=[2, 1], pad=[1, 2, 0, 1], dilation=[1, 2]) -> tanh
conv(6, 3, groups=2, pad=1) -> sigmoid
dwconv(3, stride=2, multiplier=2) -> relu
conv(5, 1, bias=false)
flatten -> dense(7) -> elu -> dense(4, bias=false)`,
      ),
    );
    // the strided input gradient's and the weight gradient's register blocks: 2 and 4 channels
    // by pixels of a phase (rows that end mid-block), 8 and 4 filters; reflected and replicated
    // padding (the trainer's pad op and a conv without padding, against the reference's conv)
    await gradParity(
      net(
        "[6, 13, 17]",
        `conv(8, 3, stride=2, pad=1) -> relu
conv(8, 3, pad=[1, 2, 0, 1], padmode=reflect) -> relu
conv(16, [3, 2], stride=[1, 3], pad=1, groups=2) -> tanh
conv(8, 3, stride=2, pad=1, groups=2) -> relu
conv(8, [2, 3], stride=2, pad=1, padmode=replicate, groups=4)
flatten -> dense(4)`,
      ),
    );
    // transposed convs: their gradients are a conv's with the roles exchanged
    await gradParity(
      net(
        "[4, 5, 6]",
        `deconv(6, 3, stride=2, pad=1, output_pad=1) -> relu
deconv(4, [2, 3], stride=[1, 2], pad=[0, 1, 1, 0], dilation=[2, 1], groups=2, bias=false) -> tanh
deconv(8, 1) -> flatten -> dense(3)`,
      ),
    );
  });

  onceOnLlvmpipe(
    "pools: max (ceil, padded, dilated), average (count_pad both ways), global max and average",
    async () => {
      await gradParity(
        net(
          "[3, 12, 11]",
          `conv(4, 3, pad=1)
let a = maxpool(3, stride=2, pad=1, ceil=true) -> avgpool(2, pad=1, count_pad=true) -> avgpool(3, stride=2, pad=1) -> globalavgpool
let b = x -> maxpool(3, dilation=2, stride=2) -> conv(4, 1) -> globalmaxpool
concat(a, b) -> flatten -> dense(3)`,
        ),
      );
    },
  );

  onceOnLlvmpipe("local response normalisation (windows of odd and even size)", async () => {
    await gradParity(
      net(
        "[3, 5, 6]",
        `conv(7, 3, pad=1) -> lrn(size=3, alpha=0.1, beta=0.75, k=1) -> tanh
conv(6, 1) -> lrn(size=4, alpha=0.2, beta=0.5, k=2) -> flatten -> dense(3)`,
      ),
    );
  });

  onceOnLlvmpipe("instance, layer and channel norm (maps and vectors)", async () => {
    await gradParity(
      net(
        "[3, 5, 6]",
        `conv(6, 3, pad=1) -> instance_norm -> relu
conv(4, 1) -> layer_norm(eps=0.001) -> tanh
conv(5, 1) -> channel_norm -> sigmoid
flatten -> dense(8) -> layer_norm -> relu -> dense(3)`,
      ),
    );
  });

  onceOnLlvmpipe(
    "maximum, minimum and div; merges that broadcast (per channel, per pixel)",
    async () => {
      // the denominators are sigmoids (between 0 and 1, far from 0 at these activations)
      await gradParity(
        net(
          "[3, 5, 6]",
          `let c = conv(6, 3, pad=1) -> tanh
let s = c -> globalavgpool -> conv(6, 1) -> sigmoid
let p = c -> conv(1, 1) -> sigmoid
let a = c -> conv(6, 1)
let m = maximum(c, a, s)
let n = minimum(a, s, p) -> relu
let q = div(m, s)
let r = div(n, p)
let t = add(q, r, p)
mul(t, s, p) -> flatten -> dense(3)`,
        ),
      );
    },
  );

  it("batch norm in training mode over maps and vectors; residual adds; mul; concat of maps", async () => {
    await gradParity(
      net(
        "[3, 6, 6]",
        `conv(8, 3, pad=1, bias=false) -> bn -> relu
add {
  branch { conv(8, 3, pad=1, bias=false) -> bn -> relu -> conv(8, 3, pad=1, bias=false) -> bn }
  branch { identity }
} -> relu
let s = conv(8, 1) -> sigmoid
let m = mul(last, s)
concat(m, s) -> globalavgpool -> flatten -> dense(6, bias=false) -> bn -> relu -> dense(3)`,
      ),
      4,
    );
  });

  onceOnLlvmpipe("every activation's derivative", async () => {
    await gradParity(
      net(
        "[3, 4, 5]",
        `conv(4, 1) -> leaky_relu(0.1) -> conv(4, 1) -> gelu -> conv(4, 1) -> silu -> conv(4, 1) -> hardswish -> conv(4, 1) -> relu6 -> conv(4, 1) -> hardsigmoid -> conv(4, 1) -> mish -> conv(4, 1) -> gelu_tanh -> conv(4, 1) -> selu -> conv(4, 1) -> softsign -> conv(4, 1) -> softplus -> conv(4, 1) -> elu(0.5)
conv(4, 1) -> abs -> sqrt -> conv(4, 1) -> exp -> log -> conv(4, 1) -> pow(3) -> neg -> reciprocal -> conv(4, 1) -> tanh
flatten -> log_softmax -> dense(3)`,
      ),
    );
  });

  onceOnLlvmpipe(
    "data movement and resampling: padding of every mode, upsampling, resizing, transposes, pixel shuffles, slices",
    async () => {
      await gradParity(
        net(
          "[4, 5, 6]",
          `conv(8, 1)
pad([1, 2, 0, 3], value=0.5) -> pad(1, mode=replicate) -> pad([2, 1], mode=reflect)
upsample([2, 3]) -> conv(8, 3, stride=2) -> upsample(2, mode=bilinear)
resize([9, 7], mode=linear, coord=align_corners) -> resize([6, 5], coord=asymmetric)
transpose(cab) -> conv(8, 1) -> transpose(bca)
let d = space_to_depth(2) -> conv(32, 1) -> depth_to_space(2, mode=dcr)
let a = d -> slice(0, 3)
let b = d -> slice(2, 8)
concat(a, b) -> flatten -> dense(3)`,
        ),
      );
    },
  );

  onceOnLlvmpipe(
    "scale, affine, clip (both bounds, one open), prelu (per channel, shared, on vectors)",
    async () => {
      await gradParity(
        net(
          "[4, 5, 6]",
          `conv(6, 1) -> scale -> prelu -> conv(6, 1) -> affine -> clip(min=-0.5, max=0.75)
conv(6, 1) -> prelu(shared=true) -> clip(min=-0.2) -> flatten -> dense(7) -> prelu -> scale -> dense(3)`,
        ),
      );
    },
  );

  onceOnLlvmpipe("softmax inside the network, and a final log_softmax", async () => {
    await gradParity(
      net("[5, 3, 2]", "conv(6, 1) -> softmax -> flatten -> dense(4) -> log_softmax"),
    );
  });
});

describe("WebGPU training steps", () => {
  // (no bias before batch norm: its gradient is 0 but for rounding, which Adam would amplify
  // into steps of the learning rate in either direction)
  const g = net(
    "[2, 6, 6]",
    "conv(4, 3, pad=1, bias=false) -> bn(momentum=0.3) -> relu -> maxpool(2) -> flatten -> dense(3) -> softmax",
  );

  for (const config of [
    { kind: "sgd", lr: 0.1, momentum: 0.9, weightDecay: 0.01 },
    { kind: "sgd", lr: 0.1, nesterov: true },
    { kind: "adam", lr: 0.01 },
    { kind: "adamw", lr: 0.01, weightDecay: 0.1 },
  ] as const) {
    it(`${config.kind}${"nesterov" in config ? " (Nesterov)" : ""}: three steps give the reference's weights and running statistics`, async () => {
      const weights = trainingInit(trainingGraph(g).graph, 3);
      const t = await gpuTrainer(g, weights, config);
      const ref = new ReferenceTrainer(g, weights, config);
      for (let s = 0; s < 3; s++) {
        const { x, y } = batchOf(g, 4, 10 + s);
        t.step(x, y, config.lr, s);
        ref.step(x, y, config.lr, s);
      }
      const got = await t.weights();
      const want = ref.weights();
      expect(t.stepCount).toBe(3);
      for (const [name, w] of want)
        expect([name, relError(got.get(name)!, w) < 2e-3]).toEqual([name, true]);
      const a = await t.sums(true);
      const b = ref.sums(true);
      expect(a.loss).toBeCloseTo(b.loss, 4);
      expect(a.items).toBe(12);
      // the optimiser's state carries over: a restored trainer continues as the first would
      const state = await t.optimizerState();
      expect(state.get("optimizer.step")).toEqual(Float32Array.of(3));
    });
  }

  it("a training bundle (cnnc build --train) loads with loadTrainer and steps as its plan does", async () => {
    const config = { kind: "adam", lr: 0.01 } as const;
    const weights = trainingInit(trainingGraph(g).graph, 6);
    const plan = trainingPlan(trainingGraph(g), { optimizer: config });
    const dir = mkdtempSync(join(tmpdir(), "cnnc-train-bundle-"));
    const file = join(dir, "t.train.cnnb");
    writeFileSync(file, writeTrainingBundle(plan, weights, config));
    const d = await gpu();
    const loaded = await loadTrainer(file, { device: d.device });
    trainers.push(loaded);
    const direct = await gpuTrainer(g, weights, config);
    const ref = new ReferenceTrainer(g, weights, config);
    for (let s = 0; s < 3; s++) {
      const { x, y } = batchOf(g, 4, 20 + s);
      loaded.step(x, y); // the bundle's learning rate, the step's number as the seed
      direct.step(x, y, config.lr, s);
      ref.step(x, y, config.lr, s);
    }
    const got = await loaded.weights();
    expect(got).toEqual(await direct.weights());
    for (const [name, w] of ref.weights())
      expect([name, relError(got.get(name)!, w) < 2e-3]).toEqual([name, true]);
    expect((await loaded.sums()).items).toBe(12);
    // the trained weights in packs of at most 100 values: each tensor its own pack but the
    // smallest, which share; one update dispatch per pack, the same steps
    const small = trainingPlan(trainingGraph(g), { optimizer: config, packLimit: 100 });
    expect(small.update.length).toBeGreaterThan(1);
    expect(small.update.length).toBeLessThan(small.params.length);
    expect(plan.update).toHaveLength(1);
    const packs = await GpuTrainer.create(small, weights, config, d.device, d);
    trainers.push(packs);
    for (let s = 0; s < 3; s++) {
      const { x, y } = batchOf(g, 4, 20 + s);
      packs.step(x, y);
    }
    expect(await packs.weights()).toEqual(got);
    // a page's mistakes are named, not run
    expect(() => loaded.step(new Float32Array(72 * 2), [0, 3])).toThrow(
      "label 1 of the batch is 3: labels are class indices 0..2",
    );
    expect(() => loaded.step(new Float32Array(5), [0])).toThrow(/expected 72 values/);
  });

  it("predicts in inference mode: the reference interpreter's scores", async () => {
    const weights = trainingInit(trainingGraph(g).graph, 4);
    const t = await gpuTrainer(g, weights, { kind: "sgd", lr: 0.1 });
    const ref = new ReferenceTrainer(g, weights, { kind: "sgd", lr: 0.1 });
    const { x, y } = batchOf(g, 5, 7);
    t.step(x, y, 0.1, 0);
    ref.step(x, y, 0.1, 0);
    expect(relError(await t.predict(x, 5), ref.predict(x, 5))).toBeLessThan(2e-3);
  });

  it("dropout: a fresh mask per step, the same forward and backward, scaled by 1 / (1 - p)", async () => {
    const d = net("[64]", "dense(64) -> dropout(0.5) -> dense(2)");
    const weights = trainingInit(trainingGraph(d).graph, 5);
    const t = await gpuTrainer(d, weights, { kind: "sgd", lr: 0 });
    const { x, y } = batchOf(d, 8, 3);
    t.step(x, y, 0, 1, false);
    const g1 = (await t.gradients()).get("dense_2.weight")!;
    t.step(x, y, 0, 2, false);
    const g2 = (await t.gradients()).get("dense_2.weight")!;
    expect(g1).not.toEqual(g2);
    // the classifier's weight gradient sums dy * dropped activations: some columns are 0 in
    // every item only where the mask dropped that unit for all 8 items (rare); about half of
    // the first layer's units feed each item. The same seed gives the same gradients.
    t.step(x, y, 0, 1, false);
    expect(await t.gradients().then((m) => m.get("dense_2.weight"))).toEqual(g1);
  });

  it("refuses an optimised network (a fused activation), naming the layer", () => {
    const g2 = net("[3, 6, 6]", "conv(4, 3, pad=1) -> relu -> flatten -> dense(2)");
    const fused = {
      ...g2,
      nodes: g2.nodes
        .filter((n) => n.op !== "relu")
        .map((n) =>
          n.op === "conv2d"
            ? { ...n, attrs: { ...n.attrs, act: "relu" as const } }
            : n.op === "flatten"
              ? { ...n, inputs: ["conv_1"] }
              : n,
        ),
    } as Graph;
    expect(() =>
      trainingPlan(trainingGraph(fused), { optimizer: { kind: "sgd", lr: 0.1 } }),
    ).toThrow("layer 'conv_1' has a fused activation: train the network before optimisation");
  });
});

describe("cnnc train and eval on WebGPU", () => {
  it("trains to the reference's accuracy on a separable task and evaluates on the device", () => {
    const { dir, data, netFile: file } = halvesFolder("cnnc-gpu-train-");
    const cnnc = (...args: string[]) =>
      spawnSync(process.execPath, ["dist/cli/bin.js", ...args, "--adapter", adapterChoice], {
        encoding: "utf8",
      });
    const out = join(dir, "w.safetensors");
    const r = cnnc(
      "train",
      file,
      "--data",
      data,
      "--epochs",
      "3",
      "--batch",
      "16",
      "--optimizer",
      "sgd",
      "--lr",
      "0.1",
      "-o",
      out,
    );
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const on = /^training Halves on (.*?): 108 items/m.exec(r.stdout);
    expect(on?.[1]).toMatch(adapterWords);
    expect(r.stdout).toMatch(/^3\/3\s+\d\.\d{4}\s+\d+\.\d%\s+100\.0%/m);
    expect(r.stdout).toMatch(/test accuracy 100\.0% \(40 items\)/);
    const ev = cnnc("eval", file, "--weights", out, "--data", data);
    expect(ev.status).toBe(0);
    expect(ev.stdout).toMatch(/accuracy 100\.0%/);
  });
});
