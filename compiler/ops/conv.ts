// The convolution family: conv2d (any groups, dilation, padding mode; depthwise is a conv2d
// with one group per input channel), deconv2d (transposed) and sepconv2d (depthwise then
// pointwise, legalised into two conv2d before any backend sees it).
import {
  accumulate,
  channelSumGrad,
  convInputGrad,
  convWeightGrad,
  flippedWeight,
  type ConvGrad,
} from "../train/kernels.js";
import type { Node } from "../ir/graph.js";
import type { TrainEmitter } from "./emit.js";
import { elementCount, type Shape } from "../ir/graph.js";
import { defaultTiles, gemmConvKernel, splitKReduceKernel } from "../codegen/gemm.js";
import { pointwiseConvKernel } from "../codegen/pointwise.js";
import { blockedConvKernel } from "../codegen/blocked.js";
import { winogradInputKernel, winogradOutputKernel, winogradTiles } from "../codegen/winograd.js";
import { deconvKernel, depthwiseConvKernel, directConvKernel } from "../codegen/direct.js";
import type { KernelChoice } from "../codegen/choice.js";
import { activations, applyActivation, epilogueActs, type EpilogueAct } from "./activations.js";
import { epilogueOf, type Emitter } from "./emit.js";
import { merged, windowed } from "./field.js";
import {
  deconvPadding,
  explicitPadding,
  list,
  noEpilogue,
  type Args,
  type ParamSpec,
} from "./language.js";
import { ints, int, writePad, type OnnxReader, type OnnxWriter } from "./onnx.js";
import {
  checked,
  checkReflect,
  checkWindow,
  checkResidual,
  dims3,
  divisible,
  slidingWindow,
  spatial,
} from "./shape-rules.js";
import {
  padModes,
  ShapeError,
  type Family,
  type OpNode,
  type Pair,
  type PadMode,
  type Quad,
  type BackwardContext,
  type Gradients,
  type ReferenceContext,
  type Tensor,
} from "./types.js";
import { channelSums } from "./grad.js";

interface ConvAttrs {
  readonly filters: number;
  readonly k: Pair;
  readonly s: Pair;
  readonly p: Quad;
  readonly d: Pair;
  readonly g: number;
  readonly padmode: PadMode;
  readonly bias: boolean;
}

/**
 * The epilogue of conv2d and dense: y = act(conv(x) + bias + residual), where the residual is
 * an optional second input of the output's shape and `alpha` is the activation's parameter.
 */
export interface Epilogue {
  readonly act: EpilogueAct;
  readonly alpha: number;
}
export const epilogueAttrs = { act: epilogueActs, alpha: "float" } as const;
export const epilogueDefaults = { act: "none", alpha: 0 } as const;

export interface ConvFamily {
  conv2d: ConvAttrs & Epilogue;
  /** Transposed convolution; `outpad` adds rows/columns at the bottom/right of the output. */
  deconv2d: Omit<ConvAttrs, "padmode"> & { readonly outpad: Pair };
  /** Depthwise (`mult` filters per channel) then pointwise 1x1; bias after the pointwise. */
  sepconv2d: Omit<ConvAttrs, "g"> & { readonly mult: number };
}

/**
 * Depthwise: one group per input channel (`filters / groups` kernels each). The one
 * definition the summary, the graph and kernel selection all use.
 */
export function isDepthwise(
  attrs: { readonly g: number },
  inChannels: number | undefined,
): boolean {
  return attrs.g > 1 && attrs.g === inChannels;
}

// ---- reference -----------------------------------------------------------------------------

/** Where a padded coordinate reads from: an index, or -1 for the zero/constant border. */
export function sourceIndex(i: number, n: number, mode: PadMode): number {
  if (i >= 0 && i < n) return i;
  if (mode === "zeros") return -1;
  if (mode === "replicate") return i < 0 ? 0 : n - 1;
  // reflect, without repeating the edge: -1 -> 1, n -> n - 2
  return i < 0 ? -i : 2 * (n - 1) - i;
}

type Window = { k: Pair; s: Pair; p: Quad; d: Pair; g: number };

function conv(
  x: Tensor,
  inShape: Shape,
  outShape: Shape,
  w: Float32Array,
  bias: Float32Array | undefined,
  a: Window,
  padmode: PadMode,
  batch: number,
): Tensor {
  const [c, h, wd] = dims3(inShape);
  const [f, ho, wo] = dims3(outShape);
  const [kh, kw] = a.k;
  const cg = c / a.g;
  const fg = f / a.g;
  const out = new Float64Array(batch * f * ho * wo);
  if (padmode === "zeros") {
    zeroPaddedConv(x, out, w, bias, [c, h, wd], [f, ho, wo], a, batch);
    return out;
  }
  for (let n = 0; n < batch; n++) {
    for (let o = 0; o < f; o++) {
      const group = Math.floor(o / fg);
      for (let oy = 0; oy < ho; oy++) {
        for (let ox = 0; ox < wo; ox++) {
          let acc = bias ? bias[o]! : 0;
          for (let ci = 0; ci < cg; ci++) {
            const cin = group * cg + ci;
            for (let ky = 0; ky < kh; ky++) {
              const iy = sourceIndex(oy * a.s[0] - a.p[0] + ky * a.d[0], h, padmode);
              for (let kx = 0; kx < kw; kx++) {
                const ix = sourceIndex(ox * a.s[1] - a.p[1] + kx * a.d[1], wd, padmode);
                acc +=
                  x[((n * c + cin) * h + iy) * wd + ix]! * w[((o * cg + ci) * kh + ky) * kw + kx]!;
              }
            }
          }
          out[((n * f + o) * ho + oy) * wo + ox] = acc;
        }
      }
    }
  }
  return out;
}

