// Elementwise ops of several operands (add, mul, maximum, minimum of N, div of two: NumPy
// broadcasting over [C, H, W] or [F]) and PReLU, whose slope is a weight (per channel, or one
// shared).
import {
  accumulate,
  channelTermSum,
  elementTermSum,
  mergeGrad,
  mulGrad,
  scaledGrad,
} from "../train/kernels.js";
import { f32 } from "../codegen/wgsl.js";
import { elementCount, formatShape, type Shape } from "../ir/graph.js";
import { affineKernel, broadcastKernel, clipKernel, preluKernel } from "../codegen/direct.js";
import { fusedActivation, type Emitter } from "./emit.js";
import { merged, perOutput, pointwise } from "./field.js";
import { num } from "./language.js";
import { channelwise, itemAffineWeights } from "./norm.js";
import type { OnnxReader, OnnxWriter } from "./onnx.js";
import { postActAttrs, postActDefaults, type PostAct } from "./pool.js";
import { broadcast } from "./shape-rules.js";
import { elementwiseBackward, onlyInputs } from "./grad.js";
import {
  ShapeError,
  type Family,
  type NoAttrs,
  type OpDef,
  type BackwardContext,
  type Gradients,
  type OpNode,
  type ReferenceContext,
  type Tensor,
} from "./types.js";

export interface ElementwiseFamily {
  add: PostAct;
  mul: PostAct;
  maximum: PostAct;
  minimum: PostAct;
  /** a / b, two operands. */
  div: PostAct;
  /** `shared`: one slope for every channel (PyTorch's nn.PReLU() default), else one per channel. */
  prelu: { readonly shared: boolean };
  /** x * weight + bias, weight and bias of the item's shape (ONNX arithmetic by a constant
   * that varies along H or W: an SSD decoder's priors). */
  affine: NoAttrs;
  /** min(max(x, min), max); a bound of f32's largest magnitude is none. */
  clip: { readonly min: number; readonly max: number };
}

/** f32's largest finite value: a clip bound this large (or larger) is no bound. */
export const noBound = 3.4028234663852886e38;

/** ONNX's Clip: all values `max` where min > max; NaN stays NaN. */
function clipValue(v: number, lo: number, hi: number): number {
  let y = v;
  if (lo > -noBound) y = Math.max(y, lo);
  if (hi < noBound) y = Math.min(y, hi);
  return Number.isNaN(v) ? v : y;
}

/** NumPy broadcasting of same-rank [C, H, W] (or [F]) operands to the output shape. */
/**
 * Visits every output element of a broadcast (NumPy's rule, batch outermost) with the offset
 * each operand reads there.
 */
function forEachBroadcast(
  out: Shape,
  inputShapes: readonly Shape[],
  batch: number,
  visit: (o: number, offsets: Int32Array) => void,
): void {
  const total = elementCount(out);
  const strides = inputShapes.map((s) => {
    // Stride 0 along broadcast dimensions.
    const st = new Array<number>(s.length).fill(0);
    let acc = 1;
    for (let i = s.length - 1; i >= 0; i--) {
      st[i] = s[i] === 1 && out[i] !== 1 ? 0 : acc;
      acc *= s[i]!;
    }
    return { st, per: acc };
  });
  const offsets = new Int32Array(inputShapes.length);
  const idx = new Array<number>(out.length);
  for (let n = 0; n < batch; n++) {
    for (let i = 0; i < total; i++) {
      let rem = i;
      for (let d = out.length - 1; d >= 0; d--) {
        idx[d] = rem % out[d]!;
        rem = Math.floor(rem / out[d]!);
      }
      strides.forEach(({ st, per }, k) => {
        offsets[k] = n * per + idx.reduce((a: number, v: number, j) => a + v * st[j]!, 0);
      });
      visit(n * total + i, offsets);
    }
  }
}

