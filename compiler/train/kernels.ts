// WGSL kernels of training on WebGPU: training-mode forward passes (batch norm's batch
// statistics, dropout's mask), the loss, each op's backward pass and the optimisers' updates.
// Backward kernels gather: one thread per element of the gradient they produce, which adds
// its whole sum once (`+=`: gradient buffers are cleared before each step, and a value read
// by several layers gathers each one's share). Reductions over the batch and the map (weight
// gradients, batch statistics) take a workgroup per result and reduce in workgroup memory.
import type { Kernel } from "../codegen/plan-types.js";
import {
  buildShader,
  convConsts,
  flatGroup,
  flatIndex,
  f32,
  type ConvWindow,
  type ShaderBinding,
} from "../codegen/wgsl.js";
import { activations, type Activation } from "../ops/activations.js";

type Bind = ShaderBinding;
const value = (name: string, v: string): Bind => ({
  name,
  access: "read_write",
  bind: { value: v },
});
const fixed = (name: string, w: string, write = false): Bind => ({
  name,
  access: write ? "read_write" : "read",
  bind: { weight: w },
});

import { hyper } from "../../runtime/format.js";
export { hyper, hyperSize } from "../../runtime/format.js";

/** One thread per element: `perBatch` per item (or `count` in all, batch-independent). */
function flatKernel(
  size: { perBatch: number } | { count: number; lengthOf?: string },
  bindings: readonly Bind[],
  consts: Record<string, number>,
  body: string,
  decls: readonly string[] = [],
): Kernel {
  const perBatch = "perBatch" in size;
  // A batch-independent kernel still names the batch uniform (the bind group binds it). One
  // bounded by a binding's length is the same shader whatever the size: compiled once for all
  // the weights it serves.
  const lengthOf = "lengthOf" in size ? size.lengthOf : undefined;
  const total = perBatch
    ? "params.batch * PER"
    : `${lengthOf ? `arrayLength(&${lengthOf})` : "COUNT"} + 0u * params.batch`;
  const counted: Record<string, number> = perBatch || lengthOf ? {} : { COUNT: size.count };
  const shader = buildShader({
    bindings,
    consts: perBatch ? { PER: size.perBatch, ...consts } : { ...counted, ...consts },
    decls,
    workgroupSize: [flatGroup, 1, 1],
    body: `${flatIndex}\nif (i >= ${total}) { return; }\n${body}`,
  });
  const grid = perBatch
    ? ({ kind: "flat", perBatch: size.perBatch, groupSize: flatGroup } as const)
    : ({
        kind: "tiles",
        x: { perBatch: 0, fixed: Math.min(size.count, 65535 * flatGroup), div: flatGroup },
        y: { perBatch: 0, fixed: Math.ceil(size.count / (65535 * flatGroup)), div: 1 },
        z: { perBatch: 0, fixed: 1, div: 1 },
      } as const);
  return { ...shader, grid };
}

/** Threads of a reducing workgroup. */
const reduceGroup = 64;

/**
 * One workgroup per result (`count` of them, folded into x and y): its threads take the terms
 * `t` from 0 to `terms` (WGSL, may use params.batch) a stride apart, each adding `term(r, t)`
 * (a WGSL expression) into `acc`, then the workgroup sums and `finish` stores `total` for `r`.
 */
function reduceKernel(
  count: number,
  bindings: readonly Bind[],
  consts: Record<string, number>,
  terms: string,
  term: string,
  finish: string,
  decls: readonly string[] = [],
  setup = "",
): Kernel {
  const x = Math.min(count, 32768);
  const shader = buildShader({
    bindings,
    consts: { COUNT: count, ...consts },
    decls: [`var<workgroup> part: array<f32, ${reduceGroup}>;`, ...decls],
    workgroupSize: [reduceGroup, 1, 1],
    body: `let r = wid.x + wid.y * nwg.x;
if (r >= COUNT) { return; }
${setup}
var acc = 0.0;
let terms = ${terms};
for (var t = lid.x; t < terms; t += ${reduceGroup}u) {
  acc += ${term};
}
part[lid.x] = acc;
workgroupBarrier();
for (var s = ${reduceGroup / 2}u; s > 0u; s >>= 1u) {
  if (lid.x < s) { part[lid.x] += part[lid.x + s]; }
  workgroupBarrier();
}
if (lid.x == 0u) {
  let total = part[0];
  ${finish}
}`,
  });
  return {
    ...shader,
    grid: {
      kind: "tiles",
      x: { perBatch: 0, fixed: x, div: 1 },
      y: { perBatch: 0, fixed: Math.ceil(count / x), div: 1 },
      z: { perBatch: 0, fixed: 1, div: 1 },
    },
  };
}

// ---- activations -----------------------------------------------------------------------------

/** dx += dy * act'(x), from the activation table's WGSL derivative. */
export function activationBackward(
  x: string,
  dy: string,
  dx: string,
  perBatch: number,
  act: Activation,
): Kernel {
  const def = activations[act.op];
  return flatKernel(
    { perBatch },
    [value("x", x), value("dy", dy), value("dx", dx)],
    {},
    `let v = x[i];\ndx[i] += dy[i] * (${def.wgslDerivative("v", f32(act.alpha))});`,
    def.decls ?? [],
  );
}

// ---- convolution -------------------------------------------------------------------------------

/** A zero-padded conv's window and shapes, its input, weight and output gradient. */
export interface ConvGrad extends ConvWindow {
  readonly x: string;
  readonly dy: string;
  readonly weight: string;
  readonly groups: number;
}

/** convConsts (C H W, F HO WO, KH KW, SH SW, DH DW, PT PL) and the group sizes CG, FG. */
function convConstsOf(g: ConvGrad): Record<string, number> {
  return { ...convConsts(g), CG: g.inShape[0] / g.groups, FG: g.outShape[0] / g.groups };
}

/** The largest of `options` that divides `n` (a register block that never crosses a group). */
const blockOf = (n: number, options: readonly number[]): number =>
  options.find((b) => n % b === 0) ?? 1;

