// What a network costs, layer by layer: output shape, parameters, BN statistics, MACs,
// receptive field and activation memory. Conventions (as torchvision and the papers count):
//  - params: weights + biases + BN gamma/beta; BN running mean/var are `bnStats`, apart;
//  - MACs: convolutions and dense layers only (each op's registry `cost`);
//  - activations: bytes of each layer's f32 output at batch 1; the total is their plain sum,
//    before any memory planning;
//  - receptive field of the network: that of its last local feature map (receptive-field.ts).
import { elementCount, valueShapes, type Graph, type Node, type Shape } from "../ir/graph.js";
import { inputField, isDepthwise, opDef, type Pair, type ReceptiveField } from "../ops/index.js";
import { cost } from "./cost.js";
import { receptiveField } from "./receptive-field.js";

export interface LayerReport {
  readonly name: string;
  readonly op: string;
  readonly output: Shape;
  readonly params: number;
  readonly bnStats: number;
  readonly macs: number;
  readonly rf: Pair;
  readonly jump: Pair;
  /** The layer sees its whole input (global pooling, flatten, dense). */
  readonly global: boolean;
  readonly activationBytes: number;
}

export interface NetworkReport {
  readonly network: string;
  readonly inputs: readonly { readonly name: string; readonly shape: Shape }[];
  readonly outputs: readonly { readonly name: string; readonly shape: Shape }[];
  readonly layers: readonly LayerReport[];
  readonly totals: {
    readonly params: number;
    readonly bnStats: number;
    readonly macs: number;
    readonly activationBytes: number;
    /** Receptive field of the last local feature map; undefined for a network with none. */
    readonly rf?: Pair;
  };
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

export function summarize(graph: Graph): NetworkReport {
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
    layers.push({
      name: node.name,
      op: displayOp(node, inputs),
      output: node.shape,
      params: counts.params,
      bnStats: counts.stats,
      macs: cost(node, inputs).macs,
      rf: field.rf,
      jump: field.jump,
      global: field.global,
      activationBytes: elementCount(node.shape) * bytesPerElement,
    });
  }
  const sum = (f: (l: LayerReport) => number): number => layers.reduce((a, l) => a + f(l), 0);
  return {
    network: graph.name,
    inputs: graph.inputs.map((i) => ({ name: i.name, shape: i.shape })),
    outputs: graph.outputs.map((o) => ({ name: o.name, shape: shapes.get(o.value) ?? [] })),
    layers,
    totals: {
      params: sum((l) => l.params),
      bnStats: sum((l) => l.bnStats),
      macs: sum((l) => l.macs),
      activationBytes: sum((l) => l.activationBytes),
      ...(rf ? { rf } : {}),
    },
  };
}

/**
 * The `cnnc summary --json` document: the report itself, field for field as the library
 * returns it (`rf: null` for a network without a local feature map).
 */
export function summaryJson(report: NetworkReport): unknown {
  return { ...report, totals: { ...report.totals, rf: report.totals.rf ?? null } };
}