/**
 * The same sum for zero padding, ordered for speed: each weight tap is applied along whole
 * output rows, over the range of ox whose input pixel lies inside the image (so no test per
 * pixel). Every output still accumulates every term in float64; only the order differs.
 */
function zeroPaddedConv(
  x: Tensor,
  out: Tensor,
  w: Float32Array,
  bias: Float32Array | undefined,
  [c, h, wd]: readonly [number, number, number],
  [f, ho, wo]: readonly [number, number, number],
  a: Window,
  batch: number,
): void {
  const [kh, kw] = a.k;
  const [sy, sx] = a.s;
  const [dy, dx] = a.d;
  const [pt, pl] = [a.p[0], a.p[1]];
  const cg = c / a.g;
  const fg = f / a.g;
  for (let n = 0; n < batch; n++) {
    for (let o = 0; o < f; o++) {
      const group = Math.floor(o / fg);
      const ob = (n * f + o) * ho * wo;
      if (bias) out.fill(bias[o]!, ob, ob + ho * wo);
      for (let ci = 0; ci < cg; ci++) {
        const xb = (n * c + group * cg + ci) * h * wd;
        for (let ky = 0; ky < kh; ky++) {
          for (let kx = 0; kx < kw; kx++) {
            const wv = w[((o * cg + ci) * kh + ky) * kw + kx]!;
            const off = kx * dx - pl;
            // ox with 0 <= ox*sx + off < wd
            const x0 = Math.max(0, Math.ceil(-off / sx));
            const x1 = Math.min(wo, Math.floor((wd - 1 - off) / sx) + 1);
            for (let oy = 0; oy < ho; oy++) {
              const iy = oy * sy - pt + ky * dy;
              if (iy < 0 || iy >= h) continue;
              const row = xb + iy * wd + off;
              const orow = ob + oy * wo;
              for (let ox = x0; ox < x1; ox++) out[orow + ox]! += wv * x[row + ox * sx]!;
            }
          }
        }
      }
    }
  }
}

/** y = act(y + residual), in place. */
export function applyEpilogue(
  y: Tensor,
  residual: Tensor | undefined,
  act: EpilogueAct,
  alpha: number,
): Tensor {
  if (!residual && act === "none") return y;
  for (let i = 0; i < y.length; i++)
    y[i] = applyActivation(act, y[i]! + (residual ? residual[i]! : 0), alpha);
  return y;
}

/** Transposed convolution: every input pixel scatters its kernel footprint `s` apart. */
function deconv(node: OpNode<ConvFamily["deconv2d"]>, x: Tensor, ctx: ReferenceContext): Tensor {
  const [c, h, wd] = dims3(ctx.inputShapes[0]);
  const [f, ho, wo] = dims3(node.shape);
  const { k, s, p, d, g } = node.attrs;
  const [w, bias] = ctx.weights;
  const cg = c / g;
  const fg = f / g;
  const out = new Float64Array(ctx.batch * f * ho * wo);
  for (let n = 0; n < ctx.batch; n++) {
    for (let o = 0; o < f; o++) {
      const b = bias ? bias[o]! : 0;
      for (let i = 0; i < ho * wo; i++) out[(n * f + o) * ho * wo + i] = b;
    }
    for (let ci = 0; ci < c; ci++) {
      const group = Math.floor(ci / cg);
      for (let iy = 0; iy < h; iy++) {
        for (let ix = 0; ix < wd; ix++) {
          const v = x[((n * c + ci) * h + iy) * wd + ix]!;
          for (let fo = 0; fo < fg; fo++) {
            const o = group * fg + fo;
            for (let ky = 0; ky < k[0]; ky++) {
              const oy = iy * s[0] - p[0] + ky * d[0];
              if (oy < 0 || oy >= ho) continue;
              for (let kx = 0; kx < k[1]; kx++) {
                const ox = ix * s[1] - p[1] + kx * d[1];
                if (ox < 0 || ox >= wo) continue;
                out[((n * f + o) * ho + oy) * wo + ox]! +=
                  v * w![((ci * fg + fo) * k[0] + ky) * k[1] + kx]!;
              }
            }
          }
        }
      }
    }
  }
  return out;
}

/**
 * Where each tap of each output row or column reads along one axis: `src[k * out + o]` is the
 * input index (the padding mode's), -1 for the zero border.
 */
function tapSources(
  out: number,
  size: number,
  k: number,
  s: number,
  p: number,
  d: number,
  mode: PadMode,
): Int32Array {
  const src = new Int32Array(k * out);
  for (let t = 0; t < k; t++)
    for (let o = 0; o < out; o++) src[t * out + o] = sourceIndex(o * s - p + t * d, size, mode);
  return src;
}

/**
 * The gradient of conv2d (any groups, stride, dilation, padding mode): every product
 * x[input tap] * w[tap] of the forward sum sends dy * w to the input and dy * x to the weight
 * (a replicate or reflect border sends it to the pixel it copied).
 */
