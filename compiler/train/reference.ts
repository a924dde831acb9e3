// The reference trainer: one training step on the CPU in float64, op by op, from the
// registry's float64 forward passes and gradients. It is the oracle the GPU's gradients are
// checked against and what `cnnc train --cpu` runs. Slow on purpose: clear.
import { elementCount, valueShapes, type Shape } from "../ir/graph.js";
import {
  activationDerivative,
  applyActivation,
  nodeActivation,
  opDef,
  type GradDef,
  type OpAttrs,
  type OpKind,
  type Tensor,
} from "../ops/index.js";
import type { Node } from "../ir/graph.js";
import { InputError, type Weights } from "../interp/interpret.js";
import type { TrainGraph } from "./graph.js";

export interface ForwardOptions {
  /** Training mode: batch norm's batch statistics, dropout's masks. */
  readonly training: boolean;
  /** Dropout's generator (training mode). */
  readonly random?: () => number;
}

/** What a forward pass keeps for the backward pass. */
export interface ForwardPass {
  readonly batch: number;
  readonly shapes: ReadonlyMap<string, Shape>;
  /** Every value: the graph's inputs and each node's output. */
  readonly values: ReadonlyMap<string, Tensor>;
  /** The output before the fused activation, of each node that has one. */
  readonly preActivation: ReadonlyMap<string, Tensor>;
  readonly saved: ReadonlyMap<string, readonly Float64Array[]>;
  /** The running statistics as training mode updates them (batch norm's mean and var). */
  readonly stats: ReadonlyMap<string, Float32Array>;
}

/** The node with its fused activation taken off (the trainer applies it). */
function withoutActivation(node: Node): Node {
  return "act" in node.attrs
    ? ({ ...node, attrs: { ...node.attrs, act: "none", alpha: 0 } } as Node)
    : node;
}

function gradOf(op: OpKind): GradDef<OpAttrs[OpKind]> {
  const grad = opDef(op).grad;
  if (grad === "legalized") throw new Error(`internal: '${op}' reached training unlowered`);
  return grad;
}

export function forwardPass(
  tg: TrainGraph,
  weights: Weights,
  inputs: Readonly<Record<string, ArrayLike<number>>>,
  batch: number,
  options: ForwardOptions,
): ForwardPass {
  const shapes = valueShapes(tg.graph);
  const values = new Map<string, Tensor>();
  const preActivation = new Map<string, Tensor>();
  const saved = new Map<string, readonly Float64Array[]>();
  const stats = new Map<string, Float32Array>();
  for (const input of tg.graph.inputs) {
    const data = inputs[input.name];
    const expected = batch * elementCount(input.shape);
    if (!data) throw new InputError(`missing input '${input.name}'`);
    if (data.length !== expected)
      throw new InputError(
        `input '${input.name}': expected ${expected} values ([${[batch, ...input.shape].join(", ")}]), got ${data.length}`,
      );
    values.set(input.name, Float64Array.from(data));
  }
  const random = options.random ?? Math.random;
  for (const node of tg.graph.nodes) {
    const args = node.inputs.map((v) => values.get(v)!);
    const w = node.weights.map((name) => {
      const data = weights.get(name);
      if (!data) throw new Error(`internal: weight '${name}' not loaded`);
      return data;
    });
    const ctx = { batch, inputShapes: node.inputs.map((v) => shapes.get(v)!), weights: w };
    const { act, alpha } = nodeActivation(node);
    const bare = act === "none" ? node : withoutActivation(node);
    const train = options.training ? gradOf(node.op).train : undefined;
    let out: Tensor;
    if (train) {
      const r = train(bare, args, { ...ctx, random });
      out = r.output;
      if (r.saved) saved.set(node.name, r.saved);
      if (r.stats) {
        const specs = opDef(node.op).weights(node.attrs, ctx.inputShapes);
        const names = node.weights.filter((_, i) => specs[i]!.stat);
        r.stats.forEach((s, i) => stats.set(names[i]!, s));
      }
    } else out = opDef(node.op).reference(bare, args, ctx);
    if (act !== "none") {
      preActivation.set(node.name, out);
      out = out.map((v) => applyActivation(act, v, alpha));
    }
    values.set(node.name, out);
  }
  return { batch, shapes, values, preActivation, saved, stats };
}

