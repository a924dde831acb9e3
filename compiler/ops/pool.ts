// The pooling family: max and average pooling over windows (PyTorch's definitions, ceil mode
// and count_include_pad included) and global pooling over the whole map. Each may carry a
// fused post-activation (fuse-activation sets `act`).
import { globalPoolGrad, poolGrad } from "../train/kernels.js";
import type { TrainEmitter } from "./emit.js";
import { elementCount, formatShape, type Shape } from "../ir/graph.js";
import { globalPoolKernel, poolKernel } from "../codegen/direct.js";
import { epilogueActs, type EpilogueAct } from "./activations.js";
import { fusedActivation, type Emitter } from "./emit.js";
import { perOutput, wholeMap, windowed } from "./field.js";
import { explicitPadding, list, type Args, type ParamSpec } from "./language.js";
import { int, ints, type OnnxReader } from "./onnx.js";
import { checked, dims3, pairText, slidingWindow, spatial } from "./shape-rules.js";
import {
  ShapeError,
  type Cost,
  type Family,
  type OpDef,
  type OpNode,
  type Pair,
  type Quad,
  type BackwardContext,
  type ReferenceContext,
  type Tensor,
} from "./types.js";
import { onlyInputs, spatialBackward } from "./grad.js";

/**
 * An activation applied to the result of a pooling, batch norm or elementwise op in the same
 * kernel (set by fuse-activation). Optional: the front end never writes it; absent means none.
 */
export interface PostAct {
  readonly act?: EpilogueAct;
  readonly alpha?: number;
}
export const postActAttrs = { act: epilogueActs, alpha: "float" } as const;
export const postActDefaults = { act: "none", alpha: 0 } as const;

interface PoolAttrs {
  readonly k: Pair;
  readonly s: Pair;
  readonly p: Quad;
  readonly ceil: boolean;
}

export interface PoolFamily {
  /** `d`: dilation, the taps of a window `d` apart (ONNX's MaxPool dilations). */
  maxpool2d: PoolAttrs & { readonly d: Pair } & PostAct;
  /** `count_pad`: padded zeros count in the divisor (PyTorch's count_include_pad). */
  avgpool2d: PoolAttrs & { readonly count_pad: boolean } & PostAct;
  globalavgpool: PostAct;
  globalmaxpool: PostAct;
}

const undilated: Pair = [1, 1];

/**
 * The output of a pooling; every window must take at least one real pixel (a window of padding
 * alone has no maximum and no average), as padding smaller than the window ensures when the
 * window is not dilated.
 */
function inferPool(attrs: PoolAttrs, inputs: readonly Shape[], d = undilated): Shape {
  const [c, h, w] = spatial(inputs[0]);
  const [t, l, b, r] = attrs.p;
  if (Math.max(t, b) >= attrs.k[0] || Math.max(l, r) >= attrs.k[1]) {
    throw new ShapeError(
      `padding ${formatShape(attrs.p)} must be smaller than the window ${pairText(...attrs.k)}`,
    );
  }
  const [ho, wo] = slidingWindow("window", inputs[0], attrs.k, attrs.s, attrs.p, d, attrs.ceil);
  const empty = (size: number, k: number, s: number, p: number, d: number, n: number) => {
    for (let o = 0; o < n; o++) {
      let real = false;
      for (let j = 0; j < k && !real; j++)
        real = o * s - p + j * d >= 0 && o * s - p + j * d < size;
      if (!real) return o;
    }
    return -1;
  };
  const row = empty(h, attrs.k[0], attrs.s[0], t, d[0], ho);
  const col = empty(w, attrs.k[1], attrs.s[1], l, d[1], wo);
  if (row >= 0 || col >= 0)
    throw new ShapeError(
      `the window ${pairText(...attrs.k)} dilated by ${pairText(...d)} takes only padding at output ${row >= 0 ? `row ${row}` : `column ${col}`}`,
    );
  return checked([c, ho, wo]);
}

function inferGlobal(_: PostAct, inputs: readonly Shape[]): Shape {
  const [c] = spatial(inputs[0]);
  return [c, 1, 1];
}

/**
 * Max and average pooling, PyTorch's definitions: max ignores padding; average divides by the
 * window clipped to the padded input when `count_pad`, else by the real pixels it covers.
 */