const upto = (n: number): number[] => [...Array(n).keys()];

/**
 * dx of a zero-padded conv: each input pixel gathers dy * w over the outputs whose window
 * tap lands on it (oy * s - p + ky * d = iy, for each filter of its group). A thread keeps a
 * block in registers: RC input channels of one group by RP pixels of one input row that share
 * a column phase (ix mod the stride), so that every tap valid for one is valid for all and
 * their outputs are RP neighbouring columns of dy: per tap and filter RP output gradients and
 * RC weights feed RC x RP multiply-adds. Threads side by side take neighbouring blocks of one
 * row and phase: no lane of a SIMD group waits on another's branch.
 */
export function convInputGrad(g: ConvGrad, dx: string): Kernel {
  const [c, h, w] = g.inShape;
  const rc = blockOf(c / g.groups, [4, 2]);
  const rp = rc === 1 ? 8 : 4;
  const wp = Math.ceil(w / g.s[1]); // columns of one phase
  const segs = Math.ceil(wp / rp);
  const j = upto(rp);
  const r = upto(rc);
  const a = (ri: number, ji: number) => `a${ri}_${ji}`;
  return flatKernel(
    { perBatch: (c / rc) * h * g.s[1] * segs },
    [value("dy", g.dy), fixed("wt", g.weight), value("dx", dx)],
    { ...convConstsOf(g), RC: rc, RP: rp, SEGS: segs },
    `let seg = i % SEGS;
let px = (i / SEGS) % SW;
let iy = i32((i / (SEGS * SW)) % H);
let ci0 = ((i / (SEGS * SW * H)) % (C / RC)) * RC;
let n = i / (SEGS * SW * H * (C / RC));
let ix0 = px + SW * seg * RP;
if (ix0 >= W) { return; }
let grp = ci0 / CG;
let cl0 = ci0 % CG;
${r.flatMap((ri) => j.map((ji) => `var ${a(ri, ji)} = 0.0;`)).join("\n")}
for (var ky = 0u; ky < KH; ky++) {
  let ny = iy + i32(PT) - i32(ky * DH);
  if (ny < 0 || ny % i32(SH) != 0) { continue; }
  let oy = u32(ny) / SH;
  if (oy >= HO) { continue; }
  for (var kx = 0u; kx < KW; kx++) {
    let nx = i32(ix0 + PL) - i32(kx * DW);
    if (((nx % i32(SW)) + i32(SW)) % i32(SW) != 0) { continue; }
    let ox0 = nx / i32(SW);
${j
  .map(
    (ji) => `    let in${ji} = ox0 + ${ji} >= 0 && ox0 + ${ji} < i32(WO);
    let at${ji} = u32(clamp(ox0 + ${ji}, 0, i32(WO) - 1));`,
  )
  .join("\n")}
    var yb = ((n * F + grp * FG) * HO + oy) * WO;
    var wi = ((grp * FG * CG + cl0) * KH + ky) * KW + kx;
    for (var fo = 0u; fo < FG; fo++) {
${j.map((ji) => `      let d${ji} = select(0.0, dy[yb + at${ji}], in${ji});`).join("\n")}
${r.map((ri) => `      let w${ri} = wt[wi + ${ri}u * KH * KW];`).join("\n")}
${r.flatMap((ri) => j.map((ji) => `      ${a(ri, ji)} += w${ri} * d${ji};`)).join("\n")}
      yb += HO * WO;
      wi += CG * KH * KW;
    }
  }
}
let xb = ((n * C + ci0) * H + u32(iy)) * W + ix0;
${j
  .map(
    (ji) =>
      `if (ix0 + ${ji}u * SW < W) {
${r.map((ri) => `  dx[xb + ${ri}u * H * W + ${ji}u * SW] += ${a(ri, ji)};`).join("\n")}
}`,
  )
  .join("\n")}`,
  );
}

/**
 * dw of a zero-padded conv, in two dispatches without barriers: each item's share of each
 * weight's sum (x * dy over the output map) into `partial` ([N, weights]), then the sum over
 * the items. A thread per (item, input channel, window row, block of RF filters of its group)
 * keeps RF x KW sums in registers: per output pixel it loads KW inputs and RF output gradients
 * for RF x KW multiply-adds. The per-item shares keep a GPU's thousands of threads busy.
 */
export function convWeightGrad(g: ConvGrad, partial: string, dw: string): Kernel[] {
  const cg = g.inShape[0] / g.groups;
  const fg = g.outShape[0] / g.groups;
  const count = g.outShape[0] * cg * g.k[0] * g.k[1];
  const rf = blockOf(fg, [8, 4, 2]);
  const r = upto(rf);
  const kx = upto(g.k[1]);
  const a = (ri: number, k: number) => `a${ri}_${k}`;
  const share = flatKernel(
    { perBatch: g.inShape[0] * g.k[0] * (fg / rf) },
    [value("x", g.x), value("dy", g.dy), value("part", partial)],
    { ...convConstsOf(g), WN: count, RF: rf },
    `let fb = i % (FG / RF);
let ky = (i / (FG / RF)) % KH;
let cin = (i / (FG / RF * KH)) % C;
let n = i / (FG / RF * KH * C);
let grp = cin / CG;
let cl = cin % CG;
let o0 = grp * FG + fb * RF;
${r.flatMap((ri) => kx.map((k) => `var ${a(ri, k)} = 0.0;`)).join("\n")}
for (var oy = 0u; oy < HO; oy++) {
  let iy = i32(oy * SH + ky * DH) - i32(PT);
  if (iy < 0 || iy >= i32(H)) { continue; }
  let xrow = ((n * C + cin) * H + u32(iy)) * W;
  let yrow = ((n * F + o0) * HO + oy) * WO;
  for (var ox = 0u; ox < WO; ox++) {
    let xs = i32(ox * SW) - i32(PL);
${kx.map((k) => `    let x${k} = select(0.0, x[xrow + u32(clamp(xs + ${k * g.d[1]}, 0, i32(W) - 1))], xs + ${k * g.d[1]} >= 0 && xs + ${k * g.d[1]} < i32(W));`).join("\n")}
${r.map((ri) => `    let d${ri} = dy[yrow + ${ri}u * HO * WO + ox];`).join("\n")}
${r.flatMap((ri) => kx.map((k) => `    ${a(ri, k)} += d${ri} * x${k};`)).join("\n")}
  }
}
let wb = n * WN + ((o0 * CG + cl) * KH + ky) * KW;
${r.flatMap((ri) => kx.map((k) => `part[wb + ${ri}u * CG * KH * KW + ${k}u] = ${a(ri, k)};`)).join("\n")}`,
  );
  return [share, batchSum(partial, dw, count)];
}