export interface Loss {
  /** Mean cross-entropy over the batch. */
  readonly loss: number;
  /** Items whose highest score is their label. */
  readonly correct: number;
  /** d loss / d logits. */
  readonly dlogits: Tensor;
}

/** Softmax cross-entropy of the logits against integer labels, averaged over the batch. */
export function crossEntropy(tg: TrainGraph, pass: ForwardPass, labels: ArrayLike<number>): Loss {
  const k = tg.classes;
  const z = pass.values.get(tg.logits)!;
  const dlogits = new Float64Array(z.length);
  let loss = 0;
  let correct = 0;
  for (let n = 0; n < pass.batch; n++) {
    const y = labels[n]!;
    if (!(Number.isInteger(y) && y >= 0 && y < k))
      throw new InputError(`label ${y} of item ${n} is not a class in [0, ${k})`);
    let max = -Infinity;
    let best = 0;
    for (let c = 0; c < k; c++) {
      if (z[n * k + c]! > max) [max, best] = [z[n * k + c]!, c];
    }
    let sum = 0;
    for (let c = 0; c < k; c++) sum += Math.exp(z[n * k + c]! - max);
    loss += Math.log(sum) + max - z[n * k + y]!;
    for (let c = 0; c < k; c++)
      dlogits[n * k + c] = (Math.exp(z[n * k + c]! - max) / sum - (c === y ? 1 : 0)) / pass.batch;
    if (best === y) correct++;
  }
  return { loss: loss / pass.batch, correct, dlogits };
}

export interface BackwardResult {
  /** d loss / d weight for every trained weight. */
  readonly weights: ReadonlyMap<string, Float64Array>;
  /** d loss / d input, where the training graph asked for input gradients. */
  readonly inputs: ReadonlyMap<string, Tensor>;
}

/** The backward pass from the gradient at the logits (or any seeds by value name). */
export function backwardPass(
  tg: TrainGraph,
  weights: Weights,
  pass: ForwardPass,
  seeds: ReadonlyMap<string, Tensor>,
): BackwardResult {
  const grads = new Map<string, Tensor>();
  const add = (into: Map<string, Float64Array>, name: string, g: Float64Array) => {
    const prev = into.get(name);
    if (!prev) into.set(name, g);
    else for (let i = 0; i < g.length; i++) prev[i]! += g[i]!;
  };
  for (const [v, g] of seeds) add(grads, v, Float64Array.from(g));
  const wgrads = new Map<string, Float64Array>();
  for (const node of tg.backward) {
    let dy = grads.get(node.name);
    if (!dy) continue;
    const { act, alpha } = nodeActivation(node);
    if (act !== "none") {
      const z = pass.preActivation.get(node.name)!;
      dy = dy.map((g, i) => g * activationDerivative(act, z[i]!, alpha));
    }
    const ctx = {
      batch: pass.batch,
      inputShapes: node.inputs.map((v) => pass.shapes.get(v)!),
      weights: node.weights.map((w) => weights.get(w)!),
      output: pass.preActivation.get(node.name) ?? pass.values.get(node.name)!,
      dy,
      ...(pass.saved.has(node.name) ? { saved: pass.saved.get(node.name)! } : {}),
    };
    const bare = act === "none" ? node : withoutActivation(node);
    const args = node.inputs.map((v) => pass.values.get(v)!);
    const g = gradOf(node.op).backward(bare, args, ctx);
    const needs = tg.inputGrads.get(node.name)!;
    node.inputs.forEach((v, k) => {
      const d = g.inputs[k];
      if (needs[k] && d) add(grads, v, d);
    });
    node.weights.forEach((w, k) => {
      const d = g.weights[k];
      if (d && !tg.stats.has(w)) add(wgrads, w, d);
    });
  }
  const inputs = new Map<string, Tensor>();
  for (const i of tg.graph.inputs) if (grads.has(i.name)) inputs.set(i.name, grads.get(i.name)!);
  return { weights: wgrads, inputs };
}
