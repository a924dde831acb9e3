// A 1x1 stride-1 conv over an NCHW input without workgroup memory: y[b, n, p] = sum_k w[n, k]
// x[b, k, p]. Each thread keeps an rm x rp block of outputs (rm output channels, rp pixels of
// one image, four to a vec4) in registers and reads its operands straight from memory, four k
// at a time: per step rp vec4s of input (one per k and four pixels) and rm vec4s of weight
// (four k of one output channel), for 4 rm rp multiply-adds. No barriers: the tiled GEMM's
// two per K step are what a CPU emulation of a GPU pays most for (llvmpipe runs a workgroup's
// threads as coroutines), and its caches do what the GEMM's workgroup tiles do on a GPU. On
// llvmpipe this ran MobileNet-v1's 1x1 convs 2.5-5x faster than the best GEMM tiles (README).
// The epilogue is the GEMM's: bias, a residual, an activation, an output layout or slice.
import type { Kernel } from "./plan-types.js";
import type { GemmConv } from "./gemm.js";
import {
  bindingOf,
  activationDecls,
  atPixel,
  buildShader,
  epilogueStore,
  sliceConsts,
  view,
} from "./wgsl.js";

/** A thread's block (rm output channels x rp pixels, rp a multiple of 4) and the workgroup. */
export interface PointwiseTiles {
  readonly rm: number;
  readonly rp: number;
  readonly wgx: number;
  readonly wgy: number;
}

/** What `cnnc tune` measures: the fastest few of a wider sweep on llvmpipe (512 and 128 channels). */
export const pointwiseCandidates: readonly PointwiseTiles[] = [
  { rm: 8, rp: 8, wgx: 8, wgy: 8 },
  { rm: 16, rp: 8, wgx: 8, wgy: 4 },
  { rm: 8, rp: 8, wgx: 16, wgy: 4 },
  { rm: 8, rp: 8, wgx: 8, wgy: 2 },
  { rm: 4, rp: 4, wgx: 8, wgy: 8 },
];

export function pointwiseName(t: PointwiseTiles): string {
  return `${t.rm}x${t.rp}/${t.wgx}x${t.wgy}`;
}

/** The convs it computes: ungrouped (the caller checks), 1x1, stride 1, unpadded, C % 4 == 0. */
export function pointwiseApplies(g: {
  readonly k: readonly number[];
  readonly s: readonly number[];
  readonly pad: readonly number[];
  readonly c: number;
}): boolean {
  return (
    g.k[0] === 1 &&
    g.k[1] === 1 &&
    g.s[0] === 1 &&
    g.s[1] === 1 &&
    g.pad.every((v) => v === 0) &&
    g.c % 4 === 0
  );
}

