// One-thread-per-output kernels: convolutions the GEMM does not cover (groups, depthwise,
// replicate/reflect padding), transposed convolution, pooling, and the elementwise and data
// movement ops. Each takes resolved shapes and bakes them in as constants. The convolutions,
// pooling, batch norm and concat copies read and write either layout (wgsl.ts `Layout`), and
// walk their output in its memory order; the elementwise kernels see flat arrays, their input
// and output in one layout. The others read and write NCHW (the plan keeps their values so).
import type { PadMode, Quad } from "../ops/index.js";
import type { Binding, Kernel } from "./plan-types.js";
import {
  activationDecls,
  activationWgsl,
  epilogueStore,
  buildShader,
  f32,
  flatGroup,
  flatIndex,
  convConsts,
  readAccess,
  at,
  atPixel,
  split,
  sliceConsts,
  subgroupTasks,
  view,
  type Activation,
  type Layout,
  type Layouts,
  type OutputSlice,
  type ShaderBinding,
} from "./wgsl.js";

type Dims3 = readonly [number, number, number];

function flat(
  perBatch: number,
  bindings: readonly { role: Omit<ShaderBinding, "bind">; bind: Binding }[],
  consts: Record<string, number>,
  body: string,
  decls: string[] = [],
  /** The body of a subgroup form (Kernel.subgroups), in which `i` is every thread's own index. */
  subgroupBody?: string,
): Kernel {
  // (a subgroup form's threads past the end stay: they help their subgroup's other lanes)
  const spec = (b: string, subgroups: boolean) =>
    buildShader({
      bindings: bindings.map((b) => ({ ...b.role, bind: b.bind })),
      consts: { PER: perBatch, ...consts },
      decls,
      workgroupSize: [flatGroup, 1, 1],
      body: `${flatIndex}\n${subgroups ? "" : "if (i >= params.batch * PER) { return; }\n"}${b}`,
      subgroups,
    });
  const shader = spec(body, false);
  return {
    ...shader,
    ...(subgroupBody === undefined ? {} : { subgroups: spec(subgroupBody, true).wgsl }),
    grid: { kind: "flat", perBatch, groupSize: flatGroup },
  };
}

const read = (name: string, bind: Binding) => ({ role: { name, access: readAccess(bind) }, bind });
const write = (name: string, value: string) => ({
  role: { name, access: "read_write" as const },
  bind: { value },
});

/** WGSL statements mapping a padded coordinate `v` (i32) into [0, n), or skipping it. */
function padIndex(v: string, n: string, mode: PadMode): string {
  switch (mode) {
    case "zeros":
      return `if (${v} < 0 || ${v} >= i32(${n})) { continue; }`;
    case "replicate":
      return `${v} = clamp(${v}, 0, i32(${n}) - 1);`;
    case "reflect":
      return `if (${v} < 0) { ${v} = -${v}; }\nif (${v} >= i32(${n})) { ${v} = 2 * (i32(${n}) - 1) - ${v}; }`;
  }
}

/** What a convolution-like kernel reads, writes and slides over. */
interface ConvOperands {
  readonly input: string;
  readonly output: string;
  readonly weight: string;
  readonly bias?: string;
  readonly inShape: Dims3;
  readonly outShape: Dims3;
  readonly k: readonly [number, number];
  readonly s: readonly [number, number];
  readonly d: readonly [number, number];
  readonly p: Quad;
  readonly groups: number;
}

export interface DirectConv extends ConvOperands, Layouts {
  readonly padmode: PadMode;
  readonly residual?: string;
  readonly act?: Activation;
  /** Write into these channels of a larger output (concat elimination). */
  readonly slice?: OutputSlice;
}

export function directConvKernel(g: DirectConv): Kernel {
  const [c, h, w] = g.inShape;
  const [f, ho, wo] = g.outShape;
  const consts = {
    ...convConsts({ ...g, pad: [g.p[0], g.p[1]] }),
    CG: c / g.groups,
    FG: f / g.groups,
    ...sliceConsts(g.slice),
  };
  return flat(
    f * ho * wo,
    [
      read("x", { value: g.input }),
      read("wt", { weight: g.weight }),
      ...(g.bias ? [read("bias", { weight: g.bias })] : []),
      ...(g.residual ? [read("res", { value: g.residual })] : []),
      write("y", g.output),
    ],
    consts,
    `${split(g.outLayout, ["F", "HO", "WO"], ["n", "o", "oy", "ox"])}
let group = o / FG;
var acc = ${g.bias ? "bias[o]" : "0.0"};
for (var ci = 0u; ci < CG; ci++) {
  let wb = (o * CG + ci) * KH * KW;
  for (var ky = 0u; ky < KH; ky++) {
    var iy = i32(oy * SH + ky * DH) - i32(PT);
    ${padIndex("iy", "H", g.padmode).replace(/\n/g, "\n    ")}
    for (var kx = 0u; kx < KW; kx++) {
      var ix = i32(ox * SW + kx * DW) - i32(PL);
      ${padIndex("ix", "W", g.padmode).replace(/\n/g, "\n      ")}
      acc += x[${at(view(g.inLayout, ["C", "H", "W"]), "n", "group * CG + ci", "u32(iy)", "u32(ix)")}] * wt[wb + ky * KW + kx];
    }
  }
}
${epilogueStore(
  g,
  "acc",
  {
    out: g.slice ? at(view(g.outLayout, ["F", "HO", "WO"], g.slice), "n", "o", "oy", "ox") : "i",
    channel: "o",
    residual: at(view(g.resLayout, ["F", "HO", "WO"]), "n", "o", "oy", "ox"),
  },
  "inAcc",
)}`,
    activationDecls(g.act),
  );
}