/** dw[r] += sum over the items of partial[n, r]. */
export function batchSum(partial: string, dw: string, count: number): Kernel {
  return flatKernel(
    { count, lengthOf: "dw" },
    [value("part", partial), fixed("dw", dw, true)],
    {},
    `var acc = 0.0;
let count = arrayLength(&dw);
for (var n = 0u; n < params.batch; n++) { acc += part[n * count + i]; }
dw[i] += acc;`,
  );
}

/**
 * The weight of the conv that computes a stride-1 conv's input gradient: each group's
 * [F/g, C/g] blocks transposed and every window turned half a circle,
 * out[c, f, ky, kx] = w[group * F/g + f, c % (C/g), KH - 1 - ky, KW - 1 - kx].
 */
export function flippedWeight(
  weight: string,
  out: string,
  filters: number,
  channels: number,
  groups: number,
  k: readonly [number, number],
): Kernel {
  const count = filters * (channels / groups) * k[0] * k[1];
  return flatKernel(
    { count },
    [fixed("wt", weight), fixed("wf", out, true)],
    { CG: channels / groups, FG: filters / groups, KH: k[0], KW: k[1] },
    `let kx = i % KW;
let ky = (i / KW) % KH;
let f = (i / (KH * KW)) % FG;
let c = i / (FG * KH * KW);
let o = (c / CG) * FG + f;
wf[i] = wt[((o * CG + c % CG) * KH + (KH - 1u - ky)) * KW + (KW - 1u - kx)];`,
  );
}

/** A bias's (or batch norm beta's) gradient: a workgroup per channel sums dy over N, H, W. */
export function channelSumGrad(dy: string, db: string, channels: number, inner: number): Kernel {
  return reduceKernel(
    channels,
    [value("dy", dy), fixed("db", db, true)],
    { C: channels, INNER: inner },
    "params.batch * INNER",
    "dy[((t / INNER) * C + r) * INNER + t % INNER]",
    "db[r] += total;",
  );
}

// ---- dense -----------------------------------------------------------------------------------

/** dx[n, i] += sum_u dy[n, u] w[u, i]. */
export function denseInputGrad(
  dy: string,
  weight: string,
  dx: string,
  inputs: number,
  units: number,
): Kernel {
  return flatKernel(
    { perBatch: inputs },
    [value("dy", dy), fixed("wt", weight), value("dx", dx)],
    { IN: inputs, U: units },
    `let n = i / IN;
let k = i % IN;
var acc = 0.0;
for (var u = 0u; u < U; u++) { acc += dy[n * U + u] * wt[u * IN + k]; }
dx[i] += acc;`,
  );
}

/** dw[u, i] += sum_n dy[n, u] x[n, i]. */
export function denseWeightGrad(
  x: string,
  dy: string,
  dw: string,
  inputs: number,
  units: number,
): Kernel {
  return flatKernel(
    { count: inputs * units },
    [value("x", x), value("dy", dy), fixed("dw", dw, true)],
    { IN: inputs, U: units },
    `let u = i / IN;
let k = i % IN;
var acc = 0.0;
for (var n = 0u; n < params.batch; n++) { acc += dy[n * U + u] * x[n * IN + k]; }
dw[i] += acc;`,
  );
}

// ---- pooling -----------------------------------------------------------------------------------

export interface PoolGrad {
  readonly x: string;
  readonly dy: string;
  readonly inShape: readonly [number, number, number];
  readonly outShape: readonly [number, number, number];
  readonly k: readonly [number, number];
  readonly s: readonly [number, number];
  /** [top, left, bottom, right] */
  readonly p: readonly [number, number, number, number];
  readonly d: readonly [number, number];
}

/**
 * Pooling's gradient, gathered by each input pixel over the windows that hold it: max pooling
 * passes a window's gradient to its first maximum (the window's taps scanned as the forward
 * pass scans them), average pooling divides it by the window's count (PyTorch's divisor).
 */