function broadcastBinary(
  node: OpNode<unknown>,
  inputs: readonly Tensor[],
  ctx: ReferenceContext,
  f: (a: number, b: number) => number,
): Tensor {
  const result = new Float64Array(ctx.batch * elementCount(node.shape));
  forEachBroadcast(node.shape, ctx.inputShapes, ctx.batch, (o, offsets) => {
    let acc = inputs[0]![offsets[0]!]!;
    for (let k = 1; k < inputs.length; k++) acc = f(acc, inputs[k]![offsets[k]!]!);
    result[o] = acc;
  });
  return result;
}

/**
 * The gradient of a left fold of broadcast operands: each step's partials applied from the
 * last operand back; an operand broadcast along a dimension sums its gradient over it.
 */
function broadcastBackward(
  node: OpNode<unknown>,
  inputs: readonly Tensor[],
  ctx: BackwardContext,
  spec: MergeSpec,
): Gradients {
  const grads = inputs.map((t) => new Float64Array(t.length));
  const acc = new Float64Array(inputs.length);
  forEachBroadcast(node.shape, ctx.inputShapes, ctx.batch, (o, offsets) => {
    acc[0] = inputs[0]![offsets[0]!]!;
    for (let k = 1; k < inputs.length; k++) acc[k] = spec.f(acc[k - 1]!, inputs[k]![offsets[k]!]!);
    let g = ctx.dy[o]!;
    for (let k = inputs.length - 1; k >= 1; k--) {
      const [da, db] = spec.partials(acc[k - 1]!, inputs[k]![offsets[k]!]!);
      grads[k]![offsets[k]!]! += g * db;
      g *= da;
    }
    grads[0]![offsets[0]!]! += g;
  });
  return { inputs: grads, weights: [] };
}

function emitBroadcast(node: OpNode<PostAct>, op: Merge, e: Emitter): void {
  e.emit(
    broadcastKernel({
      op,
      inputs: node.inputs,
      inShapes: e.inShapes,
      output: e.output,
      outShape: node.shape,
      act: fusedActivation(node.attrs),
      inPlace: e.inPlace === undefined ? undefined : node.inputs.indexOf(e.inPlace),
    }),
  );
}

/** ONNX's Add and Mul are binary: a chain of them, the last writing the node's name. */
function chain(op: string, node: OpNode<unknown>, w: OnnxWriter): void {
  let acc = node.inputs[0]!;
  node.inputs.slice(1).forEach((v, i) => {
    acc = w.node(op, [acc, v], i === node.inputs.length - 2 ? node.name : `${node.name}.${i}`);
  });
}

/** Per-channel PRelu slopes in ONNX broadcast against [N, C, H, W]: [C, 1, 1]; shared: one. */
function readPRelu(r: OnnxReader): void {
  const x = r.value(0);
  const shape = r.shapeOf(x);
  const slope = r.constant(1);
  const dims = [...slope.dims];
  while (dims.length > 0 && dims[0] === 1 && dims.length > shape.length) dims.shift();
  const shared = slope.data.length === 1;
  const perChannel =
    slope.data.length === shape[0] &&
    dims.length === shape.length &&
    dims.slice(1).every((d) => d === 1);
  if (!shared && !perChannel)
    r.fail(
      `slope ${formatShape(slope.dims)} is neither one value nor one per channel of the ${formatShape(shape)} input`,
    );
  r.emit("prelu", [x], { shared }, [slope.data]);
}

/**
 * A constant operand of Add/Sub/Mul/Div against the value `x`, as values the op applies: one
 * per channel where it broadcasts along everything else (a scalar, [C, 1, 1], [C] for flat
 * data, [C, 1] for 1-D, with any leading ones) and `perChannel`; else, where it broadcasts to
 * the item (NumPy's rule, N excluded), one per value of the item, expanded.
 */
