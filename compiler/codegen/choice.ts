// Kernel choice for the layers that have more than one good kernel: ungrouped zero-padded
// convs (the tiled GEMM, Winograd for 3x3 stride-1 ones, split-K for long K over small maps,
// the barrier-free pointwise kernel for 1x1 stride-1 ones and the blocked kernel for other
// windows), depthwise convs (how many outputs of a row each thread computes) and dense layers
// (the GEMM or the GEMV). A conv's choice also says which layout it reads its input in (NCHW,
// or NHWC where layout.ts allows it). `cnnc build` takes the default below; `cnnc tune`
// measures the candidates on the adapter at hand, in the cost model's order, and keeps the
// fastest per layer.
import type { Node, Shape } from "../ir/graph.js";
import { isDepthwise } from "../ops/index.js";
import { defaultTiles, tileCandidates, tilesName, type GemmTiles } from "./gemm.js";
import { winogradTiles } from "./winograd.js";
import { defaultGemv, gemvCandidates, gemvName, type GemvShape } from "./gemv.js";
import { depthwiseRun, depthwiseRuns } from "./direct.js";
import {
  pointwiseApplies,
  pointwiseCandidates,
  pointwiseName,
  type PointwiseTiles,
} from "./pointwise.js";
import { blockedCandidates, blockedName, type BlockedTiles } from "./blocked.js";
import type { Layout } from "./wgsl.js";
import { layerFeatures, rankByModel } from "./cost-model.js";

/** A conv kernel's choice of the layout it reads its input in; NCHW where absent. */
interface Reads {
  readonly layout?: Layout;
}

export type KernelChoice =
  | ({ readonly kernel: "gemm"; readonly tiles: GemmTiles } & Reads)
  /** The GEMM with its K loop split `parts` ways across workgroups, then a reduction. */
  | ({ readonly kernel: "splitk"; readonly tiles: GemmTiles; readonly parts: number } & Reads)
  | ({ readonly kernel: "winograd"; readonly tiles: GemmTiles } & Reads)
  /** A 1x1 conv over an NCHW input with register blocks and no workgroup memory. */
  | ({ readonly kernel: "pointwise"; readonly blocks: PointwiseTiles } & Reads)
  /** A conv of any window over an NCHW input with register blocks and no workgroup memory. */
  | ({ readonly kernel: "blocked"; readonly blocks: BlockedTiles } & Reads)
  | { readonly kernel: "gemv"; readonly shape: GemvShape }
  /** The row-blocked depthwise kernel, `run` neighbouring outputs of a row per thread. */
  | ({ readonly kernel: "depthwise"; readonly run: number } & Reads);

/** The layout a conv kernel reads its input in; none for a dense layer's. */
export function readsLayout(c: KernelChoice): Layout | undefined {
  return "layout" in c ? (c.layout ?? "nchw") : c.kernel === "gemv" ? undefined : "nchw";
}

/**
 * How the manifest's `tuning` and `cnnc tune` name a choice: `gemm 64x64x16/16x16`, with
 * ` nhwc` after a conv kernel that reads its input NHWC.
 */
export function choiceName(c: KernelChoice): string {
  const reads = readsLayout(c) === "nhwc" ? " nhwc" : "";
  switch (c.kernel) {
    case "gemv":
      return `gemv ${gemvName(c.shape)}`;
    case "depthwise":
      return `depthwise ${c.run}px${reads}`;
    case "splitk":
      return `gemm ${tilesName(c.tiles)} split-k ${c.parts}${reads}`;
    case "pointwise":
      return `pointwise ${pointwiseName(c.blocks)}${reads}`;
    case "blocked":
      return `blocked ${blockedName(c.blocks)}${reads}`;
    default:
      return `${c.kernel} ${tilesName(c.tiles)}${reads}`;
  }
}

/** A conv the tiled GEMM computes: ungrouped, zero padding. */
function gemmConv(node: Node): boolean {
  return node.op === "conv2d" && node.attrs.g === 1 && node.attrs.padmode === "zeros";
}

/** Winograd F(2x2, 3x3) applies: a GEMM conv with a 3x3 window, stride 1, dilation 1. */
export function winogradApplies(node: Node): boolean {
  if (node.op !== "conv2d" || !gemmConv(node)) return false;
  const { k, s, d } = node.attrs;
  return k[0] === 3 && k[1] === 3 && s[0] === 1 && s[1] === 1 && d[0] === 1 && d[1] === 1;
}

