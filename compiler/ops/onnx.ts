// The ONNX side of the registry: what an op's `toOnnx` writes through and what its `fromOnnx`
// readers see. The exporter (compiler/onnx/export.ts) and the importer (compiler/onnx/
// import.ts) implement these; the ops never touch protobuf themselves.
import type { Shape } from "../ir/graph.js";
import type { OpAttrs, OpKind } from "./index.js";
import type { Pair, PadMode, Quad } from "./types.js";

/** An ONNX attribute value, tagged with its ONNX type. */
export type OnnxAttr =
  | { readonly int: number }
  | { readonly ints: readonly number[] }
  | { readonly float: number }
  | { readonly string: string };

export const int = (v: number): OnnxAttr => ({ int: v });
export const ints = (v: readonly number[]): OnnxAttr => ({ ints: v });
export const float = (v: number): OnnxAttr => ({ float: v });
export const str = (v: string): OnnxAttr => ({ string: v });

/** What an op's `toOnnx` writes through. Helper values are named after the layer they serve. */
export interface OnnxWriter {
  /** Adds a node; returns its output's name. */
  node(
    op: string,
    inputs: readonly string[],
    output: string,
    attrs?: Readonly<Record<string, OnnxAttr>>,
  ): string;
  /** A float initializer (added once per name); returns its name. */
  floats(name: string, dims: readonly number[], values: ArrayLike<number>): string;
  int64s(name: string, values: readonly number[]): string;
  /** A weight's values (the exporter has them all). */
  weight(name: string): Float32Array;
  shapeOf(value: string): Shape;
  /** What ONNX cannot say exactly: an error naming the layer. */
  fail(why: string): never;
}

/** ONNX Pad over the H and W of an NCHW tensor: pads for all four dims, begins then ends. */
export function writePad(
  w: OnnxWriter,
  input: string,
  output: string,
  p: Quad,
  mode: PadMode,
  value = 0,
): string {
  const [t, l, b, r] = p;
  const pads = w.int64s(`${output}.pads`, [0, 0, t, l, 0, 0, b, r]);
  const onnxMode = { zeros: "constant", replicate: "edge", reflect: "reflect" }[mode];
  const inputs = [input, pads];
  if (mode === "zeros") inputs.push(w.floats(`${output}.value`, [], [value]));
  return w.node("Pad", inputs, output, { mode: str(onnxMode) });
}

export interface OnnxConstant {
  readonly dims: readonly number[];
  readonly data: Float32Array;
  /** Integer data (int64, int32, bool, ...): shapes, axes and indices. */
  readonly int?: boolean;
  /**
   * Per element, whether it depends on the batch size (constant folding of Shape, fold.ts):
   * 1 is the batch size itself, 2 a value computed from it. Absent: none does.
   */
  readonly taint?: Uint8Array;
}

/** One ONNX node as an op's `fromOnnx` reads it. Every `fail` names the node and its inputs. */
export interface OnnxReader {
  readonly opType: string;
  readonly opset: number;
  fail(why: string): never;
  hasAttr(name: string): boolean;
  attrInts(name: string, d: number[]): number[];
  attrInt(name: string, d: number): number;
  attrFloat(name: string, d: number): number;
  attrStr(name: string, d: string): string;
  attrFloats(name: string): number[];
  /** A tensor attribute (Constant's value), decoded; undefined when absent. */
  attrTensor(name: string): OnnxConstant | undefined;
  /** A 2-D attribute (strides, dilations): two values, or the default for both. */
  pair(name: string, d: number): Pair;
  /** pads / auto_pad as [top, left, bottom, right] for a window over the value `x`. */
  padding(k: Pair, s: Pair, d: Pair, x: string): Quad;
  /** Whether input i is given (ONNX marks an omitted optional input with an empty name). */
  hasInput(i: number): boolean;
  readonly inputCount: number;
  /** Whether input i is a constant (an initializer, a frozen input or a folded value). */
  isConstant(i: number): boolean;
  /** The IR value of a computed input. */
  value(i: number): string;
  /** The data of a constant input (an initializer or a folded Constant). */
  constant(i: number): OnnxConstant;
  /**
   * A shape-like constant (Reshape's target, Resize's sizes): its values, where a leading batch
   * size folded from Shape (fold.ts) reads as 0 ("keep N"); any other dependence on the batch
   * size is refused.
   */
  batchShape(i: number): number[];
  /** A value's shape as ONNX has it, without N ([C, L] for 1-D data computed as [C, 1, L]). */
  shapeOf(value: string): Shape;
  /**
   * Adds the IR node that computes this ONNX node's output, with its weights' data; returns its
   * IR name. A reader that writes several nodes emits the last one last.
   */
  emit<K extends OpKind>(
    op: K,
    inputs: readonly string[],
    attrs: OpAttrs[K],
    weights?: readonly Float32Array[],
    /** The output's ONNX rank where it is not the input's (a reshape to [N, C, L]: 3). */
    onnxRank?: number,
  ): string;
  /** As `emit`, for the node's output k (Split's outputs). */
  emitOutput<K extends OpKind>(
    k: number,
    op: K,
    inputs: readonly string[],
    attrs: OpAttrs[K],
  ): string;
  /** How many outputs the node names. */
  readonly outputCount: number;
  /** Whether output k is asked for (ONNX marks an unused optional output with an empty name). */
  hasOutput(k: number): boolean;
  /** This node's output is its first input (Identity, Dropout at inference). */
  alias(): void;
  /** A line for the import report: what this node was rewritten as. */
  note(what: string): void;
}