export function poolGrad(g: PoolGrad, dx: string, kind: "max" | "avg", countPad: boolean): Kernel {
  const [c, h, w] = g.inShape;
  const contribution =
    kind === "max"
      ? `// the window's first maximum
var best = -3.4e38;
var at = -1;
for (var a = 0u; a < KH; a++) {
  let yy = i32(oy * SH + a * DH) - i32(PT);
  if (yy < 0 || yy >= i32(H)) { continue; }
  for (var b = 0u; b < KW; b++) {
    let xx = i32(ox * SW + b * DW) - i32(PL);
    if (xx < 0 || xx >= i32(W)) { continue; }
    let v = x[base + u32(yy) * W + u32(xx)];
    if (v > best || at < 0) { best = v; at = yy * i32(W) + xx; }
  }
}
if (at == iy * i32(W) + ix) { acc += dy[obase + oy * WO + ox]; }`
      : `let y0 = i32(oy * SH) - i32(PT);
let x0 = i32(ox * SW) - i32(PL);
let y1 = min(y0 + i32(KH), i32(H + PB));
let x1 = min(x0 + i32(KW), i32(W + PR));
var count = f32((y1 - y0) * (x1 - x0));
if (${countPad ? "false" : "true"}) {
  count = f32((min(y1, i32(H)) - max(y0, 0)) * (min(x1, i32(W)) - max(x0, 0)));
}
acc += dy[obase + oy * WO + ox] / count;`;
  return flatKernel(
    { perBatch: c * h * w },
    // (average pooling does not read x: an unused binding would not be in the layout)
    kind === "max"
      ? [value("x", g.x), value("dy", g.dy), value("dx", dx)]
      : [value("dy", g.dy), value("dx", dx)],
    {
      ...convConsts({
        inShape: g.inShape,
        outShape: g.outShape,
        k: g.k,
        s: g.s,
        d: g.d,
        pad: [g.p[0], g.p[1]],
      }),
      PB: g.p[2],
      PR: g.p[3],
    },
    `let m = i / (H * W);
let iy = i32((i / W) % H);
let ix = i32(i % W);
let base = m * H * W;
let obase = m * HO * WO;
var acc = 0.0;
for (var a = 0u; a < KH; a++) {
  let ny = iy + i32(PT) - i32(a * DH);
  if (ny < 0 || ny % i32(SH) != 0) { continue; }
  let oy = u32(ny) / SH;
  if (oy >= HO) { continue; }
  for (var b = 0u; b < KW; b++) {
    let nx = ix + i32(PL) - i32(b * DW);
    if (nx < 0 || nx % i32(SW) != 0) { continue; }
    let ox = u32(nx) / SW;
    if (ox >= WO) { continue; }
    ${contribution.replace(/\n/g, "\n    ")}
  }
}
dx[i] += acc;`,
  );
}

/** Global pooling's gradient: the average's share, or all of it to the map's first maximum. */
export function globalPoolGrad(
  x: string,
  y: string,
  dy: string,
  dx: string,
  channels: number,
  inner: number,
  max: boolean,
): Kernel {
  return flatKernel(
    { perBatch: channels * inner },
    // (average pooling reads neither x nor y: unused bindings would not be in the layout)
    max
      ? [value("x", x), value("y", y), value("dy", dy), value("dx", dx)]
      : [value("dy", dy), value("dx", dx)],
    { INNER: inner },
    max
      ? `let m = i / INNER;
let top = y[m];
var first = m * INNER;
loop {
  if (x[first] == top || first >= i) { break; }
  first++;
}
if (first == i && x[i] == top) { dx[i] += dy[m]; }`
      : `dx[i] += dy[i / INNER] / f32(INNER);`,
  );
}

// ---- batch norm --------------------------------------------------------------------------------

/**
 * The buffers of a batch norm in training mode: its input and output, their gradients, its
 * weights and their gradients, `stats` ([mean, 1 / sqrt(var + eps)] per channel, the batch's)
 * and `sums` ([sum dy, sum dy * xhat] per channel); `inner` elements per channel and item.
 */
export interface BatchNormBuffers {
  readonly x: string;
  readonly y: string;
  readonly gamma: string;
  readonly beta: string;
  readonly mean: string;
  readonly variance: string;
  readonly stats: string;
  readonly sums: string;
  readonly channels: number;
  readonly inner: number;
  readonly eps: number;
  /** How far the running statistics move to the batch's (PyTorch's momentum). */
  readonly momentum: number;
}

/** The buffers a backward pass adds: the gradients. */
export interface BatchNormGrads {
  readonly dy: string;
  readonly dx: string | undefined;
  readonly dgamma: string;
  readonly dbeta: string;
}

/** Every channel's element `t` of the batch and the map (a reduction's term). */
const channelElement = `fn at(t: u32, r: u32) -> u32 { return ((t / INNER) * C + r) * INNER + t % INNER; }`;

/**
 * Batch statistics: a workgroup per channel takes the mean, then the mean squared deviation
 * (two passes: no cancellation) into `stats`; the running statistics move `momentum` of the way
 * (the variance unbiased).
 */
export function batchStats(b: BatchNormBuffers): Kernel {
  return reduceKernel(
    b.channels,
    [
      value("x", b.x),
      fixed("stats", b.stats, true),
      fixed("rmean", b.mean, true),
      fixed("rvar", b.variance, true),
    ],
    { C: b.channels, INNER: b.inner },
    "params.batch * INNER",
    "sq(t, r)",
    `let m = f32(params.batch * INNER);
let mean = mean_of[0] / m;
let variance = total / m;
stats[2u * r] = mean;
stats[2u * r + 1u] = inverseSqrt(variance + ${f32(b.eps)});
rmean[r] = ${f32(1 - b.momentum)} * rmean[r] + ${f32(b.momentum)} * mean;
rvar[r] = ${f32(1 - b.momentum)} * rvar[r] + ${f32(b.momentum)} * variance * m / max(m - 1.0, 1.0);`,
    [
      channelElement,
      `var<workgroup> mean_of: array<f32, 1>;
fn sq(t: u32, r: u32) -> f32 {
  let v = x[at(t, r)] - mean_of[0] / f32(params.batch * INNER);
  return v * v;
}`,
    ],
    // the mean first, by the same reduction
    `{
  var s = 0.0;
  for (var t = lid.x; t < params.batch * INNER; t += ${reduceGroup}u) { s += x[at(t, r)]; }
  part[lid.x] = s;
  workgroupBarrier();
  for (var k = ${reduceGroup / 2}u; k > 0u; k >>= 1u) {
    if (lid.x < k) { part[lid.x] += part[lid.x + k]; }
    workgroupBarrier();
  }
  if (lid.x == 0u) { mean_of[0] = part[0]; }
  workgroupBarrier();
}`,
  );
}

/** y = (x - mean) * istd * gamma + beta with the batch's statistics. */
export function batchNormTrain(b: BatchNormBuffers): Kernel {
  return flatKernel(
    { perBatch: b.channels * b.inner },
    [
      value("x", b.x),
      fixed("stats", b.stats),
      fixed("gamma", b.gamma),
      fixed("beta", b.beta),
      value("y", b.y),
    ],
    { C: b.channels, INNER: b.inner },
    `let c = (i / INNER) % C;
y[i] = (x[i] - stats[2u * c]) * stats[2u * c + 1u] * gamma[c] + beta[c];`,
  );
}

