// Constant folding of an ONNX graph during import, as onnx-simplifier and ONNX Runtime's
// constant-folding optimiser do: a node whose inputs are all known (initializers, Constant
// nodes, earlier folds, or the shape of a computed value) is evaluated here, so that the
// shape-computing subgraphs exporters write (Shape -> Gather -> Unsqueeze -> Concat -> Reshape,
// ConstantOfShape, Range, arithmetic on sizes) become plain constants for the op readers.
//
// The batch size is not known at import (cnnc runs any batch). Shape(x) therefore folds its
// batch element to 1 and marks it: each value carries a taint per element (0: none, 1: exactly
// the batch size, 2: computed from it). Ops that only move elements (Gather, Concat, Slice,
// Unsqueeze, Reshape, ...) move the taints with them; arithmetic spreads 2. A reader asks for
// a constant with `constant(i)`, which refuses any taint, or for a reshape target with
// `batchShape(i)`, which takes the batch size at index 0 (it means "keep N") and nothing
// else. So a folded shape is never silently wrong at another batch size.
import type { OnnxConstant, OnnxReader } from "../ops/index.js";

/** A folded tensor; `taint` per element as above (absent: untainted). */
export type Folded = OnnxConstant;

const count = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

function strides(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) s[i] = s[i + 1]! * dims[i + 1]!;
  return s;
}

function make(
  dims: readonly number[],
  data: Float32Array,
  int: boolean,
  taint?: Uint8Array,
): Folded {
  return {
    dims: [...dims],
    data,
    ...(int ? { int } : {}),
    ...(taint?.some((t) => t > 0) ? { taint } : {}),
  };
}

/** Moves elements: out[i] = x[source(i)]; the taints move with them. */
function gatherElements(x: Folded, dims: readonly number[], source: (i: number) => number): Folded {
  const n = count(dims);
  const data = new Float32Array(n);
  const taint = x.taint ? new Uint8Array(n) : undefined;
  for (let i = 0; i < n; i++) {
    const s = source(i);
    data[i] = x.data[s]!;
    if (taint) taint[i] = x.taint![s]!;
  }
  return make(dims, data, x.int === true, taint);
}

/** An axis attribute or input, negative counting from the end, checked against the rank. */
function axisOf(r: OnnxReader, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) r.fail(`axis ${axis} is outside rank ${rank}`);
  return a;
}

/** NumPy broadcasting of several constants; f gets one element of each. */
function broadcastMap(
  r: OnnxReader,
  xs: readonly Folded[],
  int: boolean,
  f: (v: readonly number[]) => number,
): Folded {
  const rank = Math.max(...xs.map((x) => x.dims.length));
  const padded = xs.map((x) => [...new Array<number>(rank - x.dims.length).fill(1), ...x.dims]);
  const dims = Array.from({ length: rank }, (_, k) => {
    const sizes = padded.map((d) => d[k]!).filter((d) => d !== 1);
    if (sizes.some((d) => d !== sizes[0]))
      r.fail(`shapes ${xs.map((x) => `[${x.dims.join(", ")}]`).join(" and ")} do not broadcast`);
    return sizes[0] ?? 1;
  });
  const out = strides(dims);
  const ins = padded.map((d) => strides(d).map((s, k) => (d[k] === 1 ? 0 : s)));
  const n = count(dims);
  const data = new Float32Array(n);
  const tainted = xs.some((x) => x.taint);
  const taint = tainted ? new Uint8Array(n) : undefined;
  const args = new Array<number>(xs.length);
  for (let i = 0; i < n; i++) {
    let t = 0;
    for (let j = 0; j < xs.length; j++) {
      let at = 0;
      let rest = i;
      for (let k = 0; k < rank; k++) {
        const q = Math.floor(rest / out[k]!);
        rest -= q * out[k]!;
        at += q * ins[j]![k]!;
      }
      args[j] = xs[j]!.data[at]!;
      if (xs[j]!.taint?.[at]) t = 2;
    }
    const v = f(args);
    data[i] = int ? Math.trunc(v) : v;
    if (taint) taint[i] = t;
  }
  return make(dims, data, int, taint);
}

