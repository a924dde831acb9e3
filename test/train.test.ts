// Training beyond the gradients (those: train-gradcheck.test.ts): optimisers and schedules
// against PyTorch's update rules worked by hand, initialisation by layer type, the data
// readers and their refusals, a trainer that learns, and `cnnc train` / `cnnc eval` as users
// run them (checkpoint and resume included).
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { dataset, DataError, fitInput, readIdx, shuffled } from "../compiler/train/data.js";
import { trainingGraph, TrainError } from "../compiler/train/graph.js";
import { initKind, trainingInit } from "../compiler/train/init.js";
import { learningRate, Optimizer } from "../compiler/train/optim.js";
import { evaluate, ReferenceTrainer, trainLoop } from "../compiler/train/trainer.js";
import { random } from "../compiler/weights/init.js";
import { readSafetensors } from "../compiler/weights/index.js";
import type { Node } from "../compiler/ir/graph.js";
import { lowerFile, lowerText } from "./support/compile.js";
import { trainingMemory, trainingPlan, type TrainValue } from "../compiler/train/plan.js";
import type { PlanDispatch } from "../compiler/codegen/plan-types.js";
import { halves, halvesFolder, halvesNet } from "./support/halves.js";
import { runOnnx } from "./support/onnx.js";

const net = (input: string, body: string) =>
  lowerText(`network T {\n  input x: ${input}\n  ${body.replace(/\n/g, "\n  ")}\n}`);

/** One parameter [p], stepped with the gradients given in turn; its values after each. */
function trajectory(opt: Optimizer, p0: number, grads: number[], lr: number): number[] {
  const p = Float32Array.of(p0);
  return grads.map((g) => {
    opt.step(new Map([["w", p]]), new Map([["w", Float64Array.of(g)]]), lr);
    return p[0]!;
  });
}

describe("optimisers (PyTorch's update rules)", () => {
  it("SGD: momentum buffer starts at the gradient; L2 decay joins the gradient; Nesterov", () => {
    // buf1 = 1 + 0.1*2 = 1.2; p = 2 - 0.1*1.2 = 1.88; buf2 = 0.9*1.2 + (0.5 + 0.1*1.88)
    const [a, b] = trajectory(
      new Optimizer({ kind: "sgd", lr: 0.1, momentum: 0.9, weightDecay: 0.1 }),
      2,
      [1, 0.5],
      0.1,
    );
    expect(a).toBeCloseTo(1.88, 6);
    expect(b).toBeCloseTo(1.88 - 0.1 * (0.9 * 1.2 + 0.5 + 0.188), 5);
    // Nesterov: update = g + m * buf (buf1 = g): 1 - 0.1 * (1 + 0.9)
    const [n] = trajectory(new Optimizer({ kind: "sgd", lr: 0.1, nesterov: true }), 1, [1], 0.1);
    expect(n).toBeCloseTo(0.81, 6);
  });

  it("Adam: the first step moves by lr (bias-corrected); AdamW decays the weight itself", () => {
    const [a] = trajectory(new Optimizer({ kind: "adam", lr: 0.01 }), 1, [3], 0.01);
    expect(a).toBeCloseTo(0.99, 6);
    // second step, gradient 1: m = 0.9*0.3 + 0.1 = 0.37 -> /0.19; v = 0.999*0.009*... worked:
    const opt = new Optimizer({ kind: "adam", lr: 0.01 });
    const [, b] = trajectory(opt, 1, [3, 1], 0.01);
    const m = (0.9 * 0.3 + 0.1) / (1 - 0.81);
    const v = (0.999 * 0.009 + 0.001) / (1 - 0.999 ** 2);
    expect(b).toBeCloseTo(0.99 - (0.01 * m) / (Math.sqrt(v) + 1e-8), 6);
    const [w] = trajectory(
      new Optimizer({ kind: "adamw", lr: 0.1, weightDecay: 0.5 }),
      2,
      [1],
      0.1,
    );
    expect(w).toBeCloseTo(2 * (1 - 0.05) - 0.1, 6);
  });

  it("saves and restores its state: a restored optimiser continues as the first would", () => {
    const a = new Optimizer({ kind: "adam", lr: 0.01 });
    trajectory(a, 1, [3, 1], 0.01);
    const b = new Optimizer({ kind: "adam", lr: 0.01 });
    b.restore(a.state());
    expect(b.stepCount).toBe(2);
    const p = Float32Array.of(0.5);
    const q = Float32Array.of(0.5);
    a.step(new Map([["w", p]]), new Map([["w", Float64Array.of(2)]]), 0.01);
    b.step(new Map([["w", q]]), new Map([["w", Float64Array.of(2)]]), 0.01);
    expect(q[0]).toBe(p[0]);
  });

  it("schedules: cosine from lr to 0, step by gamma every third of the run", () => {
    const cos = { kind: "cosine" } as const;
    expect(learningRate(0.1, cos, 0, 10)).toBeCloseTo(0.1, 12);
    expect(learningRate(0.1, cos, 5, 10)).toBeCloseTo(0.05, 12);
    expect(learningRate(0.1, cos, 10, 10)).toBeCloseTo(0, 12);
    const step = { kind: "step" } as const;
    expect([0, 2.9, 3, 6.5].map((e) => learningRate(1, step, e, 9))).toEqual([
      1,
      1,
      0.1,
      0.1 * 0.1,
    ]);
    expect(learningRate(0.3, { kind: "constant" }, 7, 9)).toBe(0.3);
  });
});