function convBackward(
  node: OpNode<ConvAttrs>,
  x: Tensor,
  ctx: BackwardContext,
  padmode: PadMode,
): Gradients {
  const [c, h, wd] = dims3(ctx.inputShapes[0]);
  const [f, ho, wo] = dims3(node.shape);
  const { k, s, p, d, g } = node.attrs;
  const [w, bias] = ctx.weights;
  const cg = c / g;
  const fg = f / g;
  const rows = tapSources(ho, h, k[0], s[0], p[0], d[0], padmode);
  const cols = tapSources(wo, wd, k[1], s[1], p[1], d[1], padmode);
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(w!.length);
  const dy = ctx.dy;
  for (let n = 0; n < ctx.batch; n++) {
    for (let o = 0; o < f; o++) {
      const group = Math.floor(o / fg);
      const ob = (n * f + o) * ho * wo;
      for (let ci = 0; ci < cg; ci++) {
        const xb = (n * c + group * cg + ci) * h * wd;
        for (let ky = 0; ky < k[0]; ky++) {
          for (let kx = 0; kx < k[1]; kx++) {
            const wi = ((o * cg + ci) * k[0] + ky) * k[1] + kx;
            const wv = w![wi]!;
            let acc = 0;
            for (let oy = 0; oy < ho; oy++) {
              const iy = rows[ky * ho + oy]!;
              if (iy < 0) continue;
              const row = xb + iy * wd;
              const orow = ob + oy * wo;
              for (let ox = 0; ox < wo; ox++) {
                const ix = cols[kx * wo + ox]!;
                if (ix < 0) continue;
                const gy = dy[orow + ox]!;
                acc += gy * x[row + ix]!;
                dx[row + ix]! += gy * wv;
              }
            }
            dw[wi]! += acc;
          }
        }
      }
    }
  }
  return { inputs: [dx], weights: bias ? [dw, channelSums(dy, node.shape, ctx.batch)] : [dw] };
}

/** The gradient of the transposed convolution: the scatter of `deconv`, read backwards. */
function deconvBackward(
  node: OpNode<ConvFamily["deconv2d"]>,
  x: Tensor,
  ctx: BackwardContext,
): Gradients {
  const [c, h, wd] = dims3(ctx.inputShapes[0]);
  const [f, ho, wo] = dims3(node.shape);
  const { k, s, p, d, g } = node.attrs;
  const [w, bias] = ctx.weights;
  const cg = c / g;
  const fg = f / g;
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(w!.length);
  const dy = ctx.dy;
  for (let n = 0; n < ctx.batch; n++) {
    for (let ci = 0; ci < c; ci++) {
      const group = Math.floor(ci / cg);
      for (let iy = 0; iy < h; iy++) {
        for (let ix = 0; ix < wd; ix++) {
          const xi = ((n * c + ci) * h + iy) * wd + ix;
          const v = x[xi]!;
          let acc = 0;
          for (let fo = 0; fo < fg; fo++) {
            const o = group * fg + fo;
            for (let ky = 0; ky < k[0]; ky++) {
              const oy = iy * s[0] - p[0] + ky * d[0];
              if (oy < 0 || oy >= ho) continue;
              for (let kx = 0; kx < k[1]; kx++) {
                const ox = ix * s[1] - p[1] + kx * d[1];
                if (ox < 0 || ox >= wo) continue;
                const wi = ((ci * fg + fo) * k[0] + ky) * k[1] + kx;
                const gy = dy[((n * f + o) * ho + oy) * wo + ox]!;
                acc += gy * w![wi]!;
                dw[wi]! += gy * v;
              }
            }
          }
          dx[xi] = acc;
        }
      }
    }
  }
  return { inputs: [dx], weights: bias ? [dw, channelSums(dy, node.shape, ctx.batch)] : [dw] };
}

/**
 * dx of a zero-padded conv. Stride 1: a conv itself (the adapter's fast forward kernels), of
 * the output gradient by the flipped weight (`flippedWeight`) with the padding that makes it
 * full, accumulated into dx through its residual input. Other strides: the gather kernel.
 */
function emitInputGrad(
  node: OpNode<ConvFamily["conv2d"]>,
  g: ConvGrad,
  dx: string,
  e: TrainEmitter,
): void {
  const a = node.attrs;
  const [c, h, w] = g.inShape;
  const [f, ho, wo] = g.outShape;
  const span = [a.d[0] * (a.k[0] - 1), a.d[1] * (a.k[1] - 1)] as const;
  const p: Quad = [span[0] - a.p[0], span[1] - a.p[1], 0, 0];
  const full: Quad = [p[0], p[1], h - ho + span[0] - p[0], w - wo + span[1] - p[1]];
  if (a.s[0] !== 1 || a.s[1] !== 1 || full.some((v) => v < 0)) {
    e.emit(convInputGrad(g, dx));
    return;
  }
  const flipped = e.state("flipped", f * (c / a.g) * a.k[0] * a.k[1]);
  e.emit(flippedWeight(g.weight, flipped, f, c, a.g, a.k));
  const transposed = {
    name: `${node.name}#dx`,
    op: "conv2d",
    inputs: [g.dy, dx],
    weights: [flipped],
    attrs: {
      filters: c,
      k: a.k,
      s: [1, 1],
      p: full,
      d: a.d,
      g: a.g,
      padmode: "zeros",
      bias: false,
      ...noEpilogue,
    },
    shape: [c, h, w],
  } as const;
  e.forward(transposed as Node, [g.outShape, g.inShape], dx);
}

/**
 * The gradient of the fused epilogue's sum: the residual, where there is one, takes the
 * output's gradient unchanged (the activation's derivative is applied before, by the trainer).
 */
export function withResidual(
  grads: Gradients,
  residual: Tensor | undefined,
  dy: Tensor,
): Gradients {
  return residual ? { ...grads, inputs: [...grads.inputs, dy] } : grads;
}

// ---- kernels -------------------------------------------------------------------------------