/** The ONNX data types Cast may name: integer or floating point. */
const intTypes = new Set([2, 3, 4, 5, 6, 7, 9, 12, 13]); // uint8 ... uint64, bool
const floatTypes = new Set([1, 10, 11, 16]); // float, float16, double, bfloat16

/** The constant inputs of a node: each given input's value (only called when all are known). */
type Inputs = readonly (Folded | undefined)[];

function need(r: OnnxReader, xs: Inputs, i: number): Folded {
  const x = xs[i];
  if (!x) r.fail(`input ${i} is missing`);
  return x!;
}

/** A 1-D list input (axes, starts, ...) as numbers; it must not depend on the batch size. */
function listOf(r: OnnxReader, x: Folded | undefined, what: string): number[] {
  if (!x) return [];
  if (x.taint) r.fail(`${what} depends on the batch size`);
  return Array.from(x.data);
}

/** Axes from the attribute (older opsets) or the input (newer), normalised and sorted. */
function axesOf(r: OnnxReader, xs: Inputs, inputFrom: number, rank: number): number[] | undefined {
  const raw =
    r.opset >= inputFrom
      ? xs[1]
        ? listOf(r, xs[1], "axes")
        : undefined
      : r.hasAttr("axes")
        ? r.attrInts("axes", [])
        : undefined;
  return raw?.map((a) => axisOf(r, a, rank)).sort((a, b) => a - b);
}

function reshapeDims(r: OnnxReader, x: Folded, target: readonly number[]): number[] {
  const allowZero = r.attrInt("allowzero", 0) === 1;
  const dims = target.map((d, i) => (d === 0 && !allowZero ? (x.dims[i] ?? 0) : d));
  const known = dims.filter((d) => d !== -1);
  const unknown = dims.length - known.length;
  if (unknown > 1 || known.some((d) => d < 0 || !Number.isInteger(d)))
    r.fail(`shape [${target.join(", ")}] is not a reshape target`);
  const rest = count(known);
  const n = count(x.dims);
  if (unknown) dims[dims.indexOf(-1)] = rest === 0 ? 0 : n / rest;
  if (count(dims) !== n || !dims.every(Number.isInteger))
    r.fail(`cannot reshape [${x.dims.join(", ")}] to [${target.join(", ")}]`);
  return dims;
}

function sliceFold(r: OnnxReader, xs: Inputs): Folded {
  const x = need(r, xs, 0);
  const rank = x.dims.length;
  const legacy = r.opset < 10;
  const starts = legacy ? r.attrInts("starts", []) : listOf(r, xs[1], "starts");
  const ends = legacy ? r.attrInts("ends", []) : listOf(r, xs[2], "ends");
  const axes = (
    legacy
      ? r.attrInts("axes", [...starts.keys()])
      : xs[3]
        ? listOf(r, xs[3], "axes")
        : [...starts.keys()]
  ).map((a) => axisOf(r, a, rank));
  const steps = !legacy && xs[4] ? listOf(r, xs[4], "steps") : axes.map(() => 1);
  if (starts.length !== axes.length || ends.length !== axes.length || steps.length !== axes.length)
    r.fail("starts, ends, axes and steps differ in length");
  const begin = x.dims.map(() => 0);
  const step = x.dims.map(() => 1);
  const size = [...x.dims];
  axes.forEach((a, k) => {
    const d = x.dims[a]!;
    const s = steps[k]!;
    if (s === 0 || !Number.isInteger(s)) r.fail("a step of 0");
    const clampIndex = (v: number, lo: number, hi: number) =>
      Math.min(Math.max(v < 0 ? v + d : v, lo), hi);
    const b = s > 0 ? clampIndex(starts[k]!, 0, d) : clampIndex(starts[k]!, -1, d - 1);
    const e = s > 0 ? clampIndex(ends[k]!, 0, d) : clampIndex(ends[k]!, -1, d - 1);
    begin[a] = b;
    step[a] = s;
    size[a] = Math.max(0, Math.ceil((e - b) / s));
  });
  const inS = strides(x.dims);
  const outS = strides(size);
  return gatherElements(x, size, (i) => {
    let at = 0;
    let rest = i;
    for (let k = 0; k < rank; k++) {
      const q = Math.floor(rest / outS[k]!);
      rest -= q * outS[k]!;
      at += (begin[k]! + q * step[k]!) * inS[k]!;
    }
    return at;
  });
}

