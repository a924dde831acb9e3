// Gradient checks: every op's backward pass (the registry's `grad`) and whole networks against
// central finite differences of the float64 forward pass. The loss of an op case is a random
// projection of its output (sum r * y), so every output element's gradient is exercised; a
// network's is its softmax cross-entropy. Weights are snapped to multiples of the step so that
// w +- h is exact in float32.
import { describe, expect, it } from "vitest";
import { elementCount, type Graph } from "../compiler/ir/graph.js";
import { opKinds, registry } from "../compiler/ops/index.js";
import { random } from "../compiler/weights/init.js";
import { initWeights } from "../compiler/weights/index.js";
import { trainingGraph, type TrainGraph } from "../compiler/train/graph.js";
import {
  backwardPass,
  crossEntropy,
  forwardPass,
  type ForwardPass,
} from "../compiler/train/reference.js";
import { lowerFile, lowerText } from "./support/compile.js";
import { opCases } from "./support/op-cases.js";

const h = 2 ** -16;

function normals(n: number, rand: () => number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++)
    out[i] = Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12))) * Math.cos(2 * Math.PI * rand());
  return out;
}

function snapped(graph: Graph, seed: number): Map<string, Float32Array> {
  const w = initWeights(graph, seed);
  for (const data of w.values())
    for (let i = 0; i < data.length; i++) data[i] = Math.round(data[i]! / h) * h;
  return w;
}

interface Check {
  readonly tg: TrainGraph;
  readonly weights: Map<string, Float32Array>;
  readonly inputs: Record<string, Float64Array>;
  readonly batch: number;
  readonly training: boolean;
  /** Check the inputs' gradients too. */
  readonly inputGradients?: boolean;
  /** The loss of a forward pass, and its gradient seeds. */
  readonly loss: (pass: ForwardPass) => { value: number; seeds: Map<string, Float64Array> };
}

/** Up to `k` positions of a tensor, spread over it (both ends included). */
function positions(n: number, k: number, rand: () => number): number[] {
  if (n <= k) return [...Array(n).keys()];
  const out = new Set<number>([0, n - 1]);
  while (out.size < k) out.add(Math.floor(rand() * n));
  return [...out];
}

/** Compares analytic and numeric gradients; returns the worst mismatch found (for messages). */
function gradCheck(c: Check, samples = 12): string[] {
  const run = () =>
    c.loss(
      forwardPass(c.tg, c.weights, c.inputs, c.batch, {
        training: c.training,
        random: random(7),
      }),
    ).value;
  const pass = forwardPass(c.tg, c.weights, c.inputs, c.batch, {
    training: c.training,
    random: random(7),
  });
  const grads = backwardPass(c.tg, c.weights, pass, c.loss(pass).seeds);
  const rand = random(11);
  const problems: string[] = [];
  let kinks = 0;
  let checked = 0;
  const compare = (
    what: string,
    data: Float32Array | Float64Array,
    analytic: ArrayLike<number> | undefined,
  ) => {
    let scale = 1e-3;
    if (analytic)
      for (let i = 0; i < analytic.length; i++) scale = Math.max(scale, Math.abs(analytic[i]!));
    for (const i of positions(data.length, samples, rand)) {
      checked++;
      const v = data[i]!;
      data[i] = v + h;
      const up = run();
      data[i] = v - h;
      const down = run();
      data[i] = v;
      const numeric = (up - down) / (2 * h);
      // A kink (relu at 0, a max changing hands) between v - h and v + h: the one-sided
      // slopes differ, and there the central difference means nothing.
      const centre = run();
      const [right, left] = [(up - centre) / h, (centre - down) / h];
      if (Math.abs(right - left) > 1e-3 * (Math.abs(right) + Math.abs(left)) + 1e-6 * scale) {
        kinks++;
        continue;
      }
      const a = analytic?.[i] ?? 0;
      if (!(Math.abs(numeric - a) <= 2e-4 * scale + 1e-3 * Math.abs(numeric)))
        problems.push(`${what}[${i}]: analytic ${a}, numeric ${numeric}`);
    }
  };
  for (const p of c.tg.params) compare(p.name, c.weights.get(p.name)!, grads.weights.get(p.name));
  if (c.inputGradients)
    for (const [name, data] of Object.entries(c.inputs))
      compare(`input ${name}`, data, grads.inputs.get(name));
  if (kinks > checked / 4) problems.push(`${kinks} of ${checked} positions sit on kinks`);
  return problems;
}

/** A random projection of the output as the loss: every element's gradient counts. */
function projection(tg: TrainGraph, batch: number) {
  const out = tg.graph.outputs[0]!.value;
  const n = batch * elementCount(tg.graph.nodes.find((x) => x.name === out)?.shape ?? []);
  const r = normals(n, random(5));
  return (pass: ForwardPass) => {
    const y = pass.values.get(out)!;
    let value = 0;
    for (let i = 0; i < y.length; i++) value += r[i]! * y[i]!;
    return { value, seeds: new Map([[out, r]]) };
  };
}