/** Output pixels one depthwise invocation computes, side by side along a row, by default. */
export const depthwiseRun = 4;
/** The runs `cnnc tune` measures, the default first. */
export const depthwiseRuns: readonly number[] = [depthwiseRun, 1, 2, 8, 16];

/**
 * Depthwise convolution (one input channel per group, zero padding): each invocation computes
 * `run` neighbouring outputs of one row, so each weight is loaded once for all of them and
 * the index arithmetic is shared. The epilogue (bias, residual, activation, concat slice) is
 * the direct kernel's.
 */
export function depthwiseConvKernel(g: DirectConv, run = depthwiseRun): Kernel {
  const [c] = g.inShape;
  const [f, ho, wo] = g.outShape;
  const R = run;
  const wq = Math.ceil(wo / R);
  const consts = {
    ...convConsts({ ...g, pad: [g.p[0], g.p[1]] }),
    FG: f / c,
    WQ: wq,
    ...sliceConsts(g.slice),
  };
  const xv = view(g.inLayout, ["C", "H", "W"]);
  return flat(
    f * ho * wq,
    [
      read("x", { value: g.input }),
      read("wt", { weight: g.weight }),
      ...(g.bias ? [read("bias", { weight: g.bias })] : []),
      ...(g.residual ? [read("res", { value: g.residual })] : []),
      write("y", g.output),
    ],
    consts,
    `${split(g.outLayout, ["F", "HO", "WQ"], ["n", "o", "oy", "oq"])}
let ci = o / FG;
var acc: array<f32, ${R}>;
for (var j = 0u; j < ${R}u; j++) { acc[j] = ${g.bias ? "bias[o]" : "0.0"}; }
for (var ky = 0u; ky < KH; ky++) {
  let iy = i32(oy * SH + ky * DH) - i32(PT);
  if (iy < 0 || iy >= i32(H)) { continue; }
  for (var kx = 0u; kx < KW; kx++) {
    let wv = wt[(o * KH + ky) * KW + kx];
    for (var j = 0u; j < ${R}u; j++) {
      let ix = i32((oq * ${R}u + j) * SW + kx * DW) - i32(PL);
      if (ix >= 0 && ix < i32(W)) { acc[j] += x[${at(xv, "n", "ci", "u32(iy)", "u32(ix)")}] * wv; }
    }
  }
}
for (var j = 0u; j < ${R}u; j++) {
  let ox = oq * ${R}u + j;
  if (ox >= WO) { break; }
  ${epilogueStore(
    g,
    "acc[j]",
    {
      out: at(view(g.outLayout, ["F", "HO", "WO"], g.slice), "n", "o", "oy", "ox"),
      channel: "o",
      residual: at(view(g.resLayout, ["F", "HO", "WO"]), "n", "o", "oy", "ox"),
    },
    "inAcc",
  )}
}`,
    activationDecls(g.act),
  );
}

export type Deconv = ConvOperands;

/**
 * Transposed convolution as a gather: output (oy, ox) takes input (iy, ix) through kernel tap
 * (ky, kx) when oy = iy*s - p + ky*d, i.e. when oy + p - ky*d is a non-negative multiple of s.
 */
export function deconvKernel(g: Deconv): Kernel {
  const [c, h, w] = g.inShape;
  const [f, ho, wo] = g.outShape;
  const consts = {
    ...convConsts({ ...g, pad: [g.p[0], g.p[1]] }),
    CG: c / g.groups,
    FG: f / g.groups,
  };
  return flat(
    f * ho * wo,
    [
      read("x", { value: g.input }),
      read("wt", { weight: g.weight }),
      ...(g.bias ? [read("bias", { weight: g.bias })] : []),
      write("y", g.output),
    ],
    consts,
    `let ox = i % WO;
let oy = (i / WO) % HO;
let o = (i / (WO * HO)) % F;
let n = i / (WO * HO * F);
let group = o / FG;
let fo = o % FG;
var acc = ${g.bias ? "bias[o]" : "0.0"};
for (var ky = 0u; ky < KH; ky++) {
  let ty = i32(oy + PT) - i32(ky * DH);
  if (ty < 0 || ty % i32(SH) != 0) { continue; }
  let iy = u32(ty) / SH;
  if (iy >= H) { continue; }
  for (var kx = 0u; kx < KW; kx++) {
    let tx = i32(ox + PL) - i32(kx * DW);
    if (tx < 0 || tx % i32(SW) != 0) { continue; }
    let ix = u32(tx) / SW;
    if (ix >= W) { continue; }
    for (var ci = 0u; ci < CG; ci++) {
      let cin = group * CG + ci;
      acc += x[((n * C + cin) * H + iy) * W + ix] * wt[((cin * FG + fo) * KH + ky) * KW + kx];
    }
  }
}
y[i] = acc;`,
  );
}