function gatherFold(r: OnnxReader, xs: Inputs): Folded {
  const x = need(r, xs, 0);
  const idx = need(r, xs, 1);
  if (idx.taint) r.fail("the indices depend on the batch size");
  const axis = axisOf(r, r.attrInt("axis", 0), x.dims.length);
  const d = x.dims[axis]!;
  const dims = [...x.dims.slice(0, axis), ...idx.dims, ...x.dims.slice(axis + 1)];
  const inner = count(x.dims.slice(axis + 1));
  const k = count(idx.dims);
  const indices = Array.from(idx.data, (v) => {
    const j = v < 0 ? v + d : v;
    if (!Number.isInteger(j) || j < 0 || j >= d) r.fail(`index ${v} is outside [${-d}, ${d})`);
    return j;
  });
  return gatherElements(x, dims, (i) => {
    const o = Math.floor(i / (k * inner));
    const j = Math.floor(i / inner) % k;
    return (o * d + indices[j]!) * inner + (i % inner);
  });
}

function concatFold(r: OnnxReader, xs: Inputs): Folded {
  const parts = xs.map((_, i) => need(r, xs, i));
  const rank = parts[0]!.dims.length;
  const axis = axisOf(r, r.attrInt("axis", 0), rank);
  for (const p of parts)
    if (p.dims.length !== rank || p.dims.some((d, k) => k !== axis && d !== parts[0]!.dims[k]))
      r.fail(`[${p.dims.join(", ")}] does not concatenate with [${parts[0]!.dims.join(", ")}]`);
  const dims = [...parts[0]!.dims];
  dims[axis] = parts.reduce((s, p) => s + p.dims[axis]!, 0);
  const outer = count(dims.slice(0, axis));
  const n = count(dims);
  const data = new Float32Array(n);
  const taint = parts.some((p) => p.taint) ? new Uint8Array(n) : undefined;
  let at = 0;
  for (let o = 0; o < outer; o++)
    for (const p of parts) {
      const per = count(p.dims.slice(axis));
      data.set(p.data.subarray(o * per, (o + 1) * per), at);
      if (taint && p.taint) taint.set(p.taint.subarray(o * per, (o + 1) * per), at);
      at += per;
    }
  return make(
    dims,
    data,
    parts.every((p) => p.int),
    taint,
  );
}

/** Unsqueeze, Squeeze, Reshape, Flatten, Identity: the same elements under other dims. */
function reshaped(x: Folded, dims: readonly number[]): Folded {
  return { ...x, dims: [...dims] };
}

function transposeFold(r: OnnxReader, xs: Inputs): Folded {
  const x = need(r, xs, 0);
  const rank = x.dims.length;
  const perm = r.attrInts("perm", [...x.dims.keys()].reverse()).map((a) => axisOf(r, a, rank));
  if (new Set(perm).size !== rank) r.fail(`perm [${perm.join(", ")}] is not a permutation`);
  const dims = perm.map((p) => x.dims[p]!);
  const inS = strides(x.dims);
  const outS = strides(dims);
  return gatherElements(x, dims, (i) => {
    let at = 0;
    let rest = i;
    for (let k = 0; k < rank; k++) {
      const q = Math.floor(rest / outS[k]!);
      rest -= q * outS[k]!;
      at += q * inS[perm[k]!]!;
    }
    return at;
  });
}