function constantOperand(
  r: OnnxReader,
  k: number,
  x: string,
): { values: Float32Array; perChannel: boolean } {
  const c = r.constant(k);
  const shape = r.shapeOf(x);
  const channels = shape[0] ?? 1;
  if (c.data.length === 1)
    return { values: new Float32Array(channels).fill(c.data[0]!), perChannel: true };
  const dims = [...c.dims];
  while (dims.length > shape.length && dims[0] === 1) dims.shift();
  if (dims.length > shape.length)
    r.fail(
      `the constant operand ${formatShape(c.dims)} varies along N of the ${formatShape(shape)} input`,
    );
  const aligned = [...new Array<number>(shape.length - dims.length).fill(1), ...dims];
  if (aligned[0] === channels && aligned.slice(1).every((d) => d === 1))
    return { values: Float32Array.from(c.data), perChannel: true };
  if (!aligned.every((d, i) => d === 1 || d === shape[i]))
    r.fail(
      `the constant operand ${formatShape(c.dims)} does not broadcast to the ${formatShape(shape)} input`,
    );
  // Expanded to the item, in its (row-major) order.
  const size = elementCount(shape);
  const values = new Float32Array(size);
  const strides = aligned.map((_, i) => elementCount(aligned.slice(i + 1)));
  for (let j = 0; j < size; j++) {
    let rest = j;
    let at = 0;
    for (let i = 0; i < shape.length; i++) {
      const step = elementCount(shape.slice(i + 1));
      const q = Math.floor(rest / step);
      rest -= q * step;
      if (aligned[i] !== 1) at += q * strides[i]!;
    }
    values[j] = c.data[at]!;
  }
  return { values, perChannel: false };
}

/**
 * Add, Sub, Mul, Div. Of two computed values: add, add of a negation (a - b = a + (-b) exactly),
 * mul, div. With a constant operand: x * w + b, per
 * channel (the scale op, which batch-norm folding merges into a neighbouring conv where exact)
 * or per value of the item (the affine op); division by c is multiplication by 1/c (within an
 * ulp of the quotient).
 */
function readArithmetic(r: OnnxReader): void {
  const op = r.opType;
  if (r.inputCount !== 2) r.fail(`takes two inputs, has ${r.inputCount}`);
  // Opsets before 7 broadcast only where told, along an axis; ONNX's later rule is NumPy's.
  if (r.opset < 7 && r.attrInt("broadcast", 0) === 1 && r.hasAttr("axis"))
    r.fail("the legacy broadcast along an axis is not supported");
  const [c0, c1] = [r.isConstant(0), r.isConstant(1)];
  if (!c0 && !c1) {
    const [a, b] = [r.value(0), r.value(1)];
    if (op === "Add") r.emit("add", [a, b], {});
    else if (op === "Mul") r.emit("mul", [a, b], {});
    else if (op === "Sub") r.emit("add", [a, r.emit("neg", [b], {})], {});
    else r.emit("div", [a, b], {});
    return;
  }
  const k = c0 ? 0 : 1;
  const x = r.value(1 - k);
  const { values: c, perChannel } = constantOperand(r, k, x);
  const kind = perChannel ? "scale" : "affine";
  const ones = new Float32Array(c.length).fill(1);
  const zeros = new Float32Array(c.length);
  const negate = (v: Float32Array) => v.map((e) => -e);
  const apply = (w: Float32Array, b: Float32Array, input = x) => {
    r.note(`${op} by a constant as ${kind}`);
    r.emit(kind, [input], {}, [w, b]);
  };
  if (op === "Add") apply(ones, c);
  else if (op === "Mul") apply(c, zeros);
  else if (op === "Sub") k === 1 ? apply(ones, negate(c)) : apply(negate(ones), c);
  else if (k === 1)
    apply(
      c.map((v) => Math.fround(1 / v)),
      zeros,
    );
  else apply(c, zeros, r.emit("reciprocal", [x], {}));
}

/** Sum of one value is that value; of more, their sum (left to right, as ONNX adds). */
function readSum(r: OnnxReader): void {
  const values = Array.from({ length: r.inputCount }, (_, i) => r.value(i));
  if (values.length === 1) r.alias();
  else r.emit("add", values, {});
}