function emitConv(node: OpNode<ConvFamily["conv2d"]>, e: Emitter): void {
  const a = node.attrs;
  const x = node.inputs[0]!;
  const y = e.output;
  const xs = dims3(e.inShapes[0]);
  const ys = dims3(node.shape);
  const slice = e.slice ? { slice: e.slice } : {};
  const [w, b] = node.weights;
  const bias = b === undefined ? {} : { bias: e.weight(b) };
  const epilogue = epilogueOf(node);
  const inLayout = e.layout(x);
  const outLayout = e.layout(y);
  const resLayout =
    epilogue.residual === undefined ? {} : { resLayout: e.layout(epilogue.residual) };
  const layouts = { inLayout, outLayout, ...resLayout };
  // The pointwise and blocked kernels read NCHW alone; where the input's group went NHWC by
  // the other readers' votes, the GEMM serves.
  const choice: KernelChoice | undefined =
    (e.choice?.kernel === "pointwise" || e.choice?.kernel === "blocked") && inLayout === "nhwc"
      ? { kernel: "gemm", tiles: defaultTiles }
      : e.choice;
  const pad = [a.p[0], a.p[1]] as const;
  if (choice?.kernel === "winograd") {
    const tiles = winogradTiles(ys);
    const v = e.temp("winograd-in", 16 * xs[0] * tiles);
    const m = e.temp("winograd-out", 16 * ys[0] * tiles);
    e.emit(winogradInputKernel({ input: x, output: v, inShape: xs, outShape: ys, pad, inLayout }));
    e.emit(
      gemmConvKernel(
        {
          input: v,
          output: m,
          weight: e.winogradWeight(w!),
          inShape: [xs[0], 1, tiles],
          outShape: [ys[0], 1, tiles],
          k: [1, 1],
          s: [1, 1],
          d: [1, 1],
          pad: [0, 0],
          batched: 16,
        },
        choice.tiles,
      ),
    );
    e.emit(
      winogradOutputKernel({
        input: m,
        output: y,
        ...bias,
        inShape: xs,
        outShape: ys,
        pad,
        ...epilogue,
        ...slice,
        outLayout,
        ...resLayout,
      }),
    );
    return;
  }
  // a GEMM over an NHWC input reads the weight as [F, KH, KW, C]
  const gemm = choice?.kernel === "gemm" || choice?.kernel === "splitk";
  const window = { inShape: xs, outShape: ys, k: a.k, s: a.s, d: a.d };
  const weight = gemm && inLayout === "nhwc" ? e.hwcWeight(w!) : e.weight(w!);
  const operands = { input: x, output: y, weight, ...bias, ...window, ...epilogue, ...slice };
  if (choice?.kernel === "gemm") {
    e.emit(gemmConvKernel({ ...operands, ...layouts, pad }, choice.tiles));
  } else if (choice?.kernel === "pointwise") {
    e.emit(pointwiseConvKernel({ ...operands, ...layouts, pad }, choice.blocks));
  } else if (choice?.kernel === "blocked") {
    e.emit(blockedConvKernel({ ...operands, ...layouts, pad }, choice.blocks));
  } else if (choice?.kernel === "splitk") {
    // partial sums of each K range, then their sum with the epilogue
    const parts = choice.parts;
    const partial = e.temp("split-k", parts * elementCount(node.shape));
    e.emit(
      gemmConvKernel(
        { input: x, output: partial, weight, ...window, pad, inLayout, splitK: parts },
        choice.tiles,
      ),
    );
    e.emit(
      splitKReduceKernel({
        input: partial,
        output: y,
        parts,
        outShape: ys,
        ...bias,
        ...epilogue,
        ...slice,
        outLayout,
        ...resLayout,
      }),
    );
  } else {
    // Depthwise with zero padding: the row-blocked kernel, its outputs per thread chosen;
    // other grouped convs and the other padding modes: the direct one.
    const direct = { ...operands, ...layouts, p: a.p, groups: a.g, padmode: a.padmode };
    e.emit(
      choice?.kernel === "depthwise"
        ? depthwiseConvKernel(direct, choice.run)
        : directConvKernel(direct),
    );
  }
}

// ---- ONNX ----------------------------------------------------------------------------------

function convOnnxAttrs(a: { k: Pair; s: Pair; d: Pair; g: number }, pads: readonly number[]) {
  return {
    kernel_shape: ints(a.k),
    strides: ints(a.s),
    pads: ints(pads),
    dilations: ints(a.d),
    group: int(a.g),
  };
}

/** Replicate/reflect padding has no Conv attribute: an explicit Pad first. */
function paddedInput(
  w: OnnxWriter,
  x: string,
  out: string,
  p: Quad,
  mode: PadMode,
): { input: string; pads: readonly number[] } {
  if (mode === "zeros" || p.every((v) => v === 0)) return { input: x, pads: p };
  return { input: writePad(w, x, `${out}.pad`, p, mode), pads: [0, 0, 0, 0] };
}

/** A fused epilogue as ONNX: `core`, then Add of the residual, then the activation. */
export function writeEpilogue(
  w: OnnxWriter,
  node: OpNode<Epilogue>,
  write: (output: string) => void,
): void {
  const out = node.name;
  const { act, alpha } = node.attrs;
  const residual = node.inputs[1];
  if (residual === undefined && act === "none") return write(out);
  const core = `${out}.core`;
  write(core);
  let v = core;
  if (residual !== undefined)
    v = w.node("Add", [v, residual], act === "none" ? out : `${out}.residual`);
  if (act !== "none") activations[act].toOnnx(w, v, out, alpha);
}