/** A depthwise conv (one input channel per group, any multiplier) with zero padding. */
function depthwiseConv(node: Node, input: Shape | undefined): boolean {
  return (
    node.op === "conv2d" && node.attrs.padmode === "zeros" && isDepthwise(node.attrs, input?.[0])
  );
}

/** The layers with a choice of kernel; `input` is the shape of the layer's first input. */
export function tunable(node: Node, input: Shape | undefined): boolean {
  return gemmConv(node) || depthwiseConv(node, input) || node.op === "dense";
}

/**
 * The class of adapter a bundle's default kernels suit: "gpu" (a GPU) or "cpu" (a CPU
 * emulation of WebGPU, llvmpipe or SwiftShader: each workgroup runs its threads as the SIMD
 * lanes of one core, barriers are costly and caches do what shared tiles do).
 */
export type Target = "gpu" | "cpu";
export const targets: readonly Target[] = ["gpu", "cpu"];

/**
 * The kernel `cnnc build` uses. Where the repository has measurements of the target's class
 * (cost-model.ts: llvmpipe's, for "cpu"), the candidate the cost model ranks first: on
 * llvmpipe the register-blocked kernels for convs (pointwise for 1x1, blocked for the rest)
 * and a 16x16 GEMV. Elsewhere (a GPU) rules: the GEMV for dense layers (batch 1 is what
 * inference in a browser runs); Winograd for 3x3 stride-1 convs with at least
 * `winogradMinChannels` input and output channels (below that the transforms cost more than
 * the 2.25x fewer multiplies save) and at least `winogradMinTiles` 2x2 output tiles; the tiled
 * GEMM otherwise. On an H100 Winograd ran ResNet-18's 512-channel 7x7 convs (16 tiles) 14-37x
 * faster than the GEMM, whose 49 output rows fill 8 workgroups on a 132-core GPU while
 * Winograd's 16 batched GEMMs fill 128 (`cnnc tune --verbose`; README).
 */
export function defaultChoice(
  node: Node,
  input: Shape | undefined,
  target: Target = "gpu",
  batch = 1,
): KernelChoice {
  const ranked = modelOrder(node, input, batch, anyCandidates(node, input, batch, false), target);
  if (ranked) return ranked[0]!;
  if (node.op === "dense") return { kernel: "gemv", shape: defaultGemv };
  if (depthwiseConv(node, input)) return { kernel: "depthwise", run: depthwiseRun };
  if (
    winogradApplies(node) &&
    node.op === "conv2d" &&
    (input?.[0] ?? 0) >= winogradMinChannels &&
    node.attrs.filters >= winogradMinChannels &&
    winogradTiles(dims(node.shape)) >= winogradMinTiles
  ) {
    return { kernel: "winograd", tiles: defaultTiles };
  }
  return { kernel: "gemm", tiles: defaultTiles };
}

/**
 * A CPU emulation's kernels for a bundle's quick start (plan.ts `quick`): the layer's kernel
 * that LLVM compiles fastest among those that run it well, for the first results while the
 * chosen kernels compile. llvmpipe compiles each pipeline at its first dispatch, about 15 ms per
 * KB of WGSL for the register-blocked convs: GoogLeNet's chosen kernels (448 KB) took 12 s
 * before its first result, these 1.5 s. Convs take the smallest register block, 4x4 (a 3x3
 * blocked kernel of 20 KB at 4x8, 8 KB at 4x4); depthwise convs and dense layers their defaults.
 */
export function quickChoice(node: Node, input: Shape | undefined): KernelChoice {
  if (node.op === "dense") return { kernel: "gemv", shape: defaultGemv };
  if (depthwiseConv(node, input)) return { kernel: "depthwise", run: depthwiseRun };
  if (node.op !== "conv2d") throw new Error(`internal: no quick kernel for '${node.op}'`);
  const { k, s, p } = node.attrs;
  return pointwiseApplies({ k, s, pad: p, c: input?.[0] ?? 0 })
    ? { kernel: "pointwise", blocks: quickBlocks }
    : { kernel: "blocked", blocks: quickBlocks };
}
export const quickBlocks: PointwiseTiles = { rm: 4, rp: 4, wgx: 8, wgy: 8 };

/**
 * Split-K is a candidate for GEMM convs with a long K (>= `splitKMinK`) over small maps (at most
 * `splitKMaxPixels` output pixels an item): there a 64x64 output tile per workgroup leaves most
 * of a large GPU idle (ResNet-18's stride-2 convs fill 8 to 26 workgroups at batch 1 while an
 * H100 has 132 cores).
 */