function pool(
  node: OpNode<PoolAttrs>,
  max: boolean,
  countPad: boolean,
  x: Tensor,
  ctx: ReferenceContext,
  d = undilated,
): Tensor {
  const [c, h, wd] = dims3(ctx.inputShapes[0]);
  const [, ho, wo] = dims3(node.shape);
  const { k, s, p } = node.attrs;
  if (d[0] > 1 || d[1] > 1) return dilatedMax(node.attrs, d, x, ctx.batch * c, [h, wd], [ho, wo]);
  const out = new Float64Array(ctx.batch * c * ho * wo);
  for (let nc = 0; nc < ctx.batch * c; nc++) {
    for (let oy = 0; oy < ho; oy++) {
      for (let ox = 0; ox < wo; ox++) {
        const y0 = oy * s[0] - p[0];
        const x0 = ox * s[1] - p[1];
        const y1 = Math.min(y0 + k[0], h + p[2]);
        const x1 = Math.min(x0 + k[1], wd + p[3]);
        const padded = (y1 - y0) * (x1 - x0);
        let acc = max ? -Infinity : 0;
        let count = 0;
        for (let iy = Math.max(y0, 0); iy < Math.min(y1, h); iy++) {
          for (let ix = Math.max(x0, 0); ix < Math.min(x1, wd); ix++) {
            const v = x[(nc * h + iy) * wd + ix]!;
            acc = max ? Math.max(acc, v) : acc + v;
            count++;
          }
        }
        out[(nc * ho + oy) * wo + ox] = max ? acc : acc / (countPad ? padded : count);
      }
    }
  }
  return out;
}

/** Max pooling over the taps y0 + i * d, x0 + j * d that fall inside the input. */
function dilatedMax(
  a: PoolAttrs,
  d: Pair,
  x: Tensor,
  maps: number,
  [h, w]: Pair,
  [ho, wo]: Pair,
): Tensor {
  const out = new Float64Array(maps * ho * wo);
  for (let m = 0; m < maps; m++) {
    for (let oy = 0; oy < ho; oy++) {
      for (let ox = 0; ox < wo; ox++) {
        let acc = -Infinity;
        for (let i = 0; i < a.k[0]; i++) {
          const iy = oy * a.s[0] - a.p[0] + i * d[0];
          if (iy < 0 || iy >= h) continue;
          for (let j = 0; j < a.k[1]; j++) {
            const ix = ox * a.s[1] - a.p[1] + j * d[1];
            if (ix >= 0 && ix < w) acc = Math.max(acc, x[(m * h + iy) * w + ix]!);
          }
        }
        out[(m * ho + oy) * wo + ox] = acc;
      }
    }
  }
  return out;
}

function globalPool(max: boolean, x: Tensor, ctx: ReferenceContext): Tensor {
  const [c, h, w] = dims3(ctx.inputShapes[0]);
  const out = new Float64Array(ctx.batch * c);
  for (let i = 0; i < ctx.batch * c; i++) {
    let acc = max ? -Infinity : 0;
    for (let j = 0; j < h * w; j++)
      acc = max ? Math.max(acc, x[i * h * w + j]!) : acc + x[i * h * w + j]!;
    out[i] = max ? acc : acc / (h * w);
  }
  return out;
}

/**
 * The gradient of max pooling: each output's gradient goes to the first of its taps holding
 * the maximum (PyTorch's choice where several do).
 */
function maxPoolBackward(
  node: OpNode<PoolAttrs>,
  d: Pair,
  x: Tensor,
  ctx: BackwardContext,
): Tensor {
  const [c, h, w] = dims3(ctx.inputShapes[0]);
  const [, ho, wo] = dims3(node.shape);
  const { k, s, p } = node.attrs;
  const dx = new Float64Array(x.length);
  for (let m = 0; m < ctx.batch * c; m++) {
    for (let oy = 0; oy < ho; oy++) {
      for (let ox = 0; ox < wo; ox++) {
        let best = -Infinity;
        let at = -1;
        for (let i = 0; i < k[0]; i++) {
          const iy = oy * s[0] - p[0] + i * d[0];
          if (iy < 0 || iy >= h) continue;
          for (let j = 0; j < k[1]; j++) {
            const ix = ox * s[1] - p[1] + j * d[1];
            if (ix < 0 || ix >= w) continue;
            const v = x[(m * h + iy) * w + ix]!;
            if (v > best || at < 0) [best, at] = [v, (m * h + iy) * w + ix];
          }
        }
        dx[at]! += ctx.dy[(m * ho + oy) * wo + ox]!;
      }
    }
  }
  return dx;
}