describe("initialisation by layer type", () => {
  it("He before a rectifier, Glorot before tanh and for the classifier; BN as the identity", () => {
    const g = net(
      "[3, 8, 8]",
      "conv(16, 3) -> bn -> relu -> conv(8, 3) -> tanh -> flatten -> dense(10)",
    );
    const readers = new Map<string, Node[]>();
    for (const n of g.nodes)
      for (const v of n.inputs) readers.set(v, [...(readers.get(v) ?? []), n]);
    const kinds = g.nodes
      .filter((n) => n.weights.length && n.op !== "batchnorm")
      .map((n) => initKind(n, readers));
    expect(kinds).toEqual(["he", "glorot", "glorot"]);
    const w = trainingInit(g, 3);
    const std = (a: Float32Array) => Math.sqrt(a.reduce((s, v) => s + v * v, 0) / a.length);
    expect(std(w.get("conv_1.weight")!)).toBeCloseTo(Math.sqrt(2 / 27), 1);
    const dense = w.get("dense_1.weight")!;
    const limit = Math.sqrt(6 / (128 + 10)); // 8 maps of 4x4 in, 10 out
    expect(Math.max(...dense.map(Math.abs))).toBeLessThanOrEqual(limit);
    expect(Math.max(...dense.map(Math.abs))).toBeGreaterThan(0.9 * limit);
    expect([...w.get("bn_1.gamma")!]).toEqual(new Array(16).fill(1));
    expect([...w.get("bn_1.var")!]).toEqual(new Array(16).fill(1));
    expect([...w.get("conv_1.bias")!]).toEqual(new Array(16).fill(0));
  });
});

describe("data", () => {
  const idx = (type: number, dims: number[], values: number[]) => {
    const width = type === 0x08 ? 1 : 4;
    const out = new Uint8Array(4 + 4 * dims.length + values.length * width);
    const view = new DataView(out.buffer);
    out.set([0, 0, type, dims.length]);
    dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
    values.forEach((v, i) =>
      width === 1
        ? view.setUint8(4 + 4 * dims.length + i, v)
        : view.setInt32(4 + 4 * dims.length + 4 * i, v),
    );
    return out;
  };

  it("reads IDX (bytes scale to [0, 1]) and refuses what is not IDX, by name", () => {
    const images = readIdx(idx(0x08, [2, 1, 2], [0, 255, 51, 102]), "i");
    const labels = readIdx(idx(0x0c, [2], [1, 0]), "l");
    const d = dataset(images, labels, 2, "i");
    expect(d.shape).toEqual([1, 2]);
    expect([...d.x].map((v) => +v.toFixed(3))).toEqual([0, 1, 0.2, 0.4]);
    expect([...d.labels]).toEqual([1, 0]);
    expect(() => readIdx(new Uint8Array([1, 2, 3, 4]), "f")).toThrow("f: not an IDX file");
    expect(() => readIdx(idx(0x08, [2, 2], [1, 2, 3]), "f")).toThrow(
      "f: holds 3 data bytes, [2, 2] needs 4",
    );
    expect(() => readIdx(new Uint8Array([0, 0, 0x07, 1, 0, 0, 0, 1, 0]), "f")).toThrow(
      "IDX element type 0x7 is unknown",
    );
  });

  it("refuses counts that differ, labels that are not classes, items of another size", () => {
    const x = { dims: [2, 4], data: new Float32Array(8), bytes: false };
    expect(() => dataset(x, { dims: [3], data: new Float32Array(3) }, 2, "d")).toThrow(
      new DataError("d: 2 items but 3 labels"),
    );
    expect(() => dataset(x, { dims: [2], data: Float32Array.of(0, 2) }, 2, "d")).toThrow(
      "d: label 2 of item 1 is not a class of the network's 2",
    );
    const d = dataset(x, { dims: [2], data: Float32Array.of(0, 1) }, 2, "d");
    expect(fitInput(d, [1, 2, 2], "d").shape).toEqual([1, 2, 2]);
    expect(() => fitInput(d, [1, 3, 3], "d")).toThrow(
      "d: items are [4], the network's input is [1,3,3]",
    );
  });

  it("shuffles by its seed: the same order from the same seed, a permutation", () => {
    const a = shuffled(50, random(1));
    expect([...a].sort((p, q) => p - q)).toEqual([...Array(50).keys()]);
    expect(shuffled(50, random(1))).toEqual(a);
    expect(shuffled(50, random(2))).not.toEqual(a);
  });
});

