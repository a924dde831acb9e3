// What an op's `emit` sees of codegen: the node's input shapes and layouts, where its output
// goes, the kernel choice made for it (codegen/choice.ts), and the calls that add a dispatch,
// a weight (or a weight derived from one at load) and a temporary. Selection happened before
// (choice, layout, memory); emission only writes kernels for what was chosen.
import type { Node, Shape } from "../ir/graph.js";
import type { KernelChoice, Target } from "../codegen/choice.js";
import type { Kernel } from "../codegen/plan-types.js";
import type { Layout, OutputSlice } from "../codegen/wgsl.js";
import { activationOf, type Activation, type EpilogueAct } from "./activations.js";

export interface Emitter {
  readonly inShapes: readonly Shape[];
  /** The buffer the node writes: its own value, or the concat whose channel slice it fills. */
  readonly output: string;
  /** The channel slice of `output` it writes (concat elimination), if any. */
  readonly slice?: OutputSlice;
  /** A concat input whose producer already wrote it into its slice (needs no copy). */
  writtenInSlice(value: string): boolean;
  emit(k: Kernel): void;
  weight(name: string): string;
  /** The Winograd-transformed copy of a 3x3 conv weight, [16, F, C] (derived at load). */
  winogradWeight(name: string): string;
  /** A conv weight as [F, KH, KW, C], as the GEMM reads it over an NHWC input. */
  hwcWeight(name: string): string;
  /** The layout a value is stored in. */
  layout(value: string): Layout;
  /** A buffer of the node's own (`<node>#<suffix>`), `perBatch` f32 per item. */
  temp(suffix: string, perBatch: number): string;
  /** A weight cut into row ranges that each fit one storage binding. */
  splitRows(name: string, rows: number): { name: string; rows: readonly [number, number] }[];
  /** The kernel chosen for a layer with a choice (codegen/choice.ts). */
  readonly choice?: KernelChoice | undefined;
  /** The operand whose memory this node overwrites (in-place elementwise), if any. */
  readonly inPlace?: string | undefined;
  /** The class of adapter the plan is for: a kernel's subgroup form may suit only one. */
  readonly target: Target;
}

/**
 * What an op's training hooks (`grad.emitTrain`, `grad.emitBackward`) see of the training
 * plan (compiler/train/plan.ts): the gradient buffers, which are accumulated into (`+=`; the
 * plan clears them before each step), the weights' gradients, buffers of the node's own that
 * outlive a dispatch (batch statistics) and the step's hyperparameters.
 */
export interface TrainEmitter {
  readonly inShapes: readonly Shape[];
  emit(k: Kernel): void;
  /** The gradient buffer of a value; undefined where the loss needs none there. */
  grad(value: string): string | undefined;
  /** The gradient buffer of a weight; undefined for running statistics. */
  weightGrad(weight: string): string | undefined;
  /** A fixed-size buffer of the node's own (`<node>#<suffix>`), `size` f32. */
  state(suffix: string, size: number): string;
  /** A constant buffer of the node's own (`<node>#<suffix>`): tables made at plan time. */
  constant(suffix: string, data: Float32Array): string;
  /** A per-item buffer of the node's own for one step (`<node>#<suffix>`), `perBatch` f32. */
  temp(suffix: string, perBatch: number): string;
  /**
   * The forward kernels of another node (its op's `emit`, the adapter's default kernel),
   * reading `inShapes` and writing `output`: a backward pass made of forward ops.
   */
  forward(node: Node, inShapes: readonly Shape[], output: string): void;
  /** The buffer of the step's hyperparameters (compiler/train/kernels.ts's `hyper`). */
  readonly hyper: string;
}

/** The activation in a node's `act`/`alpha` attributes (epilogue or post-activation). */
export function fusedActivation(attrs: {
  readonly act?: EpilogueAct;
  readonly alpha?: number;
}): Activation | undefined {
  return activationOf(attrs.act ?? "none", attrs.alpha ?? 0);
}

/** A conv2d or dense node's fused activation and residual, as generator options. */
export function epilogueOf(node: {
  readonly inputs: readonly string[];
  readonly attrs: { readonly act: EpilogueAct; readonly alpha: number };
}): { act?: Activation; residual?: string } {
  const act = fusedActivation(node.attrs);
  const residual = node.inputs[1];
  return { ...(act ? { act } : {}), ...(residual ? { residual } : {}) };
}
