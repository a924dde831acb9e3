// The training plan: the training graph's kernels for WebGPU, as dispatch lists a runtime
// trainer (runtime/trainer.ts) runs. One step is: the forward pass in training mode (each
// op's `emit`, or its `grad.emitTrain` where training differs), the loss, the backward pass
// (each op's `grad.emitBackward`, last layer first) and the optimiser's update, a dispatch per
// pack of trained weights. `predict` is the forward pass in inference mode. Activations and
// their gradients share one arena planned over the step (an activation lives until its
// layer's backward pass, a gradient until it reaches the layer's inputs); prediction's values
// are planned apart over the same memory.
import { elementCount, valueShapes, type Graph, type Node, type Shape } from "../ir/graph.js";
import type { Kernel, PlanDispatch } from "../codegen/plan-types.js";
import { defaultChoice, tunable, type KernelChoice, type Target } from "../codegen/choice.js";
import { defaultTiles } from "../codegen/gemm.js";
import { nodeActivation, opDef, type TrainEmitter } from "../ops/index.js";
import { TrainError } from "../errors.js";
import { trainingGraph, type TrainGraph } from "./graph.js";
import {
  copyKernel,
  crossEntropyKernel,
  hyperSize,
  lossSum,
  updateKernel,
  zeroKernel,
} from "./kernels.js";
import { planMemory } from "../codegen/memory.js";
import type {
  OptimizerConfig,
  TrainBuffer,
  TrainPlan,
  TrainValue,
} from "../../runtime/train-format.js";

export type { TrainBuffer, TrainPlan, TrainValue };

/** A pack's size limit, f32 elements: 128 MiB, WebGPU's default largest storage binding. */
export const defaultPackLimit = 2 ** 25;

const alignUp = (n: number) => Math.ceil(n / 64) * 64;

/** A value before memory planning places it. */
type Unplaced = Omit<TrainValue, "offset">;

export interface TrainPlanOptions {
  readonly optimizer: OptimizerConfig;
  /** Whose default kernels the forward pass takes (the adapter's class). */
  readonly target?: Target;
  /** Elements a pack of trained weights (or their gradients, or a slot) holds at most. */
  readonly packLimit?: number;
}

/** The forward kernel a conv or dense layer takes while training: one that reads the weight
 * as it is (Winograd's derived weight would need deriving again after every update). */
function trainingChoice(choice: KernelChoice | undefined): KernelChoice | undefined {
  return choice?.kernel === "winograd" ? { kernel: "gemm", tiles: defaultTiles } : choice;
}

/**
 * The graph as the WebGPU trainer runs it: a conv that pads by reflection or replication
 * becomes that padding (a pad op, whose gradient is the transpose of its map) and a conv that
 * does not pad, so that the conv's gradient kernels need only know zero padding.
 */
function explicitPadding(graph: Graph): Graph {
  const nodes = graph.nodes.flatMap((n): Node[] => {
    if (n.op !== "conv2d" || n.attrs.padmode === "zeros" || n.attrs.p.every((v) => v === 0))
      return [n];
    const [c, h, w] = valueShapes(graph).get(n.inputs[0]!)!;
    const [t, l, b, r] = n.attrs.p;
    const pad = {
      name: `${n.name}#pad`,
      op: "pad" as const,
      inputs: [n.inputs[0]!],
      weights: [],
      attrs: { p: n.attrs.p, mode: n.attrs.padmode, value: 0 },
      shape: [c!, h! + t + b, w! + l + r],
    };
    const conv = {
      ...n,
      inputs: [pad.name, ...n.inputs.slice(1)],
      attrs: { ...n.attrs, p: [0, 0, 0, 0] as const, padmode: "zeros" as const },
    };
    return [pad, conv];
  });
  return nodes.length === graph.nodes.length ? graph : { ...graph, nodes };
}

