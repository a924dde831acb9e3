// The reference semantics of every op, written for clarity: plain loops over NCHW data with
// float64 accumulation. These are the oracle the GPU kernels are tested against, so each one
// states the definition it follows (PyTorch's, where frameworks differ).
import type { Node, Shape } from "../ir/graph.js";
import type { EpilogueAct, OpKind, PadMode, Quad } from "../ir/ops.js";

export type Tensor = Float64Array;

export interface OpContext {
  readonly batch: number;
  readonly inputShapes: readonly Shape[];
  /** Weight data in the op's weight order. */
  readonly weights: readonly Float32Array[];
}

type OpImpl = (node: Node, inputs: readonly Tensor[], ctx: OpContext) => Tensor;

const size = (s: Shape): number => s.reduce((a, b) => a * b, 1);

/** Where a padded coordinate reads from: an index, or -1 for the zero/constant border. */
export function sourceIndex(i: number, n: number, mode: PadMode): number {
  if (i >= 0 && i < n) return i;
  if (mode === "zeros") return -1;
  if (mode === "replicate") return i < 0 ? 0 : n - 1;
  // reflect, without repeating the edge: -1 -> 1, n -> n - 2
  return i < 0 ? -i : 2 * (n - 1) - i;
}

function dims3(s: Shape | undefined): [number, number, number] {
  return [s?.[0] ?? 1, s?.[1] ?? 1, s?.[2] ?? 1];
}

function conv(
  x: Tensor,
  inShape: Shape,
  outShape: Shape,
  w: Float32Array,
  bias: Float32Array | undefined,
  a: { k: readonly number[]; s: readonly number[]; p: Quad; d: readonly number[]; g: number },
  padmode: PadMode,
  batch: number,
): Tensor {
  const [c, h, wd] = dims3(inShape);
  const [f, ho, wo] = dims3(outShape);
  const [kh, kw] = [a.k[0]!, a.k[1]!];
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
              const iy = sourceIndex(oy * a.s[0]! - a.p[0] + ky * a.d[0]!, h, padmode);
              for (let kx = 0; kx < kw; kx++) {
                const ix = sourceIndex(ox * a.s[1]! - a.p[1] + kx * a.d[1]!, wd, padmode);
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
  a: { k: readonly number[]; s: readonly number[]; p: Quad; d: readonly number[]; g: number },
  batch: number,
): void {
  const [kh, kw] = [a.k[0]!, a.k[1]!];
  const [sy, sx] = [a.s[0]!, a.s[1]!];
  const [dy, dx] = [a.d[0]!, a.d[1]!];
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

/** Transposed convolution: every input pixel scatters its kernel footprint `s` apart. */
function deconv(node: Node & { op: "deconv2d" }, x: Tensor, ctx: OpContext): Tensor {
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
 * Max and average pooling, PyTorch's definitions: max ignores padding; average divides by the
 * window clipped to the padded input when `count_pad`, else by the real pixels it covers.
 */
function pool(node: Node & { op: "maxpool2d" | "avgpool2d" }, x: Tensor, ctx: OpContext): Tensor {
  const [c, h, wd] = dims3(ctx.inputShapes[0]);
  const [, ho, wo] = dims3(node.shape);
  const { k, s, p } = node.attrs;
  const countPad = node.op === "avgpool2d" && node.attrs.count_pad;
  const out = new Float64Array(ctx.batch * c * ho * wo);
  for (let nc = 0; nc < ctx.batch * c; nc++) {
    for (let oy = 0; oy < ho; oy++) {
      for (let ox = 0; ox < wo; ox++) {
        const y0 = oy * s[0] - p[0];
        const x0 = ox * s[1] - p[1];
        const y1 = Math.min(y0 + k[0], h + p[2]);
        const x1 = Math.min(x0 + k[1], wd + p[3]);
        const padded = (y1 - y0) * (x1 - x0);
        let acc = node.op === "maxpool2d" ? -Infinity : 0;
        let count = 0;
        for (let iy = Math.max(y0, 0); iy < Math.min(y1, h); iy++) {
          for (let ix = Math.max(x0, 0); ix < Math.min(x1, wd); ix++) {
            const v = x[(nc * h + iy) * wd + ix]!;
            acc = node.op === "maxpool2d" ? Math.max(acc, v) : acc + v;
            count++;
          }
        }
        out[(nc * ho + oy) * wo + ox] =
          node.op === "maxpool2d" ? acc : acc / (countPad ? padded : count);
      }
    }
  }
  return out;
}

/** erf to double precision: Taylor series near 0, Lentz continued fraction for erfc beyond. */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 80; n++) {
      term *= (-ax * ax) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * ((2 / Math.sqrt(Math.PI)) * sum);
  }
  // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...))))
  let f = ax;
  for (let n = 60; n >= 1; n--) f = ax + n / 2 / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));
