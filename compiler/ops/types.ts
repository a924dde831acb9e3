// What an op is, as one record: the registry (index.ts) holds one `OpDef` per op, and every
// stage of the compiler folds over it. A field missing from an entry is a type error, so the
// type checker lists everything a new op must say: attributes, arity, weights, shape rule,
// float64 reference, cost, receptive field, traits, kernel emission (or the legalisation that
// removes it before codegen), ONNX export and import, and its `.cnn` syntax.
import type { Node, Shape } from "../ir/graph.js";
import type { LayerDef } from "./language.js";
import type { Emitter, TrainEmitter } from "./emit.js";
import type { OnnxReader, OnnxWriter } from "./onnx.js";
import { CompileError } from "../errors.js";

export type Pair = readonly [number, number];
/** Padding as [top, left, bottom, right]. */
export type Quad = readonly [number, number, number, number];
export type PadMode = "zeros" | "replicate" | "reflect";
export const padModes: readonly PadMode[] = ["zeros", "replicate", "reflect"];

/** How an attribute is written and checked: a scalar, a fixed-length list, a shape (1 to 3
 * positive sizes), or an enum. */
export type AttrKind = "int" | "float" | "bool" | "pair" | "quad" | "dims" | readonly string[];

export interface WeightSpec {
  /** The suffix of the weight's name: `weight`, `bias`, `gamma`, ... */
  readonly role: string;
  readonly shape: Shape;
  /** Running statistics (BN mean/var): stored, not trained; not counted as parameters. */
  readonly stat?: boolean;
  /** How generated weights draw each value (`initWeights`); default He normal by fan-in. */
  readonly init?: (uniform: () => number) => number;
  /** The inputs each output sums over, for He initialisation; default the trailing dims' product. */
  readonly fanIn?: number;
}

/** A shape rule's complaint, worded without the op name (the caller knows what to call it). */
export class ShapeError extends CompileError {}

/** Exact input count; "many": two or more; "residual": one, and an optional residual. */
export type Arity = number | "many" | "residual";

/** A node as the op's own hooks see it: its attributes typed. */
export interface OpNode<A> {
  readonly name: string;
  readonly op: string;
  readonly inputs: readonly string[];
  readonly weights: readonly string[];
  readonly attrs: A;
  readonly shape: Shape;
}

/** Values on the CPU reference: NCHW (or [N, F]) in float64, the batch outermost. */
export type Tensor = Float64Array;

export interface ReferenceContext {
  readonly batch: number;
  readonly inputShapes: readonly Shape[];
  /** Weight data in the op's weight order. */
  readonly weights: readonly Float32Array[];
}

/** What the backward pass of a node reads, besides its inputs and weights. */
export interface BackwardContext extends ReferenceContext {
  /** The node's output as the forward pass computed it (before any fused activation). */
  readonly output: Tensor;
  /** The gradient of the loss with respect to that output. */
  readonly dy: Tensor;
  /** What the op's training-mode forward pass saved (batch statistics, a dropout mask). */
  readonly saved?: readonly Float64Array[];
}

/**
 * The gradient of the loss with respect to each input of a node and each of its weights, in
 * their order; `undefined` where none flows (running statistics, a constant).
 */
export interface Gradients {
  readonly inputs: readonly (Tensor | undefined)[];
  readonly weights: readonly (Tensor | undefined)[];
}

/** A training-mode forward pass: what it computes and keeps for the backward pass. */
export interface TrainForward {
  readonly output: Tensor;
  readonly saved?: readonly Float64Array[];
  /** New values of the op's running statistics (its `stat` weights), in their order. */
  readonly stats?: readonly Float32Array[];
}

export interface TrainContext extends ReferenceContext {
  /** Uniform in [0, 1), seeded by the trainer. */
  readonly random: () => number;
}

/** How a node trains: its gradient, and its forward pass where training mode differs. */
export interface GradDef<A> {
  /** The vector-Jacobian product of the float64 reference (fused activations excluded). */
  backward(node: OpNode<A>, inputs: readonly Tensor[], ctx: BackwardContext): Gradients;
  /** The forward pass while training, where it is not `reference` (batch norm, dropout). */
  train?(node: OpNode<A>, inputs: readonly Tensor[], ctx: TrainContext): TrainForward;
  /** WebGPU: the kernels of `train` (where it exists, `emit` serves training otherwise). */
  emitTrain?(node: OpNode<A>, e: TrainEmitter): void;
  /** WebGPU: the backward pass's kernels. Absent: training on WebGPU refuses the op. */
  emitBackward?(node: OpNode<A>, e: TrainEmitter): void;
}