export function trainingPlan(source: TrainGraph, options: TrainPlanOptions): TrainPlan {
  const explicit = explicitPadding(source.graph);
  const tg = explicit === source.graph ? source : trainingGraph(explicit, source.options);
  const graph = tg.graph;
  const shapes = valueShapes(graph);
  const kernels: string[] = [];
  const kernelIndex = new Map<string, number>();
  const lists = {
    forward: [] as PlanDispatch[],
    loss: [] as PlanDispatch[],
    backward: [] as PlanDispatch[],
    update: [] as PlanDispatch[],
    predict: [] as PlanDispatch[],
  };
  const dispatch = (list: PlanDispatch[], label: string, k: Kernel) => {
    let index = kernelIndex.get(k.wgsl);
    if (index === undefined) {
      index = kernels.length;
      kernels.push(k.wgsl);
      kernelIndex.set(k.wgsl, index);
    }
    list.push({ label, kernel: index, bindings: k.bindings, grid: k.grid });
  };
  const values: Unplaced[] = [];
  const buffers: TrainBuffer[] = [];
  const addValue = (v: Unplaced) => {
    if (!values.some((x) => x.name === v.name)) values.push(v);
  };
  const addBuffer = (b: TrainBuffer) => {
    if (!buffers.some((x) => x.name === b.name)) buffers.push(b);
    return b.name;
  };
  const hyper = addBuffer({ name: "train#hyper", size: hyperSize, role: "hyper" });
  const sums = addBuffer({ name: "train#sums", size: 4, role: "sums" });
  // The trained weights, their gradients and the optimiser's slots each lie in packs (one
  // buffer of many, each tensor 256-byte aligned, a pack at most a binding's worth), so that
  // one dispatch updates a whole pack and one clear zeroes its gradients. A kernel binds a
  // tensor as its range of the pack.
  const slotNames = options.optimizer.kind === "sgd" ? ["m"] : ["m", "v"];
  const packed = new Map<string, { pack: number; offset: number }>();
  const packSizes: number[] = [];
  const limit = options.packLimit ?? defaultPackLimit;
  for (const w of tg.params) {
    const size = elementCount(w.shape);
    let k = packSizes.length - 1;
    if (k < 0 || (packSizes[k]! > 0 && packSizes[k]! + size > limit)) packSizes.push(0);
    k = packSizes.length - 1;
    packed.set(w.name, { pack: k, offset: packSizes[k]! });
    packSizes[k] = alignUp(packSizes[k]! + size);
  }
  const packName = (what: string, k: number) => `pack:${what}:${k}`;
  for (const what of ["weight", "grad", ...slotNames])
    packSizes.forEach((size, k) => addBuffer({ name: packName(what, k), size, role: "pack" }));
  const member = (what: string, w: string) => {
    const at = packed.get(w)!;
    return { within: { buffer: packName(what, at.pack), offset: at.offset } };
  };
  for (const w of graph.weights)
    addBuffer({
      name: w.name,
      size: elementCount(w.shape),
      role: "weight",
      ...(packed.has(w.name) ? member("weight", w.name) : {}),
    });

  for (const i of graph.inputs)
    addValue({ name: i.name, perBatch: elementCount(i.shape), arena: "act" });

  // ---- forward, in training and in inference mode
  const aliasOf = new Map<string, string>();
  for (const node of graph.nodes) {
    const def = opDef(node.op);
    if (nodeActivation(node).act !== "none")
      throw new TrainError(
        `layer '${node.name}' has a fused activation: train the network before optimisation`,
      );
    const per = elementCount(node.shape);
    if (def.emit === "alias") {
      addValue({ name: node.name, perBatch: per, alias: node.inputs[0]!, arena: "act" });
      aliasOf.set(node.name, node.inputs[0]!);
      continue;
    }
    addValue({ name: node.name, perBatch: per, arena: "act" });
    const inShapes = node.inputs.map((v) => shapes.get(v)!);
    const grad = def.grad;
    if (grad === "legalized") throw new Error(`internal: '${node.op}' reached training unlowered`);
    const trainer = trainEmitter(
      node.name,
      inShapes,
      (k) => dispatch(lists.forward, node.name, k),
      lists.forward,
    );
    if (grad.emitTrain) grad.emitTrain(node, trainer);
    else emitForward(node, inShapes, node.name, lists.forward);
    // inference: the op's own kernels; dropout (lowered away for inference) a copy
    if (typeof def.emit === "function") emitForward(node, inShapes, node.name, lists.predict);
    else dispatch(lists.predict, node.name, copyKernel(node.inputs[0]!, node.name, per));
  }

  // ---- gradient buffers: the logits', and every value the backward pass reaches
  const gradName = (v: string): string => {
    let at = v;
    while (aliasOf.has(at)) at = aliasOf.get(at)!;
    return `d:${at}`;
  };
  const needsGrad = new Set<string>([tg.logits]);
  for (const n of tg.backward)
    n.inputs.forEach((v, k) => tg.inputGrads.get(n.name)![k] && needsGrad.add(v));
  for (const v of needsGrad) {
    let at = v;
    while (aliasOf.has(at)) {
      needsGrad.add(aliasOf.get(at)!);
      at = aliasOf.get(at)!;
    }
  }
  for (const v of needsGrad) {
    if (aliasOf.has(v)) continue;
    addValue({ name: gradName(v), perBatch: elementCount(shapes.get(v)!), arena: "grad" });
  }

  // ---- loss: softmax cross-entropy on the logits
  const labels = "train#labels";
  const out = "train#loss";
  addValue({ name: labels, perBatch: 1, arena: "act" });
  addValue({ name: out, perBatch: 2, arena: "act" });
  dispatch(
    lists.loss,
    "loss",
    crossEntropyKernel(tg.logits, labels, gradName(tg.logits), out, tg.classes),
  );
  dispatch(lists.loss, "loss", lossSum(out, sums));

  // ---- backward, last layer first
  const trained = new Set(tg.params.map((p) => p.name));
  const params = tg.params.map((p) => ({
    name: p.name,
    grad: addBuffer({
      name: `grad:${p.name}`,
      size: elementCount(p.shape),
      role: "grad",
      ...member("grad", p.name),
    }),
    slots: slotNames.map((s) =>
      addBuffer({
        name: `${s}:${p.name}`,
        size: elementCount(p.shape),
        role: "slot",
        ...member(s, p.name),
      }),
    ),
  }));
  for (const node of tg.backward) {
    const def = opDef(node.op);
    if (def.emit === "alias") continue; // its gradient is its input's buffer
    const grad = def.grad;
    if (grad === "legalized" || !grad.emitBackward)
      throw new TrainError(
        `layer '${node.name}' (${node.op}) has no WebGPU gradient yet (cnnc train --cpu trains it)`,
      );
    const inShapes = node.inputs.map((v) => shapes.get(v)!);
    const needs = tg.inputGrads.get(node.name)!;
    const e = trainEmitter(
      node.name,
      inShapes,
      (k) => dispatch(lists.backward, node.name, k),
      lists.backward,
    );
    grad.emitBackward(node, {
      ...e,
      grad: (v) =>
        v === node.name || node.inputs.some((x, k) => x === v && needs[k])
          ? gradName(v)
          : undefined,
      weightGrad: (w) => (trained.has(w) ? `grad:${w}` : undefined),
    });
  }

  // ---- the optimiser's update
  const o = options.optimizer;
  const kind = o.kind === "sgd" ? (o.nesterov ? "nesterov" : "sgd") : o.kind;
  packSizes.forEach((size, k) => {
    const slots = slotNames.map((s) => packName(s, k));
    const [w, g] = [packName("weight", k), packName("grad", k)];
    dispatch(lists.update, `update ${k}`, updateKernel(kind, w, g, slots, hyper, size));
  });

  // ---- memory: zero each gradient just before its first use (it may lie where another value
  // lived), then place the step's values and, apart, prediction's, over one arena
  const gradients = new Map(
    values.filter((v) => v.arena === "grad").map((v) => [v.name, v.perBatch]),
  );
  const zeroed = new Set<string>();
  for (const list of [lists.loss, lists.backward]) {
    const out: PlanDispatch[] = [];
    for (const d of list) {
      for (const b of d.bindings)
        if ("value" in b && gradients.has(b.value) && !zeroed.has(b.value)) {
          zeroed.add(b.value);
          dispatch(out, d.label, zeroKernel(b.value, gradients.get(b.value)!));
        }
      out.push(d);
    }
    list.splice(0, list.length, ...out);
  }
  const input = graph.inputs[0]!.name;
  const step = planMemory(
    values,
    [...lists.forward, ...lists.loss, ...lists.backward],
    [input, labels],
    [],
    true,
  );
  const p = (v: string) => `predict:${v}`;
  const predicted = new Set<string>([input, tg.logits]);
  for (const d of lists.predict)
    for (const b of d.bindings) if ("value" in b) predicted.add(b.value);
  for (const v of values) if (predicted.has(v.name) && v.alias) predicted.add(v.alias);
  const predictValues = values
    .filter((v) => predicted.has(v.name))
    .map((v) => ({
      ...v,
      name: p(v.name),
      arena: "predict" as const,
      ...(v.alias ? { alias: p(v.alias) } : {}),
    }));
  const predict = lists.predict.map((d) => ({
    ...d,
    bindings: d.bindings.map((b) => ("value" in b ? { value: p(b.value) } : b)),
  }));
  const alone = planMemory(predictValues, predict, [p(input)], [p(tg.logits)], true);
  const placed: TrainValue[] = [
    ...values.map((v) => ({ ...v, offset: step.offsets.get(v.name)! })),
    ...predictValues.map((v) => ({ ...v, offset: alone.offsets.get(v.name)! })),
  ];

  return {
    network: graph.name,
    input: { name: input, shape: graph.inputs[0]!.shape },
    classes: tg.classes,
    logits: tg.logits,
    labels,
    values: placed,
    arena: Math.max(step.arena, alone.arena, 1),
    predictInput: p(input),
    predictLogits: p(tg.logits),
    buffers,
    params,
    kernels,
    ...lists,
    predict,
    hyper,
    sums,
  };

  /**
   * A node's forward kernels (its op's `emit`) into `list`, writing `output`: the network's own
   * nodes, and the forward-op nodes a backward pass is made of (a conv's input gradient is a
   * conv of the output gradient).
   */
  function emitForward(
    node: Node,
    inShapes: readonly Shape[],
    output: string,
    list: PlanDispatch[],
  ): void {
    const def = opDef(node.op);
    if (typeof def.emit !== "function") throw new Error(`internal: '${node.op}' has no kernels`);
    def.emit(node, {
      inShapes,
      output,
      writtenInSlice: () => false,
      target: options.target ?? "gpu",
      choice: tunable(node, inShapes[0])
        ? trainingChoice(defaultChoice(node, inShapes[0], options.target ?? "gpu"))
        : undefined,
      layout: () => "nchw",
      emit: (k) => dispatch(list, node.name, k),
      weight: (name) => name,
      hwcWeight: () => {
        throw new Error("internal: training reads weights as stored");
      },
      winogradWeight: () => {
        throw new Error("internal: training reads weights as stored");
      },
      temp: (suffix, perBatch) => {
        const name = `${node.name}#${suffix}`;
        addValue({ name, perBatch, arena: "act" });
        return name;
      },
      splitRows: (name, rows) => [{ name, rows: [0, rows] }],
    });
  }

  function trainEmitter(
    name: string,
    inShapes: readonly Shape[],
    emit: (k: Kernel) => void,
    list: PlanDispatch[],
  ): TrainEmitter {
    return {
      inShapes,
      emit,
      forward: (n, shapesIn, output) => emitForward(n, shapesIn, output, list),
      grad: () => undefined,
      weightGrad: () => undefined,
      state: (suffix, size) => addBuffer({ name: `${name}#${suffix}`, size, role: "state" }),
      constant: (suffix, data) =>
        addBuffer({ name: `${name}#${suffix}`, size: data.length, role: "const", init: data }),
      temp: (suffix, perBatch) => {
        addValue({ name: `${name}#${suffix}`, perBatch, arena: "act" });
        return `${name}#${suffix}`;
      },
      hyper,
    };
  }
}