/**
 * The backward pass: per channel the sums of dy (beta's gradient) and of dy * xhat (gamma's),
 * then dx += gamma istd (dy - sum dy / M - xhat sum(dy xhat) / M), M the batch times the map.
 */
export function batchNormBackward(b: BatchNormBuffers, g: BatchNormGrads): Kernel[] {
  const consts = { C: b.channels, INNER: b.inner };
  const sum = (term: string, into: 0 | 1, grad: string, reads: readonly Bind[]) =>
    reduceKernel(
      b.channels,
      [...reads, fixed("sums", b.sums, true), fixed("dw", grad, true)],
      consts,
      "params.batch * INNER",
      term,
      `sums[2u * r + ${into}u] = total;\ndw[r] += total;`,
      [channelElement],
    );
  const kernels = [
    sum("dy[at(t, r)]", 0, g.dbeta, [value("dy", g.dy)]),
    sum("dy[at(t, r)] * (x[at(t, r)] - stats[2u * r]) * stats[2u * r + 1u]", 1, g.dgamma, [
      value("x", b.x),
      value("dy", g.dy),
      fixed("stats", b.stats),
    ]),
  ];
  if (!g.dx) return kernels;
  const dx = flatKernel(
    { perBatch: b.channels * b.inner },
    [
      value("x", b.x),
      value("dy", g.dy),
      fixed("stats", b.stats),
      fixed("sums", b.sums),
      fixed("gamma", b.gamma),
      value("dx", g.dx),
    ],
    consts,
    `let c = (i / INNER) % C;
let m = f32(params.batch * INNER);
let istd = stats[2u * c + 1u];
let xh = (x[i] - stats[2u * c]) * istd;
dx[i] += gamma[c] * istd * (dy[i] - sums[2u * c] / m - xh * sums[2u * c + 1u] / m);`,
  );
  return [...kernels, dx];
}

// ---- per-channel and per-element affine maps, clip, prelu --------------------------------------

/** dx += dy * f, f a WGSL expression of x[i], c (the channel) and the bound `wt` weight. */
export function scaledGrad(
  x: string,
  dy: string,
  dx: string,
  weight: string | undefined,
  channels: number,
  inner: number,
  factor: string,
): Kernel {
  return flatKernel(
    { perBatch: channels * inner },
    [
      ...(factor.includes("x[i]") ? [value("x", x)] : []),
      value("dy", dy),
      ...(weight ? [fixed("wt", weight)] : []),
      value("dx", dx),
    ],
    { C: channels, INNER: inner },
    `let c = (i / INNER) % C;
dx[i] += dy[i] * (${factor});`,
  );
}

/**
 * A per-channel weight's gradient: a workgroup per channel sums `term` (a WGSL expression of
 * `xv` and `g`, the input and output gradient at one element) over the batch and the map.
 */
export function channelTermSum(
  x: string,
  dy: string,
  dw: string,
  channels: number,
  inner: number,
  term: string,
): Kernel {
  return reduceKernel(
    channels,
    [value("x", x), value("dy", dy), fixed("dw", dw, true)],
    { C: channels, INNER: inner },
    "params.batch * INNER",
    "tm(at(t, r))",
    "dw[r] += total;",
    [channelElement, `fn tm(j: u32) -> f32 { let xv = x[j]; let g = dy[j]; return ${term}; }`],
  );
}

/** An element-wise weight's gradient: dw[k] += sum over the batch of `term` at n * PER + k. */
export function elementTermSum(
  x: string | undefined,
  dy: string,
  dw: string,
  per: number,
  term: string,
): Kernel {
  return flatKernel(
    { count: per },
    [...(x ? [value("x", x)] : []), value("dy", dy), fixed("dw", dw, true)],
    { PER: per },
    `var acc = 0.0;
for (var n = 0u; n < params.batch; n++) {
  let j = n * PER + i;
  acc += ${term};
}
dw[i] += acc;`,
  );
}

// ---- normalisations of each item's groups (instance, layer, channel norm) ---------------------

/**
 * A normalisation by groups of each item: G groups of S elements, each by its own mean and
 * variance, then a weight and a bias per group (instance norm: a channel's map) or per element
 * of a group (layer norm: one group of the whole item; channel norm: a pixel's channels).
 */
export interface GroupNormGrad {
  readonly x: string;
  readonly dy: string;
  readonly gamma: string;
  readonly eps: number;
  readonly groups: number;
  readonly size: number;
  /** WGSL: the offset within an item of element k of group g. */
  readonly at: string;
  /** Whose weights: one per group, or one per element of a group. */
  readonly paramPer: "group" | "element";
}

function groupNormFns(n: GroupNormGrad): string[] {
  return [
    `fn at(b: u32, g: u32, k: u32) -> u32 { return b * G * S + ${n.at}; }`,
    `fn param(g: u32, k: u32) -> u32 { return ${n.paramPer === "group" ? "g" : "k"}; }`,
  ];
}

/**
 * The backward pass of a group normalisation, PyTorch's formula: per group its mean, 1/std
 * and the means of dxhat and dxhat * xhat (dxhat = dy * weight) into `stats`, a thread per
 * (item, group); then dx += r * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), a thread
 * per element; the weight and bias gradients sum dy * xhat and dy over the batch and what
 * shares their weight.
 */