/** Mean: the sum times 1/n (within an ulp of ONNX's sum / n). */
function readMean(r: OnnxReader): void {
  const values = Array.from({ length: r.inputCount }, (_, i) => r.value(i));
  if (values.length === 1) return r.alias();
  const sum = r.emit("add", values, {});
  const channels = r.shapeOf(values[0]!)[0] ?? 1;
  r.note("Mean as a sum and a scale");
  const n = values.length;
  r.emit("scale", [sum], {}, [
    new Float32Array(channels).fill(Math.fround(1 / n)),
    new Float32Array(channels),
  ]);
}

/**
 * Max and Min of several values. Constant operands must be single values (they fold into one
 * bound, then Max(x, c) is clip(min=c) and Min(x, c) clip(max=c): TensorFlow's relu6 as
 * Minimum(Relu(x), 6)); the computed ones merge.
 */
function readMaxMin(r: OnnxReader): void {
  const max = r.opType === "Max";
  const computed: string[] = [];
  const bounds: number[] = [];
  for (let i = 0; i < r.inputCount; i++) {
    if (!r.isConstant(i)) {
      computed.push(r.value(i));
      continue;
    }
    const c = r.constant(i);
    if (c.data.length !== 1)
      r.fail(
        `a constant operand (${formatShape(c.dims)}) is supported only as one value, not per element`,
      );
    bounds.push(c.data[0]!);
  }
  if (computed.length === 0) r.fail("has no computed operand"); // (constants alone fold)
  const merged =
    computed.length === 1 ? computed[0]! : r.emit(max ? "maximum" : "minimum", computed, {});
  if (bounds.length === 0) {
    if (computed.length === 1) r.alias();
    return;
  }
  const bound = max ? Math.max(...bounds) : Math.min(...bounds);
  r.note(`${r.opType} with a constant as clip`);
  r.emit("clip", [merged], max ? { min: bound, max: noBound } : { min: -noBound, max: bound });
}

const binaryCost = (node: OpNode<unknown>, inputs: readonly Shape[]) =>
  perOutput(Math.max(inputs.length - 1, 1))(node);

type Merge = "add" | "mul" | "maximum" | "minimum" | "div";

/** What tells one merge from another: its arithmetic, arity, ONNX side and `.cnn` doc. */
interface MergeSpec {
  readonly f: (a: number, b: number) => number;
  /** d f / d a and d f / d b (a tie of maximum or minimum goes to the first operand). */
  readonly partials: (a: number, b: number) => readonly [number, number];
  readonly arity: "many" | 2;
  /** The ONNX op it exports as; `variadic`: one node takes every operand (else a chain). */
  readonly onnx: string;
  readonly variadic: boolean;
  readonly readers: Readonly<Record<string, (r: OnnxReader) => void>>;
}

const merges: Readonly<Record<Merge, MergeSpec>> = {
  add: {
    f: (a, b) => a + b,
    partials: () => [1, 1],
    arity: "many",
    onnx: "Add",
    variadic: false,
    readers: { Add: readArithmetic, Sub: readArithmetic, Sum: readSum, Mean: readMean },
  },
  mul: {
    f: (a, b) => a * b,
    partials: (a, b) => [b, a],
    arity: "many",
    onnx: "Mul",
    variadic: false,
    readers: { Mul: readArithmetic, Div: readArithmetic },
  },
  // NaN in, NaN out, as NumPy's maximum and ONNX's reference do (Math.max does too)
  maximum: {
    f: Math.max,
    partials: (a, b) => (a >= b ? [1, 0] : [0, 1]),
    arity: "many",
    onnx: "Max",
    variadic: true,
    readers: { Max: readMaxMin },
  },
  minimum: {
    f: Math.min,
    partials: (a, b) => (a <= b ? [1, 0] : [0, 1]),
    arity: "many",
    onnx: "Min",
    variadic: true,
    readers: { Min: readMaxMin },
  },
  div: {
    f: (a, b) => a / b,
    partials: (a, b) => [1 / b, -a / (b * b)],
    arity: 2,
    onnx: "Div",
    variadic: false,
    readers: {},
  },
};