export interface TrainingMemory {
  /** Forward values a step writes and the backward pass reads (per batch, views once). */
  readonly activationBytes: number;
  /** Gradients of the activations (per batch). */
  readonly gradientBytes: number;
  /**
   * The one arena both live in, planned: a value's memory is reused once its last reader in
   * the step has run (an activation after its layer's backward, a gradient after it has
   * flowed to the layer's inputs). Prediction's values are laid over the same memory.
   */
  readonly arenaBytes: number;
  readonly weightBytes: number;
  readonly weightGradientBytes: number;
  /** The optimiser's slots (SGD's momentum, Adam's two moments). */
  readonly optimizerBytes: number;
  readonly totalBytes: number;
}

/** What a training plan's buffers take at a batch size (views counted once). */
export function trainingMemory(plan: TrainPlan, batch: number): TrainingMemory {
  const per = (arena: TrainValue["arena"]) =>
    plan.values.filter((v) => v.arena === arena && !v.alias).reduce((n, v) => n + v.perBatch, 0) *
    batch *
    4;
  const fixed = (...roles: TrainBuffer["role"][]) =>
    plan.buffers.filter((b) => roles.includes(b.role)).reduce((n, b) => n + b.size * 4, 0);
  const m = {
    activationBytes: per("act"),
    gradientBytes: per("grad"),
    arenaBytes: plan.arena * batch * 4,
    weightBytes: fixed("weight"),
    weightGradientBytes: fixed("grad"),
    optimizerBytes: fixed("slot"),
  };
  const other = fixed("state", "hyper", "sums", "const");
  return {
    ...m,
    totalBytes: m.arenaBytes + m.weightBytes + m.weightGradientBytes + m.optimizerBytes + other,
  };
}