export interface Pool extends Layouts {
  readonly input: string;
  readonly output: string;
  readonly kind: "max" | "avg";
  readonly countPad: boolean;
  readonly inShape: Dims3;
  readonly outShape: Dims3;
  readonly k: readonly [number, number];
  readonly s: readonly [number, number];
  readonly p: Quad;
  /** Dilation (max pooling only): the taps of a window `d` apart. */
  readonly d?: readonly [number, number];
  /** Applied to the pooled value (fused by fuse-activation). */
  readonly act?: Activation | undefined;
}

/**
 * PyTorch's pooling: max over real pixels; average over real pixels or the padded window. A
 * dilated window (max pooling only) visits its taps one by one and skips those in the padding.
 */
export function poolKernel(g: Pool): Kernel {
  const [c, h, w] = g.inShape;
  const [, ho, wo] = g.outShape;
  const max = g.kind === "max";
  const d = g.d ?? [1, 1];
  const dilated = d[0] > 1 || d[1] > 1;
  if (dilated && !max) throw new Error("poolKernel: a dilated window is max pooling's only");
  const window = {
    ...{ C: c, H: h, W: w, HO: ho, WO: wo, KH: g.k[0], KW: g.k[1], SH: g.s[0], SW: g.s[1] },
    ...{ PT: g.p[0], PL: g.p[1] },
  };
  const x = `x[${at(view(g.inLayout, ["C", "H", "W"]), "n", "ch", "u32(iy)", "u32(ix)")}]`;
  const body = dilated
    ? `var acc = -3.402823e38;
for (var ky = 0u; ky < KH; ky++) {
  let iy = i32(oy * SH + ky * DH) - i32(PT);
  if (iy < 0 || iy >= i32(H)) { continue; }
  for (var kx = 0u; kx < KW; kx++) {
    let ix = i32(ox * SW + kx * DW) - i32(PL);
    if (ix < 0 || ix >= i32(W)) { continue; }
    acc = max(acc, ${x});
  }
}
y[i] = ${activationWgsl(g.act, "acc")};`
    : `let y0 = i32(oy * SH) - i32(PT);
let x0 = i32(ox * SW) - i32(PL);
let y1 = min(y0 + i32(KH), i32(H + PB));
let x1 = min(x0 + i32(KW), i32(W + PR));
var acc = ${max ? "-3.402823e38" : "0.0"};
var count = 0.0;
for (var iy = max(y0, 0); iy < min(y1, i32(H)); iy++) {
  for (var ix = max(x0, 0); ix < min(x1, i32(W)); ix++) {
    let v = ${x};
    ${max ? "acc = max(acc, v);" : "acc += v;"}
    count += 1.0;
  }
}
y[i] = ${activationWgsl(g.act, max ? "acc" : `(acc / ${g.countPad ? "f32((y1 - y0) * (x1 - x0))" : "count"})`)};`;
  return flat(
    c * ho * wo,
    [read("x", { value: g.input }), write("y", g.output)],
    dilated ? { ...window, DH: d[0], DW: d[1] } : { ...window, PB: g.p[2], PR: g.p[3] },
    `${split(g.outLayout, ["C", "HO", "WO"], ["n", "ch", "oy", "ox"])}\n${body}`,
    activationDecls(g.act),
  );
}

/** A value in, a value out: what every one-input kernel below reads and writes. */
interface InOut {
  readonly input: string;
  readonly output: string;
}

export interface GlobalPool extends InOut {
  readonly kind: "max" | "avg";
  readonly inShape: Dims3;
  readonly act?: Activation | undefined;
  readonly inLayout?: Layout;
  /**
   * Carry a subgroup form: for GPUs, not CPU emulations (on SwiftShader's 4-lane subgroups it
   * ran 0.65-0.8x as fast as one thread per channel: BENCH_TARGET=gpu scripts/bench-subgroups.mjs).
   */
  readonly subgroups?: boolean;
}

