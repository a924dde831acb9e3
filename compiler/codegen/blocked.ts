// A conv of any window (kernel size, stride, dilation, zero padding) over an NCHW input without
// workgroup memory, for CPU emulations of WebGPU (llvmpipe, SwiftShader), as pointwise.ts is
// for 1x1 convs. Each thread keeps an rm x rp block of outputs in registers: rm output
// channels by rp neighbouring pixels of one output row. Per input channel it loads, for each
// window row, the input row segment those rp pixels see (rp + KW - 1 values at stride 1, each
// bounds-checked against columns and rows computed once per thread) and uses every value for
// each of its window columns: at 3x3 stride 1, rm = rp = 8, 30 input and 72 weight loads feed
// 576 multiply-adds. The GEMM's two barriers per K step are what a CPU emulation pays most for
// (llvmpipe runs a workgroup's threads as coroutines); its caches do what the GEMM's workgroup
// tiles do on a GPU. The epilogue is the GEMM's: bias, a residual, an activation, an output
// layout or slice.
import type { Kernel } from "./plan-types.js";
import type { GemmConv } from "./gemm.js";
import { pointwiseName, registerBlockedKernel, type PointwiseTiles } from "./pointwise.js";
import { atPixel, convConsts, epilogueStore, sliceConsts, view } from "./wgsl.js";

/** A thread's block (rm output channels x rp pixels of a row; rp any) and the workgroup. */
export type BlockedTiles = PointwiseTiles;

/**
 * What `cnnc tune` measures. rp = 7 divides the maps of networks with 224x224 inputs (112,
 * 56, 28, 14, 7), where 8 leaves an eighth of the threads' pixels past the row's end.
 */
export const blockedCandidates: readonly BlockedTiles[] = [
  { rm: 8, rp: 8, wgx: 8, wgy: 8 },
  { rm: 8, rp: 7, wgx: 8, wgy: 8 },
  { rm: 16, rp: 7, wgx: 8, wgy: 4 },
  { rm: 4, rp: 8, wgx: 8, wgy: 8 },
  { rm: 16, rp: 4, wgx: 8, wgy: 4 },
];

export const blockedName = pointwiseName;

const range = (n: number): number[] => [...Array(n).keys()];

export function blockedConvKernel(g: GemmConv, t: BlockedTiles): Kernel {
  const [c, h, w] = g.inShape;
  const [f, ho, wo] = g.outShape;
  const [kh, kw] = g.k;
  const [sh, sw] = g.s;
  const [dh, dw] = g.d;
  const [n0, n1] = g.channels ?? [0, f];
  if ((g.inLayout ?? "nchw") !== "nchw" || g.batched || g.splitK) {
    throw new Error("internal: the blocked kernel takes an unbatched, unsplit conv over NCHW");
  }
  const segs = Math.ceil(wo / t.rp); // row segments per output row
  // the input columns the block's pixels see, relative to its first pixel's window origin
  const offsets = [...new Set(range(t.rp).flatMap((j) => range(kw).map((x) => j * sw + x * dw)))];
  offsets.sort((a, b) => a - b);
  const acc = (i: number, j: number): string => `a${i}_${j}`;
  const lines: string[] = [
    `let seg = wid.x * ${t.wgx}u + lid.x;`,
    `let nb = (wid.y * ${t.wgy}u + lid.y) * ${t.rm}u;`,
    `if (seg >= params.batch * HO * SEGS || nb >= NC) { return; }`,
    `let b = seg / (HO * SEGS);`,
    `let oy = (seg / SEGS) % HO;`,
    `let ox0 = (seg % SEGS) * ${t.rp}u;`,
    `let xb = b * C * H * W;`,
    `let ix0 = i32(ox0 * SW) - i32(PL);`,
    `let iy0 = i32(oy * SH) - i32(PT);`,
  ];
  // columns (clamped, and whether inside the map) and window rows: fixed for the whole loop
  for (const o of offsets) {
    lines.push(
      `let cx${o} = u32(clamp(ix0 + ${o}, 0, i32(W) - 1));`,
      `let cv${o} = ix0 + ${o} >= 0 && ix0 + ${o} < i32(W);`,
    );
  }
  // Up to 3x3 every window row is written out; a larger window loops over its rows, one row's
  // loads and multiply-adds written out: a 7x7 window's whole body was 140 KB of WGSL that a
  // CPU emulation's JIT took seconds to compile, for no faster a kernel.
  const rolled = kh * kw > 9;
  const rows = rolled ? [0] : range(kh);
  if (!rolled) {
    for (const y of rows) {
      lines.push(
        `let ry${y} = u32(clamp(iy0 + ${y * dh}, 0, i32(H) - 1)) * W;`,
        `let rv${y} = iy0 + ${y * dh} >= 0 && iy0 + ${y * dh} < i32(H);`,
      );
    }
  }
  for (const i of range(t.rm)) lines.push(`let w${i} = min(nb + ${i}u, NC - 1u) * K;`);
  for (const i of range(t.rm)) for (const j of range(t.rp)) lines.push(`var ${acc(i, j)} = 0.0;`);
  lines.push(
    `for (var ci = 0u; ci < C; ci++) {`,
    `  let xc = xb + ci * HW;`,
    `  let wc = ci * KK;`,
  );
  const pad = rolled ? "    " : "  ";
  if (rolled) {
    lines.push(
      `  for (var ky = 0u; ky < KH; ky++) {`,
      `    let iy = iy0 + i32(ky * DH);`,
      `    let ry0 = u32(clamp(iy, 0, i32(H) - 1)) * W;`,
      `    let rv0 = iy >= 0 && iy < i32(H);`,
      `    let wy = wc + ky * KW;`,
    );
  }
  for (const y of rows) {
    for (const o of offsets) {
      lines.push(`${pad}let v${y}_${o} = select(0.0, x[xc + ry${y} + cx${o}], rv${y} && cv${o});`);
    }
    for (const i of range(t.rm)) {
      for (const x of range(kw)) {
        const tap = rolled ? `wy + ${x}u` : `wc + ${y * kw + x}u`;
        lines.push(`${pad}let u${y}_${i}_${x} = wt[w${i} + ${tap}];`);
        const fmas = range(t.rp).map(
          (j) => `${acc(i, j)} = fma(u${y}_${i}_${x}, v${y}_${j * sw + x * dw}, ${acc(i, j)});`,
        );
        lines.push(`${pad}${fmas.join(" ")}`);
      }
    }
  }
  if (rolled) lines.push(`  }`);
  lines.push(`}`);
  const out = view(g.outLayout, ["F", "HO", "WO"], g.slice);
  const res = view(g.resLayout, ["F", "HO", "WO"]);
  for (const i of range(t.rm)) {
    lines.push(`if (nb + ${i}u < NC) {`, `  let n = nb + ${i}u;`);
    for (const j of range(t.rp)) {
      const p = `oy * WO + ox0 + ${j}u`;
      const store = epilogueStore(g, acc(i, j), {
        out: atPixel(out, "b", "N0 + n", p),
        channel: "N0 + n",
        residual: atPixel(res, "b", "N0 + n", p),
      });
      lines.push(`  if (ox0 + ${j}u < WO) { ${store} }`);
    }
    lines.push(`}`);
  }
  return registerBlockedKernel(g, t, {
    body: lines.join("\n"),
    consts: {
      ...convConsts(g),
      HW: h * w,
      K: c * kh * kw,
      KK: kh * kw,
      SEGS: segs,
      N0: n0,
      NC: n1 - n0,
      ...sliceConsts(g.slice),
    },
    blocksX: ho * segs,
    perThreadX: 1,
  });
}