export function groupNormBackward(
  n: GroupNormGrad,
  stats: string,
  grads: { readonly dx?: string; readonly dgamma?: string; readonly dbeta?: string },
): Kernel[] {
  const consts = { G: n.groups, S: n.size };
  const fns = groupNormFns(n);
  const eps = f32(n.eps);
  const out: Kernel[] = [
    flatKernel(
      { perBatch: n.groups },
      [value("x", n.x), value("dy", n.dy), fixed("gamma", n.gamma), value("st", stats)],
      consts,
      `let b = i / G;
let g = i % G;
var mean = 0.0;
for (var k = 0u; k < S; k++) { mean += x[at(b, g, k)]; }
mean = mean / f32(S);
var vr = 0.0;
for (var k = 0u; k < S; k++) { let d = x[at(b, g, k)] - mean; vr += d * d; }
let r = 1.0 / sqrt(vr / f32(S) + ${eps});
var s1 = 0.0;
var s2 = 0.0;
for (var k = 0u; k < S; k++) {
  let e = at(b, g, k);
  let dxh = dy[e] * gamma[param(g, k)];
  s1 += dxh;
  s2 += dxh * (x[e] - mean) * r;
}
st[i * 4u] = mean;
st[i * 4u + 1u] = r;
st[i * 4u + 2u] = s1 / f32(S);
st[i * 4u + 3u] = s2 / f32(S);`,
      fns,
    ),
  ];
  if (grads.dx)
    out.push(
      flatKernel(
        { perBatch: n.groups * n.size },
        [
          value("x", n.x),
          value("dy", n.dy),
          fixed("gamma", n.gamma),
          value("st", stats),
          value("dx", grads.dx),
        ],
        consts,
        `let b = i / (G * S);
let g = (i / S) % G;
let k = i % S;
let e = at(b, g, k);
let q = (b * G + g) * 4u;
let r = st[q + 1u];
let xh = (x[e] - st[q]) * r;
dx[e] += r * (dy[e] * gamma[param(g, k)] - st[q + 2u] - xh * st[q + 3u]);`,
        fns,
      ),
    );
  // a thread per weight: over the batch and the groups (or the elements) that share it
  const count = n.paramPer === "group" ? n.groups : n.size;
  const [loop, g, k] = n.paramPer === "group" ? ["S", "i", "j"] : ["G", "j", "i"];
  const sum = (dw: string, binds: Bind[], term: string) =>
    flatKernel(
      { count },
      [...binds, fixed("dw", dw, true)],
      consts,
      `var acc = 0.0;
for (var b = 0u; b < params.batch; b++) {
  for (var j = 0u; j < ${loop}; j++) {
    let e = at(b, ${g}, ${k});
    let q = (b * G + ${g}) * 4u;
    acc += ${term};
  }
}
dw[i] += acc;`,
      fns,
    );
  if (grads.dgamma)
    out.push(
      sum(
        grads.dgamma,
        [value("x", n.x), value("dy", n.dy), value("st", stats)],
        "dy[e] * (x[e] - st[q]) * st[q + 1u]",
      ),
    );
  if (grads.dbeta) out.push(sum(grads.dbeta, [value("dy", n.dy)], "dy[e]"));
  return out;
}

/**
 * LocalResponseNorm's backward pass (PyTorch's window: channels c - floor(n/2) to
 * c + floor((n-1)/2)), S_c = k + alpha/n * the window's sum of squares: t_c = dy_c x_c
 * S_c^(-beta-1) into `t`, then dx_j += dy_j S_j^(-beta) - 2 alpha beta / n * x_j * the sum of
 * t over the channels whose window holds j.
 */
export function lrnBackward(
  a: { readonly size: number; readonly alpha: number; readonly beta: number; readonly k: number },
  shape: readonly [number, number, number],
  x: string,
  dy: string,
  t: string,
  dx: string,
): Kernel[] {
  const [c, h, w] = shape;
  const consts = {
    C: c,
    HW: h * w,
    BEHIND: Math.floor(a.size / 2),
    AHEAD: Math.floor((a.size - 1) / 2),
  };
  const fns = [
    `fn window(b: u32, ch: u32, px: u32) -> f32 {
  var sum = 0.0;
  let j0 = u32(max(0, i32(ch) - i32(BEHIND)));
  let j1 = min(C - 1u, ch + AHEAD);
  for (var j = j0; j <= j1; j++) { let v = x[(b * C + j) * HW + px]; sum += v * v; }
  return ${f32(a.k)} + ${f32(a.alpha / a.size)} * sum;
}`,
  ];
  const index = `let b = i / (C * HW);
let ch = (i / HW) % C;
let px = i % HW;`;
  return [
    flatKernel(
      { perBatch: c * h * w },
      [value("x", x), value("dy", dy), value("t", t)],
      consts,
      `${index}
t[i] = dy[i] * x[i] * pow(window(b, ch, px), ${f32(-a.beta - 1)});`,
      fns,
    ),
    flatKernel(
      { perBatch: c * h * w },
      [value("x", x), value("dy", dy), value("t", t), value("dx", dx)],
      consts,
      `${index}
var near = 0.0;
let c0 = u32(max(0, i32(ch) - i32(AHEAD)));
let c1 = min(C - 1u, ch + BEHIND);
for (var q = c0; q <= c1; q++) { near += t[(b * C + q) * HW + px]; }
dx[i] += dy[i] * pow(window(b, ch, px), ${f32(-a.beta)}) - ${f32((2 * a.alpha * a.beta) / a.size)} * x[i] * near;`,
      fns,
    ),
  ];
}

// ---- linear maps given as tables ----------------------------------------------------------

/**
 * dx += the transpose of a linear map applied to dy: input element i of each of `groups`
 * groups per item (an item's channels, or the item itself) sums `weight[e] * dy[to[e]]` over
 * its entries e from `start[i]` (the tables f32 constants, exact below 2^24; no `weight`: 1).
 */