const arithmetic: Readonly<Record<string, (v: readonly number[], int: boolean) => number>> = {
  Add: ([a, b]) => a! + b!,
  Sub: ([a, b]) => a! - b!,
  Mul: ([a, b]) => a! * b!,
  // Integer division truncates, as ONNX Runtime's does.
  Div: ([a, b], int) => (int ? Math.trunc(a! / b!) : a! / b!),
  Pow: ([a, b]) => Math.pow(a!, b!),
  Min: (v) => Math.min(...v),
  Max: (v) => Math.max(...v),
  Sum: (v) => v.reduce((s, x) => s + x, 0),
  Mean: (v) => v.reduce((s, x) => s + x, 0) / v.length,
  Mod: ([a, b]) => a! - Math.floor(a! / b!) * b!,
  Equal: ([a, b]) => Number(a === b),
  Less: ([a, b]) => Number(a! < b!),
  Greater: ([a, b]) => Number(a! > b!),
  Where: ([c, a, b]) => (c ? a! : b!),
  Neg: ([a]) => -a!,
  Abs: ([a]) => Math.abs(a!),
  Sqrt: ([a]) => Math.sqrt(a!),
  Exp: ([a]) => Math.exp(a!),
  Log: ([a]) => Math.log(a!),
  Reciprocal: ([a]) => 1 / a!,
  Floor: ([a]) => Math.floor(a!),
  Ceil: ([a]) => Math.ceil(a!),
  Not: ([a]) => Number(!a),
};

const comparisons = new Set(["Equal", "Less", "Greater", "Not"]);

export type Folder = (r: OnnxReader, inputs: Inputs) => readonly Folded[];