describe("the training graph", () => {
  it("refuses networks it cannot train, saying why", () => {
    expect(() =>
      trainingGraph(net("[4]", "let a = dense(3)\nlet b = x -> dense(2)\noutput a, b")),
    ).toThrow(TrainError);
    expect(() => trainingGraph(net("[3, 4, 4]", "conv(2, 1)"))).toThrow(
      "training needs class scores [K] (K >= 2) as the output, 'conv_1' is [2, 4, 4]",
    );
    expect(() => trainingGraph(net("[4]", "softmax"))).toThrow("no weights to train");
  });

  it("keeps dropout, lowers sepconv, and marks batch norm's statistics as not trained", () => {
    const tg = trainingGraph(
      net(
        "[3, 8, 8]",
        "sepconv(4, 3) -> bn -> relu -> globalavgpool -> flatten -> dropout(0.5) -> dense(3)",
      ),
    );
    expect(tg.graph.nodes.map((n) => n.op)).toEqual([
      "conv2d",
      "conv2d",
      "batchnorm",
      "relu",
      "globalavgpool",
      "flatten",
      "dropout",
      "dense",
    ]);
    expect([...tg.stats].sort()).toEqual(["bn_1.mean", "bn_1.var"]);
    expect(tg.params.map((p) => p.name)).not.toContain("bn_1.mean");
    expect(tg.outputKind).toBe("logits");
  });
});

describe("training memory", () => {
  const nets = {
    lenet: lowerFile("examples/fashion_lenet.cnn"),
    resnet: lowerFile("examples/fashion_resnet.cnn"),
    // views, a concat, a padding whose gradient reads tables, dropout, a mid-network softmax
    mixed: net(
      "[3, 9, 9]",
      `let a = conv(4, 3, pad=1) -> bn -> relu
let b = a -> pad(1, mode=reflect) -> conv(4, 3) -> softmax
concat(a, b) -> maxpool(2) -> flatten -> dropout(0.3) -> dense(5)`,
    ),
  };

  for (const [name, g] of Object.entries(nets))
    it(`${name}: one arena over the step and prediction, no two live values sharing memory`, () => {
      const plan = trainingPlan(trainingGraph(g), { optimizer: { kind: "adam", lr: 0.001 } });
      const step = [...plan.forward, ...plan.loss, ...plan.backward];
      const own = (kind: string) =>
        plan.values.filter((v) => (v.arena === "predict") === (kind === "predict"));
      // the planner's own check is not the oracle here: the sweep below is written out again
      const live = (
        values: readonly TrainValue[],
        list: readonly PlanDispatch[],
        from: string[],
        to: string[],
      ) => {
        const root = new Map<string, TrainValue>();
        for (const v of values) root.set(v.name, v.alias ? root.get(v.alias)! : v);
        const span = new Map<TrainValue, [number, number]>();
        const touch = (n: string, at: number) => {
          const r = root.get(n)!;
          const [a, b] = span.get(r) ?? [at, at];
          span.set(r, [Math.min(a, at), Math.max(b, at)]);
        };
        from.forEach((n) => touch(n, -1));
        list.forEach((d, i) => d.bindings.forEach((b) => "value" in b && touch(b.value, i)));
        to.forEach((n) => touch(n, list.length));
        const all = [...span];
        for (const [i, [x, [xs, xe]]] of all.entries())
          for (const [y, [ys, ye]] of all.slice(i + 1))
            if (xs <= ye && ys <= xe)
              expect(
                x.offset + x.perBatch <= y.offset || y.offset + y.perBatch <= x.offset,
                `${x.name} and ${y.name} share memory while both live`,
              ).toBe(true);
        for (const v of values) expect(v.offset + v.perBatch).toBeLessThanOrEqual(plan.arena);
      };
      live(own("step"), step, [plan.input.name, plan.labels], []);
      live(own("predict"), plan.predict, [plan.predictInput], [plan.predictLogits]);
      // every gradient is zeroed by the dispatch just before its first use
      for (const v of plan.values.filter((x) => x.arena === "grad")) {
        const first = step.findIndex((d) =>
          d.bindings.some((b) => "value" in b && b.value === v.name),
        );
        expect(plan.kernels[step[first]!.kernel]).toMatch(/g\[i\] = 0\.0;/);
      }
      const m = trainingMemory(plan, 32);
      expect(m.arenaBytes).toBeLessThan(m.activationBytes + m.gradientBytes);
    });

  it("summary --train: the planned arena beside what each kind of value takes", () => {
    const r = spawnSync(
      process.execPath,
      ["dist/cli/bin.js", "summary", "examples/fashion_lenet.cnn", "--train", "--batch", "32"],
      { encoding: "utf8" },
    );
    expect(r.status).toBe(0);
    // LeNet at batch 32: the forward values (2.2 MiB) and gradients (1.8 MiB) fit, planned,
    // in 2.1 MiB
    expect(r.stdout).toMatch(/^activations\s+1\.1 MiB\s+2\.2 MiB$/m);
    expect(r.stdout).toMatch(/^activation gradients\s+-\s+1\.8 MiB$/m);
    expect(r.stdout).toMatch(/^arena \(planned\)\s+848\.0 KiB\s+2\.1 MiB$/m);
    expect(r.stdout).toMatch(/^total\s+1\.1 MiB\s+3\.1 MiB$/m);
  });
});