const relu6 = (v: number): number => Math.min(Math.max(v, 0), 6);

/** Every activation, as the unary ops and the conv/dense epilogue both apply them. */
export const activations: Readonly<Record<EpilogueAct, (v: number, alpha: number) => number>> = {
  none: (v) => v,
  relu: (v) => Math.max(v, 0),
  relu6,
  leaky_relu: (v, alpha) => (v > 0 ? v : alpha * v),
  sigmoid,
  tanh: Math.tanh,
  gelu: (v) => 0.5 * v * (1 + erf(v / Math.SQRT2)),
  silu: (v) => v * sigmoid(v),
  hardswish: (v) => (v * relu6(v + 3)) / 6,
  hardsigmoid: (v) => relu6(v + 3) / 6,
};

/** y = act(y + residual), in place. */
function epilogue(
  y: Tensor,
  residual: Tensor | undefined,
  act: EpilogueAct,
  alpha: number,
): Tensor {
  const f = activations[act];
  for (let i = 0; i < y.length; i++) y[i] = f(y[i]! + (residual ? residual[i]! : 0), alpha);
  return y;
}

function map(x: Tensor, f: (v: number) => number): Tensor {
  return x.map(f);
}

function channelwise(
  node: Node,
  x: Tensor,
  ctx: OpContext,
  f: (v: number, ch: number) => number,
): Tensor {
  const s = ctx.inputShapes[0] ?? [];
  const c = s[0] ?? 1;
  const inner = size(s.slice(1));
  return x.map((v, i) => f(v, Math.floor(i / inner) % c));
}

/** NumPy broadcasting of same-rank [C, H, W] (or [F]) operands to the output shape. */
function broadcastBinary(
  node: Node,
  inputs: readonly Tensor[],
  ctx: OpContext,
  f: (a: number, b: number) => number,
): Tensor {
  const out = node.shape;
  const total = size(out);
  const result = new Float64Array(ctx.batch * total);
  const strides = ctx.inputShapes.map((s) => {
    // Stride 0 along broadcast dimensions.
    const st = new Array<number>(s.length).fill(0);
    let acc = 1;
    for (let i = s.length - 1; i >= 0; i--) {
      st[i] = s[i] === 1 && out[i] !== 1 ? 0 : acc;
      acc *= s[i]!;
    }
    return { st, per: acc };
  });
  for (let n = 0; n < ctx.batch; n++) {
    for (let i = 0; i < total; i++) {
      let rem = i;
      const idx = new Array<number>(out.length);
      for (let dIdx = out.length - 1; dIdx >= 0; dIdx--) {
        idx[dIdx] = rem % out[dIdx]!;
        rem = Math.floor(rem / out[dIdx]!);
      }
      let acc: number | undefined;
      inputs.forEach((t, k) => {
        const { st, per } = strides[k]!;
        const off = n * per + idx.reduce((a, v, j) => a + v * st[j]!, 0);
        acc = acc === undefined ? t[off]! : f(acc, t[off]!);
      });
      result[n * total + i] = acc!;
    }
  }
  return result;
}