/** The gradient of global max pooling: to the first maximum of each map. */
function globalMaxBackward(x: Tensor, ctx: BackwardContext): Tensor {
  const [, h, w] = dims3(ctx.inputShapes[0]);
  const dx = new Float64Array(x.length);
  for (let m = 0; m < ctx.dy.length; m++) {
    let at = m * h * w;
    for (let j = 1; j < h * w; j++) if (x[m * h * w + j]! > x[at]!) at = m * h * w + j;
    dx[at] = ctx.dy[m]!;
  }
  return dx;
}

/** The WebGPU gradient of a window pooling. */
function emitPoolGrad(
  node: OpNode<PoolAttrs>,
  e: TrainEmitter,
  kind: "max" | "avg",
  countPad: boolean,
  d: Pair,
): void {
  const x = node.inputs[0]!;
  const dx = e.grad(x);
  if (!dx) return;
  const a = node.attrs;
  const g = {
    x,
    dy: e.grad(node.name)!,
    inShape: dims3(e.inShapes[0]),
    outShape: dims3(node.shape),
    k: a.k,
    s: a.s,
    p: a.p,
    d,
  };
  e.emit(poolGrad(g, dx, kind, countPad));
}

/** Each output reads its window: k x k inputs (padding included, as the papers count). */
function windowConnections(node: OpNode<PoolAttrs>): number {
  return elementCount(node.shape) * node.attrs.k[0] * node.attrs.k[1];
}

/** One compare or add per window element of every output. */
function windowCost(node: OpNode<PoolAttrs>): Cost {
  return { macs: 0, flops: elementCount(node.shape) * node.attrs.k[0] * node.attrs.k[1] };
}

function emitPool(
  node: OpNode<PoolAttrs & PostAct>,
  max: boolean,
  countPad: boolean,
  e: Emitter,
  d = undilated,
): void {
  const a = node.attrs;
  const x = node.inputs[0]!;
  e.emit(
    poolKernel({
      input: x,
      output: e.output,
      kind: max ? "max" : "avg",
      countPad,
      inShape: dims3(e.inShapes[0]),
      outShape: dims3(node.shape),
      k: a.k,
      s: a.s,
      p: a.p,
      d,
      act: fusedActivation(a),
      inLayout: e.layout(x),
      outLayout: e.layout(e.output),
    }),
  );
}

function emitGlobal(node: OpNode<PostAct>, max: boolean, e: Emitter): void {
  const x = node.inputs[0]!;
  e.emit(
    globalPoolKernel({
      input: x,
      output: e.output,
      kind: max ? "max" : "avg",
      inShape: dims3(e.inShapes[0]),
      act: fusedActivation(node.attrs),
      inLayout: e.layout(x),
      subgroups: e.target === "gpu",
    }),
  );
}

function poolOnnxAttrs(a: PoolAttrs, d = undilated) {
  return {
    kernel_shape: ints(a.k),
    strides: ints(a.s),
    pads: ints(a.p),
    ceil_mode: int(a.ceil ? 1 : 0),
    ...(d[0] > 1 || d[1] > 1 ? { dilations: ints(d) } : {}),
  };
}

function readPool(r: OnnxReader): void {
  const max = r.opType === "MaxPool";
  const d = r.pair("dilations", 1);
  // (AveragePool's dilations, opset 19: which taps count_include_pad counts is not settled)
  if (!max && (d[0] > 1 || d[1] > 1)) r.fail("dilated average pooling is not supported");
  const k = r.pair("kernel_shape", 1);
  const s = r.pair("strides", 1);
  const x = r.value(0);
  const attrs = { k, s, p: r.padding(k, s, d, x), ceil: r.attrInt("ceil_mode", 0) === 1 };
  if (max) r.emit("maxpool2d", [x], { ...attrs, d });
  else r.emit("avgpool2d", [x], { ...attrs, count_pad: r.attrInt("count_include_pad", 0) === 1 });
}