/** A merge: its operands broadcast together, a post-activation fused in. */
function broadcastOp(op: Merge): OpDef<PostAct> {
  const spec = merges[op];
  return {
    attrs: postActAttrs,
    defaults: postActDefaults,
    arity: spec.arity,
    weights: () => [],
    infer: (_, inputs) => broadcast(inputs),
    reference: (node, inputs, ctx) => broadcastBinary(node, inputs, ctx, spec.f),
    grad: {
      backward: (node, inputs, ctx) => broadcastBackward(node, inputs, ctx, spec),
      // Operands of the output's shape take add's and mul's gradients directly; any other
      // (a broadcast operand; maximum, minimum, div) the fold's chain of partials, gathered
      // over the output elements it reaches.
      emitBackward(node, e) {
        const per = elementCount(node.shape);
        const dy = e.grad(node.name)!;
        const simple = e.inShapes.every((s) => elementCount(s) === per);
        node.inputs.forEach((v, k) => {
          const dx = e.grad(v);
          if (!dx) return;
          const others = node.inputs.filter((_, j) => j !== k);
          if (simple && op === "add") e.emit(accumulate(dy, dx, per));
          else if (simple && op === "mul") e.emit(mulGrad(dy, others, dx, per));
          else e.emit(mergeGrad(op, dy, node.inputs, e.inShapes, node.shape, k, dx));
        });
      },
    },
    cost: binaryCost,
    receptiveField: (_, inputs) => merged(inputs),
    traits: {
      family: "merge",
      fusedActivation: "post",
      inPlace: true,
      merge: true,
      broadcast: true,
      anyLayout: true,
    },
    emit: (node, e) => emitBroadcast(node, op, e),
    toOnnx: (node, w) =>
      spec.variadic ? void w.node(spec.onnx, node.inputs, node.name) : chain(spec.onnx, node, w),
    fromOnnx: spec.readers,
    cnn: { layers: {}, print: (node) => `${op}(${node.inputs.join(", ")})` },
  };
}