export const opImpls: Readonly<Record<OpKind, OpImpl>> = {
  conv2d(node, [x, residual], ctx) {
    if (node.op !== "conv2d") throw new Error("conv2d");
    const a = node.attrs;
    const w = ctx.weights;
    const y = conv(x!, ctx.inputShapes[0]!, node.shape, w[0]!, w[1], a, a.padmode, ctx.batch);
    return epilogue(y, residual, a.act, a.alpha);
  },
  deconv2d(node, [x], ctx) {
    if (node.op !== "deconv2d") throw new Error("deconv2d");
    return deconv(node, x!, ctx);
  },
  sepconv2d(node, [x], ctx) {
    if (node.op !== "sepconv2d") throw new Error("sepconv2d");
    const a = node.attrs;
    const [c] = dims3(ctx.inputShapes[0]);
    const mid: Shape = [c * a.mult, node.shape[1]!, node.shape[2]!];
    const dw = conv(
      x!,
      ctx.inputShapes[0]!,
      mid,
      ctx.weights[0]!,
      undefined,
      { ...a, g: c },
      a.padmode,
      ctx.batch,
    );
    const one = { k: [1, 1], s: [1, 1], p: [0, 0, 0, 0] as Quad, d: [1, 1], g: 1 };
    return conv(dw, mid, node.shape, ctx.weights[1]!, ctx.weights[2], one, "zeros", ctx.batch);
  },
  maxpool2d: (node, [x], ctx) => pool(node as Node & { op: "maxpool2d" }, x!, ctx),
  avgpool2d: (node, [x], ctx) => pool(node as Node & { op: "avgpool2d" }, x!, ctx),
  globalavgpool(node, [x], ctx) {
    const [c, h, w] = dims3(ctx.inputShapes[0]);
    const out = new Float64Array(ctx.batch * c);
    for (let i = 0; i < ctx.batch * c; i++) {
      let acc = 0;
      for (let j = 0; j < h * w; j++) acc += x![i * h * w + j]!;
      out[i] = acc / (h * w);
    }
    return out;
  },
  globalmaxpool(node, [x], ctx) {
    const [c, h, w] = dims3(ctx.inputShapes[0]);
    const out = new Float64Array(ctx.batch * c);
    for (let i = 0; i < ctx.batch * c; i++) {
      let acc = -Infinity;
      for (let j = 0; j < h * w; j++) acc = Math.max(acc, x![i * h * w + j]!);
      out[i] = acc;
    }
    return out;
  },
  // y = (x - mean) / sqrt(var + eps) * gamma + beta
  batchnorm(node, [x], ctx) {
    if (node.op !== "batchnorm") throw new Error("batchnorm");
    const [gamma, beta, mean, variance] = ctx.weights as [
      Float32Array,
      Float32Array,
      Float32Array,
      Float32Array,
    ];
    const eps = node.attrs.eps;
    return channelwise(
      node,
      x!,
      ctx,
      (v, ch) => ((v - mean[ch]!) / Math.sqrt(variance[ch]! + eps)) * gamma[ch]! + beta[ch]!,
    );
  },
  // y = W x + b, W: [units, inputs]
  dense(node, [x, residual], ctx) {
    if (node.op !== "dense") throw new Error("dense");
    const inputs = ctx.inputShapes[0]?.[0] ?? 0;
    const units = node.attrs.units;
    const [w, b] = ctx.weights;
    const out = new Float64Array(ctx.batch * units);
    for (let n = 0; n < ctx.batch; n++) {
      for (let u = 0; u < units; u++) {
        let acc = b ? b[u]! : 0;
        for (let i = 0; i < inputs; i++) acc += w![u * inputs + i]! * x![n * inputs + i]!;
        out[n * units + u] = acc;
      }
    }
    return epilogue(out, residual, node.attrs.act, node.attrs.alpha);
  },
  flatten: (_, [x]) => x!,
  dropout: (_, [x]) => x!,
  // Nearest: src = floor(dst / scale). Bilinear, align_corners = false (PyTorch's default):
  // src = (dst + 0.5) / scale - 0.5, clamped at 0, between the two nearest pixels.
  upsample(node, [x], ctx) {
    if (node.op !== "upsample") throw new Error("upsample");
    const [c, h, w] = dims3(ctx.inputShapes[0]);
    const [, ho, wo] = dims3(node.shape);
    const { scale, mode } = node.attrs;
    const out = new Float64Array(ctx.batch * c * ho * wo);
    const at = (nc: number, y: number, xx: number): number => x![(nc * h + y) * w + xx]!;
    for (let nc = 0; nc < ctx.batch * c; nc++) {
      for (let oy = 0; oy < ho; oy++) {
        for (let ox = 0; ox < wo; ox++) {
          let v: number;
          if (mode === "nearest") v = at(nc, Math.floor(oy / scale[0]), Math.floor(ox / scale[1]));
          else {
            const sy = Math.max((oy + 0.5) / scale[0] - 0.5, 0);
            const sx = Math.max((ox + 0.5) / scale[1] - 0.5, 0);
            const y0 = Math.floor(sy);
            const x0 = Math.floor(sx);
            const y1 = Math.min(y0 + 1, h - 1);
            const x1 = Math.min(x0 + 1, w - 1);
            const fy = sy - y0;
            const fx = sx - x0;
            v =
              (1 - fy) * ((1 - fx) * at(nc, y0, x0) + fx * at(nc, y0, x1)) +
              fy * ((1 - fx) * at(nc, y1, x0) + fx * at(nc, y1, x1));
          }
          out[(nc * ho + oy) * wo + ox] = v;
        }
      }
    }
    return out;
  },
  pad(node, [x], ctx) {
    if (node.op !== "pad") throw new Error("pad");
    const [c, h, w] = dims3(ctx.inputShapes[0]);
    const [, ho, wo] = dims3(node.shape);
    const { p, mode, value } = node.attrs;
    const out = new Float64Array(ctx.batch * c * ho * wo);
    for (let nc = 0; nc < ctx.batch * c; nc++) {
      for (let oy = 0; oy < ho; oy++) {
        const iy = sourceIndex(oy - p[0], h, mode);
        for (let ox = 0; ox < wo; ox++) {
          const ix = sourceIndex(ox - p[1], w, mode);
          out[(nc * ho + oy) * wo + ox] = iy < 0 || ix < 0 ? value : x![(nc * h + iy) * w + ix]!;
        }
      }
    }
    return out;
  },
  // PyTorch's LocalResponseNorm: b_c = a_c / (k + alpha / size * sum a_j^2)^beta over
  // j in [c - floor(size / 2), c + floor((size - 1) / 2)].
  lrn(node, [x], ctx) {
    if (node.op !== "lrn") throw new Error("lrn");
    const [c, h, w] = dims3(ctx.inputShapes[0]);
    const { size: n, alpha, beta, k } = node.attrs;
    const out = new Float64Array(x!.length);
    const hw = h * w;
    for (let b = 0; b < ctx.batch; b++) {
      for (let ch = 0; ch < c; ch++) {
        for (let i = 0; i < hw; i++) {
          let sum = 0;
          for (
            let j = Math.max(0, ch - Math.floor(n / 2));
            j <= Math.min(c - 1, ch + Math.floor((n - 1) / 2));
            j++
          ) {
            const v = x![(b * c + j) * hw + i]!;
            sum += v * v;
          }
          const idx = (b * c + ch) * hw + i;
          out[idx] = x![idx]! / Math.pow(k + (alpha / n) * sum, beta);
        }
      }
    }
    return out;
  },
  relu: (_, [x]) => map(x!, (v) => activations.relu(v, 0)),
  relu6: (_, [x]) => map(x!, relu6),
  leaky_relu: (node, [x]) => {
    const alpha = node.op === "leaky_relu" ? node.attrs.alpha : 0;
    return map(x!, (v) => activations.leaky_relu(v, alpha));
  },
  sigmoid: (_, [x]) => map(x!, sigmoid),
  tanh: (_, [x]) => map(x!, Math.tanh),
  gelu: (_, [x]) => map(x!, (v) => activations.gelu(v, 0)),
  silu: (_, [x]) => map(x!, (v) => activations.silu(v, 0)),
  hardswish: (_, [x]) => map(x!, (v) => activations.hardswish(v, 0)),
  hardsigmoid: (_, [x]) => map(x!, (v) => activations.hardsigmoid(v, 0)),
  // Over channels, per pixel (per sample for flat input); max-subtracted for stability.
  softmax(node, [x], ctx) {
    const s = ctx.inputShapes[0] ?? [];
    const c = s[0] ?? 1;
    const inner = size(s.slice(1));
    const out = new Float64Array(x!.length);
    for (let n = 0; n < ctx.batch; n++) {
      for (let i = 0; i < inner; i++) {
        const at = (ch: number): number => (n * c + ch) * inner + i;
        let max = -Infinity;
        for (let ch = 0; ch < c; ch++) max = Math.max(max, x![at(ch)]!);
        let sum = 0;
        for (let ch = 0; ch < c; ch++) sum += Math.exp(x![at(ch)]! - max);
        for (let ch = 0; ch < c; ch++) out[at(ch)] = Math.exp(x![at(ch)]! - max) / sum;
      }
    }
    return out;
  },
  concat(node, inputs, ctx) {
    const total = size(node.shape);
    const out = new Float64Array(ctx.batch * total);
    for (let n = 0; n < ctx.batch; n++) {
      let offset = n * total;
      inputs.forEach((t, k) => {
        const per = size(ctx.inputShapes[k]!);
        out.set(t.subarray(n * per, (n + 1) * per), offset);
        offset += per;
      });
    }
    return out;
  },
  add: (node, inputs, ctx) => broadcastBinary(node, inputs, ctx, (a, b) => a + b),
  mul: (node, inputs, ctx) => broadcastBinary(node, inputs, ctx, (a, b) => a * b),
};
