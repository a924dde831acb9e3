// The IR: a graph of nodes in topological order. Every value is the output of exactly one node
// (or a graph input) and is named; node names are the layer paths of the source
// (`inception_1.branch_2.conv_1`), so a name in an error, a summary row or a weight file means
// the same thing everywhere. Shapes exclude the batch dimension N, which stays symbolic until
// run time. Graphs are immutable: passes build new ones.
import type { OpAttrs, OpKind } from "../ops/index.js";

/** A tensor shape without the batch dimension: [C, H, W] for feature maps, [F] for vectors. */
export type Shape = readonly number[];

/** Where a node came from, for error messages after lowering. */
export interface SourceLoc {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

export interface IrNode<K extends OpKind = OpKind> {
  readonly name: string;
  readonly op: K;
  /** Value names: graph inputs or earlier nodes. */
  readonly inputs: readonly string[];
  /** Weight names, in the order the op defines its weight roles. */
  readonly weights: readonly string[];
  readonly attrs: OpAttrs[K];
  readonly shape: Shape;
  readonly loc?: SourceLoc;
}

/** A node of any op, discriminated by `op` so that a switch narrows `attrs`. */
export type Node = { [K in OpKind]: IrNode<K> }[OpKind];

export interface GraphInput {
  readonly name: string;
  readonly shape: Shape;
}

export interface GraphOutput {
  /** The name the user sees (`output logits`); the value it refers to may differ. */
  readonly name: string;
  readonly value: string;
  /**
   * The shape (without N) the source model gives it where cnnc computes it in another form of
   * the same values: ONNX's [C, L] for data computed as [C, 1, L]. Results are written in it.
   */
  readonly declared?: Shape;
}

export interface WeightDecl {
  readonly name: string;
  readonly shape: Shape;
}

export interface Graph {
  readonly name: string;
  readonly inputs: readonly GraphInput[];
  readonly weights: readonly WeightDecl[];
  readonly nodes: readonly Node[];
  readonly outputs: readonly GraphOutput[];
  /**
   * The weights' values, when known (absent for a structure-only graph, e.g. `cnnc summary`).
   * Passes that change weights (BN folding) compute new values when these are present.
   */
  readonly constants?: ReadonlyMap<string, Float32Array>;
}

export function elementCount(shape: Shape): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(",")}]`;
}

/** Shapes of every value (inputs and node outputs) by name. */
export function valueShapes(graph: Graph): Map<string, Shape> {
  const shapes = new Map<string, Shape>();
  for (const i of graph.inputs) shapes.set(i.name, i.shape);
  for (const n of graph.nodes) shapes.set(n.name, n.shape);
  return shapes;
}