export function globalPoolKernel({
  input,
  output,
  kind,
  inShape,
  act,
  inLayout,
  subgroups = false,
}: GlobalPool): Kernel {
  const [c, h, w] = inShape;
  const at = (i: string, j: string) =>
    `x[${atPixel(view(inLayout, ["C", "HW", 1]), `${i} / C`, `${i} % C`, j)}]`;
  const fold = (acc: string, v: string) =>
    kind === "max" ? `${acc} = max(${acc}, ${v});` : `${acc} += ${v};`;
  const init = kind === "max" ? "-3.402823e38" : "0.0";
  const result = (acc: string) => activationWgsl(act, kind === "max" ? acc : `(${acc} / f32(HW))`);
  // With subgroups, where a channel's pixels lie together (NCHW) and are many: a subgroup's
  // lanes read one channel's pixels side by side (coalesced on a GPU) rather than each lane a
  // channel of its own, HW apart.
  const subgroupBody =
    subgroups && (inLayout ?? "nchw") === "nchw" && h * w >= 16
      ? subgroupTasks(
          "i",
          (j) => `${j} < params.batch * PER`,
          `var part = ${init};
for (var p = rank; p < HW; p += lanes) { ${fold("part", at("j", "p"))} }
let acc = ${kind === "max" ? "subgroupMax" : "subgroupAdd"}(part);
if (lane == m) { y[j] = ${result("acc")}; }`,
        )
      : undefined;
  return flat(
    c,
    [read("x", { value: input }), write("y", output)],
    { C: c, HW: h * w },
    `var acc = ${init};
for (var j = 0u; j < HW; j++) { ${fold("acc", at("i", "j"))} }
y[i] = ${result("acc")};`,
    activationDecls(act),
    subgroupBody,
  );
}

/**
 * An activation applied elementwise. In place, the output is the input's own memory: one
 * read_write binding, since WebGPU forbids binding one range twice when either is writable.
 */
export function activationKernel({
  input,
  output,
  perBatch,
  act,
  inPlace = false,
}: InOut & {
  readonly perBatch: number;
  readonly act: Activation;
  readonly inPlace?: boolean;
}): Kernel {
  return flat(
    perBatch,
    inPlace ? [write("y", output)] : [read("x", { value: input }), write("y", output)],
    {},
    `let v = ${inPlace ? "y" : "x"}[i];\ny[i] = ${activationWgsl(act, "v")};`,
    activationDecls(act),
  );
}

/**
 * Batch norm at inference: y = (x - mean) * gamma / sqrt(var + eps) + beta, per channel; the
 * input and output in one layout.
 */
export interface BatchNorm extends InOut {
  /** gamma, beta, mean, variance; or a scale's weight and bias (y = x * weight + bias). */
  readonly weights: readonly [string, string, string, string] | readonly [string, string];
  readonly channels: number;
  /** Elements per channel of one item (H * W, or 1 for a flat input). */
  readonly inner: number;
  readonly eps: number;
  readonly act?: Activation | undefined;
  readonly inPlace?: boolean;
  readonly layout?: Layout;
}

/** Batch norm with running statistics, or a per-channel scale and shift (two weights). */
export function batchNormKernel(g: BatchNorm): Kernel {
  const { input, output, channels, inner, eps, act, inPlace = false, layout } = g;
  const [gamma, beta, mean, variance] = g.weights;
  const x = `${inPlace ? "y" : "x"}[i]`;
  const value =
    mean === undefined || variance === undefined
      ? `${x} * gamma[ch] + beta[ch]`
      : `(${x} - mean[ch]) * gamma[ch] * inverseSqrt(variance[ch] + ${f32(eps)}) + beta[ch]`;
  return flat(
    channels * inner,
    [
      ...(inPlace ? [] : [read("x", { value: input })]),
      read("gamma", { weight: gamma }),
      read("beta", { weight: beta }),
      ...(mean === undefined || variance === undefined
        ? []
        : [read("mean", { weight: mean }), read("variance", { weight: variance })]),
      write("y", output),
    ],
    { C: channels, INNER: inner },
    `let ch = ${layout === "nhwc" ? "i % C" : "(i / INNER) % C"};
let v = ${value};
y[i] = ${activationWgsl(act, "v")};`,
    activationDecls(act),
  );
}

/** How each merge combines two operands in WGSL, left to right over N of them. */
const combineWgsl = {
  add: (a: string, b: string) => `${a} + ${b}`,
  mul: (a: string, b: string) => `${a} * ${b}`,
  maximum: (a: string, b: string) => `max(${a}, ${b})`,
  minimum: (a: string, b: string) => `min(${a}, ${b})`,
  div: (a: string, b: string) => `${a} / ${b}`,
} as const;

/**
 * add / mul / maximum / minimum of N same-rank operands, div of two, with NumPy broadcasting
 * over [C, H, W] or [F]. `inPlace`: the index of an operand of the output's full shape whose
 * memory the output takes over.
 */
export interface Broadcast {
  readonly op: keyof typeof combineWgsl;
  readonly inputs: readonly string[];
  readonly inShapes: readonly (readonly number[])[];
  readonly output: string;
  readonly outShape: readonly number[];
  readonly act?: Activation | undefined;
  /** The operand whose memory the output takes over, by index. */
  readonly inPlace?: number | undefined;
}