export const elementwiseOps: Family<ElementwiseFamily> = {
  add: broadcastOp("add"),
  mul: broadcastOp("mul"),
  maximum: broadcastOp("maximum"),
  minimum: broadcastOp("minimum"),
  div: broadcastOp("div"),
  prelu: {
    attrs: { shared: "bool" },
    arity: 1,
    // PyTorch starts every slope at 0.25; generated ones spread around it (0.05 to 0.45).
    weights: (a, [x]) => [
      { role: "weight", shape: [a.shared ? 1 : (x?.[0] ?? 0)], init: (u) => 0.05 + 0.4 * u() },
    ],
    infer(_, [x]) {
      if (!x || (x.length !== 3 && x.length !== 1)) {
        throw new ShapeError(`expects a [C, H, W] or [F] input, got ${formatShape(x ?? [])}`);
      }
      return x;
    },
    // y = x if x > 0 else slope_c * x
    reference(node, [x], ctx) {
      const slope = ctx.weights[0]!;
      const at = node.attrs.shared ? () => 0 : (ch: number) => ch;
      return channelwise(x!, ctx.inputShapes[0], (v, ch) => (v > 0 ? v : slope[at(ch)]! * v));
    },
    grad: {
      backward(node, [x], ctx) {
        const slope = ctx.weights[0]!;
        const dslope = new Float64Array(slope.length);
        const at = node.attrs.shared ? () => 0 : (ch: number) => ch;
        const dx = new Float64Array(x!.length);
        const c = ctx.inputShapes[0]?.[0] ?? 1;
        const inner = elementCount(ctx.inputShapes[0] ?? []) / c;
        for (let i = 0; i < x!.length; i++) {
          const ch = at(Math.floor(i / inner) % c);
          const v = x![i]!;
          dx[i] = v > 0 ? ctx.dy[i]! : ctx.dy[i]! * slope[ch]!;
          if (v <= 0) dslope[ch]! += ctx.dy[i]! * v;
        }
        return { inputs: [dx], weights: [dslope] };
      },
      emitBackward(node, e) {
        const shape = e.inShapes[0] ?? [];
        const c = shape[0] ?? 1;
        const inner = elementCount(shape) / c;
        const x = node.inputs[0]!;
        const dy = e.grad(node.name)!;
        const slope = node.weights[0]!;
        const dx = e.grad(x);
        const at = node.attrs.shared ? "0u" : "c";
        if (dx)
          e.emit(scaledGrad(x, dy, dx, slope, c, inner, `select(wt[${at}], 1.0, x[i] > 0.0)`));
        // one slope for all: one sum over every channel
        const [groups, per] = node.attrs.shared ? [1, c * inner] : [c, inner];
        e.emit(
          channelTermSum(
            x,
            dy,
            e.weightGrad(slope)!,
            groups,
            per,
            "select(0.0, g * xv, xv <= 0.0)",
          ),
        );
      },
    },
    cost: perOutput(2),
    receptiveField: pointwise,
    traits: { family: "activation", inPlace: true, anyLayout: true },
    emit(node, e) {
      const channels = node.shape[0] ?? 1;
      e.emit(
        preluKernel({
          input: node.inputs[0]!,
          output: e.output,
          slope: e.weight(node.weights[0]!),
          channels,
          inner: elementCount(node.shape) / channels,
          shared: node.attrs.shared,
          inPlace: e.inPlace !== undefined,
          layout: e.layout(e.output),
        }),
      );
    },
    toOnnx(node, w) {
      const x = node.inputs[0]!;
      const data = w.weight(node.weights[0]!);
      // [C] would broadcast along W: the slope goes in as [C, 1, 1] over a feature map.
      const dims =
        node.shape.length === 3 && !node.attrs.shared ? [data.length, 1, 1] : [data.length];
      const slope = w.floats(`${node.name}.slope`, dims, data);
      w.node("PRelu", [x, slope], node.name);
    },
    fromOnnx: { PRelu: readPRelu },
    cnn: {
      layers: {
        prelu: {
          doc: "x if x > 0 else a * x, the slope a learned per channel (shared=true: one for all)",
          params: [{ name: "shared", kind: "bool", default: false }],
          lower: (a) => ({ op: "prelu", attrs: { shared: a.bool("shared") } }),
        },
      },
      print: (node) => `prelu(shared=${node.attrs.shared})`,
    },
  },
  clip: {
    attrs: { min: "float", max: "float" },
    arity: 1,
    weights: () => [],
    infer: (_, [x]) => x ?? [],
    reference: (node, [x]) => x!.map((v) => clipValue(v, node.attrs.min, node.attrs.max)),
    // inside the bounds the gradient passes; at or beyond them it stops (PyTorch's clamp)
    grad: {
      emitBackward(node, e) {
        const x = node.inputs[0]!;
        const dx = e.grad(x);
        const bound = (v: number) =>
          f32(Math.min(Math.max(v, -3.4028234663852886e38), 3.4028234663852886e38));
        const inside = `select(0.0, 1.0, x[i] > ${bound(node.attrs.min)} && x[i] < ${bound(node.attrs.max)})`;
        if (dx)
          e.emit(
            scaledGrad(x, e.grad(node.name)!, dx, undefined, 1, elementCount(node.shape), inside),
          );
      },
      backward: (node, [x], ctx) =>
        onlyInputs(
          elementwiseBackward(x!, ctx.dy, (v) =>
            v > node.attrs.min && v < node.attrs.max ? 1 : 0,
          ),
        ),
    },
    cost: perOutput(2),
    receptiveField: pointwise,
    traits: { family: "activation", inPlace: true, anyLayout: true },
    emit: (node, e) =>
      e.emit(
        clipKernel({
          input: node.inputs[0]!,
          output: e.output,
          perBatch: elementCount(node.shape),
          lo: node.attrs.min <= -noBound ? -Infinity : node.attrs.min,
          hi: node.attrs.max >= noBound ? Infinity : node.attrs.max,
          inPlace: e.inPlace !== undefined,
        }),
      ),
    toOnnx: (node, w) =>
      void w.node(
        "Clip",
        [
          node.inputs[0]!,
          node.attrs.min <= -noBound ? "" : w.floats(`${node.name}.min`, [], [node.attrs.min]),
          node.attrs.max >= noBound ? "" : w.floats(`${node.name}.max`, [], [node.attrs.max]),
        ],
        node.name,
      ),
    // read by relu6's Clip reader (activations.ts), which keeps relu and relu6 for their bounds
    fromOnnx: {},
    cnn: {
      layers: {
        clip: {
          doc: "min(max(x, min), max)",
          params: [
            { name: "min", kind: "float", default: -noBound },
            { name: "max", kind: "float", default: noBound },
          ],
          lower: (a) => ({ op: "clip", attrs: { min: a.float("min"), max: a.float("max") } }),
        },
      },
      print: ({ attrs: a }) => `clip(min=${num(a.min)}, max=${num(a.max)})`,
    },
  },
  affine: {
    attrs: {},
    arity: 1,
    weights: (_, [x]) => itemAffineWeights(x),
    infer: (_, [x]) => x ?? [],
    reference(_, [x], ctx) {
      const [weight, bias] = ctx.weights as [Float32Array, Float32Array];
      const per = weight.length;
      return x!.map((v, i) => v * weight[i % per]! + bias[i % per]!);
    },
    grad: {
      backward(_, [x], ctx) {
        const weight = ctx.weights[0]!;
        const per = weight.length;
        const dw = new Float64Array(per);
        const db = new Float64Array(per);
        const dx = ctx.dy.map((g, i) => g * weight[i % per]!);
        ctx.dy.forEach((g, i) => {
          dw[i % per]! += g * x![i]!;
          db[i % per]! += g;
        });
        return { inputs: [dx], weights: [dw, db] };
      },
      emitBackward(node, e) {
        const [w, b] = node.weights as [string, string];
        const per = elementCount(node.shape);
        const x = node.inputs[0]!;
        const dy = e.grad(node.name)!;
        const dx = e.grad(x);
        if (dx) e.emit(scaledGrad(x, dy, dx, w, 1, per, "wt[i % INNER]"));
        e.emit(elementTermSum(x, dy, e.weightGrad(w)!, per, "dy[j] * x[j]"));
        e.emit(elementTermSum(undefined, dy, e.weightGrad(b)!, per, "dy[j]"));
      },
    },
    cost: perOutput(2),
    receptiveField: pointwise,
    // NCHW (its weights are in the item's order): no anyLayout
    traits: { family: "norm", inPlace: true },
    emit: (node, e) =>
      e.emit(
        affineKernel({
          input: node.inputs[0]!,
          output: e.output,
          perBatch: elementCount(node.shape),
          weights: [e.weight(node.weights[0]!), e.weight(node.weights[1]!)],
          inPlace: e.inPlace !== undefined,
        }),
      ),
    toOnnx(node, w) {
      const m = w.node(
        "Mul",
        [node.inputs[0]!, w.floats(`${node.name}.factor`, node.shape, w.weight(node.weights[0]!))],
        `${node.name}.mul`,
      );
      w.node(
        "Add",
        [m, w.floats(`${node.name}.shift`, node.shape, w.weight(node.weights[1]!))],
        node.name,
      );
    },
    // read by the Add, Sub, Mul and Div readers, where a constant operand varies along H or W
    fromOnnx: {},
    cnn: {
      layers: {
        affine: {
          doc: "x * weight + bias per value (weight and bias of the input's shape)",
          params: [],
          lower: () => ({ op: "affine", attrs: {} }),
        },
      },
      print: () => "affine",
    },
  },
};
