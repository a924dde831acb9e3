// What a network costs, layer by layer: output shape, parameters, BN statistics, units,
// connections, MACs and FLOPs (forward and backward), receptive field and activation memory.
// Conventions (as torchvision, the papers and the course count):
//  - params: weights + biases + BN gamma/beta (trainable); BN running mean/var are `bnStats`
//    (not trainable), apart;
//  - units: the layer's output activations; connections: the inputs each unit reads, summed, a
//    bias counting as one (LeCun et al. 1998: LeNet-5's C1 has 156 params, 122,304
//    connections; each op's registry `connections`, or the rule in OpDef's doc);
//  - MACs: convolutions and dense layers only (each op's registry `cost`); backward MACs are
//    twice the forward ones (each connection's weight gradient and input gradient); FLOPs count
//    every add, compare and activation too;
//  - activations: bytes of each layer's f32 output at the batch (1 unless asked); the total is
//    their plain sum, before any memory planning; memory as torchsummary estimates training:
//    input + weights + every output and its gradient;
//  - `--depth N` (rowsAtDepth): a block nested deeper than N is one row of its layers' sums;
//  - receptive field of the network: that of its last local feature map (receptive-field.ts).
import { elementCount, valueShapes, type Graph, type Node, type Shape } from "../ir/graph.js";
import { inputField, isDepthwise, opDef, type Pair, type ReceptiveField } from "../ops/index.js";
import { cost } from "./cost.js";
import { receptiveField } from "./receptive-field.js";

export interface LayerReport {
  readonly name: string;
  readonly op: string;
  readonly output: Shape;
  /** What it reads: graph inputs or layers, by name (Keras's "connected to"). */
  readonly inputs: readonly string[];
  /** A windowed layer's kernel and stride (conv, pooling); absent for the others. */
  readonly kernel?: Pair;
  readonly stride?: Pair;
  readonly params: number;
  readonly bnStats: number;
  /** Output activations (per batch item). */
  readonly units: number;
  readonly connections: number;
  readonly macs: number;
  /** Multiply-adds of the backward pass: 2 x macs. */
  readonly backwardMacs: number;
  readonly flops: number;
  readonly rf: Pair;
  readonly jump: Pair;
  /** The layer sees its whole input (global pooling, flatten, dense). */
  readonly global: boolean;
  readonly activationBytes: number;
}

export interface NetworkReport {
  readonly network: string;
  /** The batch the counts are for (params are per network, everything else per batch). */
  readonly batch: number;
  readonly inputs: readonly { readonly name: string; readonly shape: Shape }[];
  readonly outputs: readonly { readonly name: string; readonly shape: Shape }[];
  readonly layers: readonly LayerReport[];
  readonly totals: {
    readonly params: number;
    readonly bnStats: number;
    readonly units: number;
    readonly connections: number;
    readonly macs: number;
    readonly backwardMacs: number;
    readonly flops: number;
    readonly activationBytes: number;
    /** Receptive field of the last local feature map; undefined for a network with none. */
    readonly rf?: Pair;
    /**
     * Memory as torchsummary estimates it, f32: the inputs, the weights (params and BN
     * statistics), every layer's output and its gradient (what training keeps), and their sum.
     */
    readonly memory: {
      readonly inputBytes: number;
      readonly paramBytes: number;
      readonly forwardBackwardBytes: number;
      readonly totalBytes: number;
    };
  };
}

export interface SummaryOptions {
  /** Count units, connections, MACs, FLOPs and memory for this batch (default 1). */
  readonly batch?: number;
}

const bytesPerElement = 4; // f32

/** The op as a person names it: a conv2d with one group per input channel is depthwise. */
export function displayOp(node: Node, inputs: readonly Shape[]): string {
  return node.op === "conv2d" && isDepthwise(node.attrs, inputs[0]?.[0]) ? "dwconv2d" : node.op;
}

function weightCounts(node: Node, inputs: readonly Shape[]): { params: number; stats: number } {
  let params = 0;
  let stats = 0;
  for (const spec of opDef(node.op).weights(node.attrs, inputs)) {
    if (spec.stat) stats += elementCount(spec.shape);
    else params += elementCount(spec.shape);
  }
  return { params, stats };
}

/** The op's own count, else: a MAC each plus one per unit for a bias; a read per operand. */
function connections(node: Node, inputs: readonly Shape[], macs: number): number {
  const def = opDef(node.op);
  if (def.connections) return def.connections(node, inputs);
  if (def.emit === "alias") return 0;
  const units = elementCount(node.shape);
  if (macs > 0) {
    const biased = def.weights(node.attrs, inputs).some((w) => w.role === "bias");
    return macs + (biased ? units : 0);
  }
  return units * Math.max(node.inputs.length, 1);
}

/** A windowed layer's kernel and stride, from its attributes `k` and `s`. */
function windowOf(node: Node): { kernel?: Pair; stride?: Pair } {
  const a = node.attrs as { k?: unknown; s?: unknown };
  const pair = (v: unknown): v is Pair =>
    Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === "number");
  return pair(a.k) && pair(a.s) ? { kernel: a.k, stride: a.s } : {};
}

/** The counts that add up over layers (a block's, a network's totals). */
type Counts = Pick<
  LayerReport,
  | "params"
  | "bnStats"
  | "units"
  | "connections"
  | "macs"
  | "backwardMacs"
  | "flops"
  | "activationBytes"