function poolParams(extra: readonly ParamSpec[]): readonly ParamSpec[] {
  return [
    { name: "kernel", kind: "pair" },
    { name: "stride", kind: "pair", default: (a) => a.pair("kernel") },
    { name: "pad", kind: "padding", default: { kind: "valid" } },
    { name: "ceil", kind: "bool", default: false },
    ...extra,
  ];
}

function poolAttrs(a: Args, input: Shape, d = undilated): PoolAttrs {
  const k = a.pair("kernel");
  const s = a.pair("stride");
  return { k, s, p: explicitPadding(a.padding("pad"), input, k, s, d), ceil: a.bool("ceil") };
}

/**
 * ReduceMean / ReduceMax over exactly the spatial axes (H and W; L of 1-D data) is global
 * pooling, with keepdims=0 a flatten after it. Other axes are refused.
 */
function readReduce(r: OnnxReader, op: "globalavgpool" | "globalmaxpool"): void {
  const x = r.value(0);
  const shape = r.shapeOf(x);
  const rank = shape.length + 1;
  // The axes are an input from opset 18 (ReduceMean, ReduceMax), an attribute before.
  const given =
    r.opset >= 18
      ? r.hasInput(1)
        ? Array.from(r.constant(1).data)
        : undefined
      : r.hasAttr("axes")
        ? r.attrInts("axes", [])
        : undefined;
  if (!given?.length && r.attrInt("noop_with_empty_axes", 0))
    r.fail("an empty reduction is not supported");
  const axes = (given?.length ? given : [...Array(rank).keys()]).map((a) => (a < 0 ? a + rank : a));
  const spatial = [...Array(rank).keys()].slice(2);
  const same = axes.length === spatial.length && spatial.every((a) => axes.includes(a));
  if (rank < 3 || !same)
    r.fail(
      `only a reduction over the spatial axes is supported (axes [${axes.join(", ")}], rank ${rank})`,
    );
  const keep = r.attrInt("keepdims", 1) === 1;
  r.note(`${r.opType} over H and W as ${op}`);
  const pooled = r.emit(op, [x], {});
  if (!keep) r.emit("flatten", [pooled], {});
}

/** Average or maximum over H and W, to [C, 1, 1]. */
function globalPoolOp(max: boolean): OpDef<PostAct> {
  const op = max ? "globalmaxpool" : "globalavgpool";
  const onnx = max ? "GlobalMaxPool" : "GlobalAveragePool";
  return {
    attrs: postActAttrs,
    defaults: postActDefaults,
    arity: 1,
    weights: () => [],
    infer: inferGlobal,
    // each output reads its channel's whole map
    connections: (_, [x]) => (x ? elementCount(x) : 0),
    reference: (_, [x], ctx) => globalPool(max, x!, ctx),
    grad: {
      backward: (node, [x], ctx) =>
        onlyInputs(
          max
            ? globalMaxBackward(x!, ctx)
            : spatialBackward(node, (v, c) => globalPool(false, v, c), ctx, node.shape),
        ),
      emitBackward(node, e) {
        const x = node.inputs[0]!;
        const dx = e.grad(x);
        const [c, h, w] = dims3(e.inShapes[0]);
        if (dx) e.emit(globalPoolGrad(x, node.name, e.grad(node.name)!, dx, c, h * w, max));
      },
    },
    cost: (node, [x]) => perOutput(1)({ shape: x ?? node.shape }),
    receptiveField: (_, [x], [shape]) => wholeMap(x!, shape),
    traits: { family: "pool", fusedActivation: "post", anyLayout: true },
    emit: (node, e) => emitGlobal(node, max, e),
    toOnnx: (node, w) => void w.node(onnx, [node.inputs[0]!], node.name),
    fromOnnx: {
      [onnx]: (r: OnnxReader) => void r.emit(op, [r.value(0)], {}),
      [max ? "ReduceMax" : "ReduceMean"]: (r: OnnxReader) => readReduce(r, op),
    },
    cnn: {
      layers: {
        [op]: {
          doc: max ? "maximum over H and W, to [C, 1, 1]" : "average over H and W, to [C, 1, 1]",
          params: [],
          lower: () => ({ op, attrs: {} }),
        },
      },
      print: () => op,
    },
  };
}