describe("batch norm's momentum", () => {
  it("moves the running statistics by the layer's momentum, kept through the IR and ONNX", async () => {
    const g = net("[2]", "bn(momentum=0.3) -> dense(2)");
    const bn = g.nodes.find((n) => n.op === "batchnorm")!;
    expect(bn.attrs).toMatchObject({ momentum: 0.3 });
    const plain = net("[2]", "bn -> dense(2)").nodes[0]!.attrs as { momentum?: number };
    expect(plain.momentum ?? 0.1).toBe(0.1);
    const t = new ReferenceTrainer(g, trainingInit(g, 1), { kind: "sgd", lr: 0 });
    t.step(Float32Array.of(1, 2, 3, 6), [0, 1], 0, 1);
    // batch means 2 and 4, unbiased variances 2 and 8, from 0 and 1
    expect([...t.weights().get("bn_1.mean")!]).toEqual([0.3 * 2, 0.3 * 4].map(Math.fround));
    expect([...t.weights().get("bn_1.var")!]).toEqual(
      [0.7 + 0.3 * 2, 0.7 + 0.3 * 8].map(Math.fround),
    );
    const { exportOnnx, importOnnx } = await import("../compiler/onnx/index.js");
    const back = importOnnx(exportOnnx({ ...g, constants: trainingInit(g, 1) }));
    const imported = back.nodes.find((n) => n.op === "batchnorm")!.attrs as { momentum?: number };
    expect(imported.momentum).toBeCloseTo(0.3, 6);
  });
});

describe("the reference trainer", () => {
  it("learns a separable task, deterministically by its seed", async () => {
    const g = lowerText(halvesNet);
    const { x, y } = halves(96, 1);
    const data = fitInput(
      dataset({ dims: [96, 6, 6], data: x, bytes: false }, { dims: [96], data: y }, 2, "h"),
      [1, 6, 6],
      "h",
    );
    const run = async () => {
      const t = new ReferenceTrainer(g, trainingInit(g, 1), { kind: "sgd", lr: 0.1 });
      const reports = await trainLoop(t, data, data, {
        lr: 0.1,
        epochs: 4,
        batch: 16,
        seed: 2,
        schedule: { kind: "cosine" },
      });
      return { t, reports };
    };
    const a = await run();
    expect(a.reports[3]!.valAccuracy).toBe(1);
    expect(a.reports[3]!.loss).toBeLessThan(a.reports[0]!.loss);
    expect((await evaluate(a.t, data, 32)).accuracy).toBe(1);
    const b = await run();
    expect(b.t.weights()).toEqual(a.t.weights());
    // running statistics moved away from their start (mean 0, var 1)
    expect([...a.t.weights().get("bn_1.mean")!].some((v) => Math.abs(v) > 0.01)).toBe(true);
  });
});

