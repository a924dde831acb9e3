// What codegen produces and a bundle carries: kernels (WGSL), buffers, and the dispatch list
// with its workgroup counts as functions of the run-time batch size. The grid and binding
// shapes are the bundle format's own (runtime/format.ts): one definition for writer and reader.
import type { Binding, Grid } from "../../runtime/format.js";
export type { Binding, Grid, Linear } from "../../runtime/format.js";

export interface Kernel {
  readonly wgsl: string;
  readonly grid: Grid;
  readonly bindings: readonly Binding[];
  /**
   * Whether kernels of this kind at other sizes may share its shader, reading the sizes that
   * differ from the uniform (families.ts): kernels looping over many multiply-adds a thread,
   * against which a few divisions by a uniform size cost nothing. A kernel of one thread per
   * output keeps its sizes constant (llvmpipe's depthwise convs ran 8% slower dividing by them).
   */
  readonly shapeFamily?: boolean;
  /**
   * The same kernel written with subgroup operations (reductions across a subgroup's lanes in
   * place of one thread's loop or a tree in workgroup memory), for devices with WebGPU's
   * `subgroups` feature: the same bindings, grid and results.
   */
  readonly subgroups?: string;
}

export interface PlanValue {
  readonly name: string;
  /** f32 elements per batch item. */
  readonly perBatch: number;
  /** Shares the buffer of another value (flatten, dropout: same bytes, another shape). */
  readonly alias?: string;
  /** Stored NHWC (layout.ts); NCHW where absent. */
  readonly layout?: "nhwc";
}

/** A value placed in the arena: its offset in f32 elements per batch item. */
export interface PlacedValue extends PlanValue {
  readonly offset: number;
}

export interface PlanDispatch {
  /** The layer this dispatch serves (GPU object labels and error messages). */
  readonly label: string;
  /** Index into `Plan.kernels`: identical shaders are compiled once. */
  readonly kernel: number;
  readonly bindings: readonly Binding[];
  readonly grid: Grid;
  /**
   * The sizes its kernel reads from the uniform besides the batch, in the order its `Params`
   * declares them: the kernel serves a shape family (families.ts). Absent: none.
   */
  readonly params?: readonly number[];
}

export interface PlanWeight {
  readonly name: string;
  readonly shape: readonly number[];
  /** Which graph weight this is (all of it, or a row range of it when it was split). */
  readonly source: string;
  readonly rows?: readonly [number, number];
  /**
   * Computed from the source at load (runtime/weights.ts): Winograd's U = G g G^T ([16, F, C]), or the
   * [F, C, KH, KW] weight permuted to [F, KH, KW, C] for a GEMM over an NHWC input.
   */
  readonly transform?: "winograd" | "hwc";
  /** The source's shape, for a weight derived from it (a transform or a row range). */
  readonly sourceShape?: readonly number[];
}

export interface Plan {
  readonly network: string;
  readonly inputs: readonly { readonly name: string; readonly shape: readonly number[] }[];
  readonly outputs: readonly {
    readonly name: string;
    readonly value: string;
    readonly shape: readonly number[];
  }[];
  readonly values: readonly PlacedValue[];
  /** The activation arena, f32 elements per batch item. */
  readonly arena: number;
  readonly weights: readonly PlanWeight[];
  readonly kernels: readonly string[];
  /** Kernels' subgroup forms (Kernel.subgroups), by index into `kernels`. */
  readonly subgroupKernels?: Readonly<Record<string, string>>;
  readonly dispatches: readonly PlanDispatch[];
  /** The kernels read the weights as halves packed two to a u32 (half-weights.ts). */
  readonly halfWeights?: true;
}
