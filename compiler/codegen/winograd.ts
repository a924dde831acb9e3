// Winograd F(2x2, 3x3) for 3x3 convs of stride 1 and dilation 1 (Lavin and Gray, 2015).
// Each 2x2 block of outputs ("tile") is computed from the 4x4 input patch d under it as
//   Y = A^T [ (G g G^T) . (B^T d B) ] A,
// where g is the 3x3 kernel and . multiplies element by element. Summed over input channels,
// the 16 elements of the 4x4 product become 16 independent GEMMs,
//   M[z][f, tile] = sum_c U[z][f, c] V[z][c, tile],   z = 0..15,
// which cost 16 multiplies per tile and channel pair instead of the direct 36: 2.25x fewer.
// Three dispatches: the input transform (V), the 16 GEMMs (the tiled GEMM kernel with a
// z dimension, gemm.ts), and the output transform, which also applies the conv's epilogue
// (bias, residual, activation, concat slice). The weight transform U = G g G^T happens once,
// at load from the bundle's 3x3 weight (runtime/weights.ts `winogradWeights`, a derived weight).
// The transforms trade arithmetic for memory traffic (V and M are 4x the input and output),
// so it pays for layers with enough channels; `cnnc tune` measures it against the direct GEMM.
// V and M are laid out [batch, 16, channels, tiles] whatever the layouts of the conv's input and
// output, which the transforms read and write in theirs.
import type { Kernel } from "./plan-types.js";
import type { Activation, Layouts, OutputSlice } from "./wgsl.js";
import {
  activationDecls,
  epilogueStore,
  at,
  sliceConsts,
  view,
  buildShader,
  epilogueBindings,
  flatGroup,
  flatIndex,
  readAccess,
} from "./wgsl.js";

type Dims3 = readonly [number, number, number];

/** Tiles of one image: ceil(HO / 2) x ceil(WO / 2). */
export function winogradTiles(outShape: Dims3): number {
  return Math.ceil(outShape[1] / 2) * Math.ceil(outShape[2] / 2);
}

/** U[z][f][c] = (G g[f][c] G^T)[z] for a [F, C, 3, 3] weight; computed in float64. */
interface Transform extends Layouts {
  readonly inShape: Dims3;
  readonly outShape: Dims3;
  /** Top and left zero padding. */
  readonly pad: readonly [number, number];
}

/**
 * V[b][z][c][tile] = (B^T d B)[z], d the 4x4 input patch of the tile (zero outside the image).
 * One thread per (item, channel, tile).
 */
export function winogradInputKernel(t: Transform & { input: string; output: string }): Kernel {
  const [c, h, w] = t.inShape;
  const x = view(t.inLayout, ["C", "H", "W"]);
  const tw = Math.ceil(t.outShape[2] / 2);
  const p = winogradTiles(t.outShape);
  const { wgsl, bindings } = buildShader({
    bindings: [
      { name: "x", access: readAccess({ value: t.input }), bind: { value: t.input } },
      { name: "v", access: "read_write", bind: { value: t.output } },
    ],
    consts: { PER: c * p, C: c, H: h, W: w, P: p, TW: tw, PT: t.pad[0], PL: t.pad[1] },
    workgroupSize: [flatGroup, 1, 1],
    body: `${flatIndex}
if (i >= params.batch * PER) { return; }
let tile = i % P;
let ci = (i / P) % C;
let b = i / (P * C);
let y0 = i32((tile / TW) * 2u) - i32(PT);
let x0 = i32((tile % TW) * 2u) - i32(PL);
var d: array<vec4<f32>, 4>;
for (var r = 0; r < 4; r++) {
  let iy = y0 + r;
  if (iy < 0 || iy >= i32(H)) { continue; }
  var e = vec4<f32>(0.0);
  for (var s = 0; s < 4; s++) {
    let ix = x0 + s;
    if (ix >= 0 && ix < i32(W)) { e[s] = x[${at(x, "b", "ci", "u32(iy)", "u32(ix)")}]; }
  }
  d[r] = e;
}
// B^T d (rows), then (B^T d) B (columns)
var rows = array<vec4<f32>, 4>(d[0] - d[2], d[1] + d[2], d[2] - d[1], d[1] - d[3]);
let out = (b * 16u * C + ci) * P + tile;
for (var r = 0u; r < 4u; r++) {
  let e = rows[r];
  let o = out + r * 4u * C * P;
  v[o] = e.x - e.z;
  v[o + C * P] = e.y + e.z;
  v[o + 2u * C * P] = e.z - e.y;
  v[o + 3u * C * P] = e.y - e.w;
}`,
  });
  return { wgsl, bindings, grid: { kind: "flat", perBatch: c * p, groupSize: flatGroup } };
}

/**
 * y = act(A^T M A + bias + residual) for each tile: one thread per (item, output channel,
 * tile), writing the tile's (up to) 2x2 outputs.
 */
export function winogradOutputKernel(
  t: Transform & {
    input: string;
    output: string;
    bias?: string;
    residual?: string;
    act?: Activation;
    slice?: OutputSlice;
  },
): Kernel {
  const [f, ho, wo] = t.outShape;
  const tw = Math.ceil(wo / 2);
  const p = winogradTiles(t.outShape);
  const out = at(view(t.outLayout, ["F", "HO", "WO"], t.slice), "b", "fo", "oy", "ox");
  const res = at(view(t.resLayout, ["F", "HO", "WO"]), "b", "fo", "oy", "ox");
  const { wgsl, bindings } = buildShader({
    bindings: epilogueBindings("m", t),
    consts: {
      PER: f * p,
      F: f,
      HO: ho,
      WO: wo,
      P: p,
      TW: tw,
      ...sliceConsts(t.slice),
    },
    decls: activationDecls(t.act),
    workgroupSize: [flatGroup, 1, 1],
    body: `${flatIndex}
if (i >= params.batch * PER) { return; }
let tile = i % P;
let fo = (i / P) % F;
let b = i / (P * F);
let base = (b * 16u * F + fo) * P + tile;
// A^T M: two rows of four
var s0 = vec4<f32>(0.0);
var s1 = vec4<f32>(0.0);
for (var r = 0u; r < 4u; r++) {
  let o = base + r * 4u * F * P;
  let e = vec4<f32>(m[o], m[o + F * P], m[o + 2u * F * P], m[o + 3u * F * P]);
  if (r < 3u) { s0 += e; }
  if (r == 1u) { s1 += e; }
  if (r >= 2u) { s1 -= e; }
}
// (A^T M) A
var q = array<vec2<f32>, 2>(
  vec2<f32>(s0.x + s0.y + s0.z, s0.y - s0.z - s0.w),
  vec2<f32>(s1.x + s1.y + s1.z, s1.y - s1.z - s1.w),
);
let y0 = (tile / TW) * 2u;
let x0 = (tile % TW) * 2u;
for (var r = 0u; r < 2u; r++) {
  let oy = y0 + r;
  if (oy >= HO) { break; }
  for (var s = 0u; s < 2u; s++) {
    let ox = x0 + s;
    if (ox >= WO) { break; }
    ${epilogueStore(t, "q[r][s]", { out, channel: "fo", residual: res })}
  }
}`,
  });
  return { wgsl, bindings, grid: { kind: "flat", perBatch: f * p, groupSize: flatGroup } };
}