export function pointwiseConvKernel(g: GemmConv, t: PointwiseTiles): Kernel {
  const [c, h, w] = g.inShape;
  const [f, ho, wo] = g.outShape;
  const [n0, n1] = g.channels ?? [0, f];
  if (!pointwiseApplies({ ...g, c }) || (g.inLayout ?? "nchw") !== "nchw" || t.rp % 4 !== 0) {
    throw new Error("internal: the pointwise kernel takes a 1x1 stride-1 conv over NCHW");
  }
  if (g.batched || g.splitK)
    throw new Error("internal: a pointwise conv is neither batched nor split");
  const hw = h * w;
  if (ho !== h || wo !== w) throw new Error("internal: a pointwise conv keeps the map size");
  const quads = Math.ceil(hw / 4); // groups of four pixels per image
  const rq = t.rp / 4;
  // vec4 input loads where every image's map is whole vec4s and the residual is not x itself
  const vec = hw % 4 === 0 && g.residual !== g.input;
  const range = (n: number): number[] => [...Array(n).keys()];
  const acc = (i: number, j: number): string => `a${i}_${j}`;
  const lines: string[] = [];
  // each quad j of the thread: its image and first pixel (clamped: threads past the end load
  // valid addresses and store nothing)
  lines.push(
    `let qs = (wid.x * ${t.wgx}u + lid.x) * ${rq}u;`,
    `let nb = (wid.y * ${t.wgy}u + lid.y) * ${t.rm}u;`,
    `let quads = params.batch * QUADS;`,
    `if (qs >= quads || nb >= NC) { return; }`,
  );
  for (const j of range(rq)) {
    lines.push(
      `let q${j} = min(qs + ${j}u, quads - 1u);`,
      `let b${j} = q${j} / QUADS;`,
      `let p${j} = (q${j} % QUADS) * 4u;`,
      `let x${j} = b${j} * C * HW;`,
    );
  }
  for (const i of range(t.rm)) lines.push(`let w${i} = min(nb + ${i}u, NC - 1u) * K;`);
  for (const i of range(t.rm))
    for (const j of range(rq)) lines.push(`var ${acc(i, j)} = vec4<f32>(0.0);`);
  // four pixels of channel k at x_j + p_j: one vec4, or four clamped scalars
  // (vec4 addresses: each quad's start s_j, channel k's offset k * HW / 4 once an iteration)
  if (vec) {
    lines.push(`let hq = HW / 4u;`);
    for (const j of range(rq)) lines.push(`let s${j} = (x${j} + p${j}) / 4u;`);
  }
  const load = (j: number, kk: number): string =>
    vec
      ? `x[s${j} + kq${kk ? ` + ${kk === 1 ? "" : `${kk}u * `}hq` : ""}]`
      : `vec4<f32>(${range(4)
          .map((l) => `x[x${j} + (k + ${kk}u) * HW + min(p${j} + ${l}u, HW - 1u)]`)
          .join(", ")})`;
  lines.push(`for (var k = 0u; k < K; k += 4u) {`);
  if (vec) lines.push(`  let kq = k * hq;`);
  for (const j of range(rq))
    for (const kk of range(4)) lines.push(`  let v${j}_${kk} = ${load(j, kk)};`);
  for (const i of range(t.rm)) {
    lines.push(`  let u${i} = wt[(w${i} + k) / 4u];`);
    for (const j of range(rq)) {
      const a = acc(i, j);
      lines.push(
        `  ${a} = fma(vec4<f32>(u${i}.x), v${j}_0, ${a}); ${a} = fma(vec4<f32>(u${i}.y), v${j}_1, ${a});`,
        `  ${a} = fma(vec4<f32>(u${i}.z), v${j}_2, ${a}); ${a} = fma(vec4<f32>(u${i}.w), v${j}_3, ${a});`,
      );
    }
  }
  lines.push(`}`);
  const out = view(g.outLayout, ["F", "HO", "WO"], g.slice);
  const res = view(g.resLayout, ["F", "HO", "WO"]);
  for (const i of range(t.rm)) {
    lines.push(`if (nb + ${i}u < NC) {`, `  let n = nb + ${i}u;`);
    for (const j of range(rq)) {
      lines.push(`  if (qs + ${j}u < quads) {`);
      for (const l of range(4)) {
        const p = `p${j} + ${l}u`;
        const store = epilogueStore(g, `${acc(i, j)}[${l}]`, {
          out: atPixel(out, `b${j}`, "N0 + n", p),
          channel: "N0 + n",
          residual: atPixel(res, `b${j}`, "N0 + n", p),
        });
        lines.push(`    if (${p} < HW) { ${store} }`);
      }
      lines.push(`  }`);
    }
    lines.push(`}`);
  }
  return registerBlockedKernel(g, t, {
    body: lines.join("\n"),
    consts: {
      ...{ C: c, K: c, F: f, HO: ho, WO: wo, HW: hw, QUADS: quads, N0: n0, NC: n1 - n0 },
      ...sliceConsts(g.slice),
    },
    vecInput: vec,
    vecWeight: true,
    blocksX: quads,
    perThreadX: rq,
  });
}

/**
 * The shader and grid of a register-blocked conv (this file's and blocked.ts's): bindings x,
 * wt (either as vec4s where asked), bias, res and y; the grid's x covers `blocksX` pixel blocks
 * a batch item, `perThreadX` to a thread, its y the channels, rm to a thread.
 */
export function registerBlockedKernel(
  g: GemmConv,
  t: PointwiseTiles,
  spec: {
    readonly body: string;
    readonly consts: Readonly<Record<string, number>>;
    readonly vecInput?: boolean;
    readonly vecWeight?: boolean;
    readonly blocksX: number;
    readonly perThreadX: number;
  },
): Kernel {
  const vec4 = { element: "vec4<f32>" as const };
  const [n0, n1] = g.channels ?? [0, g.outShape[0]];
  const { wgsl, bindings } = buildShader({
    bindings: [
      { ...bindingOf("x", { value: g.input }), ...(spec.vecInput ? vec4 : {}) },
      { ...bindingOf("wt", { weight: g.weight }), ...(spec.vecWeight ? vec4 : {}) },
      ...(g.bias ? [bindingOf("bias", { weight: g.bias })] : []),
      ...(g.residual ? [bindingOf("res", { value: g.residual })] : []),
      { name: "y", access: "read_write", bind: { value: g.output } },
    ],
    consts: spec.consts,
    decls: activationDecls(g.act),
    workgroupSize: [t.wgx, t.wgy, 1],
    body: spec.body,
  });
  return {
    wgsl,
    bindings,
    shapeFamily: true,
    grid: {
      kind: "tiles",
      x: { perBatch: spec.blocksX, fixed: 0, div: t.wgx * spec.perThreadX },
      y: { perBatch: 0, fixed: n1 - n0, div: t.wgy * t.rm },
      z: { perBatch: 0, fixed: 1, div: 1 },
    },
  };
}