export function broadcastKernel({
  op,
  inputs,
  inShapes,
  output,
  outShape,
  act,
  inPlace,
}: Broadcast): Kernel {
  const dims = [...outShape];
  while (dims.length < 3) dims.unshift(1);
  const consts: Record<string, number> = { D0: dims[0]!, D1: dims[1]!, D2: dims[2]! };
  const terms = inShapes.map((s, k) => {
    if (k === inPlace) return "y[i]";
    const full = [...s];
    while (full.length < 3) full.unshift(1);
    const per = full.reduce((a, b) => a * b, 1);
    const strides = [full[1]! * full[2]!, full[2]!, 1].map((st, j) =>
      full[j] === 1 && dims[j] !== 1 ? 0 : st,
    );
    return `a${k}[n * ${per}u + c0 * ${strides[0]}u + c1 * ${strides[1]}u + c2 * ${strides[2]}u]`;
  });
  return flat(
    dims[0]! * dims[1]! * dims[2]!,
    [
      ...inputs.flatMap((v, k) => (k === inPlace ? [] : [read(`a${k}`, { value: v })])),
      write("y", output),
    ],
    consts,
    `let c2 = i % D2;
let c1 = (i / D2) % D1;
let c0 = (i / (D2 * D1)) % D0;
let n = i / PER;
let v = ${terms.reduce(combineWgsl[op])};
y[i] = ${activationWgsl(act, "v")};`,
    activationDecls(act),
  );
}

/** Softmax over channels at each pixel (over features for a flat input), max-subtracted. */
export function softmaxKernel({
  input,
  output,
  channels,
  inner,
  log = false,
}: InOut & {
  readonly channels: number;
  readonly inner: number;
  /** log(softmax(x)) = x - max - log(sum exp(x - max)), never the log of an underflow. */
  readonly log?: boolean;
}): Kernel {
  const value = (mx: string) =>
    log ? `x[base + c * INNER] - ${mx} - log(sum)` : `exp(x[base + c * INNER] - ${mx}) / sum`;
  const bounds = (item: string, mx: string) => `let n = ${item} / INNER;
let p = ${item} % INNER;
let base = n * C * INNER + p;
var ${mx} = -3.402823e38;`;
  // With subgroups, for a softmax over many features of few items (a classifier's last layer,
  // one thread's loop of thousands): a subgroup's lanes share each item's features.
  const subgroupBody =
    inner === 1 && channels >= 64
      ? subgroupTasks(
          "i",
          (j) => `${j} < params.batch * PER`,
          `${bounds("j", "part")}
for (var c = rank; c < C; c += lanes) { part = max(part, x[base + c * INNER]); }
let mx = subgroupMax(part);
var terms = 0.0;
for (var c = rank; c < C; c += lanes) { terms += exp(x[base + c * INNER] - mx); }
let sum = subgroupAdd(terms);
for (var c = rank; c < C; c += lanes) { y[base + c * INNER] = ${value("mx")}; }`,
        )
      : undefined;
  return flat(
    inner,
    [read("x", { value: input }), write("y", output)],
    { C: channels, INNER: inner },
    `${bounds("i", "m")}
for (var c = 0u; c < C; c++) { m = max(m, x[base + c * INNER]); }
var sum = 0.0;
for (var c = 0u; c < C; c++) { sum += exp(x[base + c * INNER] - m); }
for (var c = 0u; c < C; c++) { y[base + c * INNER] = ${value("m")}; }`,
    [],
    subgroupBody,
  );
}

/**
 * Instance normalisation: each (item, channel) map normalised by its own mean and (population)
 * variance over H x W, then scaled and shifted per channel. One thread per map, two passes over
 * it (mean, then squared deviations) and one to write.
 */
/** A normalisation by its own statistics (instance, layer, channel norm), then scale and bias. */
export interface Normalise extends InOut {
  readonly channels: number;
  readonly inner: number;
  readonly eps: number;
  /** scale, bias */
  readonly weights: readonly [string, string];
}

function normaliseBindings({ input, output, weights }: Normalise) {
  return [
    read("x", { value: input }),
    read("scale", { weight: weights[0] }),
    read("bias", { weight: weights[1] }),
    write("y", output),
  ];
}

export function instanceNormKernel(
  g: Normalise & {
    /** Layer norm: one map per item (channels 1), scale and bias per element of it. */
    readonly perElement?: boolean;
  },
): Kernel {
  const { channels, inner, eps, perElement = false } = g;
  const at = perElement ? "k" : "ch";
  return flat(
    channels,
    normaliseBindings(g),
    { INNER: inner },
    `let ch = i % PER;
let base = i * INNER;
var sum = 0.0;
for (var k = 0u; k < INNER; k++) { sum += x[base + k]; }
let mean = sum / f32(INNER);
var dev = 0.0;
for (var k = 0u; k < INNER; k++) { let d = x[base + k] - mean; dev += d * d; }
let r = inverseSqrt(dev / f32(INNER) + ${f32(eps)});
for (var k = 0u; k < INNER; k++) { y[base + k] = (x[base + k] - mean) * r * scale[${at}] + bias[${at}]; }`,
  );
}

