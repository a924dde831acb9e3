// Convolution as an implicit GEMM: C[m, n] = sum_k A[m, k] * B[k, n] with
//   m = (batch, oy, ox) over the output pixels, n = the output channel,
//   k = (ci, ky, kx) over the receptive window,
//   A[m, k] = x[batch, ci, oy*s - p + ky*d, ox*s - p + kx*d] (0 outside: padding by bounds),
//   B[k, n] = w[n, ci, ky, kx], i.e. the weight read as a [F, K] matrix.
// The im2col matrix A is never stored: the A-loader computes each element as it fills the
// workgroup tile. A workgroup computes a tm x tn tile of C with tk-wide steps through K, both
// operand tiles in workgroup memory; each of its wgx x wgy threads accumulates a block in
// registers (64x64x16 over 16x16 threads, 4x4 each, unless tuned: GemmTiles). The epilogue adds the bias and a residual, and applies an activation.
// Loads are vec4 where the layout allows: the weight tile when K is a multiple of 4 (four
// consecutive k of one output channel); the input tile of an NCHW stride-1, unpadded 1x1 conv
// over maps of a multiple of 4 pixels (four consecutive pixels of a channel), and of any NHWC
// conv with a multiple of 4 input channels (four consecutive channels of one pixel).
// An NHWC input orders k as (ky, kx, ci), so that consecutive k are consecutive addresses; the
// weight is then read as [F, KH, KW, C] (the plan's `hwc` transform, made at build time).
// Dense layers are the same GEMM with a 1x1 window over a 1x1 map (m = batch, k = inputs).
// Split-K (GemmConv.splitK) cuts the K loop across workgroups for small maps with long K; a
// reduction dispatch (splitKReduceKernel) then sums the partials and runs the epilogue.
import type { Kernel } from "./plan-types.js";
import {
  bindingOf,
  activationDecls,
  epilogueStore,
  buildShader,
  convConsts,
  epilogueBindings,
  flatGroup,
  flatIndex,
  type Activation,
  atPixel,
  sliceConsts,
  view,
  type ConvWindow,
  type Layouts,
  type OutputSlice,
} from "./wgsl.js";

export interface GemmConv extends ConvWindow, Layouts {
  readonly input: string;
  readonly output: string;
  readonly weight: string;
  readonly bias?: string;
  /** Added before the activation: a value of the output's shape (a fused residual add). */
  readonly residual?: string;
  /** Write into these channels of a larger output (concat elimination). */
  readonly slice?: OutputSlice;
  /** Output channels [n0, n0 + F') computed by this dispatch (a weight split into row ranges). */
  readonly channels?: readonly [number, number];
  readonly act?: Activation;
  /**
   * Z independent GEMMs in one dispatch (Winograd's 16), along the grid's z: GEMM z reads
   * channels [z C, (z + 1) C) of an input of Z C channels, the z-th [F, K] block of the
   * weight, and writes channels [z F, (z + 1) F) of an output of Z F channels. No bias,
   * residual, activation or slice then: the caller's epilogue applies them; the input and
   * output are laid out [batch, Z C or Z F, H * W] whatever the layouts say.
   */
  readonly batched?: number;
  /**
   * Split-K: the K loop cut into this many ranges along the grid's z, each workgroup writing
   * its partial sums to `output` laid out [batch, parts, F, HO * WO] (whatever `outLayout`
   * says); splitKReduceKernel adds
   * them up and applies the epilogue. For GEMMs with few output tiles and a long K (small maps,
   * many input channels), which would otherwise leave most of a GPU's cores idle.
   */
  readonly splitK?: number;
}

/**
 * A tile configuration: the workgroup computes a tm x tn tile of C in tk-wide steps with
 * wgx * wgy threads, each accumulating a (tm / wgy) x (tn / wgx) block in registers.
 */
export interface GemmTiles {
  readonly tm: number;
  readonly tn: number;
  readonly tk: number;
  readonly wgx: number;
  readonly wgy: number;
}

export const defaultTiles: GemmTiles = { tm: 64, tn: 64, tk: 16, wgx: 16, wgy: 16 };

/** The configurations `cnnc tune` measures (all valid: every count divides evenly). */
// Larger register blocks (32x16 per thread) ran fastest of all on llvmpipe but took over a
// minute to compile each; these compile in seconds everywhere.
export const tileCandidates: readonly GemmTiles[] = [
  defaultTiles,
  { tm: 64, tn: 64, tk: 16, wgx: 8, wgy: 8 },
  { tm: 64, tn: 64, tk: 16, wgx: 4, wgy: 4 },
  { tm: 64, tn: 32, tk: 16, wgx: 8, wgy: 16 },
  { tm: 32, tn: 32, tk: 16, wgx: 4, wgy: 4 },
  { tm: 16, tn: 16, tk: 16, wgx: 4, wgy: 4 },
];