const poolAttrKinds = { k: "pair", s: "pair", p: "quad", ceil: "bool" } as const;

export const poolOps: Family<PoolFamily> = {
  maxpool2d: {
    attrs: { ...poolAttrKinds, d: "pair", ...postActAttrs },
    defaults: { ...postActDefaults, d: undilated },
    arity: 1,
    weights: () => [],
    infer: (a, inputs) => inferPool(a, inputs, a.d),
    connections: windowConnections,
    reference: (node, [x], ctx) => pool(node, true, false, x!, ctx, node.attrs.d),
    grad: {
      backward: (node, [x], ctx) => onlyInputs(maxPoolBackward(node, node.attrs.d, x!, ctx)),
      emitBackward: (node, e) => emitPoolGrad(node, e, "max", false, node.attrs.d),
    },
    cost: windowCost,
    receptiveField: (node, [x]) => windowed(x!, node.attrs.k, node.attrs.s, node.attrs.d),
    traits: { family: "pool", fusedActivation: "post", anyLayout: true },
    emit: (node, e) => emitPool(node, true, false, e, node.attrs.d),
    toOnnx: (node, w) =>
      void w.node("MaxPool", [node.inputs[0]!], node.name, poolOnnxAttrs(node.attrs, node.attrs.d)),
    fromOnnx: { MaxPool: readPool },
    cnn: {
      layers: {
        maxpool: {
          doc: "max pooling; dilation spaces a window's taps",
          params: poolParams([{ name: "dilation", kind: "pair", default: [1, 1] }]),
          lower: (a, site) => {
            const d = a.pair("dilation");
            return { op: "maxpool2d", attrs: { ...poolAttrs(a, site.input, d), d } };
          },
        },
      },
      print: ({ attrs: a }) =>
        `maxpool(${list(a.k)}, stride=${list(a.s)}, pad=${list(a.p)}, ceil=${a.ceil}${a.d[0] > 1 || a.d[1] > 1 ? `, dilation=${list(a.d)}` : ""})`,
    },
  },
  avgpool2d: {
    attrs: { ...poolAttrKinds, count_pad: "bool", ...postActAttrs },
    defaults: postActDefaults,
    arity: 1,
    weights: () => [],
    infer: (a, inputs) => inferPool(a, inputs),
    connections: windowConnections,
    reference: (node, [x], ctx) => pool(node, false, node.attrs.count_pad, x!, ctx),
    // linear: the transpose of the averaging, found from the reference itself
    grad: {
      backward: (node, _, ctx) =>
        onlyInputs(
          spatialBackward(
            node,
            (v, c) => pool(node, false, node.attrs.count_pad, v, c),
            ctx,
            node.shape,
          ),
        ),
      emitBackward: (node, e) => emitPoolGrad(node, e, "avg", node.attrs.count_pad, undilated),
    },
    cost: windowCost,
    receptiveField: (node, [x]) => windowed(x!, node.attrs.k, node.attrs.s, [1, 1]),
    traits: { family: "pool", fusedActivation: "post", anyLayout: true },
    emit: (node, e) => emitPool(node, false, node.attrs.count_pad, e),
    toOnnx: (node, w) =>
      void w.node("AveragePool", [node.inputs[0]!], node.name, {
        ...poolOnnxAttrs(node.attrs),
        count_include_pad: int(node.attrs.count_pad ? 1 : 0),
      }),
    fromOnnx: { AveragePool: readPool },
    cnn: {
      layers: {
        avgpool: {
          doc: "average pooling; count_pad counts padded zeros in the divisor",
          params: poolParams([{ name: "count_pad", kind: "bool", default: false }]),
          lower: (a, site) => ({
            op: "avgpool2d",
            attrs: { ...poolAttrs(a, site.input), count_pad: a.bool("count_pad") },
          }),
        },
      },
      print: ({ attrs: a }) =>
        `avgpool(${list(a.k)}, stride=${list(a.s)}, pad=${list(a.p)}, ceil=${a.ceil}, count_pad=${a.count_pad})`,
    },
  },
  globalavgpool: globalPoolOp(false),
  globalmaxpool: globalPoolOp(true),
};
