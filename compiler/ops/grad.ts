// Backward passes that several op families share: the adjoints of data-movement and linear
// resampling ops, taken from the op's own float64 reference (so the gradient cannot disagree
// with the forward pass), the normalisations' common gradient, and fan-in helpers.
import { elementCount, type Shape } from "../ir/graph.js";
import { dims3 } from "./shape-rules.js";
import { adjointKernel } from "../train/kernels.js";
import type { TrainEmitter } from "./emit.js";
import type {
  BackwardContext,
  GradDef,
  Gradients,
  OpDef,
  OpNode,
  ReferenceContext,
  Tensor,
} from "./types.js";

/** One sparse matrix column per input element: the outputs it reaches and the weights. */
interface Adjoint {
  readonly start: Int32Array;
  readonly to: Int32Array;
  readonly weight: Float64Array;
}

const gathers = new WeakMap<object, Map<string, Int32Array>>();
const spatials = new WeakMap<object, Map<string, Adjoint>>();

function cached<T>(
  store: WeakMap<object, Map<string, T>>,
  node: object,
  key: string,
  make: () => T,
) {
  let m = store.get(node);
  if (!m) store.set(node, (m = new Map()));
  let v = m.get(key);
  if (v === undefined) m.set(key, (v = make()));
  return v;
}

/**
 * The gradient of an op whose every output element is a copy of one input element or a
 * constant (reshape, transpose, slice, concat, pixel shuffles, padding, nearest resampling):
 * its reference, run once on the element indices (input k's element i encoded as a distinct
 * integer, exact in float64), says where each output came from; the gradient scatters back.
 * `run` must give a constant border the value 0.
 */
export function gatherBackward(
  node: object,
  run: (inputs: readonly Tensor[]) => Tensor,
  inputs: readonly Tensor[],
  dy: Tensor,
): Tensor[] {
  const sizes = inputs.map((t) => t.length);
  const source = cached(gathers, node, sizes.join(","), () => {
    let base = 0;
    const encoded = inputs.map((t) => {
      const e = new Float64Array(t.length);
      for (let i = 0; i < e.length; i++) e[i] = base + i + 1;
      base += t.length;
      return e;
    });
    const y = run(encoded);
    const src = new Int32Array(y.length);
    for (let o = 0; o < y.length; o++) {
      const v = y[o]!;
      if (v !== 0 && !(Number.isInteger(v) && v >= 1 && v <= base))
        throw new Error(`internal: output ${o} of a gather op is not a copy (${v})`);
      src[o] = v - 1;
    }
    return src;
  });
  const flat = new Float64Array(sizes.reduce((a, b) => a + b, 0));
  for (let o = 0; o < source.length; o++) if (source[o]! >= 0) flat[source[o]!]! += dy[o]!;
  let at = 0;
  return sizes.map((n) => flat.slice(at, (at += n)));
}

/**
 * The gradient of an op that maps each channel's [H, W] map by one linear operator, the same
 * for every channel (average pooling, bilinear resampling, zero padding): the operator's
 * columns, found by running the reference on stacked unit maps (channel j the j-th pixel), then
 * its transpose applied to the output gradient.
 */
export function spatialBackward(
  node: object,
  run: (x: Tensor, ctx: ReferenceContext) => Tensor,
  ctx: BackwardContext,
  outShape: Shape,
): Tensor {
  const [c, h, w] = dims3(ctx.inputShapes[0]);
  const hw = h * w;
  const out = elementCount(outShape) / (outShape[0] ?? 1);
  const adj = spatialAdjoint(node, run, [h, w], out, ctx.weights);
  const dx = new Float64Array(ctx.batch * c * hw);
  for (let m = 0; m < ctx.batch * c; m++) {
    for (let i = 0; i < hw; i++) {
      let acc = 0;
      for (let e = adj.start[i]!; e < adj.start[i + 1]!; e++)
        acc += adj.weight[e]! * ctx.dy[m * out + adj.to[e]!]!;
      dx[m * hw + i] = acc;
    }
  }
  return dx;
}