export function tilesName(t: GemmTiles): string {
  return `${t.tm}x${t.tn}x${t.tk}/${t.wgx}x${t.wgy}`;
}

// im2col on the fly: one element of A, 0 in the padding and past the edges.
const loadAFunction = (batched: boolean): string => `fn loadA(m: u32, k: u32, rows: u32) -> f32 {
  if (m >= rows || k >= K) { return 0.0; }
  let b = m / (HO * WO);
  let p = m % (HO * WO);
  let ci = k / (KH * KW);
  let r = k % (KH * KW);
  let iy = i32((p / WO) * SH + (r / KW) * DH) - i32(PT);
  let ix = i32((p % WO) * SW + (r % KW) * DW) - i32(PL);
  if (iy < 0 || iy >= i32(H) || ix < 0 || ix >= i32(W)) { return 0.0; }
  return x[((b * ${batched ? "XC + zi * C" : "C"} + ci) * H + u32(iy)) * W + u32(ix)];
}`;

// The same over an NHWC input, k = (ky, kx, ci).
const loadANhwcFunction = `fn loadA(m: u32, k: u32, rows: u32) -> f32 {
  if (m >= rows || k >= K) { return 0.0; }
  let b = m / (HO * WO);
  let p = m % (HO * WO);
  let r = k / C;
  let iy = i32((p / WO) * SH + (r / KW) * DH) - i32(PT);
  let ix = i32((p % WO) * SW + (r % KW) * DW) - i32(PL);
  if (iy < 0 || iy >= i32(H) || ix < 0 || ix >= i32(W)) { return 0.0; }
  return x[((b * H + u32(iy)) * W + u32(ix)) * C + k % C];
}`;

// Tile loaders: `threads` threads fill a tile, several elements each, or one vec4 each where
// the tile holds exactly four elements per thread.
function loadAScalar(t: GemmTiles, threads: number): string {
  return `  for (var l = 0u; l < ${Math.ceil((t.tm * t.tk) / threads)}u; l++) {
    let e = t + l * ${threads}u;
    if (e < ${t.tm * t.tk}u) { tileA[e / ${t.tk}u][e % ${t.tk}u] = loadA(row0 + e / ${t.tk}u, k0 + e % ${t.tk}u, rows); }
  }`;
}
// Pointwise: A[m, k] = x[b, k, p] is contiguous along m, so m..m+3 (same image, as HO*WO and
// row0 are multiples of 4) are one vec4.
function loadAVec4(t: GemmTiles, batched: boolean): string {
  return `  {
    let kk = t / ${t.tm / 4}u;
    let mq = t % ${t.tm / 4}u;
    let m = row0 + mq * 4u;
    let k = k0 + kk;
    var v = vec4<f32>(0.0);
    if (m < rows && k < K) { v = x[((m / (HO * WO)) * ${batched ? "XC + zi * C" : "C"} + k) * (HO * WO) / 4u + (m % (HO * WO)) / 4u]; }
    tileA[mq * 4u][kk] = v.x;
    tileA[mq * 4u + 1u][kk] = v.y;
    tileA[mq * 4u + 2u][kk] = v.z;
    tileA[mq * 4u + 3u][kk] = v.w;
  }`;
}
// NHWC with C % 4 == 0: A[m, k..k+3] are channels ci..ci+3 of one pixel, one vec4 (k0 and
// C are multiples of 4, so the four never straddle two taps).
function loadAVec4Nhwc(t: GemmTiles, threads: number): string {
  const q = t.tk / 4;
  return `  for (var l = 0u; l < ${(t.tm * q) / threads}u; l++) {
    let e = t + l * ${threads}u;
    let mm = e / ${q}u;
    let kq = e % ${q}u;
    let m = row0 + mm;
    let k = k0 + kq * 4u;
    var v = vec4<f32>(0.0);
    if (m < rows && k < K) {
      let b = m / (HO * WO);
      let p = m % (HO * WO);
      let r = k / C;
      let iy = i32((p / WO) * SH + (r / KW) * DH) - i32(PT);
      let ix = i32((p % WO) * SW + (r % KW) * DW) - i32(PL);
      if (iy >= 0 && iy < i32(H) && ix >= 0 && ix < i32(W)) {
        v = x[(((b * H + u32(iy)) * W + u32(ix)) * C + k % C) / 4u];
      }
    }
    tileA[mm][kq * 4u] = v.x;
    tileA[mm][kq * 4u + 1u] = v.y;
    tileA[mm][kq * 4u + 2u] = v.z;
    tileA[mm][kq * 4u + 3u] = v.w;
  }`;
}
function loadBScalar(t: GemmTiles, threads: number, batched: boolean): string {
  return `  for (var l = 0u; l < ${Math.ceil((t.tk * t.tn) / threads)}u; l++) {
    let e = t + l * ${threads}u;
    let k = k0 + e / ${t.tn}u;
    let n = col0 + e % ${t.tn}u;
    var v = 0.0;
    if (e < ${t.tk * t.tn}u && k < K && n < NC) { v = wt[${batched ? "zi * NC * K + " : ""}n * K + k]; }
    if (e < ${t.tk * t.tn}u) { tileB[e / ${t.tn}u][e % ${t.tn}u] = v; }
  }`;
}
// K % 4 == 0: w[n, k..k+3] is one vec4 (k0 is a multiple of tk, so k is of 4).
function loadBVec4(t: GemmTiles, batched: boolean): string {
  return `  {
    let nn = t % ${t.tn}u;
    let kq = t / ${t.tn}u;
    let n = col0 + nn;
    let k = k0 + kq * 4u;
    var v = vec4<f32>(0.0);
    if (k < K && n < NC) { v = wt[(${batched ? "zi * NC * K + " : ""}n * K + k) / 4u]; }
    tileB[kq * 4u][nn] = v.x;
    tileB[kq * 4u + 1u][nn] = v.y;
    tileB[kq * 4u + 2u][nn] = v.z;
    tileB[kq * 4u + 3u][nn] = v.w;
  }`;
}