export function adjointKernel(
  dy: string,
  dx: string,
  tables: { readonly start: string; readonly to: string; readonly weight?: string },
  groups: number,
  inSize: number,
  outSize: number,
): Kernel {
  if (outSize >= 2 ** 24) throw new Error("internal: an adjoint table index beyond f32's integers");
  return flatKernel(
    { perBatch: groups * inSize },
    [
      value("dy", dy),
      fixed("start", tables.start),
      fixed("to", tables.to),
      ...(tables.weight ? [fixed("wt", tables.weight)] : []),
      value("dx", dx),
    ],
    { IN: inSize, OUT: outSize },
    `let m = i / IN;
let k = i % IN;
var acc = 0.0;
for (var e = u32(start[k]); e < u32(start[k + 1u]); e++) {
  acc += ${tables.weight ? "wt[e] * " : ""}dy[m * OUT + u32(to[e])];
}
dx[i] += acc;`,
  );
}

// ---- dropout -----------------------------------------------------------------------------------

/** A counter-based hash (PCG's output function) of the step's seed and the element: uniform. */
const dropoutHash = `fn keep_mask(i: u32, seed: u32) -> f32 {
  var s = i * 747796405u + seed * 2891336453u + 1u;
  s = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
  s = (s >> 22u) ^ s;
  return f32(s >> 8u) / 16777216.0;
}`;

/** y = x * mask / keep (backward: dx += dy * mask / keep), the mask drawn from the seed. */
export function dropoutKernel(
  from: string,
  to: string,
  hyperBuf: string,
  perBatch: number,
  p: number,
  accumulate: boolean,
): Kernel {
  const keep = 1 - p;
  return flatKernel(
    { perBatch },
    [value("a", from), fixed("hyper", hyperBuf), value("b", to)],
    {},
    `let m = select(0.0, ${f32(1 / keep)}, keep_mask(i, u32(hyper[${hyper.seed}])) < ${f32(keep)});
b[i] ${accumulate ? "+=" : "="} a[i] * m;`,
    [dropoutHash],
  );
}

// ---- elementwise merges and copies -----------------------------------------------------------

/** dx += dy (an add's operand of the output's shape, an identity). */
export function accumulate(dy: string, dx: string, perBatch: number): Kernel {
  return flatKernel({ perBatch }, [value("dy", dy), value("dx", dx)], {}, "dx[i] += dy[i];");
}

/**
 * v = 0 before a gradient's first use in a step (its memory may have held another value): one
 * shader for every size, bounded by the binding's length.
 */
export function zeroKernel(v: string, perBatch: number): Kernel {
  const shader = buildShader({
    bindings: [value("g", v)],
    consts: {},
    workgroupSize: [flatGroup, 1, 1],
    body: `${flatIndex}\nif (i >= arrayLength(&g) + 0u * params.batch) { return; }\ng[i] = 0.0;`,
  });
  return { ...shader, grid: { kind: "flat", perBatch, groupSize: flatGroup } };
}

/** y = x. */
export function copyKernel(x: string, y: string, perBatch: number): Kernel {
  return flatKernel({ perBatch }, [value("x", x), value("y", y)], {}, "y[i] = x[i];");
}

/** A mul's operand of the output's shape: dx += dy * (the product of the others). */
export function mulGrad(
  dy: string,
  others: readonly string[],
  dx: string,
  perBatch: number,
): Kernel {
  return flatKernel(
    { perBatch },
    [value("dy", dy), ...others.map((o, k) => value(`o${k}`, o)), value("dx", dx)],
    {},
    `dx[i] += dy[i]${others.map((_, k) => ` * o${k}[i]`).join("")};`,
  );
}

/** A merge's step in WGSL: the fold's value and its partials in the running value and the
 * next operand (the reference's `merges` table, compiler/ops/elementwise.ts). */
export const mergeWgsl = {
  add: { f: "a + b", da: "1.0", db: "1.0" },
  mul: { f: "a * b", da: "b", db: "a" },
  maximum: { f: "max(a, b)", da: "select(0.0, 1.0, a >= b)", db: "select(1.0, 0.0, a >= b)" },
  minimum: { f: "min(a, b)", da: "select(0.0, 1.0, a <= b)", db: "select(1.0, 0.0, a <= b)" },
  div: { f: "a / b", da: "1.0 / b", db: "-a / (b * b)" },
} as const;

/**
 * The gradient of operand `k` of a merge (a left fold of operands broadcast together, NumPy's
 * rule over same-rank shapes): a thread per element of the operand gathers, over the output
 * elements it was broadcast to, dy times the fold's chain of partials (each later step's
 * partial in its running value, then this step's in the operand).
 */
export function mergeGrad(
  op: keyof typeof mergeWgsl,
  dy: string,
  operands: readonly string[],
  shapes: readonly (readonly number[])[],
  out: readonly number[],
  k: number,
  dx: string,
): Kernel {
  const m = mergeWgsl[op];
  const rank = out.length;
  const per = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
  const strides = (s: readonly number[]) => {
    const st: number[] = [];
    let acc = 1;
    for (let d = rank - 1; d >= 0; d--) {
      st[d] = s[d] === 1 && out[d] !== 1 ? 0 : acc;
      acc *= s[d]!;
    }
    return st;
  };
  const own = shapes[k]!;
  const dims = [...Array(rank).keys()];
  const spread = dims.filter((d) => own[d] === 1 && out[d] !== 1);
  const outStrides = strides(out);
  const lines = [
    `let n = i / ${per(own)}u;`,
    `var j = i % ${per(own)}u;`,
    // the operand's own index along each dimension
    ...dims
      .slice()
      .reverse()
      .map((d) => `let e${d} = j % ${own[d]}u; j = j / ${own[d]}u;`),
    "var total = 0.0;",
    ...spread.map((d) => `for (var b${d} = 0u; b${d} < ${out[d]}u; b${d}++) {`),
    ...dims.map((d) => `let q${d} = ${spread.includes(d) ? `b${d}` : `e${d}`};`),
    `let o = n * ${per(out)}u${dims.map((d) => ` + q${d} * ${outStrides[d]}u`).join("")};`,
    ...operands.map((_, t) => {
      const st = strides(shapes[t]!);
      return `let v${t} = x${t}[n * ${per(shapes[t]!)}u${dims.map((d) => (st[d] ? ` + q${d} * ${st[d]}u` : "")).join("")}];`;
    }),
    // the fold's running values
    "let r0 = v0;",
    ...operands.slice(1).map((_, t) => `let r${t + 1} = fold(r${t}, v${t + 1});`),
    "var g = dy[o];",
    ...operands
      .map((_, t) => t)
      .filter((t) => t > k)
      .reverse()
      .map((t) => `g = g * part_a(r${t - 1}, v${t});`),
    k === 0 ? "total += g;" : `total += g * part_b(r${k - 1}, v${k});`,
    ...spread.map(() => "}"),
    "dx[i] += total;",
  ];
  return flatKernel(
    { perBatch: per(own) },
    [value("dy", dy), ...operands.map((o, t) => value(`x${t}`, o)), value("dx", dx)],
    {},
    lines.join("\n"),
    [
      `fn fold(a: f32, b: f32) -> f32 { return ${m.f}; }`,
      `fn part_a(a: f32, b: f32) -> f32 { return ${m.da}; }`,
      `fn part_b(a: f32, b: f32) -> f32 { return ${m.db}; }`,
    ],
  );
}

