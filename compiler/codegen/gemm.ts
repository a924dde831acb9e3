// Convolution as an implicit GEMM: C[m, n] = sum_k A[m, k] * B[k, n] with
//   m = (batch, oy, ox) over the output pixels, n = the output channel,
//   k = (ci, ky, kx) over the receptive window,
//   A[m, k] = x[batch, ci, oy*s - p + ky*d, ox*s - p + kx*d] (0 outside: padding by bounds),
//   B[k, n] = w[n, ci, ky, kx], i.e. the weight read as a [F, K] matrix.
// The im2col matrix A is never stored: the A-loader computes each element as it fills the
// workgroup tile. A workgroup computes a TM x TN tile of C with TK-wide steps through K, both
// operand tiles in workgroup memory; each of its 16x16 threads accumulates a 4x4 block in
// registers. The epilogue adds the bias and a residual, and applies an activation. Dense layers are the same
// GEMM with a 1x1 window over a 1x1 map (m = batch, k = inputs).
import type { Kernel } from "./plan-types.js";
import {
  activationDecls,
  activationWgsl,
  buildShader,
  convConsts,
  readAccess,
  type Activation,
  type BufferRef,
  type ConvWindow,
  type ShaderBinding,
} from "./wgsl.js";

export interface GemmConv extends ConvWindow {
  readonly input: string;
  readonly output: string;
  readonly weight: string;
  readonly bias?: string;
  /** Added before the activation: a value of the output's shape (a fused residual add). */
  readonly residual?: string;
  /** Output channels [n0, n0 + F') computed by this dispatch (a weight split into row ranges). */
  readonly channels?: readonly [number, number];
  readonly act?: Activation;
}

const TM = 64;
const TN = 64;
const TK = 16;

export function gemmConvKernel(g: GemmConv): Kernel {
  const [c, h, w] = g.inShape;
  const [f, ho, wo] = g.outShape;
  const [n0, n1] = g.channels ?? [0, f];
  const consts = {
    ...convConsts(g),
    K: c * g.k[0] * g.k[1],
    N0: n0,
    NC: n1 - n0,
  };
  const bind = (name: string, ref: BufferRef): ShaderBinding => ({
    name,
    access: readAccess(ref),
    bind: ref,
  });
  const { wgsl, bindings } = buildShader({
    bindings: [
      bind("x", { value: g.input }),
      bind("wt", { weight: g.weight }),
      ...(g.bias ? [bind("bias", { weight: g.bias })] : []),
      ...(g.residual ? [bind("res", { value: g.residual })] : []),
      { name: "y", access: "read_write", bind: { value: g.output } },
    ],
    consts,
    decls: [
      `var<workgroup> tileA: array<array<f32, ${TK}>, ${TM}>;`,
      `var<workgroup> tileB: array<array<f32, ${TN}>, ${TK}>;`,
      `fn loadA(m: u32, k: u32, rows: u32) -> f32 {
  if (m >= rows || k >= K) { return 0.0; }
  let b = m / (HO * WO);
  let p = m % (HO * WO);
  let ci = k / (KH * KW);
  let r = k % (KH * KW);
  let iy = i32((p / WO) * SH + (r / KW) * DH) - i32(PT);
  let ix = i32((p % WO) * SW + (r % KW) * DW) - i32(PL);
  if (iy < 0 || iy >= i32(H) || ix < 0 || ix >= i32(W)) { return 0.0; }
  return x[((b * C + ci) * H + u32(iy)) * W + u32(ix)];
}`,
      ...activationDecls(g.act),
    ],
    workgroupSize: [16, 16, 1],
    body: `let rows = params.batch * HO * WO;
let row0 = wid.y * ${TM}u;
let col0 = wid.x * ${TN}u;
let t = lid.y * 16u + lid.x;
var acc: array<array<f32, 4>, 4>;
for (var k0 = 0u; k0 < K; k0 += ${TK}u) {
  for (var l = 0u; l < ${(TM * TK) / 256}u; l++) {
    let e = t + l * 256u;
    tileA[e / ${TK}u][e % ${TK}u] = loadA(row0 + e / ${TK}u, k0 + e % ${TK}u, rows);
  }
  for (var l = 0u; l < ${(TK * TN) / 256}u; l++) {
    let e = t + l * 256u;
    let k = k0 + e / ${TN}u;
    let n = col0 + e % ${TN}u;
    var v = 0.0;
    if (k < K && n < NC) { v = wt[n * K + k]; }
    tileB[e / ${TN}u][e % ${TN}u] = v;
  }
  workgroupBarrier();
  for (var kk = 0u; kk < ${TK}u; kk++) {
    var a: array<f32, 4>;
    var bv: array<f32, 4>;
    for (var i = 0u; i < 4u; i++) { a[i] = tileA[lid.y * 4u + i][kk]; bv[i] = tileB[kk][lid.x * 4u + i]; }
    for (var i = 0u; i < 4u; i++) {
      for (var j = 0u; j < 4u; j++) { acc[i][j] += a[i] * bv[j]; }
    }
  }
  workgroupBarrier();
}
for (var i = 0u; i < 4u; i++) {
  let m = row0 + lid.y * 4u + i;
  if (m >= rows) { continue; }
  let b = m / (HO * WO);
  let p = m % (HO * WO);
  for (var j = 0u; j < 4u; j++) {
    let n = col0 + lid.x * 4u + j;
    if (n >= NC) { continue; }
    let o = (b * F + N0 + n) * HO * WO + p;
    let v = acc[i][j]${g.bias ? " + bias[N0 + n]" : ""}${g.residual ? " + res[o]" : ""};
    y[o] = ${activationWgsl(g.act, "v")};
  }
}`,
  });
  return {
    wgsl,
    bindings,
    grid: {
      kind: "tiles",
      x: { perBatch: 0, fixed: n1 - n0, div: TN },
      y: { perBatch: ho * wo, fixed: 0, div: TM },
      z: { perBatch: 0, fixed: 1, div: 1 },
    },
  };
}