const net = (input: string, body: string) =>
  lowerText(`network T {\n  input x: ${input}\n  ${body.replace(/\n/g, "\n  ")}\n}`);

function opCheck(graph: Graph, training: boolean, batch = 2): string[] {
  const tg = trainingGraph(graph, { inputGradients: true, seeded: true });
  const x = tg.graph.inputs[0]!;
  const inputs = { [x.name]: normals(batch * elementCount(x.shape), random(3)) };
  return gradCheck({
    tg,
    weights: snapped(tg.graph, 1),
    inputs,
    batch,
    training,
    inputGradients: true,
    loss: projection(tg, batch),
  });
}

describe("gradient checks, op by op (central differences of the float64 reference)", () => {
  it("covers every op: each has a gradient, or lowers to ops that have", () => {
    const covered = new Set<string>();
    for (const [, input, body] of opCases) {
      for (const n of trainingGraph(net(input, body), { inputGradients: true, seeded: true }).graph
        .nodes)
        covered.add(n.op);
    }
    const legalized = opKinds.filter((k) => registry[k].grad === "legalized");
    expect(legalized).toEqual(["sepconv2d"]);
    expect(opKinds.filter((k) => !covered.has(k) && !legalized.includes(k))).toEqual([]);
  });

  for (const [name, input, body] of opCases) {
    it(name, () => {
      expect(opCheck(net(input, body), false)).toEqual([]);
    });
  }

  it("batch norm in training mode: the batch's statistics, over a map and a vector", () => {
    expect(opCheck(net("[3, 4, 5]", "bn -> relu -> conv(4, 1) -> bn"), true, 3)).toEqual([]);
    expect(opCheck(net("[6]", "dense(5) -> bn -> tanh"), true, 4)).toEqual([]);
  });

  it("dropout in training mode: a seeded mask, scaled by 1 / (1 - p)", () => {
    expect(opCheck(net("[4, 3, 3]", "conv(3, 1) -> dropout(0.4) -> tanh"), true)).toEqual([]);
  });

  it("fused activations and residuals (as the optimiser leaves them)", () => {
    const g = net(
      "[4, 5, 5]",
      "add {\n branch { conv(4, 3, pad=1) -> bn -> relu }\n branch { identity }\n} -> relu",
    );
    expect(opCheck(g, false)).toEqual([]);
  });
});

describe("gradient checks, whole networks (softmax cross-entropy)", () => {
  const check = (graph: Graph, batch: number, training: boolean, samples = 6) => {
    const tg = trainingGraph(graph);
    const x = tg.graph.inputs[0]!;
    const labels = Array.from({ length: batch }, (_, i) => (i * 7) % tg.classes);
    return gradCheck(
      {
        tg,
        weights: snapped(tg.graph, 2),
        inputs: { [x.name]: normals(batch * elementCount(x.shape), random(4)) },
        batch,
        training,
        loss: (pass) => {
          const l = crossEntropy(tg, pass, labels);
          return { value: l.loss, seeds: new Map([[tg.logits, l.dlogits]]) };
        },
      },
      samples,
    );
  };

  it("LeNet-5 (tanh, average pooling, a final softmax)", () => {
    expect(check(lowerFile("examples/lenet5.cnn"), 2, true)).toEqual([]);
  });

  it("a small BN ResNet in training mode (residual adds, strided shortcut)", () => {
    const g = net(
      "[3, 8, 8]",
      `conv(8, 3, pad=1, bias=false) -> bn -> relu
add {
  branch { conv(12, 3, stride=2, pad=1, bias=false) -> bn -> relu -> conv(12, 3, pad=1, bias=false) -> bn }
  branch { conv(12, 1, stride=2, bias=false) -> bn }
} -> relu
globalavgpool -> flatten -> dropout(0.2) -> dense(5)`,
    );
    expect(check(g, 3, true, 4)).toEqual([]);
  });

  it("the loss: mean cross-entropy, its gradient softmax - one-hot over the batch", () => {
    const tg = trainingGraph(net("[3]", "dense(3) -> softmax"));
    const w = new Map([
      ["dense_1.weight", new Float32Array([1, 0, 0, 0, 1, 0, 0, 0, 1])],
      ["dense_1.bias", new Float32Array(3)],
    ]);
    const pass = forwardPass(tg, w, { x: [0, 0, 0, 1, 2, 3] }, 2, { training: true });
    const l = crossEntropy(tg, pass, [0, 2]);
    const lse = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3));
    expect(l.loss).toBeCloseTo((Math.log(3) + lse - 3) / 2, 12);
    // the first item's scores tie: the first class counts as the prediction
    expect(l.correct).toBe(2);
    expect(l.dlogits[0]).toBeCloseTo((1 / 3 - 1) / 2, 12);
    expect(tg.outputKind).toBe("softmax");
    expect(tg.logits).toBe("dense_1");
  });
});
