// Multi-node ONNX forms of one cnnc op, recognised before the per-node table: each checks every
// constant it assumes and that nothing else reads the values it swallows; anything that does
// not match exactly imports node by node (and fails there if unsupported).
//  - GELU's erf form: x / sqrt(2) (or x * 1/sqrt(2)) -> Erf -> + 1 -> * x -> * 0.5, the two
//    multiplications in either order;
//  - silu: x * sigmoid(x);
//  - dense with bias: MatMul by a constant [inputs, units] then Add of a constant [units].
import type onnxProto from "onnx-proto";
import type { OnnxConstant, OnnxReader } from "../ops/index.js";
import { emitMatMul } from "../ops/dense.js";

type NodeProto = onnxProto.onnx.INodeProto;

export interface PatternContext {
  readonly readersOf: ReadonlyMap<string, readonly NodeProto[]>;
  readonly constants: ReadonlyMap<string, OnnxConstant>;
  fail(why: string): never;
}

export interface PatternMatch {
  /** The op it imports as (for the import report). */
  readonly op: string;
  /** Later nodes the pattern swallows. */
  readonly consumed: readonly NodeProto[];
  /** The ONNX value the pattern's result replaces. */
  readonly output: string;
  /** Emits the op through the reader of the first node. */
  emit(r: OnnxReader): void;
}

const unary =
  (op: "gelu" | "silu") =>
  (r: OnnxReader): void =>
    void r.emit(op, [r.value(0)], {});

/** A scalar constant operand equal to `want` (to f32 rounding), and the other operand. */
function scalarOperand(
  node: NodeProto | undefined,
  ctx: PatternContext,
  want: number,
): string | undefined {
  const [a, b] = node?.input ?? [];
  for (const [c, other] of [
    [b, a],
    [a, b],
  ] as const) {
    const k = c === undefined ? undefined : ctx.constants.get(c);
    if (k && k.data.length === 1 && Math.abs(k.data[0]! - want) <= 1e-6 * Math.abs(want))
      return other;
  }
  return undefined;
}

/** The one node reading `value`, if exactly one does. */
function soleReader(value: string | undefined, ctx: PatternContext): NodeProto | undefined {
  const r = value === undefined ? undefined : ctx.readersOf.get(value);
  return r?.length === 1 ? r[0] : undefined;
}

const out = (n: NodeProto | undefined): string | undefined => n?.output?.[0] ?? undefined;

function gelu(node: NodeProto, ctx: PatternContext): PatternMatch | undefined {
  const x =
    node.opType === "Div"
      ? scalarOperand(node, ctx, Math.SQRT2)
      : node.opType === "Mul"
        ? scalarOperand(node, ctx, Math.SQRT1_2)
        : undefined;
  if (x === undefined || node.input?.[0] !== x) return undefined;
  const erf = soleReader(out(node), ctx);
  if (erf?.opType !== "Erf") return undefined;
  const add = soleReader(out(erf), ctx);
  if (add?.opType !== "Add" || scalarOperand(add, ctx, 1) !== out(erf)) return undefined;
  const m1 = soleReader(out(add), ctx);
  const m2 = soleReader(out(m1), ctx);
  if (m1?.opType !== "Mul" || m2?.opType !== "Mul") return undefined;
  // (1 + erf) * x * 0.5, or (1 + erf) * 0.5 * x
  const xFirst =
    m1.input?.includes(x) &&
    m1.input.includes(out(add)!) &&
    scalarOperand(m2, ctx, 0.5) === out(m1);
  const halfFirst =
    scalarOperand(m1, ctx, 0.5) === out(add) &&
    m2.input?.includes(x) &&
    m2.input.includes(out(m1)!);
  if (!xFirst && !halfFirst) return undefined;
  return { op: "gelu", consumed: [erf, add, m1, m2], output: out(m2)!, emit: unary("gelu") };
}

function silu(node: NodeProto, ctx: PatternContext): PatternMatch | undefined {
  if (node.opType !== "Sigmoid") return undefined;
  const x = node.input?.[0];
  const m = soleReader(out(node), ctx);
  if (m?.opType !== "Mul" || !x) return undefined;
  const [a, b] = m.input ?? [];
  if (!((a === x && b === out(node)) || (b === x && a === out(node)))) return undefined;
  return { op: "silu", consumed: [m], output: out(m)!, emit: unary("silu") };
}

function denseWithBias(node: NodeProto, ctx: PatternContext): PatternMatch | undefined {
  if (node.opType !== "MatMul") return undefined;
  const w = ctx.constants.get(node.input?.[1] ?? "");
  if (!w || w.dims.length < 2) return undefined;
  const add = soleReader(out(node), ctx);
  if (add?.opType !== "Add") return undefined;
  const biasName = add.input?.find((i) => i !== out(node));
  const bias = biasName === undefined ? undefined : ctx.constants.get(biasName);
  const units = w.dims[w.dims.length - 1]!;
  // A bias broadcast along the units: [units] or [1, units], nothing else.
  const shapeOk =
    bias &&
    bias.data.length === units &&
    bias.dims.every((d, i) => d === 1 || i === bias.dims.length - 1);
  if (!shapeOk) return undefined;
  return {
    op: "dense",
    consumed: [add],
    output: out(add)!,
    emit: (r) => emitMatMul(r, w, bias!.data),
  };
}

/** Op types that import only inside a pattern (no reader of their own). */
export const patternOps: ReadonlySet<string> = new Set(["Erf"]);

export function matchPattern(node: NodeProto, ctx: PatternContext): PatternMatch | undefined {
  return gelu(node, ctx) ?? silu(node, ctx) ?? denseWithBias(node, ctx);
}