/**
 * Layer norm over channels at each pixel (ConvNeXt's LayerNorm2d, ONNX's LayerNormalization
 * over one axis brought to channels): mean and variance of the C values of a pixel, then
 * weight and bias per channel. One thread per pixel, NCHW.
 */
export function channelNormKernel(g: Normalise): Kernel {
  const { channels, inner, eps } = g;
  return flat(
    inner,
    normaliseBindings(g),
    { C: channels, INNER: inner },
    `let n = i / INNER;
let p = i % INNER;
let base = n * C * INNER + p;
var sum = 0.0;
for (var c = 0u; c < C; c++) { sum += x[base + c * INNER]; }
let mean = sum / f32(C);
var dev = 0.0;
for (var c = 0u; c < C; c++) { let d = x[base + c * INNER] - mean; dev += d * d; }
let r = inverseSqrt(dev / f32(C) + ${f32(eps)});
for (var c = 0u; c < C; c++) { y[base + c * INNER] = (x[base + c * INNER] - mean) * r * scale[c] + bias[c]; }`,
  );
}

/** x * weight + bias, weight and bias one per value of the item (NCHW). */
export function affineKernel({
  input,
  output,
  perBatch,
  weights,
  inPlace = false,
}: InOut & {
  readonly perBatch: number;
  readonly weights: readonly [string, string];
  readonly inPlace?: boolean;
}): Kernel {
  return flat(
    perBatch,
    [
      ...(inPlace ? [] : [read("x", { value: input })]),
      read("w", { weight: weights[0] }),
      read("b", { weight: weights[1] }),
      write("y", output),
    ],
    {},
    `let k = i % PER;\ny[i] = ${inPlace ? "y" : "x"}[i] * w[k] + b[k];`,
  );
}

/** min(max(x, lo), hi): ONNX's Clip (all hi where lo > hi), elementwise in any layout. */
export function clipKernel({
  input,
  output,
  perBatch,
  lo,
  hi,
  inPlace = false,
}: InOut & {
  readonly perBatch: number;
  readonly lo: number;
  readonly hi: number;
  readonly inPlace?: boolean;
}): Kernel {
  // An infinite bound is no bound (infinities pass through, as in ONNX).
  let v = `${inPlace ? "y" : "x"}[i]`;
  if (Number.isFinite(lo)) v = `max(${v}, ${f32(lo)})`;
  if (Number.isFinite(hi)) v = `min(${v}, ${f32(hi)})`;
  return flat(
    perBatch,
    inPlace ? [write("y", output)] : [read("x", { value: input }), write("y", output)],
    {},
    `y[i] = ${v};`,
  );
}

/**
 * A permutation of an item's three dimensions: output dimension k is input dimension perm[k]
 * (ONNX's Transpose with perm [0, 1 + perm...]), NCHW in and out.
 */
export function transposeKernel({
  input,
  output,
  inShape,
  perm,
}: InOut & { readonly inShape: Dims3; readonly perm: readonly [number, number, number] }): Kernel {
  const out = perm.map((p) => inShape[p]!);
  const inStride = [inShape[1] * inShape[2], inShape[2], 1];
  const stride = (k: number) => inStride[perm[k]!]!;
  return flat(
    inShape[0] * inShape[1] * inShape[2],
    [read("x", { value: input }), write("y", output)],
    { O1: out[1]!, O2: out[2]!, S0: stride(0), S1: stride(1), S2: stride(2) },
    `let n = i / PER;
let r = i % PER;
let o0 = r / (O1 * O2);
let o1 = (r / O2) % O1;
let o2 = r % O2;
y[i] = x[n * PER + o0 * S0 + o1 * S1 + o2 * S2];`,
  );
}

/**
 * Pixel shuffles, NCHW: depth to space moves b x b channel groups into b x b pixel blocks
 * (ONNX's DCR order: channel (i b + j) C + c; CRD: c b b + i b + j), space to depth the
 * reverse (DCR order). One thread per output element; every read is one input element.
 */
export function pixelShuffleKernel({
  input,
  output,
  inShape,
  block,
  kind,
}: InOut & {
  readonly inShape: Dims3;
  readonly block: number;
  readonly kind: "dcr" | "crd" | "space_to_depth";
}): Kernel {
  const [c, h, w] = inShape;
  const b = block;
  const body =
    kind === "space_to_depth"
      ? // out [C b b, H / b, W / b]: channel oc = (i b + j) C + ch
        `let oc = r / (HO * WO);
let oh = (r / WO) % HO;
let ow = r % WO;
let ch = oc % C;
let ij = oc / C;
y[i] = x[n * PER + (ch * H + oh * B + ij / B) * W + ow * B + ij % B];`
      : // out [C / (b b), H b, W b]
        `let oc = r / (HO * WO);
let oh = (r / WO) % HO;
let ow = r % WO;
let ij = (oh % B) * B + ow % B;
let ic = ${kind === "dcr" ? "ij * CO + oc" : "oc * B * B + ij"};
y[i] = x[n * PER + (ic * H + oh / B) * W + ow / B];`;
  const [ho, wo] = kind === "space_to_depth" ? [h / b, w / b] : [h * b, w * b];
  return flat(
    c * h * w,
    [read("x", { value: input }), write("y", output)],
    {
      C: c,
      H: h,
      W: w,
      B: b,
      HO: ho,
      WO: wo,
      CO: kind === "space_to_depth" ? c * b * b : c / (b * b),
    },
    `let n = i / PER;\nlet r = i % PER;\n${body}`,
  );
}