/** A concat input's gradient: its channels' slice of the output's. */
export function concatGrad(
  dy: string,
  dx: string,
  channels: number,
  inner: number,
  total: number,
  offset: number,
): Kernel {
  return flatKernel(
    { perBatch: channels * inner },
    [value("dy", dy), value("dx", dx)],
    { CI: channels, INNER: inner, CT: total, OFF: offset },
    `let n = i / (CI * INNER);
let r = i % (CI * INNER);
dx[i] += dy[n * CT * INNER + OFF * INNER + r];`,
  );
}

/** Softmax's (or log-softmax's) gradient over channels, per item and pixel. */
export function softmaxGrad(
  y: string,
  dy: string,
  dx: string,
  channels: number,
  inner: number,
  log: boolean,
): Kernel {
  return flatKernel(
    { perBatch: channels * inner },
    [value("y", y), value("dy", dy), value("dx", dx)],
    { C: channels, INNER: inner },
    `let n = i / (C * INNER);
let p = i % INNER;
var s = 0.0;
for (var c = 0u; c < C; c++) {
  let j = (n * C + c) * INNER + p;
  s += ${log ? "dy[j]" : "dy[j] * y[j]"};
}
dx[i] += ${log ? "dy[i] - exp(y[i]) * s" : "y[i] * (dy[i] - s)"};`,
  );
}

// ---- loss --------------------------------------------------------------------------------------

/**
 * Softmax cross-entropy per item from the logits and the label: the gradient
 * (softmax - one-hot) / batch into `dz`, the item's loss and whether its top class is its label
 * into `out` (2 per item).
 */
export function crossEntropyKernel(
  z: string,
  labels: string,
  dz: string,
  out: string,
  classes: number,
): Kernel {
  return flatKernel(
    { perBatch: 1 },
    [value("z", z), value("labels", labels), value("dz", dz), value("out", out)],
    { K: classes },
    `let n = i;
let y = u32(labels[n]);
var top = z[n * K];
var best = 0u;
for (var c = 1u; c < K; c++) {
  let v = z[n * K + c];
  if (v > top) { top = v; best = c; }
}
var s = 0.0;
for (var c = 0u; c < K; c++) { s += exp(z[n * K + c] - top); }
let inv = 1.0 / (s * f32(params.batch));
for (var c = 0u; c < K; c++) {
  dz[n * K + c] = exp(z[n * K + c] - top) * inv - select(0.0, 1.0 / f32(params.batch), c == y);
}
out[2u * n] = log(s) + top - z[n * K + y];
out[2u * n + 1u] = select(0.0, 1.0, best == y);`,
  );
}

/** Adds the batch's losses and hits to the running sums [loss, correct, items]. */
export function lossSum(out: string, sums: string): Kernel {
  return flatKernel(
    { count: 1 },
    [value("out", out), fixed("sums", sums, true)],
    {},
    `var l = 0.0;
var c = 0.0;
for (var n = 0u; n < params.batch; n++) { l += out[2u * n]; c += out[2u * n + 1u]; }
sums[0] += l;
sums[1] += c;
sums[2] += f32(params.batch);`,
  );
}

// ---- optimisers --------------------------------------------------------------------------------

/** One parameter's update (compiler/train/optim.ts's rules), the rates from `hyper`. */
export function updateKernel(
  kind: "sgd" | "nesterov" | "adam" | "adamw",
  param: string,
  grad: string,
  slots: readonly string[],
  hyperBuf: string,
  count: number,
): Kernel {
  const h = (k: keyof typeof hyper) => `hyper[${hyper[k]}]`;
  const body =
    kind === "sgd" || kind === "nesterov"
      ? `let d = g[i] + ${h("decay")} * p[i];
let b = select(${h("momentum")} * m[i] + d, d, ${h("first")} > 0.5 || ${h("momentum")} == 0.0);
m[i] = b;
p[i] = p[i] - ${h("lr")} * ${kind === "nesterov" ? `(d + ${h("momentum")} * b)` : "b"};`
      : `var d = g[i];
var w = p[i];
${kind === "adamw" ? `w = w - ${h("lr")} * ${h("decay")} * w;` : `d = d + ${h("decay")} * w;`}
let mm = ${h("beta1")} * m[i] + (1.0 - ${h("beta1")}) * d;
let vv = ${h("beta2")} * v[i] + (1.0 - ${h("beta2")}) * d * d;
m[i] = mm;
v[i] = vv;
p[i] = w - ${h("lr")} * (mm / ${h("c1")}) / (sqrt(vv / ${h("c2")}) + ${h("eps")});`;
  return flatKernel(
    { count, lengthOf: "p" },
    [
      fixed("p", param, true),
      fixed("g", grad),
      fixed("m", slots[0]!, true),
      ...(slots[1] ? [fixed("v", slots[1], true)] : []),
      fixed("hyper", hyperBuf),
    ],
    {},
    body,
  );
}