/** kernel_shape, where given, must be the weight's: ONNX Runtime refuses a model where not. */
function checkKernelShape(r: OnnxReader, k: Pair): void {
  const given = r.attrInts("kernel_shape", [...k]);
  if (given.length !== 2 || given[0] !== k[0] || given[1] !== k[1])
    r.fail(`kernel_shape [${given.join(", ")}] is not the weight's ${k[0]}x${k[1]}`);
}

function readConv(r: OnnxReader): void {
  const w = r.constant(1);
  if (w.dims.length !== 4)
    r.fail(`the weight must be 4-D [F, C/groups, KH, KW], got ${w.dims.length}-D`);
  const k: Pair = [w.dims[2]!, w.dims[3]!];
  checkKernelShape(r, k);
  const s = r.pair("strides", 1);
  const d = r.pair("dilations", 1);
  const bias = r.hasInput(2) ? r.constant(2) : undefined;
  const x = r.value(0);
  const attrs = {
    filters: w.dims[0]!,
    k,
    s,
    d,
    p: r.padding(k, s, d, x),
    g: r.attrInt("group", 1),
    padmode: "zeros",
    bias: !!bias,
    ...noEpilogue,
  } as const;
  r.emit("conv2d", [x], attrs, bias ? [w.data, bias.data] : [w.data]);
}

/**
 * ConvTranspose. Padding from pads, or from output_shape or auto_pad (SAME_*: out = in * stride)
 * as ONNX defines them: total = stride (in - 1) + output_padding + (k - 1) d + 1 - out, split
 * with the odd pixel at the end for SAME_UPPER and at the start otherwise.
 */
function readConvTranspose(r: OnnxReader): void {
  const w = r.constant(1);
  if (w.dims.length !== 4)
    r.fail(`the weight must be 4-D [C, F/groups, KH, KW], got ${w.dims.length}-D`);
  const g = r.attrInt("group", 1);
  const k: Pair = [w.dims[2]!, w.dims[3]!];
  checkKernelShape(r, k);
  const s = r.pair("strides", 1);
  const d = r.pair("dilations", 1);
  const outpad = r.pair("output_padding", 0);
  const x = r.value(0);
  const [, h, wd] = r.shapeOf(x).length === 2 ? [0, 1, r.shapeOf(x)[1]!] : r.shapeOf(x);
  const auto = r.attrStr("auto_pad", "NOTSET");
  const given = r.hasAttr("output_shape") ? r.attrInts("output_shape", []) : undefined;
  let p: Quad;
  if (given || auto === "SAME_UPPER" || auto === "SAME_LOWER") {
    // output_shape lists the spatial dims (ONNX Runtime refuses N and C in it)
    const out = given ?? [h! * s[0], wd! * s[1]];
    if (out.length !== 2) r.fail(`output_shape must give H and W, got [${given!.join(", ")}]`);
    const sides = [0, 1].map((i) => {
      const size = i === 0 ? h! : wd!;
      const total = s[i]! * (size - 1) + outpad[i]! + (k[i]! - 1) * d[i]! + 1 - out[i]!;
      if (total < 0)
        r.fail(
          `output_shape [${out.join(", ")}] needs negative padding (more than the stride and output_padding give)`,
        );
      const half = Math.floor(total / 2);
      return auto === "SAME_UPPER" ? [half, total - half] : [total - half, half];
    });
    p = [sides[0]![0]!, sides[1]![0]!, sides[0]![1]!, sides[1]![1]!];
  } else if (auto === "NOTSET" || auto === "VALID") {
    const pads = auto === "VALID" ? [0, 0, 0, 0] : r.attrInts("pads", [0, 0, 0, 0]);
    if (pads.length !== 4) r.fail("pads must have 4 values (2-D only)");
    if (pads.some((v) => v < 0)) r.fail(`negative pads are not supported: [${pads.join(", ")}]`);
    p = [pads[0]!, pads[1]!, pads[2]!, pads[3]!];
  } else return r.fail(`auto_pad '${auto}' is not an ONNX mode`);
  const bias = r.hasInput(2) ? r.constant(2) : undefined;
  const attrs = { filters: w.dims[1]! * g, k, s, d, p, g, outpad, bias: !!bias };
  r.emit("deconv2d", [x], attrs, bias ? [w.data, bias.data] : [w.data]);
}

// ---- the language --------------------------------------------------------------------------

const convCommon: readonly ParamSpec[] = [
  { name: "stride", kind: "pair", default: [1, 1] },
  { name: "pad", kind: "padding", default: { kind: "valid" } },
  { name: "dilation", kind: "pair", default: [1, 1] },
];
const convTail: readonly ParamSpec[] = [
  { name: "bias", kind: "bool", default: true },
  { name: "padmode", kind: padModes, default: "zeros" },
];

/** Kernel, stride, dilation and explicit padding of a convolution-like layer. */
function convWindow(a: Args, input: Shape): { k: Pair; s: Pair; d: Pair; p: Quad } {
  const k = a.pair("kernel");
  const s = a.pair("stride");
  const d = a.pair("dilation");
  return { k, s, d, p: explicitPadding(a.padding("pad"), input, k, s, d) };
}

function noFusedEpilogue(node: OpNode<Epilogue>): void {
  if (node.attrs.act !== "none" || node.inputs.length > 1)
    throw new Error("internal: fused epilogues have no .cnn form");
}

// ---- the table -----------------------------------------------------------------------------

const windowAttrs = { filters: "int", k: "pair", s: "pair", p: "quad", d: "pair" } as const;