function cnnc(...args: string[]) {
  const r = spawnSync(process.execPath, ["dist/cli/bin.js", ...args], { encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe("cnnc train and cnnc eval", () => {
  const { dir, data, netFile, test } = halvesFolder("cnnc-train-");

  it("trains, writes weights that build, export and score alike under ONNX Runtime", async () => {
    const out = join(dir, "w.safetensors");
    const plot = join(dir, "curves.svg");
    const r = cnnc(
      "train",
      netFile,
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
      "--plot",
      plot,
      "--cpu",
    );
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(
      /^training Halves on the CPU reference \(float64\): 108 items \(12 held out\)/,
    );
    expect(r.out).toMatch(/^epoch\s+loss\s+train acc\s+val acc\s+images\/s\s+time\s+lr$/m);
    expect(r.out).toMatch(/^3\/3\s+\d\.\d{4}\s+\d+\.\d%\s+100\.0%/m);
    expect(r.out).toMatch(/test accuracy 100\.0% \(40 items\)/);
    const weights = readSafetensors(readFileSync(out));
    expect([...weights.keys()].sort()).toContain("bn_1.mean");
    expect(readFileSync(plot, "utf8")).toMatch(/<polyline/);
    const build = cnnc("build", netFile, "--weights", out, "-o", join(dir, "h.cnnb"));
    expect(build.code).toBe(0);
    const ev = cnnc("eval", netFile, "--weights", out, "--data", data, "--cpu");
    expect(ev.code).toBe(0);
    expect(ev.out).toMatch(/accuracy 100\.0%/);
    expect(ev.out).toMatch(/^true\\pred\s+0\s+1\s+recall$/m);
    expect(ev.out).toMatch(/^0\s+20\s+0\s+100\.0%$/m);
    // exported to ONNX, the trained weights score the test items the same under ONNX Runtime
    const onnx = join(dir, "halves.onnx");
    expect(cnnc("export", netFile, "--weights", out, "-o", onnx).code).toBe(0);
    const scores = (await runOnnx(readFileSync(onnx), lowerText(halvesNet), { x: test.x }, 40))
      .softmax_1!;
    const hits = test.y.filter((label, n) => {
      const s = scores.subarray(n * 2, n * 2 + 2);
      return (s[1]! > s[0]! ? 1 : 0) === label;
    }).length;
    expect(hits).toBe(40);
  });

  it("resumes from a checkpoint to the very weights of an uninterrupted run", () => {
    const common = ["--data", data, "--batch", "16", "--seed", "5", "--cpu", "-q"];
    const whole = join(dir, "whole.safetensors");
    expect(cnnc("train", netFile, ...common, "--epochs", "3", "-o", whole).code).toBe(0);
    const ck = join(dir, "ck.safetensors");
    const first = join(dir, "first.safetensors");
    expect(
      cnnc("train", netFile, ...common, "--epochs", "2", "--checkpoint", ck, "-o", first).code,
    ).toBe(0);
    const resumed = join(dir, "resumed.safetensors");
    const r = cnnc("train", netFile, ...common, "--epochs", "3", "--resume", ck, "-o", resumed);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^3\/3 /m);
    expect(r.out).not.toMatch(/^1\/3 /m);
    expect(readFileSync(resumed)).toEqual(readFileSync(whole));
  });

  it("refuses bad data and flags in one line, exit 1", () => {
    const missing = cnnc("train", netFile, "--data", join(dir, "nowhere"));
    expect([missing.code, missing.err.trim()]).toEqual([
      1,
      `cnnc: the data folder '${join(dir, "nowhere")}' does not exist`,
    ]);
    const empty = cnnc("train", netFile, "--data", dir);
    expect(empty.code).toBe(1);
    expect(empty.err).toMatch(/has no training data: train-images-idx3-ubyte/);
    const other = join(dir, "other.cnn");
    writeFileSync(other, halvesNet.replace("[1, 6, 6]", "[1, 8, 8]"));
    const shape = cnnc("train", other, "--data", data, "--cpu");
    expect(shape.code).toBe(1);
    expect(shape.err).toMatch(/items are \[6,6\], the network's input is \[1,8,8\]/);
    const bad = cnnc("train", netFile, "--data", data, "--epochs", "0");
    expect([bad.code, bad.err.trim()]).toEqual([
      1,
      "cnnc: --epochs must be a positive integer, got '0'",
    ]);
    const notCk = cnnc("train", netFile, "--data", data, "--resume", join(dir, "w.safetensors"));
    expect(notCk.code).toBe(1);
    expect(notCk.err).toMatch(/is not a cnnc train checkpoint/);
    for (const r of [missing, empty, shape, bad, notCk]) expect(r.err).not.toMatch(/\n\s+at /);
  });
});
