// The training graph: the compiler transform from an inference graph to what a training step
// computes. Non-core ops lower as for inference except dropout (no identity while training);
// the loss is softmax cross-entropy on the network's one output; the backward pass visits the
// nodes that lie between a trained weight and the loss, last first, and says which of each
// node's inputs takes a gradient. Every op's gradient is its registry entry's `grad`.
import { elementCount, valueShapes, type Graph, type Node, type WeightDecl } from "../ir/graph.js";
import { legalize } from "../ops/legalize.js";
import { opDef } from "../ops/index.js";
import { TrainError } from "../errors.js";

export { TrainError };

/**
 * How the output meets the cross-entropy: probabilities (a final softmax: its input is the
 * logits), log-probabilities (a final log_softmax) or the logits themselves.
 */
export type OutputKind = "softmax" | "log_softmax" | "logits";

export interface TrainGraph {
  readonly graph: Graph;
  /** The value the network outputs. */
  readonly output: string;
  readonly outputKind: OutputKind;
  /** The value whose gradient the loss gives directly (softmax and the loss fuse). */
  readonly logits: string;
  readonly classes: number;
  /** The weights training changes, in the graph's order. */
  readonly params: readonly WeightDecl[];
  /** Running statistics (batch norm's mean and variance): updated by the forward pass. */
  readonly stats: ReadonlySet<string>;
  /** The nodes the backward pass visits, last first, up to the logits. */
  readonly backward: readonly Node[];
  /** Per node of `backward`: which inputs take a gradient. */
  readonly inputGrads: ReadonlyMap<string, readonly boolean[]>;
  /** What it was made with (a rewrite of the graph makes its own with the same). */
  readonly options: TrainGraphOptions;
}

export interface TrainGraphOptions {
  /** Gradients for the graph's inputs too (gradient checks, saliency). */
  readonly inputGradients?: boolean;
  /**
   * The caller seeds the output's gradient itself (a gradient check's random projection): no
   * loss, any output shape, the output is the logits.
   */
  readonly seeded?: boolean;
}

export function trainingGraph(source: Graph, options: TrainGraphOptions = {}): TrainGraph {
  const graph = legalize(source, new Set(["dropout"])).graph;
  if (graph.outputs.length !== 1)
    throw new TrainError(
      `training needs one output (the class scores), the network has ${graph.outputs.length}: ${graph.outputs.map((o) => o.name).join(", ")}`,
    );
  const output = graph.outputs[0]!.value;
  const shapes = valueShapes(graph);
  const shape = shapes.get(output)!;
  const classes = elementCount(shape);
  const classifier = shape.length === 1 || shape.slice(1).every((d) => d === 1);
  if (!options.seeded && (!classifier || classes < 2))
    throw new TrainError(
      `training needs class scores [K] (K >= 2) as the output, '${graph.outputs[0]!.name}' is [${shape.join(", ")}]`,
    );
  const last = graph.nodes.find((n) => n.name === output);
  const outputKind: OutputKind = options.seeded
    ? "logits"
    : last?.op === "softmax"
      ? "softmax"
      : last?.op === "log_softmax"
        ? "log_softmax"
        : "logits";
  const logits = outputKind === "logits" ? output : last!.inputs[0]!;

  // Which weights train, which are statistics.
  const stats = new Set<string>();
  for (const n of graph.nodes) {
    const specs = opDef(n.op).weights(
      n.attrs,
      n.inputs.map((v) => shapes.get(v)!),
    );
    specs.forEach((s, i) => s.stat && stats.add(n.weights[i]!));
  }
  const params = graph.weights.filter((w) => !stats.has(w.name));

  // A value needs a gradient where a trained weight lies upstream of it.
  const trained = new Set<string>(options.inputGradients ? graph.inputs.map((i) => i.name) : []);
  for (const n of graph.nodes) {
    if (n.weights.some((w) => !stats.has(w)) || n.inputs.some((v) => trained.has(v)))
      trained.add(n.name);
  }
  // Walk back from the logits: the nodes the loss reaches.
  const reaches = new Set<string>([logits]);
  const backward: Node[] = [];
  const inputGrads = new Map<string, boolean[]>();
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const n = graph.nodes[i]!;
    if (!reaches.has(n.name) || !trained.has(n.name)) continue;
    const grad = opDef(n.op).grad;
    if (grad === "legalized") throw new Error(`internal: '${n.op}' reached training unlowered`);
    backward.push(n);
    const needs = n.inputs.map((v) => trained.has(v));
    inputGrads.set(n.name, needs);
    n.inputs.forEach((v, k) => needs[k] && reaches.add(v));
  }
  if (params.length === 0 && !options.inputGradients)
    throw new TrainError("the network has no weights to train");
  return {
    graph,
    output,
    outputKind,
    logits,
    classes,
    params,
    stats,
    backward,
    inputGrads,
    options,
  };
}