>;

function sums(layers: readonly LayerReport[]): Counts {
  const sum = (f: (l: LayerReport) => number): number => layers.reduce((a, l) => a + f(l), 0);
  return {
    params: sum((l) => l.params),
    bnStats: sum((l) => l.bnStats),
    units: sum((l) => l.units),
    connections: sum((l) => l.connections),
    macs: sum((l) => l.macs),
    backwardMacs: sum((l) => l.backwardMacs),
    flops: sum((l) => l.flops),
    activationBytes: sum((l) => l.activationBytes),
  };
}

export function summarize(graph: Graph, options: SummaryOptions = {}): NetworkReport {
  const batch = options.batch ?? 1;
  if (!Number.isSafeInteger(batch) || batch < 1)
    throw new RangeError(`batch must be a positive integer, got ${batch}`);
  const shapes = valueShapes(graph);
  const fields = new Map<string, ReceptiveField>();
  for (const i of graph.inputs) fields.set(i.name, inputField);
  const layers: LayerReport[] = [];
  let rf: Pair | undefined;
  for (const node of graph.nodes) {
    const inputs = node.inputs.map((v) => shapes.get(v) ?? []);
    const field = receptiveField(
      node,
      node.inputs.map((v) => fields.get(v) ?? inputField),
      inputs,
    );
    fields.set(node.name, field);
    if (!field.global && node.shape.length === 3) {
      rf = rf ? [Math.max(rf[0], field.rf[0]), Math.max(rf[1], field.rf[1])] : field.rf;
    }
    const counts = weightCounts(node, inputs);
    const c = cost(node, inputs);
    layers.push({
      name: node.name,
      op: displayOp(node, inputs),
      output: node.shape,
      inputs: node.inputs,
      ...windowOf(node),
      params: counts.params,
      bnStats: counts.stats,
      units: batch * elementCount(node.shape),
      connections: batch * connections(node, inputs, c.macs),
      macs: batch * c.macs,
      backwardMacs: batch * 2 * c.macs,
      flops: batch * c.flops,
      rf: field.rf,
      jump: field.jump,
      global: field.global,
      activationBytes: batch * elementCount(node.shape) * bytesPerElement,
    });
  }
  const totals = sums(layers);
  const inputBytes =
    batch * graph.inputs.reduce((n, i) => n + elementCount(i.shape), 0) * bytesPerElement;
  const paramBytes = (totals.params + totals.bnStats) * bytesPerElement;
  const forwardBackwardBytes = 2 * totals.activationBytes;
  return {
    network: graph.name,
    batch,
    inputs: graph.inputs.map((i) => ({ name: i.name, shape: i.shape })),
    outputs: graph.outputs.map((o) => ({ name: o.name, shape: shapes.get(o.value) ?? [] })),
    layers,
    totals: {
      ...totals,
      ...(rf ? { rf } : {}),
      memory: {
        inputBytes,
        paramBytes,
        forwardBackwardBytes,
        totalBytes: inputBytes + paramBytes + forwardBackwardBytes,
      },
    },
  };
}

/** A row of the table: a layer (`layers` 1), or a block of `layers` layers summed. */
export interface SummaryRow extends LayerReport {
  readonly layers: number;
}

/**
 * The rows at most `depth` deep (a layer `a.b.conv_1` is 3 deep): a block nested deeper is one
 * row named by its path, whose counts are its layers' sums, whose output, receptive field and
 * jump are its last layer's, and which reads what its layers read from outside it.
 */
export function rowsAtDepth(report: NetworkReport, depth = Infinity): SummaryRow[] {
  if (!(depth >= 1)) throw new RangeError(`depth must be 1 or more, got ${depth}`);
  const rows: SummaryRow[] = [];
  const members: LayerReport[][] = [];
  for (const l of report.layers) {
    const parts = l.name.split(".");
    const key = parts.length > depth ? parts.slice(0, depth).join(".") : undefined;
    const last = rows.at(-1);
    if (key !== undefined && last && last.name === key && last.layers > 0) {
      members.at(-1)!.push(l);
    } else {
      rows.push({ ...l, name: key ?? l.name, layers: 1 });
      members.push([l]);
    }
  }
  return rows.map((row, i) => {
    const group = members[i]!;
    if (group.length === 1 && group[0]!.name === row.name) return row;
    const inside = new Set(group.map((l) => l.name));
    const lastLayer = group.at(-1)!;
    return {
      name: row.name,
      op: "block",
      output: lastLayer.output,
      inputs: [...new Set(group.flatMap((l) => l.inputs).filter((v) => !inside.has(v)))],
      ...sums(group),
      rf: lastLayer.rf,
      jump: lastLayer.jump,
      global: lastLayer.global,
      layers: group.length,
    };
  });
}

/**
 * The `cnnc summary --json` document: the report itself, field for field as the library
 * returns it (`rf: null` for a network without a local feature map).
 */
export function summaryJson(report: NetworkReport, options: { depth?: number } = {}): unknown {
  return {
    ...report,
    ...(options.depth !== undefined
      ? { depth: options.depth, layers: rowsAtDepth(report, options.depth) }
      : {}),
    totals: { ...report.totals, rf: report.totals.rf ?? null },
  };
}