export function gemmConvKernel(g: GemmConv, tiles: GemmTiles = defaultTiles): Kernel {
  const T = tiles;
  const threads = T.wgx * T.wgy;
  const rm = T.tm / T.wgy;
  const rn = T.tn / T.wgx;
  const [c, h, w] = g.inShape;
  const [f, ho, wo] = g.outShape;
  const [n0, n1] = g.channels ?? [0, f];
  const Z = g.batched ?? 1;
  const S = g.splitK ?? 1;
  if ((Z > 1 || S > 1) && (g.bias || g.residual || g.act || g.slice || g.channels)) {
    throw new Error("internal: a batched or split-K GEMM has no epilogue");
  }
  if (Z > 1 && S > 1) throw new Error("internal: a GEMM is batched or split, not both");
  const nhwc = g.inLayout === "nhwc";
  if (nhwc && Z > 1) throw new Error("internal: a batched GEMM reads its own layout");
  const consts = {
    ...convConsts(g),
    ...(Z > 1 ? { XC: Z * c, YC: Z * f } : {}),
    K: c * g.k[0] * g.k[1],
    ...(S > 1 ? { S, KS: splitRange(c * g.k[0] * g.k[1], S, T.tk) } : {}),
    N0: n0,
    NC: n1 - n0,
    ...sliceConsts(g.slice),
  };
  const K = c * g.k[0] * g.k[1];
  const vecB = K % 4 === 0 && T.tk % 4 === 0 && (T.tk * T.tn) / 4 === threads;
  const pointwise =
    g.k[0] === 1 &&
    g.k[1] === 1 &&
    g.s[0] === 1 &&
    g.s[1] === 1 &&
    g.pad[0] === 0 &&
    g.pad[1] === 0;
  // (a residual that is the input too would share x's binding, so x stays scalar then)
  const vecA = nhwc
    ? c % 4 === 0 && T.tk % 4 === 0 && ((T.tm * T.tk) / 4) % threads === 0 && g.residual !== g.input
    : pointwise &&
      (ho * wo) % 4 === 0 &&
      g.residual !== g.input &&
      T.tm % 4 === 0 &&
      (T.tm * T.tk) / 4 === threads;
  const { wgsl, bindings } = buildShader({
    bindings: [
      { ...bindingOf("x", { value: g.input }), ...(vecA ? { element: "vec4<f32>" as const } : {}) },
      {
        ...bindingOf("wt", { weight: g.weight }),
        ...(vecB ? { element: "vec4<f32>" as const } : {}),
      },
      ...(g.bias ? [bindingOf("bias", { weight: g.bias })] : []),
      ...(g.residual ? [bindingOf("res", { value: g.residual })] : []),
      { name: "y", access: "read_write", bind: { value: g.output } },
    ],
    consts,
    decls: [
      `var<workgroup> tileA: array<array<f32, ${T.tk}>, ${T.tm}>;`,
      `var<workgroup> tileB: array<array<f32, ${T.tn}>, ${T.tk}>;`,
      // which of the batched GEMMs this workgroup computes
      ...(Z > 1 || S > 1 ? ["var<private> zi: u32;"] : []),
      ...(vecA ? [] : [nhwc ? loadANhwcFunction : loadAFunction(Z > 1)]),
      ...activationDecls(g.act),
    ],
    workgroupSize: [T.wgx, T.wgy, 1],
    body: `${Z > 1 || S > 1 ? "zi = wid.z;\n" : ""}let rows = params.batch * HO * WO;
let row0 = wid.y * ${T.tm}u;
let col0 = wid.x * ${T.tn}u;
let t = lid.y * ${T.wgx}u + lid.x;
var acc: array<array<f32, ${rn}>, ${rm}>;
${S > 1 ? "let kEnd = min(K, (wid.z + 1u) * KS); // (wid, not zi: barriers need uniform bounds)\nfor (var k0 = wid.z * KS; k0 < kEnd; k0 += " : "for (var k0 = 0u; k0 < K; k0 += "}${T.tk}u) {
${vecA ? (nhwc ? loadAVec4Nhwc(T, threads) : loadAVec4(T, Z > 1)) : loadAScalar(T, threads)}
${vecB ? loadBVec4(T, Z > 1) : loadBScalar(T, threads, Z > 1)}
  workgroupBarrier();
  for (var kk = 0u; kk < ${T.tk}u; kk++) {
    var a: array<f32, ${rm}>;
    var bv: array<f32, ${rn}>;
    for (var i = 0u; i < ${rm}u; i++) { a[i] = tileA[lid.y * ${rm}u + i][kk]; }
    for (var j = 0u; j < ${rn}u; j++) { bv[j] = tileB[kk][lid.x * ${rn}u + j]; }
    for (var i = 0u; i < ${rm}u; i++) {
      for (var j = 0u; j < ${rn}u; j++) { acc[i][j] += a[i] * bv[j]; }
    }
  }
  workgroupBarrier();
}
for (var i = 0u; i < ${rm}u; i++) {
  let m = row0 + lid.y * ${rm}u + i;
  if (m >= rows) { continue; }
  let b = m / (HO * WO);
  let p = m % (HO * WO);
  for (var j = 0u; j < ${rn}u; j++) {
    let n = col0 + lid.x * ${rn}u + j;
    if (n >= NC) { continue; }
${
  Z > 1 || S > 1
    ? `    let o = (b * ${Z > 1 ? "YC + zi * F" : "S * F + zi * F"} + n) * HO * WO + p;
    y[o] = acc[i][j];`
    : `    ${epilogueStore(g, "acc[i][j]", {
        out: atPixel(view(g.outLayout, ["F", "HO", "WO"], g.slice), "b", "N0 + n", "p"),
        channel: "N0 + n",
        residual: atPixel(view(g.resLayout, ["F", "HO", "WO"]), "b", "N0 + n", "p"),
      })}`
}
  }
}`,
  });
  return {
    wgsl,
    bindings,
    shapeFamily: true,
    grid: {
      kind: "tiles",
      x: { perBatch: 0, fixed: n1 - n0, div: T.tn },
      y: { perBatch: ho * wo, fixed: 0, div: T.tm },
      z: { perBatch: 0, fixed: Z * S, div: 1 },
    },
  };
}