/** ONNX op type -> its evaluation on constants. */
export const folders: Readonly<Record<string, Folder>> = {
  Constant(r) {
    const t = r.attrTensor("value");
    if (t) return [t];
    if (r.hasAttr("value_float"))
      return [make([], Float32Array.of(r.attrFloat("value_float", 0)), false)];
    if (r.hasAttr("value_floats")) {
      const v = r.attrFloats("value_floats");
      return [make([v.length], Float32Array.from(v), false)];
    }
    if (r.hasAttr("value_int")) return [make([], Float32Array.of(r.attrInt("value_int", 0)), true)];
    if (r.hasAttr("value_ints")) {
      const v = r.attrInts("value_ints", []);
      return [make([v.length], Float32Array.from(v), true)];
    }
    return r.fail(
      "a Constant without a numeric value (sparse and string values are not supported)",
    );
  },
  ConstantOfShape(r, xs) {
    const dims = listOf(r, need(r, xs, 0), "the shape");
    const v = r.attrTensor("value") ?? make([1], Float32Array.of(0), false);
    if (v.data.length !== 1) r.fail("value must hold one element");
    if (dims.some((d) => !Number.isInteger(d) || d < 0) || count(dims) > 2 ** 24)
      r.fail(`shape [${dims.join(", ")}] is not a small constant`);
    return [make(dims, new Float32Array(count(dims)).fill(v.data[0]!), v.int === true)];
  },
  Identity: (r, xs) => [need(r, xs, 0)],
  Shape: (r, xs) => [shapeFold(r, need(r, xs, 0).dims, false)],
  Cast(r, xs) {
    const x = need(r, xs, 0);
    const to = r.attrInt("to", 0);
    if (intTypes.has(to)) return [make(x.dims, x.data.map(Math.trunc), true, x.taint)];
    if (floatTypes.has(to)) return [make(x.dims, Float32Array.from(x.data), false, x.taint)];
    return r.fail(`Cast to data type ${to} is not supported on constants`);
  },
  Gather: (r, xs) => [gatherFold(r, xs)],
  Concat: (r, xs) => [concatFold(r, xs)],
  Slice: (r, xs) => [sliceFold(r, xs)],
  Transpose: (r, xs) => [transposeFold(r, xs)],
  Unsqueeze(r, xs) {
    const x = need(r, xs, 0);
    const rank = x.dims.length;
    const raw = r.opset >= 13 ? listOf(r, xs[1], "axes") : r.attrInts("axes", []);
    const out = rank + raw.length;
    const axes = new Set(raw.map((a) => axisOf(r, a, out)));
    if (axes.size !== raw.length) r.fail("an axis appears twice");
    const dims: number[] = [];
    let k = 0;
    for (let i = 0; i < out; i++) dims.push(axes.has(i) ? 1 : x.dims[k++]!);
    return [reshaped(x, dims)];
  },
  Squeeze(r, xs) {
    const x = need(r, xs, 0);
    const axes =
      axesOf(r, xs, 13, x.dims.length) ?? [...x.dims.keys()].filter((k) => x.dims[k] === 1);
    if (axes.some((a) => x.dims[a] !== 1)) r.fail(`cannot squeeze an axis of size other than 1`);
    return [
      reshaped(
        x,
        x.dims.filter((_, k) => !axes.includes(k)),
      ),
    ];
  },
  Reshape(r, xs) {
    const x = need(r, xs, 0);
    const target =
      r.opset >= 5 ? listOf(r, need(r, xs, 1), "the target shape") : r.attrInts("shape", []);
    return [reshaped(x, reshapeDims(r, x, target))];
  },
  Flatten(r, xs) {
    const x = need(r, xs, 0);
    const axis = r.attrInt("axis", 1);
    const a = axis < 0 ? axis + x.dims.length : axis;
    if (a < 0 || a > x.dims.length) r.fail(`axis ${axis} is outside rank ${x.dims.length}`);
    return [reshaped(x, [count(x.dims.slice(0, a)), count(x.dims.slice(a))])];
  },
  Range(r, xs) {
    const [start, limit, delta] = [0, 1, 2].map((i) => listOf(r, need(r, xs, i), "Range")[0] ?? 0);
    const n = Math.max(Math.ceil((limit! - start!) / delta!), 0);
    if (!Number.isFinite(n) || n > 2 ** 24) r.fail("the range is not a small constant");
    return [
      make(
        [n],
        Float32Array.from({ length: n }, (_, i) => start! + i * delta!),
        xs[0]!.int === true,
      ),
    ];
  },
  Expand(r, xs) {
    const x = need(r, xs, 0);
    const shape = listOf(r, need(r, xs, 1), "the shape");
    const ones = make(shape, new Float32Array(count(shape)).fill(1), x.int === true);
    return [broadcastMap(r, [x, ones], x.int === true, ([a]) => a!)];
  },
  ...Object.fromEntries(
    Object.entries(arithmetic).map(([op, f]) => [
      op,
      ((r, xs) => {
        const given = xs.map((_, i) => need(r, xs, i));
        const int =
          comparisons.has(op) ||
          (op === "Where" ? given[1]!.int === true : given.every((x) => x.int));
        return [broadcastMap(r, given, int, (v) => f(v, int))];
      }) satisfies Folder,
    ]),
  ),
};

/** Shape(x) of a computed value: the batch first (1, tainted), then its shape. */
export function shapeOfValue(r: OnnxReader, shape: readonly number[]): Folded {
  return shapeFold(r, [1, ...shape], true);
}

/** The dims as a 1-D int64 tensor; opset 15's start and end select a slice of them. */
function shapeFold(r: OnnxReader, full: readonly number[], batchFirst: boolean): Folded {
  const rank = full.length;
  const clampAt = (v: number) => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
  const start = clampAt(r.attrInt("start", 0));
  const end = clampAt(r.attrInt("end", rank));
  const dims = full.slice(start, end);
  const taint = Uint8Array.from(dims, (_, i) => (batchFirst && i + start === 0 ? 1 : 0));
  return make([dims.length], Float32Array.from(dims), true, taint);
}