/** Channels [start, start + C) of each NCHW item: one contiguous range per item. */
export function channelSliceKernel({
  input,
  output,
  perBatch,
  inPerBatch,
  offset,
}: InOut & {
  readonly perBatch: number;
  readonly inPerBatch: number;
  /** Where the slice starts in an input item (start channel * H * W). */
  readonly offset: number;
}): Kernel {
  return flat(
    perBatch,
    [read("x", { value: input }), write("y", output)],
    { IN: inPerBatch, OFF: offset },
    `let n = i / PER;\ny[i] = x[n * IN + OFF + i % PER];`,
  );
}

/**
 * Copies one concat input into its channel slice of the output: a flat copy when both are NCHW
 * (a channel slice is then one range per item), else element by element. `offset` counts
 * elements per item, `slice` channels.
 */
export interface ConcatCopy extends InOut {
  readonly perBatch: number;
  readonly outPerBatch: number;
  /** Where the input's elements start in an output item. */
  readonly offset: number;
  readonly layouts?: Layouts & { readonly inShape: Dims3; readonly slice: OutputSlice };
}

export function concatCopyKernel({
  input,
  output,
  perBatch,
  outPerBatch,
  offset,
  layouts,
}: ConcatCopy): Kernel {
  if (layouts && (layouts.inLayout === "nhwc" || layouts.outLayout === "nhwc")) {
    const out = view(layouts.outLayout, layouts.inShape, layouts.slice);
    return flat(
      perBatch,
      [read("x", { value: input }), write("y", output)],
      sliceConsts(layouts.slice),
      `${split(layouts.inLayout, layouts.inShape, ["n", "c", "py", "px"])}\ny[${at(out, "n", "c", "py", "px")}] = x[i];`,
    );
  }
  return flat(
    perBatch,
    [read("x", { value: input }), write("y", output)],
    { OUT: outPerBatch, OFF: offset },
    `let n = i / PER;\ny[n * OUT + OFF + i % PER] = x[i];`,
  );
}

export interface Upsample extends InOut {
  readonly inShape: Dims3;
  readonly outShape: Dims3;
  readonly scale: readonly [number, number];
  readonly mode: "nearest" | "bilinear";
}

export function upsampleKernel({
  input,
  output,
  inShape,
  outShape,
  scale,
  mode,
}: Upsample): Kernel {
  const [c, h, w] = inShape;
  const [, ho, wo] = outShape;
  const body =
    mode === "nearest"
      ? `y[i] = x[(nc * H + oy / SY) * W + ox / SX];`
      : `let sy = max((f32(oy) + 0.5) / f32(SY) - 0.5, 0.0);
let sx = max((f32(ox) + 0.5) / f32(SX) - 0.5, 0.0);
let y0 = u32(floor(sy));
let x0 = u32(floor(sx));
let y1 = min(y0 + 1u, H - 1u);
let x1 = min(x0 + 1u, W - 1u);
let fy = sy - f32(y0);
let fx = sx - f32(x0);
let top = (1.0 - fx) * x[(nc * H + y0) * W + x0] + fx * x[(nc * H + y0) * W + x1];
let bottom = (1.0 - fx) * x[(nc * H + y1) * W + x0] + fx * x[(nc * H + y1) * W + x1];
y[i] = (1.0 - fy) * top + fy * bottom;`;
  return flat(
    c * ho * wo,
    [read("x", { value: input }), write("y", output)],
    { H: h, W: w, HO: ho, WO: wo, SY: scale[0], SX: scale[1] },
    `let ox = i % WO;\nlet oy = (i / WO) % HO;\nlet nc = i / (WO * HO);\n${body}`,
  );
}

/** Per output row (or column): the source indices and the weight of the second. */
export interface ResizeAxis {
  readonly i0: readonly number[];
  readonly i1: readonly number[];
  readonly w: readonly number[];
}

/**
 * ONNX's Resize, nearest or linear, from per-axis tables computed once on the CPU (the same
 * tables the reference reads, so that no rounding of a source coordinate can differ between
 * them); the tables live in the shader as constant arrays.
 */