export function splitKApplies(node: Node, input: Shape | undefined): boolean {
  if (node.op !== "conv2d" || !gemmConv(node)) return false;
  const k = (input?.[0] ?? 0) * node.attrs.k[0] * node.attrs.k[1];
  return k >= splitKMinK && (node.shape[1] ?? 1) * (node.shape[2] ?? 1) <= splitKMaxPixels;
}
export const splitKMinK = 512;
export const splitKMaxPixels = 28 * 28;
export const splitKParts: readonly number[] = [2, 4, 8];
/** The default tiles and the narrow ones that won most of an H100's small-map GEMMs. */
export const splitKTiles: readonly GemmTiles[] = [
  defaultTiles,
  { tm: 64, tn: 32, tk: 16, wgx: 8, wgy: 16 },
];

export const winogradMinChannels = 32;
export const winogradMinTiles = 16;
export const gemmMinBatch = 8;

const dims = (s: Shape): readonly [number, number, number] => [s[0] ?? 1, s[1] ?? 1, s[2] ?? 1];

/**
 * What `cnnc tune` measures for a layer at a batch size, the default first. A dense layer's
 * GEMM fills a 64-row tile with one row per batch item: below batch `gemmMinBatch` it cannot
 * win, and measuring it would take longest of all. `nhwc`: the layer's input may be NHWC
 * (layout.ts), so each conv kernel is a candidate in both layouts.
 */
export function candidates(
  node: Node,
  input: Shape | undefined,
  batch = 1,
  nhwc = false,
  target: Target = "gpu",
): KernelChoice[] {
  const all = anyCandidates(node, input, batch, nhwc);
  const ranked = modelOrder(node, input, batch, all, target) ?? all;
  const first = choiceName(defaultChoice(node, input, target, batch));
  return [
    ...ranked.filter((c) => choiceName(c) === first),
    ...ranked.filter((c) => choiceName(c) !== first),
  ];
}

/** `all` ordered by the cost model of `target`'s class; undefined where it has no data. */
function modelOrder(
  node: Node,
  input: Shape | undefined,
  batch: number,
  all: readonly KernelChoice[],
  target: Target,
): KernelChoice[] | undefined {
  const byName = new Map(all.map((c) => [choiceName(c), c]));
  const order = rankByModel(target, layerFeatures(node, input, batch), [...byName.keys()]);
  return order?.map((n) => byName.get(n)!);
}

/** Every kernel that computes the layer, in no particular order. */
function anyCandidates(
  node: Node,
  input: Shape | undefined,
  batch: number,
  nhwc: boolean,
): KernelChoice[] {
  // each kernel that has an NHWC form (the register-blocked ones read NCHW alone) in both
  const inBoth = (all: KernelChoice[]): KernelChoice[] =>
    nhwc && node.op === "conv2d"
      ? [
          ...all,
          ...all
            .filter((c) => c.kernel !== "pointwise" && c.kernel !== "blocked")
            .map((c) => ({ ...c, layout: "nhwc" as const })),
        ]
      : all;
  if (depthwiseConv(node, input)) {
    return inBoth(depthwiseRuns.map((run) => ({ kernel: "depthwise", run })));
  }
  const gemv = node.op === "dense";
  const all: KernelChoice[] =
    gemv && batch < gemmMinBatch ? [] : tileCandidates.map((tiles) => ({ kernel: "gemm", tiles }));
  if (gemv) all.push(...gemvCandidates.map((shape) => ({ kernel: "gemv" as const, shape })));
  if (winogradApplies(node)) {
    all.push(...tileCandidates.map((tiles) => ({ kernel: "winograd" as const, tiles })));
  }
  if (splitKApplies(node, input)) {
    for (const tiles of splitKTiles) {
      for (const parts of splitKParts) all.push({ kernel: "splitk", tiles, parts });
    }
  }
  if (gemmConv(node) && node.op === "conv2d") {
    const { k, s, p } = node.attrs;
    if (pointwiseApplies({ k, s, pad: p, c: input?.[0] ?? 0 }))
      all.push(...pointwiseCandidates.map((blocks) => ({ kernel: "pointwise" as const, blocks })));
    else all.push(...blockedCandidates.map((blocks) => ({ kernel: "blocked" as const, blocks })));
  }
  return inBoth(all);
}