/** The transpose of a per-channel linear map of [h, w] to `out` pixels, from its reference. */
export function spatialAdjoint(
  node: object,
  run: (x: Tensor, ctx: ReferenceContext) => Tensor,
  [h, w]: readonly [number, number],
  out: number,
  weights: readonly Float32Array[],
): Adjoint {
  const hw = h * w;
  return cached(spatials, node, `${h}x${w}`, () => {
    const start = new Int32Array(hw + 1);
    const to: number[] = [];
    const weight: number[] = [];
    const chunk = Math.max(1, Math.min(hw, Math.floor(4e6 / Math.max(hw, out))));
    for (let i0 = 0; i0 < hw; i0 += chunk) {
      const k = Math.min(chunk, hw - i0);
      const probe = new Float64Array(k * hw);
      for (let j = 0; j < k; j++) probe[j * hw + i0 + j] = 1;
      const y = run(probe, { batch: 1, inputShapes: [[k, h, w]], weights });
      for (let j = 0; j < k; j++) {
        for (let o = 0; o < out; o++) {
          const v = y[j * out + o]!;
          if (v !== 0) {
            to.push(o);
            weight.push(v);
          }
        }
        start[i0 + j + 1] = to.length;
      }
    }
    return { start, to: Int32Array.from(to), weight: Float64Array.from(weight) };
  });
}

/**
 * Where each input element of a copying op went, per item: the outputs that copied it (an
 * adjoint whose weights are all 1), from the op's reference run on one item's indices.
 */
export function gatherAdjoint(
  node: object,
  run: (inputs: readonly Tensor[]) => Tensor,
  inSize: number,
): Adjoint {
  const encoded = new Float64Array(inSize);
  for (let i = 0; i < inSize; i++) encoded[i] = i + 1;
  const y = run([encoded]);
  const count = new Int32Array(inSize + 1);
  for (let o = 0; o < y.length; o++) if (y[o]! > 0) count[y[o]!]!++;
  const start = new Int32Array(inSize + 1);
  for (let i = 0; i < inSize; i++) start[i + 1] = start[i]! + count[i + 1]!;
  const to = new Int32Array(start[inSize]!);
  const fill = start.slice(0, inSize);
  for (let o = 0; o < y.length; o++) if (y[o]! > 0) to[fill[y[o]! - 1]!++] = o;
  void node;
  return { start, to, weight: new Float64Array(to.length).fill(1) };
}

/**
 * Where normalisations group their elements: `groups` sets of `size` elements, element k of
 * group g at `index(g, k)`, and the affine parameter it takes at `param(g, k)`.
 */
export interface NormGroups {
  readonly groups: number;
  readonly size: number;
  index(g: number, k: number): number;
  param(g: number, k: number): number;
}

/**
 * The gradient of y = (x - mean) / sqrt(var + eps) * gamma + beta, the statistics over each
 * group (biased variance): dx = r (dxh - mean(dxh) - xh mean(dxh xh)), dxh = dy gamma.
 */
export function normBackward(
  x: Tensor,
  dy: Tensor,
  gamma: ArrayLike<number>,
  eps: number,
  at: NormGroups,
): { dx: Tensor; dgamma: Tensor; dbeta: Tensor } {
  const dx = new Float64Array(x.length);
  const dgamma = new Float64Array(gamma.length);
  const dbeta = new Float64Array(gamma.length);
  const { size } = at;
  const xh = new Float64Array(size);
  const dxh = new Float64Array(size);
  for (let g = 0; g < at.groups; g++) {
    let mean = 0;
    for (let k = 0; k < size; k++) mean += x[at.index(g, k)]!;
    mean /= size;
    let variance = 0;
    for (let k = 0; k < size; k++) variance += (x[at.index(g, k)]! - mean) ** 2;
    const r = 1 / Math.sqrt(variance / size + eps);
    let sum = 0;
    let dot = 0;
    for (let k = 0; k < size; k++) {
      const i = at.index(g, k);
      const p = at.param(g, k);
      xh[k] = (x[i]! - mean) * r;
      dxh[k] = dy[i]! * gamma[p]!;
      dgamma[p]! += dy[i]! * xh[k]!;
      dbeta[p]! += dy[i]!;
      sum += dxh[k]!;
      dot += dxh[k]! * xh[k]!;
    }
    for (let k = 0; k < size; k++)
      dx[at.index(g, k)] = r * (dxh[k]! - sum / size - (xh[k]! * dot) / size);
  }
  return { dx, dgamma, dbeta };
}