/** Each split's share of K: a whole number of tk-steps, so no tile straddles two splits. */
function splitRange(k: number, parts: number, tk: number): number {
  return Math.ceil(k / parts / tk) * tk;
}

/**
 * The second half of a split-K GEMM conv: y = act(sum of the partial sums + bias + residual),
 * one thread per output element, the partials laid out [batch, parts, F, HO * WO], the output
 * and residual in their layouts.
 */
export function splitKReduceKernel(
  r: Layouts & {
    readonly input: string;
    readonly output: string;
    readonly parts: number;
    readonly outShape: readonly [number, number, number];
    readonly bias?: string;
    readonly residual?: string;
    readonly act?: Activation;
    readonly slice?: OutputSlice;
  },
): Kernel {
  const [f, ho, wo] = r.outShape;
  const { wgsl, bindings } = buildShader({
    bindings: epilogueBindings("part", r),
    consts: {
      F: f,
      HO: ho,
      WO: wo,
      P: ho * wo,
      S: r.parts,
      ...sliceConsts(r.slice),
    },
    decls: activationDecls(r.act),
    workgroupSize: [flatGroup, 1, 1],
    body: `${flatIndex}
if (i >= params.batch * F * P) { return; }
let p = i % P;
let n = (i / P) % F;
let b = i / (F * P);
var v = 0.0;
for (var z = 0u; z < S; z++) { v += part[((b * S + z) * F + n) * P + p]; }
${epilogueStore(r, "v", {
  out: atPixel(view(r.outLayout, ["F", "HO", "WO"], r.slice), "b", "n", "p"),
  channel: "n",
  residual: atPixel(view(r.resLayout, ["F", "HO", "WO"]), "b", "n", "p"),
})}`,
  });
  return { wgsl, bindings, grid: { kind: "flat", perBatch: f * ho * wo, groupSize: flatGroup } };
}