export interface Cost {
  /** Multiply-accumulates, as the papers count them (convolutions and dense layers). */
  readonly macs: number;
  /** Floating-point operations: 2 per MAC, plus every add, compare and activation. */
  readonly flops: number;
}

export interface ReceptiveField {
  readonly rf: Pair;
  readonly jump: Pair;
  /** Each output sees the whole input map. */
  readonly global: boolean;
}

/** Which stage-independent facts the compiler needs about an op (sets derive from these). */
export interface Traits {
  /** Where summaries, graphs and docs group it. */
  readonly family:
    "conv" | "pool" | "norm" | "dense" | "activation" | "merge" | "shape" | "resample";
  /**
   * The activation it can apply to its own result: "epilogue" (conv2d, dense: with a residual
   * input too), "post" (an `act` attribute set by fuse-activation), or none.
   */
  readonly fusedActivation?: "epilogue" | "post";
  /** Its output may take an operand's memory (an elementwise op of the operand's shape). */
  readonly inPlace?: boolean;
  /** Its output is its input's bytes under another shape (no kernel, no buffer of its own). */
  readonly alias?: boolean;
  /** Written in `.cnn` as a merge of named values (`add(a, b)`), not `x -> layer`. */
  readonly merge?: boolean;
  /** Broadcasts its operands (NumPy's rule): where shapes differ, codegen keeps it NCHW. */
  readonly broadcast?: boolean;
  /** Reads and writes NHWC as well as NCHW (codegen's layout assignment). */
  readonly anyLayout?: boolean;
}

/** The `.cnn` side of an op: the layers that lower to it, and how a node prints as one. */
export interface CnnSyntax<A> {
  readonly layers: Readonly<Record<string, LayerDef>>;
  /** The layer call that lowers back to this node (`cnnc import` writes these). */
  print(node: OpNode<A>): string;
}

export interface OpDef<A> {
  readonly attrs: { readonly [K in keyof A]-?: AttrKind };
  /** Values an attribute takes unless said otherwise; the text form leaves them out. */
  readonly defaults?: Partial<A>;
  readonly arity: Arity;
  weights(attrs: A, inputs: readonly Shape[]): readonly WeightSpec[];
  infer(attrs: A, inputs: readonly Shape[]): Shape;
  /** The float64 reference, PyTorch's definition where frameworks differ. */
  reference(node: OpNode<A>, inputs: readonly Tensor[], ctx: ReferenceContext): Tensor;
  cost(node: OpNode<A>, inputs: readonly Shape[]): Cost;
  /**
   * Connections, as LeCun et al. (1998) count them: the inputs each output unit reads, summed
   * over the units, a bias counting as one. Where absent (analysis/summary.ts): a layer with
   * MACs makes one connection per MAC plus one per unit for its bias; any other op one per
   * unit and operand; a view (alias) none.
   */
  connections?(node: OpNode<A>, inputs: readonly Shape[]): number;
  receptiveField(
    node: OpNode<A>,
    inputs: readonly ReceptiveField[],
    inputShapes: readonly Shape[],
  ): ReceptiveField;
  readonly traits: Traits;
  /**
   * The kernels of the node; "alias" (its output is its input's bytes, no data moves); or, for
   * an op that is not core, its lowering into core ops, which legalisation (ops/legalize.ts)
   * runs at every -O level so that no backend ever sees the op.
   */
  readonly emit:
    ((node: OpNode<A>, e: Emitter) => void) | "alias" | { readonly legalize: Lowering<A> };
  /**
   * How it trains (compiler/train/): its gradient and its training-mode forward pass;
   * "legalized": the core ops it lowers to train in its place.
   */
  readonly grad: GradDef<A> | "legalized";
  /** Writes the node as ONNX nodes; "legalized" ops never reach the exporter. */
  readonly toOnnx: ((node: OpNode<A>, w: OnnxWriter) => void) | "legalized";
  /** ONNX op types this op imports, each with its reader. */
  readonly fromOnnx: Readonly<Record<string, (r: OnnxReader) => void>>;
  readonly cnn: CnnSyntax<A>;
}

/**
 * How a non-core op leaves the graph before any backend sees it: the core nodes that compute
 * it (the last one keeping its name, so readers are unchanged), or `alias`: its readers read
 * that value instead (dropout at inference).
 */
export type Lowering<A> = (
  node: OpNode<A> & { readonly loc?: Node["loc"] },
  inputShapes: readonly Shape[],
) => readonly Node[] | { readonly alias: string };

/** A family module's ops: one entry per key of its attribute map, each typed by it. */
export type Family<M> = { readonly [K in keyof M]: OpDef<M[K]> };

export type NoAttrs = Readonly<Record<never, never>>;