/** An op without weights whose inputs take these gradients. */
export const onlyInputs = (...inputs: (Tensor | undefined)[]): Gradients => ({
  inputs,
  weights: [],
});

/** dy * f'(x) element by element. */
export function elementwiseBackward(
  x: Tensor,
  dy: Tensor,
  derivative: (v: number) => number,
): Tensor {
  const dx = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) dx[i] = dy[i]! * derivative(x[i]!);
  return dx;
}

/** The sum of dy over each channel (a per-channel bias or shift's gradient). */
export function channelSums(dy: Tensor, shape: Shape | undefined, batch: number): Tensor {
  const c = shape?.[0] ?? 1;
  const inner = elementCount(shape ?? []) / c;
  const out = new Float64Array(c);
  for (let n = 0; n < batch; n++)
    for (let ch = 0; ch < c; ch++) {
      let acc = 0;
      const base = (n * c + ch) * inner;
      for (let i = 0; i < inner; i++) acc += dy[base + i]!;
      out[ch]! += acc;
    }
  return out;
}

/** The gradient of a copying op (see `gatherBackward`), from its definition's reference. */
export function gatherGrad<A>(def: () => OpDef<A>): GradDef<A> {
  return {
    backward: (node, inputs, ctx) =>
      onlyInputs(...gatherBackward(node, (ins) => def().reference(node, ins, ctx), inputs, ctx.dy)),
    // WebGPU (one input): each input element sums the gradients of the outputs that copied it
    emitBackward(node, e) {
      const x = node.inputs[0]!;
      const dx = e.grad(x);
      if (!dx) return;
      const inSize = elementCount(e.inShapes[0] ?? []);
      const ctx = { batch: 1, inputShapes: e.inShapes, weights: [] };
      const adj = gatherAdjoint(node, (ins) => def().reference(node, ins, ctx), inSize);
      emitAdjoint(e, adj, node.name, dx, 1, inSize, elementCount(node.shape), false);
    },
  };
}

/**
 * The gradient of an op that maps each channel's map by one linear operator (see
 * `spatialBackward`); `linear` gives the node whose reference is that operator (a constant
 * border value made 0).
 */
export function spatialGrad<A>(
  def: () => OpDef<A>,
  linear: (node: OpNode<A>) => OpNode<A> = (n) => n,
): GradDef<A> {
  const run = (node: OpNode<A>) => (x: Tensor, ctx: ReferenceContext) =>
    def().reference(linear(node), [x], ctx);
  return {
    backward: (node, _, ctx) => onlyInputs(spatialBackward(node, run(node), ctx, node.shape)),
    // WebGPU: the operator's transpose per channel, its table made here from the reference
    emitBackward(node, e) {
      const dx = e.grad(node.inputs[0]!);
      if (!dx) return;
      const [c, h, w] = dims3(e.inShapes[0]);
      const out = elementCount(node.shape) / c;
      const adj = spatialAdjoint(node, run(node), [h, w], out, []);
      emitAdjoint(e, adj, node.name, dx, c, h * w, out, true);
    },
  };
}

/** The kernel applying an adjoint's transpose, its tables as constant buffers. */
function emitAdjoint(
  e: TrainEmitter,
  adj: Adjoint,
  output: string,
  dx: string,
  groups: number,
  inSize: number,
  outSize: number,
  weighted: boolean,
): void {
  const tables = {
    start: e.constant("adjoint-start", Float32Array.from(adj.start)),
    to: e.constant("adjoint-to", Float32Array.from(adj.to)),
    ...(weighted ? { weight: e.constant("adjoint-weight", Float32Array.from(adj.weight)) } : {}),
  };
  e.emit(adjointKernel(e.grad(output)!, dx, tables, groups, inSize, outSize));
}

/** The gradient of an op whose output is its input's values unchanged. */
export const identityGrad: GradDef<unknown> = { backward: (_, __, ctx) => onlyInputs(ctx.dy) };