export function resizeKernel({
  input,
  output,
  inShape,
  outShape,
  linear,
  ty,
  tx,
}: InOut & {
  readonly inShape: Dims3;
  readonly outShape: Dims3;
  readonly linear: boolean;
  readonly ty: ResizeAxis;
  readonly tx: ResizeAxis;
}): Kernel {
  const [c, h, w] = inShape;
  const [, ho, wo] = outShape;
  const u32s = (name: string, v: readonly number[]) =>
    `const ${name} = array<u32, ${v.length}>(${v.map((x) => `${x}u`).join(", ")});`;
  const f32s = (name: string, v: readonly number[]) =>
    `const ${name} = array<f32, ${v.length}>(${v.map((x) => f32(Math.fround(x))).join(", ")});`;
  const decls = [u32s("Y0", ty.i0), u32s("X0", tx.i0)];
  if (linear) decls.push(u32s("Y1", ty.i1), u32s("X1", tx.i1), f32s("WY", ty.w), f32s("WX", tx.w));
  const at = (y: string, x: string) => `x[(nc * H + ${y}[oy]) * W + ${x}[ox]]`;
  const body = linear
    ? `let wy = WY[oy];
let wx = WX[ox];
let top = (1.0 - wx) * ${at("Y0", "X0")} + wx * ${at("Y0", "X1")};
let bottom = (1.0 - wx) * ${at("Y1", "X0")} + wx * ${at("Y1", "X1")};
y[i] = (1.0 - wy) * top + wy * bottom;`
    : `y[i] = ${at("Y0", "X0")};`;
  return flat(
    c * ho * wo,
    [read("x", { value: input }), write("y", output)],
    { H: h, W: w, HO: ho, WO: wo },
    `let ox = i % WO;\nlet oy = (i / WO) % HO;\nlet nc = i / (WO * HO);\n${body}`,
    decls,
  );
}

export interface Pad extends InOut {
  readonly inShape: Dims3;
  readonly outShape: Dims3;
  readonly p: Quad;
  readonly mode: PadMode;
  readonly value: number;
}

export function padKernel({ input, output, inShape, outShape, p, mode, value }: Pad): Kernel {
  const [c, h, w] = inShape;
  const [, ho, wo] = outShape;
  const fetch = (v: string, n: string): string =>
    mode === "zeros"
      ? `if (${v} < 0 || ${v} >= i32(${n})) { y[i] = ${f32(value)}; return; }`
      : padIndex(v, n, mode);
  return flat(
    c * ho * wo,
    [read("x", { value: input }), write("y", output)],
    { H: h, W: w, HO: ho, WO: wo, PT: p[0], PL: p[1] },
    `let ox = i % WO;
let oy = (i / WO) % HO;
let nc = i / (WO * HO);
var iy = i32(oy) - i32(PT);
var ix = i32(ox) - i32(PL);
${fetch("iy", "H")}
${fetch("ix", "W")}
y[i] = x[(nc * H + u32(iy)) * W + u32(ix)];`,
  );
}

/** PyTorch's LocalResponseNorm across channels (see the reference interpreter). */
export interface Lrn extends InOut {
  readonly inShape: Dims3;
  readonly size: number;
  readonly alpha: number;
  readonly beta: number;
  readonly k: number;
}

export function lrnKernel(a: Lrn): Kernel {
  const { input, output } = a;
  const [c, h, w] = a.inShape;
  return flat(
    c * h * w,
    [read("x", { value: input }), write("y", output)],
    { C: c, HW: h * w, LO: Math.floor(a.size / 2), HI: Math.floor((a.size - 1) / 2) },
    `let p = i % HW;
let ch = (i / HW) % C;
let n = i / (HW * C);
var sum = 0.0;
let j0 = select(0u, ch - LO, ch >= LO);
let j1 = min(C - 1u, ch + HI);
for (var j = j0; j <= j1; j++) { let v = x[(n * C + j) * HW + p]; sum += v * v; }
y[i] = x[i] / pow(${f32(a.k)} + ${f32(a.alpha / a.size)} * sum, ${f32(a.beta)});`,
  );
}

/**
 * PReLU: y = x if x > 0 else slope[c] * x, the slope per channel (one for all when `shared`);
 * in place, the output is the input's own memory.
 */
export function preluKernel(g: {
  readonly input: string;
  readonly output: string;
  readonly slope: string;
  readonly channels: number;
  readonly inner: number;
  readonly shared: boolean;
  readonly inPlace: boolean;
  readonly layout?: Layout;
}): Kernel {
  const ch = g.shared ? "0u" : g.layout === "nhwc" ? "i % C" : "(i / INNER) % C";
  return flat(
    g.channels * g.inner,
    [
      ...(g.inPlace ? [] : [read("x", { value: g.input })]),
      read("slope", { weight: g.slope }),
      write("y", g.output),
    ],
    { C: g.channels, INNER: g.inner },
    `let ch = ${ch};
let v = ${g.inPlace ? "y" : "x"}[i];
y[i] = select(slope[ch] * v, v, v > 0.0);`,
  );
}