export const convOps: Family<ConvFamily> = {
  conv2d: {
    attrs: { ...windowAttrs, g: "int", padmode: padModes, bias: "bool", ...epilogueAttrs },
    defaults: epilogueDefaults,
    arity: "residual",
    weights: (a, [x]) => [
      { role: "weight", shape: [a.filters, (x?.[0] ?? 0) / a.g, a.k[0], a.k[1]] },
      ...(a.bias ? [{ role: "bias", shape: [a.filters] }] : []),
    ],
    infer(a, [x, residual]) {
      const [c, h, w] = spatial(x);
      divisible("input channels", c, a.g);
      divisible("filters", a.filters, a.g);
      checkReflect(a.p, h, w, a.padmode);
      const [ho, wo] = slidingWindow("kernel", x, a.k, a.s, a.p, a.d, false);
      return checkResidual(checked([a.filters, ho, wo]), residual);
    },
    reference(node, [x, residual], ctx) {
      const a = node.attrs;
      const [w, b] = ctx.weights;
      const y = conv(x!, ctx.inputShapes[0]!, node.shape, w!, b, a, a.padmode, ctx.batch);
      return applyEpilogue(y, residual, a.act, a.alpha);
    },
    grad: {
      backward: (node, [x, residual], ctx) =>
        withResidual(convBackward(node, x!, ctx, node.attrs.padmode), residual, ctx.dy),
      emitBackward(node, e) {
        const a = node.attrs;
        // (the training plan runs a reflected or replicated padding as a pad op before it)
        if (a.padmode !== "zeros" && a.p.some((v) => v > 0))
          throw new Error(`internal: '${node.name}' reached the trainer with ${a.padmode} padding`);
        const [w, b] = node.weights;
        const dy = e.grad(node.name)!;
        const outShape = dims3(node.shape);
        const g = {
          x: node.inputs[0]!,
          dy,
          weight: w!,
          inShape: dims3(e.inShapes[0]),
          outShape,
          k: a.k,
          s: a.s,
          d: a.d,
          pad: [a.p[0], a.p[1]] as const,
          groups: a.g,
        };
        const dx = e.grad(g.x);
        if (dx) emitInputGrad(node, g, dx, e);
        const dw = e.weightGrad(w!);
        const weights = a.filters * (g.inShape[0] / a.g) * a.k[0] * a.k[1];
        if (dw) convWeightGrad(g, e.temp("dw", weights), dw).forEach((k) => e.emit(k));
        const db = b === undefined ? undefined : e.weightGrad(b);
        if (db) e.emit(channelSumGrad(dy, db, outShape[0], outShape[1] * outShape[2]));
        const res = node.inputs[1] === undefined ? undefined : e.grad(node.inputs[1]);
        if (res) e.emit(accumulate(dy, res, elementCount(node.shape)));
      },
    },
    // C_out * H_out * W_out * (C_in / groups) * k_h * k_w
    cost(node, [x]) {
      const { k, g } = node.attrs;
      const macs = elementCount(node.shape) * ((x?.[0] ?? 0) / g) * k[0] * k[1];
      return { macs, flops: 2 * macs + (node.attrs.bias ? elementCount(node.shape) : 0) };
    },
    // A fused residual is a merge: the output sees what the residual saw too.
    receptiveField: (node, [x, residual]) => {
      const own = windowed(x!, node.attrs.k, node.attrs.s, node.attrs.d);
      return residual ? merged([own, residual]) : own;
    },
    traits: { family: "conv", fusedActivation: "epilogue", anyLayout: true },
    emit: emitConv,
    toOnnx(node, w) {
      const a = node.attrs;
      writeEpilogue(w, node, (out) => {
        const { input, pads } = paddedInput(w, node.inputs[0]!, node.name, a.p, a.padmode);
        w.node("Conv", [input, ...node.weights], out, convOnnxAttrs(a, pads));
      });
    },
    fromOnnx: { Conv: readConv },
    cnn: {
      layers: {
        conv: {
          doc: "2-D convolution",
          params: [
            { name: "filters", kind: "count" },
            { name: "kernel", kind: "pair" },
            ...convCommon,
            { name: "groups", kind: "count", default: 1 },
            ...convTail,
          ],
          lower: (a, site) => ({
            op: "conv2d",
            attrs: {
              filters: a.int("filters"),
              ...convWindow(a, site.input),
              g: a.int("groups"),
              padmode: a.word("padmode"),
              bias: a.bool("bias"),
              ...noEpilogue,
            },
          }),
        },
        dwconv: {
          doc: "depthwise convolution: one kernel (or `multiplier` kernels) per input channel",
          params: [
            { name: "kernel", kind: "pair" },
            ...convCommon,
            { name: "multiplier", kind: "count", default: 1 },
            ...convTail,
          ],
          lower(a, site) {
            const c = site.input[0] ?? 1;
            return {
              op: "conv2d",
              attrs: {
                filters: c * a.int("multiplier"),
                ...convWindow(a, site.input),
                g: c,
                padmode: a.word("padmode"),
                bias: a.bool("bias"),
                ...noEpilogue,
              },
            };
          },
        },
      },
      print(node) {
        noFusedEpilogue(node);
        const a = node.attrs;
        const mode = a.padmode === "zeros" ? "" : `, padmode=${a.padmode}`;
        return `conv(${a.filters}, ${list(a.k)}, stride=${list(a.s)}, pad=${list(a.p)}, dilation=${list(a.d)}, groups=${a.g}, bias=${a.bias}${mode})`;
      },
    },
  },
  deconv2d: {
    attrs: { ...windowAttrs, g: "int", outpad: "pair", bias: "bool" },
    arity: 1,
    // [C_in, C_out / g, kh, kw]: each output sums C_in / g * kh * kw inputs.
    weights: (a, [x]) => [
      {
        role: "weight",
        shape: [x?.[0] ?? 0, a.filters / a.g, a.k[0], a.k[1]],
        fanIn: ((x?.[0] ?? 0) / a.g) * a.k[0] * a.k[1],
      },
      ...(a.bias ? [{ role: "bias", shape: [a.filters] }] : []),
    ],
    infer(a, [x]) {
      const [c, h, w] = spatial(x);
      checkWindow("kernel", a.k, a.s, a.p, a.d);
      divisible("input channels", c, a.g);
      divisible("filters", a.filters, a.g);
      a.outpad.forEach((o, i) => {
        if (o >= Math.max(a.s[i]!, a.d[i]!)) {
          throw new ShapeError(
            `output_pad ${list(a.outpad).replace(/ /g, "")} must be smaller than the stride or the dilation`,
          );
        }
      });
      // Each input pixel scatters a kernel footprint `s` apart; padding crops the result.
      const out = (size: number, i: 0 | 1): number =>
        (size - 1) * a.s[i] - a.p[i]! - a.p[i + 2]! + a.d[i] * (a.k[i] - 1) + a.outpad[i] + 1;
      return checked([a.filters, out(h, 0), out(w, 1)]);
    },
    reference: (node, [x], ctx) => deconv(node, x!, ctx),
    grad: {
      backward: (node, [x], ctx) => deconvBackward(node, x!, ctx),
      // The transposed conv's gradients are a conv's, roles exchanged: dx is the conv of dy by
      // the same weight ([C_in, C_out/g, kh, kw] is a conv's [F, C/g, kh, kw]) with the same
      // stride, padding and dilation; dw is that conv's weight gradient with dy as its input
      // and x as its output's gradient.
      emitBackward(node, e) {
        const a = node.attrs;
        const [w, b] = node.weights;
        const dy = e.grad(node.name)!;
        const inShape = dims3(e.inShapes[0]);
        const outShape = dims3(node.shape);
        const x = node.inputs[0]!;
        const dx = e.grad(x);
        if (dx) {
          const conv = {
            name: `${node.name}#dx`,
            op: "conv2d",
            inputs: [dy, dx],
            weights: [w!],
            attrs: {
              filters: inShape[0],
              k: a.k,
              s: a.s,
              p: a.p,
              d: a.d,
              g: a.g,
              padmode: "zeros",
              bias: false,
              ...noEpilogue,
            },
            shape: inShape,
          } as const;
          e.forward(conv as Node, [outShape, inShape], dx);
        }
        const dw = e.weightGrad(w!);
        const count = inShape[0] * (outShape[0] / a.g) * a.k[0] * a.k[1];
        if (dw) {
          const g = {
            x: dy,
            dy: x,
            weight: w!,
            inShape: outShape,
            outShape: inShape,
            k: a.k,
            s: a.s,
            d: a.d,
            pad: [a.p[0], a.p[1]] as const,
            groups: a.g,
          };
          convWeightGrad(g, e.temp("dw", count), dw).forEach((k) => e.emit(k));
        }
        const db = b === undefined ? undefined : e.weightGrad(b);
        if (db) e.emit(channelSumGrad(dy, db, outShape[0], outShape[1] * outShape[2]));
      },
    },
    // Every input pixel scatters into (C_out / groups) * k_h * k_w outputs.
    cost(node, [x]) {
      const { k, g, filters } = node.attrs;
      const macs = elementCount(x ?? []) * (filters / g) * k[0] * k[1];
      return { macs, flops: 2 * macs + (node.attrs.bias ? elementCount(node.shape) : 0) };
    },
    // An output pixel gathers from ceil(k_eff / s) input pixels; outputs are 1/s apart.
    receptiveField(node, [x]) {
      const { k, s, d } = node.attrs;
      const span = (i: 0 | 1): number => Math.ceil((d[i] * (k[i] - 1) + 1) / s[i]);
      return {
        rf: [x!.rf[0] + (span(0) - 1) * x!.jump[0], x!.rf[1] + (span(1) - 1) * x!.jump[1]],
        jump: [x!.jump[0] / s[0], x!.jump[1] / s[1]],
        global: x!.global,
      };
    },
    traits: { family: "conv" },
    emit(node, e) {
      const a = node.attrs;
      const [w, b] = node.weights;
      e.emit(
        deconvKernel({
          input: node.inputs[0]!,
          output: e.output,
          weight: e.weight(w!),
          ...(b === undefined ? {} : { bias: e.weight(b) }),
          inShape: dims3(e.inShapes[0]),
          outShape: dims3(node.shape),
          k: a.k,
          s: a.s,
          d: a.d,
          p: a.p,
          groups: a.g,
        }),
      );
    },
    toOnnx(node, w) {
      const a = node.attrs;
      w.node("ConvTranspose", [node.inputs[0]!, ...node.weights], node.name, {
        ...convOnnxAttrs(a, a.p),
        output_padding: ints(a.outpad),
      });
    },
    fromOnnx: { ConvTranspose: readConvTranspose },
    cnn: {
      layers: {
        deconv: {
          doc: "transposed convolution",
          params: [
            { name: "filters", kind: "count" },
            { name: "kernel", kind: "pair" },
            { name: "stride", kind: "pair", default: [1, 1] },
            { name: "pad", kind: "padding", default: { kind: "valid" } },
            { name: "output_pad", kind: "pair0", default: [0, 0] },
            { name: "dilation", kind: "pair", default: [1, 1] },
            { name: "groups", kind: "count", default: 1 },
            { name: "bias", kind: "bool", default: true },
          ],
          lower(a) {
            const k = a.pair("kernel");
            const s = a.pair("stride");
            const d = a.pair("dilation");
            const outpad = a.pair("output_pad");
            const p = deconvPadding(a.padding("pad"), k, s, d, outpad);
            const attrs = { filters: a.int("filters"), k, s, p, d, g: a.int("groups"), outpad };
            return { op: "deconv2d", attrs: { ...attrs, bias: a.bool("bias") } };
          },
        },
      },
      print(node) {
        const a = node.attrs;
        return `deconv(${a.filters}, ${list(a.k)}, stride=${list(a.s)}, pad=${list(a.p)}, output_pad=${list(a.outpad)}, dilation=${list(a.d)}, groups=${a.g}, bias=${a.bias})`;
      },
    },
  },
  sepconv2d: {
    attrs: { ...windowAttrs, mult: "int", padmode: padModes, bias: "bool" },
    arity: 1,
    weights: (a, [x]) => {
      const mid = (x?.[0] ?? 0) * a.mult;
      return [
        { role: "depthwise.weight", shape: [mid, 1, a.k[0], a.k[1]] },
        { role: "pointwise.weight", shape: [a.filters, mid, 1, 1] },
        ...(a.bias ? [{ role: "bias", shape: [a.filters] }] : []),
      ];
    },
    infer(a, [x]) {
      const [, h, w] = spatial(x);
      checkReflect(a.p, h, w, a.padmode);
      const [ho, wo] = slidingWindow("kernel", x, a.k, a.s, a.p, a.d, false);
      return checked([a.filters, ho, wo]);
    },
    reference(node, [x], ctx) {
      const a = node.attrs;
      const [c] = dims3(ctx.inputShapes[0]);
      const mid: Shape = [c * a.mult, node.shape[1]!, node.shape[2]!];
      const [dw, pw, bias] = ctx.weights;
      const y = conv(
        x!,
        ctx.inputShapes[0]!,
        mid,
        dw!,
        undefined,
        { ...a, g: c },
        a.padmode,
        ctx.batch,
      );
      const one: Window = { k: [1, 1], s: [1, 1], p: [0, 0, 0, 0], d: [1, 1], g: 1 };
      return conv(y, mid, node.shape, pw!, bias, one, "zeros", ctx.batch);
    },
    // Depthwise (C_in * mult kernels of k_h * k_w) plus pointwise (C_in * mult -> filters).
    cost(node, [x]) {
      const [, h = 0, w = 0] = node.shape;
      const { k, mult, filters } = node.attrs;
      const mid = (x?.[0] ?? 0) * mult;
      const macs = mid * h * w * k[0] * k[1] + filters * h * w * mid;
      return { macs, flops: 2 * macs + (node.attrs.bias ? elementCount(node.shape) : 0) };
    },
    receptiveField: (node, [x]) => windowed(x!, node.attrs.k, node.attrs.s, node.attrs.d),
    traits: { family: "conv" },
    grad: "legalized",
    // A depthwise conv2d into `<name>.depthwise`, then a 1x1 conv2d keeping the layer's name
    // (its readers unchanged); the weights keep their names.
    emit: {
      legalize(n, [x]) {
        const a = n.attrs;
        const c = x![0]!;
        const [dw, pw, bias] = n.weights;
        const mid = `${n.name}.depthwise`;
        const loc = n.loc ? { loc: n.loc } : {};
        return [
          {
            name: mid,
            op: "conv2d",
            inputs: n.inputs,
            weights: [dw!],
            attrs: {
              filters: c * a.mult,
              k: a.k,
              s: a.s,
              p: a.p,
              d: a.d,
              g: c,
              padmode: a.padmode,
              bias: false,
              ...noEpilogue,
            },
            shape: [c * a.mult, n.shape[1]!, n.shape[2]!],
            ...loc,
          },
          {
            name: n.name,
            op: "conv2d",
            inputs: [mid],
            weights: bias === undefined ? [pw!] : [pw!, bias],
            attrs: {
              filters: a.filters,
              k: [1, 1],
              s: [1, 1],
              p: [0, 0, 0, 0],
              d: [1, 1],
              g: 1,
              padmode: "zeros",
              bias: a.bias,
              ...noEpilogue,
            },
            shape: n.shape,
            ...loc,
          },
        ];
      },
    },
    toOnnx: "legalized",
    fromOnnx: {},
    cnn: {
      layers: {
        sepconv: {
          doc: "depthwise then 1x1 pointwise convolution",
          params: [
            { name: "filters", kind: "count" },
            { name: "kernel", kind: "pair" },
            ...convCommon,
            { name: "multiplier", kind: "count", default: 1 },
            ...convTail,
          ],
          lower: (a, site) => ({
            op: "sepconv2d",
            attrs: {
              filters: a.int("filters"),
              ...convWindow(a, site.input),
              mult: a.int("multiplier"),
              padmode: a.word("padmode"),
              bias: a.bool("bias"),
            },
          }),
        },
      },
      print(node) {
        const a = node.attrs;
        return `sepconv(${a.filters}, ${list(a.k)}, stride=${list(a.s)}, pad=${list(a.p)}, dilation=${list(a.d)}, multiplier=${a.mult}, bias=${a.bias}, padmode=${a.padmode})`;
      },
    },
  },
};
